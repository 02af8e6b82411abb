"""User-facing errors: every problem a YAML file can cause is a located GraphError."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Loc:
    """A position in a source file; line and column are 1-based."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


class Problem:
    """Something found in a graph definition: where it is, what it is, how to fix it.

    The shared body of GraphError (a mistake; raised) and GraphWarning (suspicious but
    runnable; reported). Neither is a subclass of the other, so that `except GraphError`
    never catches a warning."""

    severity = "problem"

    def __init__(
        self,
        message: str,
        loc: Loc | None = None,
        *,
        node: str | None = None,
        port: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)  # type: ignore[call-arg]  # Exception or Warning's
        self.message = message
        self.loc = loc
        self.node = node
        self.port = port
        self.hint = hint

    def format(self) -> str:
        """`file:line:col: error: node 'n', port 'p': message` and an indented hint; a
        control or invisible character the message quotes from a file is escaped."""
        where = f"{self.loc}: " if self.loc else ""
        subject = ""
        if self.node and self.port:
            subject = f"node '{self.node}', port '{self.port}': "
        elif self.node:
            subject = f"node '{self.node}': "
        text = cut_long_words(f"{subject}{self.message}")
        if self.hint:
            text += f"\n    hint: {cut_long_words(self.hint)}"
        # a message continues on indented lines only (a cycle's wires, the hint): a line
        # break that a quoted value brought along is shown as \n
        text = UNINDENTED_BREAK.sub(r"\\n", text)
        return f"{where}{self.severity}: {escape_invisible(text)}"

    def __str__(self) -> str:
        return self.format()


class GraphError(Problem, Exception):
    """A problem in a graph definition, with where it is, what it is and how to fix it."""

    severity = "error"


class GraphWarning(Problem, UserWarning):
    """Suspicious but runnable wiring; reported with a location, never raised (from
    Python, `warnings.warn` can carry it)."""

    severity = "warning"


class GraphErrors(Exception):
    """Several GraphErrors found in one pass; raised so that users see all of them at once."""

    def __init__(self, errors: Iterable[GraphError]) -> None:
        self.errors = list(errors)
        super().__init__(self.format())

    def format(self) -> str:
        n = len(self.errors)
        lines = [e.format() for e in self.errors]
        lines.append(f"{n} error{'s' if n != 1 else ''} found.")
        return "\n".join(lines)


def escape_invisible(text: str) -> str:
    """`text` with control, format and separator characters (all but the newline)
    written as escapes (\\x00, \\u2028, \\ufeff), so that a message shows what a file holds."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


UNINDENTED_BREAK = re.compile(r"\n(?! )")
#: a word this long in a message is text pasted from a file, not a name
LONG_WORD = re.compile(r"\S{201,}")


def cut_long_words(text: str) -> str:
    """`text` with every run of more than 200 non-space characters cut to 60."""
    return LONG_WORD.sub(lambda m: f"{m[0][:60]}… ({len(m[0])} characters)", text)


def shown(value: object, limit: int = 60) -> str:
    """A value from a file as a message quotes it: repr-quoted, invisible characters
    escaped, cut to about `limit` characters."""
    text = escape_invisible(repr(value))
    if len(text) > limit:
        size = f"{len(value)} characters" if isinstance(value, str) else "cut"
        text = f"{text[:limit]}… ({size})"
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean ...?' hint for a misspelled name, or None when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def choices_hint(word: str, choices: Iterable[str], what: str) -> str:
    """did_you_mean, falling back to the list of valid names (as many as fit in about
    240 characters, each cut to 40)."""
    names = sorted(str(c) for c in choices)
    if not names:
        return f"there are no {what}"
    listed: list[str] = []
    for name in names:
        shown_name = name if len(name) <= 40 else f"{name[:40]}…"
        if listed and sum(len(n) + 2 for n in listed) + len(shown_name) > 240:
            break
        listed.append(shown_name)
    rest = len(names) - len(listed)
    more = f" and {rest} more" if rest else ""
    return did_you_mean(word, names) or f"valid {what}: {', '.join(listed)}{more}"
