"""Tools the compiler can run: a `ToolSpec` (what the planner is told) paired with a function (what runs).

LLMCompiler's promise is that a user only provides functions, their descriptions and a few example plans.
`function_tool` turns a plain typed Python function (sync or async) into a `Tool` in one call, reading the
parameter types from its signature and the description from its docstring:

    >>> def get_weather(city: str, days: int) -> str:
    ...     '''Returns the forecast for a city.
    ...
    ...     - days is the number of days ahead (1-7).
    ...     '''
    ...     return f"sunny in {city}"
    >>> function_tool(get_weather).spec.describe(1)
    '1. get_weather(city: str, days: int) -> str:\\n - Returns the forecast for a city.\\n - days is the number of days ahead (1-7).'
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.tools.spec import Param, ToolSpec


@dataclass(frozen=True)
class Tool:
    """A spec and the function that implements it (async, or sync: then run in a worker thread)."""

    spec: ToolSpec
    fn: Callable[..., Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)


_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool"}


def _param_type(annotation: Any) -> tuple[str, bool]:
    """(workbench type name, optional) for a Python annotation."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            return "any", optional
        annotation, origin = args[0], typing.get_origin(args[0])
    if annotation in _TYPE_NAMES:
        return _TYPE_NAMES[annotation], optional
    if origin in (list, Sequence, typing.Sequence) or annotation is list:
        return "list[str]", optional
    return "any", optional


def function_tool(
    fn: Callable[..., Any], name: str | None = None, description: str | None = None, app: str = ""
) -> Tool:
    """Make a `Tool` from a typed function: its signature gives the parameters, its docstring the text.

    The docstring's first paragraph is the description; lines that start with `- ` become rules.
    Keyword-only parameters and `*args` are refused: plans pass every argument by position.
    """
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    params = []
    for p in sig.parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise TypeError(
                f"{fn.__name__}: parameter {p.name!r} must be positional (plans pass arguments by position)"
            )
        type_name, optional = _param_type(hints.get(p.name, Any))
        params.append(
            Param(
                p.name, type_name, optional=optional or p.default is None, single_ok=type_name == "list[str]"
            )
        )
    doc = inspect.getdoc(fn) or ""
    paragraphs = [b.strip() for b in doc.split("\n\n") if b.strip()]
    first = " ".join(line.strip() for line in paragraphs[0].splitlines()) if paragraphs else ""
    rules = tuple(line.strip()[2:].strip() for line in doc.splitlines() if line.strip().startswith("- "))
    if description is None:
        description = "" if first.startswith("- ") else first
    returns = _TYPE_NAMES.get(hints.get("return"), "str")
    spec = ToolSpec(
        name or fn.__name__,
        tuple(params),
        description or f"Calls {fn.__name__}.",
        rules,
        returns=returns,
        app=app,
    )
    return Tool(spec, fn)


def desktop_tools(desktop: Any) -> list[Tool]:
    """The 16 TinyAgent tools bound to a `SimulatedDesktop` (or anything with `.specs` and `.functions()`)."""
    fns = desktop.functions()
    return [Tool(spec, fns[name]) for name, spec in desktop.specs.items()]


def as_tools(tools: Iterable[Tool | Callable[..., Any]]) -> list[Tool]:
    """Accept Tools and plain functions alike; names must be unique."""
    out = [t if isinstance(t, Tool) else function_tool(t) for t in tools]
    names = [t.name for t in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"tool names must be unique; repeated: {dupes}")
    if "join" in names:
        raise ValueError("`join` is reserved: it ends every plan")
    return out
