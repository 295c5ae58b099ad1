"""A stream's configured `where`, checked to be one SOQL condition.

The connector ANDs the operator's `where` with its own conditions (the stream's base filter,
the cursor, a resumed read's position), each in parentheses. A text that closes a parenthesis
it did not open (`X) OR (Y`) would turn that into `(... X) OR (Y ...)` and widen every read of
the stream; one that adds a clause (`ORDER BY`, `LIMIT`) would change the query's shape. The
check reads the text as SOQL lexes it (single-quoted strings with backslash escapes) and
refuses, at configuration load, anything but one balanced expression.

`where` stays trusted configuration: SOQL the operator writes, read with the connector's own
Salesforce user. The check guards against mistakes, not against a hostile author; the org
still judges the condition itself (an unknown field fails that stream with the key to fix).
"""

from __future__ import annotations

import re

#: Words that begin a clause of a query (or a statement): outside parentheses they end the
#: condition and start another part of the query. Inside parentheses (a semi-join such as
#: `Id IN (SELECT ... FROM ...)`) they belong to the subquery and are allowed.
CLAUSE_WORDS = frozenset(
    {
        "SELECT", "FROM", "WHERE", "WITH", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET",
        "FOR", "UPDATE", "USING",
    }
)  # fmt: skip
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def condition_problem(text: str) -> str | None:
    """Why `text` is not one balanced SOQL condition (None when it is). Columns are 1-based."""
    if not text.strip():
        return 'is blank (leave `where` out, or "", to read every row)'
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            end = _string_end(text, i)
            if end is None:
                return f"has a string opened at column {i + 1} that is never closed"
            i = end
            continue
        if text.startswith(("--", "/*"), i):
            return f"has a comment at column {i + 1} (SOQL has none)"
        if ch == ";":
            return f"has `;` at column {i + 1} (one condition, no statement separator)"
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return f"closes at column {i + 1} a parenthesis it did not open"
        elif word := _WORD.match(text, i):
            if depth == 0 and word.group().upper() in CLAUSE_WORDS:
                return (
                    f"has {word.group()!r} at column {i + 1}, outside parentheses: it would "
                    "add a clause to the query, not a condition"
                )
            i = word.end()
            continue
        i += 1
    if depth:
        return f"leaves {depth} parenthes{'e' if depth > 1 else 'i'}s open"
    return None


def _string_end(text: str, start: int) -> int | None:
    """The index just past the string literal opening at `start`, None if it never closes.
    A backslash escapes the next character (`\\'` is a quote inside the string)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "'":
            return i + 1
        i += 1
    return None
