"""byom: join database tables with models you serve yourself, over MySQL."""

__version__ = "0.1.0"
