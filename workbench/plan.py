"""The plan language of LLMCompiler (Kim et al. 2023, Sec. 3.1) and TinyAgent (Erdogan et al. 2024, Sec. 2).

A planner LLM writes a plan: numbered steps, each a call of one tool whose arguments are Python literals.
A string argument may refer to an earlier step's observation with `$N` or `${N}`; those references are
the edges of the plan's DAG. `join()` ends the plan and depends on every earlier step:

    Thought: I need both addresses first.
    1. get_email_address("Sid")
    2. get_email_address("Lutfi")
    3. create_calendar_event("Meeting", "2024-06-13 14:00:00", "2024-06-13 15:00:00", "", ["$1", "${2}"], "", None)
    4. join()<END_OF_PLAN>

    >>> parse_plan('1. f("x")\\n2. g("$1")\\n3. join()').steps[1].deps
    (1,)

Arguments are read with `ast.literal_eval` (never `eval`). Parsing stops at the first `join()` as in
LLMCompiler; step lines after it are kept in `Plan.dropped`, which `validate_plan` reports. The batch
parser is the streaming parser fed the whole text, so the two agree on every split by construction, and
any malformed text raises `PlanError` (with its line number) and nothing else.

Argument values are what `render_args` can write back: strings, ints, finite floats, bools, None, and
lists, tuples and dicts of them; any other literal (`...`, a set, bytes, `1j`, `1e999`) is a `PlanError`.

A plan is bounded (`MAX_PLAN_CHARS` characters before its end marker, `MAX_STEPS` steps) and read in time
linear in its length, so that any text, however long or odd, is parsed or rejected in well under a second.

Note: `$5` anywhere in a string is a reference to step 5 (as in LLMCompiler), so a literal dollar amount
followed by digits cannot be written in a plan.
"""

from __future__ import annotations

import ast
import gc
import json
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.tools.spec import ToolSpec

END_OF_PLAN = "<END_OF_PLAN>"
JOIN = "join"
# Far above what a planner writes (TinyAgent's plans: under 2,000 characters and 20 steps; the agent stops a
# plan at 1,024 tokens), and low enough that parsing, validation and the graph metrics stay fast on any input.
MAX_PLAN_CHARS = 100_000
MAX_STEPS = 1_000

# `${12}` or `$12`; `\d+` is greedy, so `$1` never matches inside `$10`.
REFERENCE_RE = re.compile(r"\$\{([0-9]+)\}|\$([0-9]+)")
# Matched against stripped lines, with no lazy group before a trailing `\s*$`: that pair backtracks, and took
# time quadratic in a run of spaces inside a line (40,000 spaces: 14 s).
_STEP_RE = re.compile(r"([0-9]+)\s*\.\s*(.*)", re.DOTALL)
_THOUGHT_RE = re.compile(r"Thought\s*:\s?(.*)", re.DOTALL)
_PARSE_ERRORS = (SyntaxError, ValueError, TypeError, RecursionError, MemoryError, OverflowError)

_AST_LOCK = threading.RLock()


def parse_expression(text: str) -> ast.Expression:
    """`ast.parse(text, mode="eval")` with the garbage collector paused.

    CPython 3.11 counts the depth of its C-to-Python AST conversion in state that every parse shares (see
    CPython gh-106905 on that counter). A long plan allocates enough nodes to start a collection in the middle
    of the conversion; a finalizer run by it that parses too (asyncio logging a task's unretrieved exception
    formats a traceback, and 3.11's traceback parses the source line) resets the counter, and the outer parse
    fails with "SystemError: AST constructor recursion depth mismatch"
    (`test_a_parse_inside_a_finalizer_cannot_break_a_plan_parse`). With the collector paused no Python code runs
    during the parse; the lock keeps threads from re-enabling it early.
    """
    with _AST_LOCK:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return ast.parse(text, mode="eval")
        finally:
            if was_enabled:
                gc.enable()


