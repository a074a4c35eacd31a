"""The one place where failures become MySQL ERR packets.

byom's own errors keep their code and message. Anything else is a defect: it is
logged with its traceback and the client gets error 1105 naming the query id,
never the traceback.
"""

from __future__ import annotations

import logging

from mysql_mimic.errors import MysqlError

from byom.errors import ByomError

logger = logging.getLogger(__name__)

# MySQL's ER_STACK_OVERRUN_NEED_MORE, its error for a statement too deep to run.
STACK_OVERRUN = 1436


def to_mysql_error(exc: BaseException, where: str) -> MysqlError:
    """The ERR a client receives for exc (``where`` names the connection/query)."""
    if isinstance(exc, MysqlError):
        return exc
    if isinstance(exc, ByomError):
        logger.info("%s: error %d: %s", where, exc.code, exc.message)
        return MysqlError(exc.message, exc.code)  # type: ignore[arg-type]
    if isinstance(exc, RecursionError):
        # Parsing and planning walk the statement's tree recursively; a tree
        # thousands of levels deep (generated SQL) exhausts Python's stack.
        logger.info("%s: statement nested too deeply", where)
        return MysqlError(
            "the statement is nested too deeply for byom to handle; "
            "simplify or split it",
            STACK_OVERRUN,  # type: ignore[arg-type]
        )
    logger.exception("%s: internal error", where, exc_info=exc)
    return MysqlError(
        f"internal error in byom ({type(exc).__name__}); see the server log for {where}"
    )
