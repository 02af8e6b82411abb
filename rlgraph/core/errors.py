"""User-facing errors: every problem a YAML file can cause is a located GraphError."""

from __future__ import annotations

import difflib
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
        where = f"{self.loc}: " if self.loc else ""
        subject = ""
        if self.node and self.port:
            subject = f"node '{self.node}', port '{self.port}': "
        elif self.node:
            subject = f"node '{self.node}': "
        text = f"{where}{self.severity}: {subject}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

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


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean ...?' hint for a misspelled name, or None when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def choices_hint(word: str, choices: Iterable[str], what: str) -> str:
    """did_you_mean, falling back to the list of valid names."""
    names = sorted(str(c) for c in choices)
    return did_you_mean(word, names) or (
        f"valid {what}: {', '.join(names)}" if names else f"there are no {what}"
    )