class PlanError(ValueError):
    """A plan that cannot be read or does not fit the tools; `line` is 1-based (None: the whole plan)."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


@dataclass(frozen=True)
class Step:
    """One task of a plan: `idx. tool(*args)`; `deps` are the sorted indices of the steps it refers to."""

    idx: int
    tool: str
    args: tuple[Any, ...] = ()
    deps: tuple[int, ...] = ()
    thought: str | None = None
    line: int | None = field(default=None, compare=False, repr=False)

    @property
    def is_join(self) -> bool:
        return self.tool == JOIN

    def render(self) -> str:
        return f"{self.idx}. {self.tool}({render_args(self.args)})"


@dataclass
class Plan:
    """The steps of a plan, in order. `dropped` holds step lines found after `join()` (not compared)."""

    steps: list[Step]
    dropped: list[str] = field(default_factory=list, compare=False, repr=False)

    @property
    def has_join(self) -> bool:
        return bool(self.steps) and self.steps[-1].is_join

    @property
    def tasks(self) -> list[Step]:
        """The steps that call a tool (everything but `join`)."""
        return [s for s in self.steps if not s.is_join]

    @property
    def tools(self) -> list[str]:
        """Tool names in step order, `join` excluded (repeats kept)."""
        return [s.tool for s in self.tasks]

    def step(self, idx: int) -> Step:
        for s in self.steps:
            if s.idx == idx:
                return s
        raise KeyError(f"the plan has no step {idx}")

    def __len__(self) -> int:
        return len(self.steps)


# ---------------------------------------------------------------------------------------- references


def references(value: Any) -> set[int]:
    """Step indices referred to anywhere inside `value` (strings, nested in lists, tuples, dict values)."""
    if isinstance(value, str):
        return {_step_number(a or b) for a, b in REFERENCE_RE.findall(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return set().union(*(references(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return references(list(value.values()))  # keys are names, never substituted
    return set()


def renumber_references(text: str, new: Mapping[int, int]) -> str:
    """`text` with each reference `$k` or `${k}` pointing at step `new[k]` (kept where `new` has no `k`), in the
    form it was written.

        >>> renumber_references("see $2 and ${3}", {2: 1, 3: 2})
        'see $1 and ${2}'
    """

    def ref(m: re.Match) -> str:
        k = int(m.group(1) or m.group(2))
        return ("${%d}" if m.group(1) else "$%d") % new.get(k, k)

    return REFERENCE_RE.sub(ref, text)


def _step_number(digits: str, line: int | None = None) -> int:
    if len(digits) > 12:
        raise PlanError(f"step number {_clip(digits, 20)} is too large", line)
    return int(digits)


def is_reference(value: Any) -> bool:
    """True for a string that is exactly one reference, such as "$3" or "${3}"."""
    return isinstance(value, str) and REFERENCE_RE.fullmatch(value.strip()) is not None


# ------------------------------------------------------------------------------------------- parsing


def _read_call(text: str, idx: int, line: int) -> tuple[str, tuple[Any, ...]]:
    """`tool("a", ["$1"])` -> ("tool", ("a", ["$1"])), reading arguments as literals only.

    Each argument must also render (`_render_value`), since the executor writes every task it runs: a
    literal that cannot be written back would otherwise crash the run instead of being replanned.
    """
    try:
        tree = parse_expression(text)
    except _PARSE_ERRORS as e:
        hint = ' (references must be quoted, e.g. "$1")' if "$" in text else ""
        raise PlanError(f"cannot read the call {_clip(text)}: {_reason(e)}{hint}", line) from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise PlanError(f"expected `tool(arguments)`, got {_clip(text)}", line)
    if call.keywords:
        raise PlanError(
            f"{call.func.id}: keyword arguments are not allowed; pass every argument by position", line
        )
    tool = call.func.id
    try:  # the whole call at once: one literal_eval and one render, however many arguments
        args = ast.literal_eval(ast.Tuple(call.args, ast.Load()))
        render_args(args)
    except _PARSE_ERRORS:  # find the first bad argument, to name it
        args = tuple(_read_argument(text, node, i, tool, idx, line) for i, node in enumerate(call.args, 1))
    return tool, args


def _read_argument(text: str, node: ast.expr, i: int, tool: str, idx: int, line: int) -> Any:
    """Argument `i` of a call, or a `PlanError` saying why a plan cannot hold it."""
    if isinstance(node, ast.Starred):
        raise PlanError(f"{tool}: argument {i} uses `*`, which plans do not allow", line)
    try:
        value = ast.literal_eval(node)
    except _PARSE_ERRORS:
        src = ast.get_source_segment(text, node) or "?"  # only on error: it reads the whole text
        hint = ' (references must be quoted, e.g. "$1")' if src.startswith("$") else ""
        raise PlanError(f"{tool}: argument {i} ({_clip(src)}) is not a Python literal{hint}", line) from None
    try:
        _render_value(value)
    except ValueError as e:
        src = ast.get_source_segment(text, node) or "?"
        raise PlanError(f"step {idx}: {tool}: argument {i} ({_clip(src)}): {e}", line) from None
    return value


def _reason(e: BaseException) -> str:
    if isinstance(e, SyntaxError) and e.msg:
        return e.msg
    return type(e).__name__ if not str(e) else str(e).splitlines()[0][:80]


def _clip(text: str, n: int = 60) -> str:
    text = text if len(text) <= n else text[: n - 3] + "..."
    return repr(text)


class StreamingPlanParser:
    """Parse a plan as it streams: `feed(chunk)` returns each step the moment its line is complete.

        >>> p = StreamingPlanParser()
        >>> p.feed('1. f("a")\\n2. g("$')
        [Step(idx=1, tool='f', args=('a',), deps=(), thought=None)]
        >>> [s.idx for s in p.feed('1")\\n3. join()') + p.close()]
        [2, 3]

    `strict=False` skips lines that are neither steps nor thoughts (some chat models add prose);
    `strict=True` (the default) raises `PlanError` on them. A plan longer than `max_chars` characters or
    with more than `max_steps` steps is a `PlanError` as soon as the stream passes the limit.

    Each chunk costs time linear in its own length: the unfinished line is kept as a list of pieces, and
    only its last few characters are searched again (the end-of-plan marker may straddle two chunks).
    """

    def __init__(self, strict: bool = True, max_chars: int = MAX_PLAN_CHARS, max_steps: int = MAX_STEPS):
        self.strict = strict
        self.max_chars, self.max_steps = max_chars, max_steps
        self.steps: list[Step] = []
        self.dropped: list[str] = []
        self._pending: list[str] = []  # the unfinished line, less its last characters
        self._carry = ""  # ...which are here: where END_OF_PLAN may begin
        self._chars = 0  # characters read so far, END_OF_PLAN and what follows it excluded
        self._line = 0  # lines consumed so far
        self._indices: set[int] = set()
        self._thoughts: list[str] = []
        self._joined = False
        self._ended = False  # saw END_OF_PLAN: the rest of the stream is ignored
        self._closed = False

    @property
    def done(self) -> bool:
        """True once `join()` or the end-of-plan marker was read."""
        return self._joined or self._ended

    def feed(self, chunk: str) -> list[Step]:
        if self._closed:
            raise RuntimeError("feed() after close()")
        if self._ended:
            return []
        text = self._carry + chunk
        cut = text.find(END_OF_PLAN)
        if cut >= 0:
            self._count(cut - len(self._carry))  # negative when the marker began in the carried characters
            self._ended = True
            text = text[:cut] + "\n"
        else:
            self._count(len(chunk))
        *lines, rest = text.split("\n")
        if lines:
            lines[0] = "".join([*self._pending, lines[0]])
            self._pending = []
        keep = len(END_OF_PLAN) - 1
        if len(rest) > keep:
            self._pending.append(rest[:-keep])
        self._carry = rest[-keep:] if rest else ""
        out: list[Step] = []
        for line in lines:
            step = self._read_line(line)
            if step is not None:
                out.append(step)
        return out

    def _count(self, n: int) -> None:
        self._chars += n
        if self._chars > self.max_chars:
            raise PlanError(
                f"the plan is longer than {self.max_chars:,} characters; split the request into smaller "
                "plans (a planner's plan is a few hundred characters)"
            )

    def close(self) -> list[Step]:
        """Flush the last line (a plan need not end with a newline) and check the plan is not empty."""
        if self._closed:
            return []
        out = [] if self._ended else self.feed("\n")
        self._closed = True
        if not self.steps:
            raise PlanError('the plan has no steps (expected lines such as `1. tool("x")`)')
        return out

    def plan(self) -> Plan:
        return Plan(list(self.steps), list(self.dropped))

    def _read_line(self, raw: str) -> Step | None:
        self._line += 1
        text = raw.rstrip("\r").strip()
        if not text:
            return None
        if self._joined:
            if _STEP_RE.match(text) and not _THOUGHT_RE.match(text):
                self.dropped.append(text)
            return None
        if m := _THOUGHT_RE.match(text):
            self._thoughts.append(m.group(1))
            return None
        m = _STEP_RE.match(text)
        if m is None or not m.group(2):
            if self.strict:
                raise PlanError(
                    f"expected a numbered step `N. tool(...)` or `Thought: ...`, got {_clip(text)}",
                    self._line,
                )
            return None
        if len(self.steps) >= self.max_steps:
            raise PlanError(
                f"the plan has more than {self.max_steps:,} steps; split the request into smaller plans",
                self._line,
            )
        idx = _step_number(m.group(1), self._line)
        tool, args = _read_call(m.group(2), idx, self._line)
        step = self._make_step(idx, tool, args)
        self.steps.append(step)
        self._indices.add(idx)
        self._joined = step.is_join
        return step

    def _make_step(self, idx: int, tool: str, args: tuple[Any, ...]) -> Step:
        line = self._line
        if idx < 1:
            raise PlanError("step numbers start at 1", line)
        seen = self._indices
        if idx in seen:
            raise PlanError(f"step {idx} is numbered twice", line)
        if self.steps and idx < self.steps[-1].idx:
            raise PlanError(
                f"step {idx} comes after step {self.steps[-1].idx}: step numbers must increase", line
            )
        if tool == JOIN:
            if args:
                raise PlanError("join() takes no arguments", line)
            deps = tuple(s.idx for s in self.steps)
        else:
            try:
                refs = references(args)
            except PlanError as e:
                raise PlanError(e.message, line) from None
            for r in sorted(refs):
                if r == idx:
                    raise PlanError(f"step {idx} refers to itself (${r})", line)
                if r > idx:
                    raise PlanError(f"step {idx} refers to a later step (${r})", line)
                if r not in seen:
                    raise PlanError(f"step {idx} refers to step {r}, which does not exist", line)
            deps = tuple(sorted(refs))
        thought = "\n".join(self._thoughts) if self._thoughts else None
        self._thoughts = []
        return Step(idx, tool, args, deps, thought, line)


def parse_plan(
    text: str,
    tools: Iterable[ToolSpec] | Mapping[str, ToolSpec] | None = None,
    strict: bool = True,
    *,
    max_chars: int = MAX_PLAN_CHARS,
    max_steps: int = MAX_STEPS,
) -> Plan:
    """Parse a whole plan; with `tools`, also validate it against their specs (see `validate_plan`)."""
    if not isinstance(text, str):
        raise PlanError(f"a plan is text, got {type(text).__name__}")
    parser = StreamingPlanParser(strict=strict, max_chars=max_chars, max_steps=max_steps)
    parser.feed(text)
    parser.close()
    plan = parser.plan()
    if tools is not None:
        validate_plan(plan, tools)
    return plan


# ------------------------------------------------------------------------------------------ validation


def validate_plan(plan: Plan, tools: Iterable[ToolSpec] | Mapping[str, ToolSpec]) -> Plan:
    """Check tool names, argument counts and types against the specs; report steps dropped after join.

    Returns the plan unchanged so that it chains: `validate_plan(parse_plan(text), tools)`.
    """
    specs = dict(tools) if isinstance(tools, Mapping) else {t.name: t for t in tools}
    if not plan.steps:
        raise PlanError("the plan has no steps")
    for step in plan.steps:
        if step.is_join:
            continue
        spec = specs.get(step.tool)
        if spec is None:
            known = ", ".join(sorted(specs)) or "(none)"
            raise PlanError(f"unknown tool {step.tool!r}; the tools are: {known}", step.line)
        errors = spec.argument_errors(step.args)
        if errors:
            raise PlanError(f"{step.tool}: {errors[0]}", step.line)
    if plan.dropped:
        n = len(plan.dropped)
        raise PlanError(
            f"{n} step(s) after join() were dropped (join() must be the last step): {_clip(plan.dropped[0])}",
            plan.steps[-1].line,
        )
    return plan


# ------------------------------------------------------------------------------------------- rendering


_WRITABLE = "strings, ints, finite floats, bools, None, and lists, tuples or dicts of them"


def _render_value(v: Any) -> str:
    """A Python literal for `v`, with double-quoted strings as planners write them.

    This defines the values a plan can hold: the parser rejects any literal it cannot write.
    """
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if v is None or isinstance(v, (bool, int)):
        return repr(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _cannot_hold(v)
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_render_value(x) for x in v) + "]"
    if isinstance(v, tuple):
        inner = ", ".join(_render_value(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_render_value(k)}: {_render_value(x)}" for k, x in v.items()) + "}"
    raise _cannot_hold(v)


def _cannot_hold(v: Any) -> ValueError:
    """`1j` -> "a plan cannot hold complex 1j (arguments are strings, ...)"."""
    if v is Ellipsis:
        shown = "Ellipsis"
    else:
        r = repr(v)
        shown = f"{type(v).__name__} {r if len(r) <= 40 else r[:37] + '...'}"
    return ValueError(f"a plan cannot hold {shown} (arguments are {_WRITABLE})")


def render_args(args: tuple[Any, ...] | list[Any]) -> str:
    """Arguments as planners write them: `"a", ["$1"], None`."""
    return ", ".join(_render_value(a) for a in args)


def render_plan(plan: Plan, end_marker: bool = True) -> str:
    """The text of `plan`, thoughts included; `parse_plan(render_plan(p)) == p`.

    With `end_marker`, a plan that ends in join() gets `<END_OF_PLAN>` as TinyAgent's targets do.
    """
    lines = []
    for step in plan.steps:
        if step.thought is not None:
            lines.extend(f"Thought: {t}" for t in step.thought.split("\n"))
        lines.append(step.render())
    text = "\n".join(lines)
    return text + END_OF_PLAN if end_marker and plan.has_join else text


# ------------------------------------------------------------------------------------ repeated look-ups


class RepeatMerger:
    """Merge repeated calls in a plan's text as it streams (`feed` chunks, then `close`).

    A step that calls one of `tools` with the same arguments as an earlier step is dropped; later references
    to it point at the earlier step, a list that then names one step twice names it once, and the steps are
    renumbered without gaps. Small planners repeat a look-up (three `get_email_address` calls for two people is
    their commonest slip): running it again would fetch nothing new, while the invitation would list a person
    twice and the plan's DAG gain a node. On phrasings they never saw they also write an action twice (the same
    text sent twice, the same place opened twice), which a user never wants done twice. A line that is not a
    step passes unchanged, so that the plan's parser still rejects what it would have rejected; a line that
    needs no change is passed as it was written.

        >>> m = RepeatMerger({"get_email_address"})
        >>> text = '1. get_email_address("Sid")\\n2. get_email_address("Sid")\\n3. f(["$1", "$2"])\\n4. join()'
        >>> print(m.feed(text) + m.close())
        1. get_email_address("Sid")
        2. f(["$1"])
        3. join()
    """

    def __init__(self, tools: Iterable[str]):
        self.tools = frozenset(tools)
        self._buffer = ""
        self._new: dict[int, int] = {}  # step number as written -> as emitted
        self._seen: dict[tuple[str, str], int] = {}  # (tool, its arguments) -> its emitted step number
        self._next = 1

    def feed(self, chunk: str) -> str:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split("\n")
        return "".join(out + "\n" for out in map(self._line, lines) if out is not None)

    def close(self) -> str:
        rest, self._buffer = self._buffer, ""
        return (self._line(rest) or "") if rest else ""

    def _line(self, raw: str) -> str | None:
        step = read_step_line(raw)
        if step is None:
            return raw
        idx, tool, args, end = step
        new_args = tuple(self._remap(a) for a in args)
        key = (tool, render_args(new_args))
        if tool in self.tools and key in self._seen:
            self._new[idx] = self._seen[key]
            return None
        self._new[idx] = self._next
        self._next += 1
        if tool in self.tools:
            self._seen[key] = self._new[idx]
        if self._new[idx] == idx and new_args == args:
            return raw
        return f"{self._new[idx]}. {tool}({render_args(new_args)}){end}"

    def _remap(self, value: Any) -> Any:
        if isinstance(value, str):
            return renumber_references(value, self._new)
        if isinstance(value, list):
            out: list[Any] = []
            for v in map(self._remap, value):
                if not (is_reference(v) and v in out):  # a step named twice, after a merge, is named once
                    out.append(v)
            return out
        return value


def read_step_line(raw: str) -> tuple[int, str, tuple[Any, ...], str] | None:
    """(step number, tool, arguments, `<END_OF_PLAN>` or "") of one line of a plan, or None for a line that is
    not a step that parses (a thought, text, a broken call): for repairs that rewrite a plan line by line.

        >>> read_step_line('2. send_sms(["$1"], "hi")')
        (2, 'send_sms', (['$1'], 'hi'), '')
    """
    text, end = raw, ""
    if text.rstrip().endswith(END_OF_PLAN):
        text, end = text.rstrip()[: -len(END_OF_PLAN)], END_OF_PLAN
    m = _STEP_RE.match(text.strip())
    if m is None or _THOUGHT_RE.match(text.strip()) or not m.group(2):
        return None
    try:
        idx = _step_number(m.group(1))
        tool, args = _read_call(m.group(2), idx, 0)
    except PlanError:
        return None
    return idx, tool, args, end


def merge_repeated_calls(text: str, tools: Iterable[str]) -> str:
    """`text` with repeated calls of `tools` merged (see `RepeatMerger`)."""
    merger = RepeatMerger(tools)
    return merger.feed(text) + merger.close()


# ------------------------------------------------------------------------------------------ reordering


def grouped_by_part(plan: Plan) -> Plan:
    """The same DAG with each independent part written together: the steps that share references (one
    request of the query: the lookups, then what uses them) stay adjacent, parts in the order of their first
    step, and references renumbered. The DAG, and so DAG success, is unchanged; a planner writing in this
    order makes short, local references instead of pointing back across every other request's lookups.

        >>> print(render_plan(grouped_by_part(parse_plan(
        ...     '1. f("a")\\n2. g("b")\\n3. h("$1")\\n4. k("$2")\\n5. join()')), end_marker=False))
        1. f("a")
        2. h("$1")
        3. g("b")
        4. k("$3")
        5. join()
    """
    tasks = plan.tasks
    part = {s.idx: s.idx for s in tasks}  # union-find over the references, rooted at a part's first step

    def root(i: int) -> int:
        while part[i] != i:
            part[i] = part[part[i]]
            i = part[i]
        return i

    for s in tasks:
        for d in s.deps:
            if d in part:
                a, b = sorted((root(s.idx), root(d)))
                part[b] = a
    order = sorted(tasks, key=lambda s: (root(s.idx), s.idx))  # stable within a part
    new = {s.idx: i for i, s in enumerate(order, 1)}

    def renumber(v: Any) -> Any:
        if isinstance(v, str):
            return renumber_references(v, new)
        if isinstance(v, (list, tuple)):
            return type(v)(renumber(x) for x in v)
        if isinstance(v, dict):
            return {k: renumber(x) for k, x in v.items()}
        return v

    steps = [
        Step(new[s.idx], s.tool, renumber(s.args), tuple(sorted(new.get(d, d) for d in s.deps)), s.thought)
        for s in order
    ]
    steps += [
        Step(len(steps) + 1, s.tool, s.args, tuple(range(1, len(steps) + 1)), s.thought)
        for s in plan.steps
        if s.is_join
    ]
    return Plan(steps)
