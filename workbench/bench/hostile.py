"""Hostile input for the reliability harness (`bench.reliability`): the plan texts, files, tools, planner replies
and teacher replies it throws at the workbench. Each generator is deterministic in its seed, so a failing try
can be replayed.

    >>> plan_text(0.25, 1_000) == plan_text(0.25, 1_000)
    True
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from typing import Any

from workbench.bench.mathtool import evaluate as math_tool

# ------------------------------------------------------------------------------------------------ plans

_STEP = '{i}. get_phone_number("Ana")'
_ODD_LITERALS = (
    "...",
    "{1, 2}",
    'b"x"',
    "1j",
    "1e999",
    "-1e999",
    "(1, 2)",
    "lambda: 1",
    "__import__('os')",
    "x",
)


def plan_text(seed: float, max_bytes: int) -> tuple[str, str]:
    """A hostile plan text and the name of its kind (deterministic in `seed`)."""
    rng = random.Random(seed)
    size = int(max_bytes * rng.choice((0.001, 0.01, 0.1, 0.5, 1.0)))
    kind = rng.choice(
        ("spaces", "nesting", "literal", "chain", "bytes", "unterminated", "digits", "mutated", "lines")
    )
    if kind == "spaces":
        text = f'1. get_phone_number({" " * size}"Ana")\n2. join()'
    elif kind == "nesting":
        depth = size // 2
        text = f'1. send_sms({"[" * depth}"x"{"]" * depth}, "hi")\n2. join()'
    elif kind == "literal":
        text = f'1. send_sms(["$9"], {rng.choice(_ODD_LITERALS)})\n2. join()<END_OF_PLAN>'
    elif kind == "chain":
        n = max(2, size // 40)
        steps = ['1. get_phone_number("Ana")'] + [f'{i}. send_sms(["${i - 1}"], "x")' for i in range(2, n)]
        text = "\n".join([*steps, f"{n}. join()<END_OF_PLAN>"])
    elif kind == "bytes":
        text = bytes(rng.getrandbits(8) for _ in range(min(size, 200_000))).decode("latin-1")
    elif kind == "unterminated":
        text = '1. send_sms(["$1"], "' + "a" * size
    elif kind == "digits":
        text = f'1. create_reminder("x", {"9" * min(size, 200_000)}, "", "", 0, False)\n2. join()'
    elif kind == "lines":
        text = "\n" * size + "1. join()"
    else:
        lines = [_STEP.format(i=i) for i in range(1, 6)] + ["6. join()<END_OF_PLAN>"]
        chars = list("\n".join(lines))
        for _ in range(rng.randint(1, 20)):
            pos = rng.randrange(len(chars) + 1)
            chars.insert(pos, rng.choice('()[]{}"$,.\\\n 0123456789ab\x00\u2028'))
        text = "".join(chars)
    return text[: max_bytes + 64], kind


# ------------------------------------------------------------------------------------------------ files

GOLD = {
    "query": "Text Ana that I am late",
    "plan": '1. get_phone_number("Ana")\n2. send_sms(["$1"], "late")\n3. join()<END_OF_PLAN>',
}


def _jsonl(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def file_cases() -> list[tuple[str, list[str], dict[str, bytes | None], int]]:
    """(case, CLI arguments, files to write (None: a folder), expected exit code) for each hostile file."""
    plan = GOLD["plan"].encode()
    pred = {"query": GOLD["query"], "plan": GOLD["plan"]}
    deep = b'{"query": ' + b"[" * 100_000 + b"]" * 100_000 + b', "plan": "x"}\n'
    cases: list[tuple[str, list[str], dict[str, bytes | None], int]] = [
        ("plan latin-1", ["plan", "check", "{f}"], {"f": plan + " café".encode("latin-1")}, 1),
        ("plan utf-16", ["plan", "check", "{f}"], {"f": plan.decode().encode("utf-16")}, 1),
        ("plan binary", ["plan", "check", "{f}"], {"f": bytes(range(256)) * 4}, 1),
        ("plan folder", ["plan", "check", "{f}"], {"f": None}, 1),
        ("plan missing", ["plan", "check", "{f}.nope"], {"f": plan}, 1),
        ("score latin-1", ["plan", "score", "{f}", "{g}"], {"f": "é".encode("latin-1"), "g": plan}, 1),
        (
            "score spaces",
            ["plan", "score", "{f}", "{g}"],
            {"f": b" " * 200_000, "g": plan},
            0,
        ),  # an empty plan
        (
            "eval latin-1",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": "é\n".encode("latin-1"), "g": _jsonl(GOLD)},
            1,
        ),
        (
            "eval list query",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": _jsonl({"query": ["a"], "plan": "x"}), "g": _jsonl(GOLD)},
            1,
        ),
        (
            "eval deep nesting",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": deep, "g": _jsonl(GOLD)},
            1,
        ),
        (
            "eval lone surrogate",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": b'{"query": "\\ud800", "plan": "x"}\n', "g": _jsonl(GOLD)},
            1,
        ),
        (
            "eval duplicates",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": _jsonl(pred, {**pred, "plan": "1. join()"}), "g": _jsonl(GOLD)},
            1,
        ),
        ("eval empty gold", ["evaluate", "--pred", "{f}", "--gold", "{g}"], {"f": _jsonl(pred), "g": b""}, 1),
        (
            "eval gold bad plan",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": _jsonl(pred), "g": _jsonl(GOLD, {"query": "q", "plan": "1. nope("})},
            1,
        ),
        (
            "eval gold folder",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": _jsonl(pred), "g": None},
            1,
        ),
        (
            "eval not json",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": b"{not json\n", "g": _jsonl(GOLD)},
            1,
        ),
        (
            "eval no plan key",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": _jsonl({"query": GOLD["query"]}), "g": _jsonl(GOLD)},
            0,  # no plan: scored as a parse failure
        ),
    ]
    sep = {"query": "Text Ana\u2028that I am late\u2029\u0085", "plan": GOLD["plan"]}
    cases.append(
        (
            "eval U+2028 query",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": _jsonl(sep), "g": _jsonl(sep)},
            0,
        )
    )
    cases.append(
        (
            "eval valid",
            ["evaluate", "--pred", "{f}", "--gold", "{g}"],
            {"f": _jsonl(pred), "g": _jsonl(GOLD)},
            0,
        )
    )
    return cases


# ------------------------------------------------------------------------------------------------ tools


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("this result cannot be printed")


def fault_tools(timeout_s: float) -> dict[str, Callable[..., Any]]:
    """Tools that misbehave in each way the executor must survive (each takes one string argument)."""

    def raises(x: str) -> str:
        raise ValueError(f"bad input {x!r}")

    def exits(x: str) -> str:
        raise SystemExit(3)

    def interrupts(x: str) -> str:
        e = KeyboardInterrupt()
        e.from_tool = True  # type: ignore[attr-defined]
        raise e

    def hangs(x: str) -> str:
        time.sleep(timeout_s * 20)
        return "late"

    async def blocks(x: str) -> str:
        time.sleep(timeout_s * 3)  # blocks the event loop: a badly written async tool
        return "late"

    async def sleeps(x: str) -> str:
        await asyncio.sleep(timeout_s * 20)
        return "late"

    def unprintable(x: str) -> Any:
        return _Unprintable()

    def huge(x: str) -> str:
        return "x" * 5_000_000

    def recurses(x: str) -> str:
        return recurses(x)

    def math(x: str) -> str:
        return math_tool(x)

    def fine(x: str) -> str:
        return f"ok {x[:20]}"

    return {
        f.__name__: f
        for f in (raises, exits, interrupts, hangs, blocks, sleeps, unprintable, huge, recurses, math, fine)
    }


HOSTILE_MATH = (
    "round(5, -999999999)",
    "10**10**10",
    "9**9**9",
    "1<<10**9",
    "'a'*10**10",
    "2**-10**9",
    "(" * 500 + "1" + ")" * 500,
    "1/0",
    "factorial(10**6)",
    "1e308*10",
)


# ------------------------------------------------------------------------------------------------ agent

AGENT_QUERY = "Text Ana that I am running late"
GOOD_PLAN = '1. get_phone_number("Ana")\n2. send_sms(["$1"], "I am running late")\n3. join()<END_OF_PLAN>'
BAD_PLANS = (
    '1. send_sms(["$1"], ...)\n2. join()<END_OF_PLAN>',
    '1. get_phone_number({"Ana"})\n2. join()<END_OF_PLAN>',
    "1. get_phone_number(" + " " * 200_000 + '"Ana")\n2. join()<END_OF_PLAN>',
    '1. get_phone_number(b"Ana")\n2. join()<END_OF_PLAN>',
    '1. create_reminder("x", 1e999, "", "", 0, False)\n2. join()<END_OF_PLAN>',
    '1. launch_missiles("now")\n2. join()<END_OF_PLAN>',
    "I would be glad to help! First, I will look up Ana.",
    "\n".join(f'{i}. get_phone_number("$' + str(i + 1) + '")' for i in range(1, 400)),
)
FAULTS: tuple[Any, ...] = (("status", 500), ("status", 429), ("status", 503), ("cut", 3), ("hang", 0.6))


def agent_script(i: int, rng: random.Random) -> tuple[str, list[Any]]:
    kind = ("fault", "bad", "mixed", "permanent")[i % 4]
    if kind == "fault":
        return kind, [rng.choice(FAULTS) for _ in range(rng.randint(1, 2))] + [GOOD_PLAN] * 4
    if kind == "bad":
        return kind, [rng.choice(BAD_PLANS) for _ in range(rng.randint(1, 3))] + [GOOD_PLAN] * 4
    if kind == "permanent":
        return kind, [("status", rng.choice((400, 401, 404)))] * 8
    return kind, [rng.choice((*FAULTS, *BAD_PLANS)) for _ in range(6)]


# ------------------------------------------------------------------------------------------------ teacher

_NAMES = (
    "Ana",
    "Bo",
    "Chen",
    "Dara",
    "Eli",
    "Femi",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lea",
    "Mo",
    "Noor",
    "Zoë",
    "Łukasz",
)


def teacher_reply(k: int, per_reply: int = 2) -> str:
    """A teacher reply of `per_reply` valid, distinct pairs (number `k`)."""
    blocks = []
    for j in range(per_reply):
        i = k * per_reply + j
        name = _NAMES[i % len(_NAMES)]
        blocks.append(
            f"Query: Text {name} that order {i} has shipped.\nPlan:\n"
            f'1. get_phone_number("{name}")\n2. send_sms(["$1"], "Order {i} has shipped.")\n'
            "3. join()<END_OF_PLAN>\n###\n"
        )
    return "".join(blocks)
