"""What a run's message says about an exception: its class and first line, no SQL.

A database error's text carries the statement and its bound parameters (`[SQL: ...]`,
`[parameters: ...]`, and PostgreSQL's `DETAIL:` line with the row's values). Run messages are
read by anyone with `/runs` and by every webhook receiver, so they get `short_cause`; the
full text goes to the log only, with the run id.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import StatementError

#: Where SQLAlchemy's additions to a message begin.
_SQLALCHEMY_TAIL = re.compile(r"\s*(\[SQL:|\[parameters:|\(Background on this error at:)")
#: A cause longer than this is cut (with an ellipsis).
MAX_CAUSE = 200


def short_cause(exc: BaseException) -> str:
    """`Class: first line` of `exc`, or of the driver's error a SQLAlchemy error wraps, with
    SQLAlchemy's SQL and parameters parts stripped."""
    inner = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    lines = str(inner).strip().splitlines()
    first = _SQLALCHEMY_TAIL.split(lines[0], maxsplit=1)[0].strip() if lines else ""
    if len(first) > MAX_CAUSE:
        first = first[: MAX_CAUSE - 3] + "..."
    name = type(inner).__name__
    return f"{name}: {first}" if first else name
