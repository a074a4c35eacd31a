"""Errors byom reports to MySQL clients.

Every failure a client can see is one of these classes. Each carries the MySQL error
code, the SQLSTATE and whether trying again can help; the session turns them into ERR
packets in one place (``byom.mysql.session``)::

    ByomError                      1105 HY000  nothing fits better
    ├── SqlSyntaxError             1064 42000  the statement does not parse
    ├── NotSupportedError          1235 42000  valid SQL that byom does not run
    ├── UnknownDatabaseError       1049 42000  no such integration or project
    ├── UnknownTableError          1146 42S02  no such table or predictor
    ├── UnknownColumnError         1054 42S22  no such column
    ├── AmbiguousColumnError       1052 23000  a column name matches two tables
    ├── NotUniqueTableError        1066 42000  two tables share one alias
    ├── DerivedAliasError          1248 42000  a subquery in FROM has no alias
    ├── DuplicateColumnError       1060 42S21  a derived or new table repeats a name
    ├── AlreadyExistsError         1050 42S01  integration, predictor or table exists
    ├── ColumnCountError           1136 21S01  INSERT columns and query columns differ
    ├── WrongArgumentsError        1210 HY000  a bad USING or PARAMETERS value
    │   └── ModelUrlNotAllowedError 1210 HY000 a model URL outside the allow-list
    ├── AccessDeniedError          1045 28000  login refused
    ├── PrivilegeError             1227 42000  SET GLOBAL and other server-wide changes
    ├── QueryKilledError           3169 HY000  KILL QUERY
    ├── QueryTimeoutError          3024 HY000  the query ran past its time limit
    ├── PredictorNotReadyError     1105 HY000  still training, or training failed
    ├── SourceError                1429 HY000  a data source failed or refused us
    │   └── WriteRejectedError     1105 HY000  the target refused rows written back
    └── ModelError                 1296 HY000  a model endpoint failed
        └── ModelUnreachableError  1429 HY000  no connection to the endpoint
"""

from __future__ import annotations

from typing import ClassVar


class ByomError(Exception):
    """Base of every error a client sees; carries its MySQL code and SQLSTATE."""

    code: ClassVar[int] = 1105
    sqlstate: ClassVar[str] = "HY000"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SqlSyntaxError(ByomError):
    """The statement text does not parse."""

    code = 1064
    sqlstate = "42000"


class NotSupportedError(ByomError):
    """Valid SQL that byom does not (yet) run; never answered with a wrong result."""

    code = 1235
    sqlstate = "42000"


class UnknownDatabaseError(ByomError):
    """No integration or project with that name."""

    code = 1049
    sqlstate = "42000"


class UnknownTableError(ByomError):
    """No table or predictor with that name."""

    code = 1146
    sqlstate = "42S02"


class UnknownColumnError(ByomError):
    """A column the query names does not exist where it looks."""

    code = 1054
    sqlstate = "42S22"


class AmbiguousColumnError(ByomError):
    """An unqualified column name matches more than one table."""

    code = 1052
    sqlstate = "23000"


class NotUniqueTableError(ByomError):
    """Two tables of one query go by the same name or alias."""

    code = 1066
    sqlstate = "42000"


class DerivedAliasError(ByomError):
    """A subquery in FROM has no alias, which MySQL requires."""

    code = 1248
    sqlstate = "42000"


class DuplicateColumnError(ByomError):
    """A derived table or a table to create has two columns of one name."""

    code = 1060
    sqlstate = "42S21"


class AlreadyExistsError(ByomError):
    """An integration or predictor with that name already exists."""

    code = 1050
    sqlstate = "42S01"


class ColumnCountError(ByomError):
    """An INSERT names (or its table has) more or fewer columns than its query."""

    code = 1136
    sqlstate = "21S01"


class WrongArgumentsError(ByomError):
    """A USING or PARAMETERS value is missing, unknown or malformed."""

    code = 1210
    sqlstate = "HY000"


class ModelUrlNotAllowedError(WrongArgumentsError):
    """A model URL does not match the ``allowed_model_urls`` setting."""


class AccessDeniedError(ByomError):
    """The login was refused."""

    code = 1045
    sqlstate = "28000"


class PrivilegeError(ByomError):
    """A server-wide change (SET GLOBAL, SET PERSIST), which no client may make."""

    code = 1227
    sqlstate = "42000"


class QueryKilledError(ByomError):
    """The query was cancelled by KILL QUERY."""

    code = 3169
    sqlstate = "HY000"


class QueryTimeoutError(ByomError):
    """The query ran past ``query_timeout`` or the session's max_execution_time."""

    code = 3024
    sqlstate = "HY000"


class PredictorNotReadyError(ByomError):
    """The predictor exists but cannot answer: it is training or training failed."""


class SourceError(ByomError):
    """A data source could not be reached or rejected what byom sent it."""

    code = 1429
    sqlstate = "HY000"
    retryable = True


class WriteRejectedError(SourceError):
    """The target database refused rows written back (types, constraints).

    Trying again sends the same rows, so it cannot help.
    """

    code = 1105
    retryable = False


class ModelError(ByomError):
    """A model endpoint answered with an error or broke its contract."""

    code = 1296
    sqlstate = "HY000"


class ModelUnreachableError(ModelError):
    """No connection could be made to a model endpoint, or it timed out."""

    code = 1429
    retryable = True
