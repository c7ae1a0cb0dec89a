"""Tool specifications: what a planner is told about a tool, and the check its arguments must pass.

A `ToolSpec` renders the LLMCompiler tool block (Kim et al. 2023, Appendix: "tool descriptions") and
validates the positional arguments of a plan step:

    >>> spec = ToolSpec("get_email_address", (Param("name", "str"),), "Look up a contact's email address.")
    >>> spec.signature()
    'get_email_address(name: str) -> str'
    >>> spec.argument_errors(["Sid", "Lutfi"])
    ['takes 1 argument (name), got 2']

A string that is exactly one reference (`"$2"`) passes for any type: its value only exists at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.plan import is_reference

TYPES = ("str", "int", "float", "bool", "list[str]", "any")
ERROR_PREFIX = "Error: "  # an observation that starts with this reports a failed call


def is_error(observation: str | None) -> bool:
    return observation is not None and observation.lstrip().startswith(ERROR_PREFIX.strip())


class ToolUnavailable(RuntimeError):
    """The service behind a tool is down (network, API): the run stops rather than score it as a mistake."""


@dataclass(frozen=True)
class Param:
    """One positional parameter.

    `optional`: None is accepted (the planner fills every argument, with None/"" when not applicable).
    `single_ok`: a list parameter also accepts one bare value (TinyAgent allows a single recipient).
    `grounded`: the value names something the user named (a person, file, place, note), so it is copied
    from the query, never invented; grounded decoding (`planner.grammar`) holds the planner to that.
    """

    name: str
    type: str = "str"
    description: str = ""
    optional: bool = False
    single_ok: bool = False
    grounded: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"parameter {self.name!r}: unknown type {self.type!r}; use one of {TYPES}")

    def type_error(self, value: Any) -> str | None:
        """None when `value` fits this parameter, else a sentence saying what was expected."""
        if is_reference(value) or self.type == "any":
            return None
        if value is None:
            return None if self.optional else f"{self.name} is required (got None)"
        ok = {
            "str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "list[str]": lambda v: (
                (isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v))
                or (self.single_ok and isinstance(v, str))
            ),
        }[self.type](value)
        if ok:
            return None
        want = self.type + (" (or a single str)" if self.single_ok else "")
        return f"{self.name} must be {want}, got {type(value).__name__} {_short(value)}"


def _short(value: Any, n: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the planner sees it: name, typed positional parameters, description and usage rules.

    `app` groups tools for colouring graphs (Contacts, Mail, ...).
    """

    name: str
    params: tuple[Param, ...]
    description: str
    rules: tuple[str, ...] = ()
    returns: str = "str"
    app: str = ""

    def signature(self) -> str:
        args = ", ".join(f"{p.name}: {p.type}" for p in self.params)
        return f"{self.name}({args}) -> {self.returns}"

    def describe(self, number: int | None = None) -> str:
        """The LLMCompiler description block: `N. signature:` then one bullet per sentence or rule."""
        head = f"{number}. {self.signature()}" if number is not None else self.signature()
        bullets = [self.description, *self.rules]
        return head + ":\n" + "\n".join(f" - {b}" for b in bullets if b)

    def argument_errors(self, args: Sequence[Any]) -> list[str]:
        """Every problem with `args` (count first, then each type), as sentences; [] when they fit."""
        n = len(self.params)
        if len(args) != n:
            names = ", ".join(p.name for p in self.params)
            return [f"takes {n} argument{'s' if n != 1 else ''} ({names}), got {len(args)}"]
        return [e for p, a in zip(self.params, args, strict=True) if (e := p.type_error(a))]

    def bind(self, args: Sequence[Any]) -> dict[str, Any]:
        """Name the arguments, turning a single value into a one-element list where that is allowed."""
        errors = self.argument_errors(args)
        if errors:
            raise ValueError(f"{self.name}: {'; '.join(errors)}")
        bound = {}
        for p, a in zip(self.params, args, strict=True):
            if p.type == "list[str]" and isinstance(a, str):
                a = [a]
            bound[p.name] = list(a) if isinstance(a, tuple) else a
        return bound


def tool_block(tools: Sequence[ToolSpec]) -> str:
    """The numbered tool list of a planner prompt."""
    return "\n\n".join(t.describe(i) for i, t in enumerate(tools, 1))
