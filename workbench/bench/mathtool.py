"""ParallelQA's `math(problem, context)` tool (Kim et al. 2023, Sec. 5.1 and Appendix: ParallelQA tools).

In LLMCompiler the math tool asks an LLM to turn a problem (plus the observations it depends on) into one
numeric expression and evaluates that. Here a safe evaluator comes first: a problem that already is
arithmetic ("1.5 * 3", "What is 12 - 4.5?") is answered without any model call, which keeps runs cheap
and deterministic. Word problems go to an LLM when one is given; otherwise the tool says one is needed.

The evaluator walks Python's AST and allows only numbers, + - * / // % **, unary signs, parentheses, the
functions abs, round, min, max, sqrt, log, exp and the constants pi and e. It never calls `eval`. Every
operation is bounded, so that no expression can exhaust memory or time: the input's length and number of
parts, every integer (operands and results), every exponent and `round`'s number of digits. Bounds, not a
worker thread, are what keep the tool on time: a big-integer operation holds the GIL, so a runaway one
would freeze the event loop from any thread, and a thread cannot be stopped. With the bounds the worst
expression takes well under a millisecond, so the async tool evaluates in line and its timeout holds.

    >>> evaluate("2 * (3 + 4.5) - 1")
    '14'
    >>> evaluate("10 / 0")
    'Error: division by zero'
"""

from __future__ import annotations

import ast
import math as _math
import operator
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from workbench.compiler.tools import Tool
from workbench.plan import parse_expression
from workbench.tools.spec import Param, ToolSpec

Number = int | float

MAX_EXPRESSION_CHARS = 300
MAX_NODES = 200
MAX_EXPONENT = 1000
MAX_INT_BITS = 4096
MAX_NDIGITS = 1300  # round(x, n): |n| beyond the digits of the largest allowed integer changes nothing

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _minmax(fn: Callable[..., Number]) -> Callable[..., Number]:
    return lambda *args: args[0] if len(args) == 1 else fn(*args)


_FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {  # name -> (function, min args, max args)
    "abs": (abs, 1, 1),
    "round": (round, 1, 2),
    "min": (_minmax(min), 1, 20),
    "max": (_minmax(max), 1, 20),
    "sqrt": (_math.sqrt, 1, 1),
    "log": (_math.log, 1, 2),
    "exp": (_math.exp, 1, 1),
}
_CONSTANTS: dict[str, float] = {"pi": _math.pi, "e": _math.e}


class MathError(ValueError):
    """An expression outside the allowed grammar, or one whose value is undefined or too large."""


