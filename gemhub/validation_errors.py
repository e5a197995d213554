"""Pydantic's validation errors, worded for the person who has to fix the file.

gemhub.yaml, notebook metadata, the runner's report and index.json are all
pydantic models. Whoever fixes one needs the same three things (which file,
which field, which value), so every one of them is reported through here and
reads the same way: `<file>: <field>: <message> (got <value>)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

# Long values (a whole description) would drown the message; the start is enough to find them.
MAX_VALUE_CHARS = 80

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldProblem:
    """One problem at one place in the data: `loc` is the path to it, as pydantic gives it."""

    loc: Location
    message: str

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.loc)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def field_problems(error: ValidationError, *, unknown_key: str = "unknown key") -> list[FieldProblem]:
    """One FieldProblem per pydantic error, with the offending value where there is one.

    `unknown_key` is what a misspelt key is called (a caller can point at where
    the valid keys are listed)."""
    problems = []
    for err in error.errors():
        # A key that fails validation (of a dict's keys) is located at the key itself.
        loc = tuple(part for part in err["loc"] if part != "[key]")
        # gemhub's own validators word their messages for people: drop pydantic's prefix.
        message = err["msg"].removeprefix("Value error, ")
        if "[key]" in err["loc"]:
            message = f"invalid key name: {message}"
        if err["type"] == "extra_forbidden":
            message = unknown_key
        elif (err["type"] != "missing" and "input" in err and not isinstance(err["input"], dict)
              and "(got " not in message):
            message = f"{message} (got {_shown(err['input'])})"
        problems.append(FieldProblem(loc, message))
    return problems


# Given a problem's location, who it is about (e.g. "notebook 'alpha'") and the rest of the location.
ItemNamer = Callable[[Location], tuple[str, Location]]


def describe(error: ValidationError, *, where: str = "", field_prefix: Sequence[str] = (),
             name_item: ItemNamer | None = None) -> list[str]:
    """One line per problem: `<where>: [<item>: ]<field>: <message>`.

    `field_prefix` places the model inside its file (notebook metadata lives at
    `metadata.gemhub`); a problem with the model as a whole is reported there,
    or at "(top level)"."""
    lines = []
    for problem in field_problems(error):
        who, loc = name_item(problem.loc) if name_item else ("", problem.loc)
        field = ".".join(str(part) for part in (*field_prefix, *loc)) or "(top level)"
        lines.append(": ".join(part for part in (where, who, field, problem.message) if part))
    return lines