def safe_eval(expression: str) -> Number:
    """The value of an arithmetic expression; raises `MathError` (and nothing else) when there is none."""
    if not isinstance(expression, str):
        raise MathError(f"expected an expression string, got {type(expression).__name__}")
    text = expression.strip()
    if not text:
        raise MathError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise MathError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        with warnings.catch_warnings():  # "1if" and the like warn before they fail; the error says enough
            warnings.simplefilter("ignore")
            tree = parse_expression(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise MathError(f"not an arithmetic expression: {text!r}") from exc
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise MathError(f"expression has more than {MAX_NODES} parts")
    try:
        value = _eval(tree.body)
    except MathError:
        raise
    except ZeroDivisionError:
        raise MathError("division by zero") from None
    except (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise MathError(f"cannot evaluate {text!r}: {exc}") from None
    return _check(value)


def _check(value: Any) -> Number:
    """Only finite real numbers and bounded integers are results."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MathError(f"the result is not a real number ({value!r})")
    if isinstance(value, float) and not _math.isfinite(value):
        raise MathError("the result is not a finite number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise MathError("the result is too large")
    return value


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise MathError(f"only numbers are allowed, not {node.value!r}")
        return _check(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _check(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _check(_UNARY[type(node.op)](_eval(node.operand)))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        fn, low, high = _FUNCTIONS[node.func.id]
        if node.keywords or not low <= len(node.args) <= high:
            raise MathError(f"{node.func.id}() takes {low}-{high} positional numbers")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise MathError("argument unpacking is not allowed")
        args = [_eval(a) for a in node.args]
        if node.func.id == "round" and len(args) == 2:
            _check_ndigits(args[1])
        return _check(fn(*args))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        raise MathError("'^' is not a power here: write ** instead")
    raise MathError(f"not allowed in an arithmetic expression: {ast.unparse(node)!r}")


def _check_power(base: Number, exponent: Number) -> None:
    """Refuse powers whose size alone would be a denial of service, before computing them."""
    if abs(exponent) > MAX_EXPONENT:
        raise MathError(f"exponent {exponent} is larger than {MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        if exponent * _math.log2(abs(base)) > MAX_INT_BITS:
            raise MathError("the result is too large")


def _check_ndigits(ndigits: Number) -> None:
    """round(5, -999999999) computes 10**999999999 first: refuse digit counts no answer needs."""
    if not isinstance(ndigits, int):
        raise MathError("round()'s second argument must be an integer")
    if abs(ndigits) > MAX_NDIGITS:
        raise MathError(f"round()'s second argument must be between -{MAX_NDIGITS} and {MAX_NDIGITS}")


def format_number(value: Number) -> str:
    """Integers as they are; floats to 12 significant digits (8848 * 0.8 is 7078.4, not 7078.400000000001)."""
    return str(value) if isinstance(value, int) else f"{value:.12g}"


def evaluate(expression: str) -> str:
    """The value of `expression` as text, or an `Error: ...` observation; never raises."""
    try:
        return format_number(safe_eval(expression))
    except MathError as exc:
        return f"Error: {exc}"


# ------------------------------------------------------------------------------------ problem -> expression

_LEAD_IN = re.compile(r"^\s*(?:what\s+is|what's|compute|calculate|evaluate|solve)\b\s*:?\s*", re.IGNORECASE)
_TRAILER_CHARS = "?=.!"
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def as_expression(text: str) -> str:
    """Tidy human arithmetic into Python syntax: lead-in words, `?`, thousands commas, ^ x and ÷.

    Only a text that *is* an expression after this tidying is evaluated directly: a number pulled out of a
    sentence ("3/4 of the height") would be a wrong answer given with confidence.
    """
    text = _strip_trailer(_LEAD_IN.sub("", text.strip()))
    text = _THOUSANDS.sub("", text)
    return text.replace("^", "**").replace("×", "*").replace("÷", "/").replace("−", "-")


def _strip_trailer(text: str) -> str:
    """`text` without trailing spaces and `?=.!`, in linear time (the regex `[\\s?=.!]+$` is quadratic: a
    problem ending in 40,000 spaces and a letter took 30 s)."""
    end = len(text)
    while end and (text[end - 1].isspace() or text[end - 1] in _TRAILER_CHARS):
        end -= 1
    return text[:end]


class CompletesText(Protocol):
    """Any LLM of `workbench.llm` (or a stand-in): `await complete(messages)` gives an object with `.text`."""

    async def complete(self, messages: list[dict[str, str]]) -> Any: ...


SYSTEM_PROMPT = (
    "You turn a math problem into a single arithmetic expression. Use the numbers in the problem and in the "
    "context. Allowed: numbers, + - * / // % **, parentheses, abs, round, min, max, sqrt, log, exp, pi, e. "
    "No units, no variables, no words. Answer with one line: `Expression: <expression>`."
)
_EXPRESSION_LINE = re.compile(r"expression\s*:\s*(.+)", re.IGNORECASE)
_FENCE = re.compile(r"```(?:[a-z]*\n)?(.*?)```", re.DOTALL)


def extract_expression(reply: str) -> str:
    """The expression in a model's reply: an `Expression:` line, else a code block, else the last line."""
    lines = _EXPRESSION_LINE.findall(reply)
    if lines:
        return lines[-1].strip().strip("`")
    fenced = _FENCE.findall(reply)
    if fenced and fenced[-1].strip():
        return fenced[-1].strip().splitlines()[-1]
    rest = [line for line in reply.strip().splitlines() if line.strip()]
    return rest[-1].strip().strip("`") if rest else ""


def _context_lines(context: Sequence[str] | str | None) -> list[str]:
    if context is None:
        return []
    if isinstance(context, str):
        return [context] if context.strip() else []
    return [str(c) for c in context if str(c).strip()]


async def solve_math(
    problem: str, context: Sequence[str] | str | None = None, llm: CompletesText | None = None
) -> str:
    """Answer `problem` (the tool `math`): directly when it is arithmetic, else through `llm` if given."""
    problem = str(problem)
    direct = as_expression(problem)
    try:
        return format_number(safe_eval(direct))
    except MathError as exc:
        direct_error = exc
    if llm is None:
        return (
            f"Error: {problem!r} is not a plain arithmetic expression ({direct_error}); "
            "word problems need an LLM to write the expression (pass llm= to the math tool)"
        )
    notes = _context_lines(context)
    user = f"Problem: {problem}"
    if notes:
        user += "\nContext:\n" + "\n".join(f"- {c}" for c in notes)
    completion = await llm.complete(
        [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
    )
    expression = as_expression(extract_expression(str(getattr(completion, "text", completion))))
    try:
        return format_number(safe_eval(expression))
    except MathError as exc:
        return f"Error: the model's expression {expression!r} could not be evaluated: {exc}"


MATH_SPEC = ToolSpec(
    "math",
    (
        Param("problem", "str", "the calculation, in words or as an expression"),
        Param(
            "context",
            "list[str]",
            "earlier observations that hold the numbers",
            optional=True,
            single_ok=True,
        ),
    ),
    "Solves a numeric problem and returns the number.",
    rules=(
        'Give one calculation per call; pass the observations it needs (e.g. ["$1", "$2"]) as context.',
        "Write the problem so that it can be answered with a single number.",
    ),
    app="Math",
)


def math_tool(llm: CompletesText | None = None) -> Tool:
    """The `math` tool; without `llm` it only answers problems that are already arithmetic."""

    async def math(problem: str, context: list[str] | str | None = None) -> str:
        return await solve_math(problem, context, llm)

    return Tool(MATH_SPEC, math)
