"""A fuzz and fault harness for the workbench (issue 21): hostile input, faulty endpoints and tools, kills, races.

It re-runs, with fresh random cases each seed, the categories a hostile review found broken, and counts what
is not handled cleanly. An outcome is a *failure* when it is anything but a clear error (a crash, a
traceback, an exception of the wrong kind), a hang past its bound, or a record lost or written twice.

| category | what it throws | a clean outcome |
|---|---|---|
| `plans` | generated plan texts up to `max_input_bytes`: whitespace runs, deep nesting, literals the plan language cannot hold (`...`, sets, bytes, complex, `1e999`), long chains, random bytes, mutated plans | a `Plan` or a `PlanError`, batch and streaming, parse + validate + graph figures under `parse_bound_s` |
| `files` | the CLI (`plan check`, `plan score`, `evaluate`) on Latin-1, UTF-16, binary files, a folder, wrong-shaped and deeply nested JSON, lone surrogates, U+2028 in queries, duplicate predictions, an empty gold file | exit code 0 or 1, no traceback, and an error that names the file |
| `tools` | plans over tools that raise (`SystemExit` too), hang, block the event loop, return what cannot be printed, and hostile math | the run returns within its bound and every task ends `done`, `failed` or `skipped` |
| `agent` | LLMCompiler against a real local HTTP planner endpoint that fails (5xx, 4xx, cut streams, hangs) or writes broken plans | an answer (after replanning) or an `LLMError`, within the bound |
| `kills` | an LLM-teacher run killed (SIGKILL) at a random moment, then rerun; a fine-tuning run killed at a random moment, then rerun | the rerun finishes; no record lost, none duplicated |
| `races` | two teacher runs started together on one store | one runs, the other is refused at once; no duplicate ids |

Why a harness of our own: the cases are the workbench's own file formats, plan language and processes; a
generic fuzzer (hypothesis, atheris) would not know what a clean outcome is for each. The input itself is
generated in `bench.hostile`. Property tests of the
parser (hypothesis) stay in the test suite; this measures the whole system and writes `reliability.json`.

    >>> ReliabilityConfig(plan_tries=10).plan_tries
    10
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from workbench.bench.hostile import (
    AGENT_QUERY,
    HOSTILE_MATH,
    agent_script,
    fault_tools,
    file_cases,
    plan_text,
    teacher_reply,
)
from workbench.compiler import Executor, LLMCompiler, RuleJoiner, function_tool
from workbench.compiler.tools import desktop_tools
from workbench.llm import LLMError, OpenAICompatLLM, RetryPolicy
from workbench.llm.testing import FakeChatServer, Reply
from workbench.metrics import critical_path_length, plan_width
from workbench.plan import PlanError, StreamingPlanParser, parse_plan
from workbench.tools import LatencyModel, SimulatedDesktop
from workbench.tools.tinyagent import tinyagent_tools

CATEGORIES = ("plans", "files", "tools", "agent", "kills", "races")


@dataclass
class ReliabilityConfig:
    """How many tries per category and the bounds they are held to. Field help texts serve `--help`."""

    plan_tries: int = field(
        default=400, metadata={"help": "generated plan texts (batch and streaming parse)"}
    )
    max_input_bytes: int = field(default=1_000_000, metadata={"help": "the largest generated plan text"})
    parse_bound_s: float = field(default=1.0, metadata={"help": "longest allowed parse of any plan text"})
    file_tries: int = field(default=24, metadata={"help": "CLI runs on hostile files (one process each)"})
    tool_tries: int = field(default=40, metadata={"help": "plans over faulty tools"})
    agent_tries: int = field(default=24, metadata={"help": "agent runs against a faulty planner endpoint"})
    teacher_kills: int = field(default=6, metadata={"help": "teacher runs killed and resumed"})
    finetune_kills: int = field(default=2, metadata={"help": "fine-tuning runs killed and resumed"})
    race_tries: int = field(default=2, metadata={"help": "two teacher runs on one store at once"})
    run_bound_s: float = field(default=30.0, metadata={"help": "longest allowed run of one try"})
    seed: int = field(default=0, metadata={"help": "the cases drawn"})
    progress: bool = field(default=True, metadata={"help": "progress bars"})


@dataclass
class Outcome:
    """One try: which category and case, whether it failed, what happened, how long it took."""

    category: str
    case: str
    failed: bool
    detail: str = ""
    seconds: float = 0.0
    lost: int = 0
    duplicated: int = 0


def run(cfg: ReliabilityConfig, workdir: Path | None = None) -> dict[str, Any]:
    """Every category; the flat summary `reliability.json` holds (failures listed with their details)."""
    rng = random.Random(cfg.seed)
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="reliability-", dir=workdir) as tmp:
        root = Path(tmp)
        for name, tries in _categories(cfg, rng, root):
            bar = tqdm(tries, desc=name, disable=not cfg.progress, leave=False)
            for attempt in bar:
                outcomes.append(_guarded(name, attempt))
    return summarize(outcomes, cfg, time.perf_counter() - started)


def summarize(outcomes: list[Outcome], cfg: ReliabilityConfig, wall_s: float) -> dict[str, Any]:
    failures = [o for o in outcomes if o.failed]
    parse_times = [o.seconds for o in outcomes if o.category == "plans"]
    return {
        "tries": len(outcomes),
        "failures": len(failures),
        "max_parse_s": round(max(parse_times, default=0.0), 4),
        "records_lost": sum(o.lost for o in outcomes),
        "records_duplicated": sum(o.duplicated for o in outcomes),
        "by_category": {
            c: {
                "tries": sum(o.category == c for o in outcomes),
                "failures": sum(o.category == c and o.failed for o in outcomes),
                "max_s": round(max((o.seconds for o in outcomes if o.category == c), default=0.0), 3),
            }
            for c in CATEGORIES
        },
        "failure_examples": [
            {"category": o.category, "case": o.case, "detail": o.detail[:500]} for o in failures[:20]
        ],
        "bounds": {
            "parse_s": cfg.parse_bound_s,
            "run_s": cfg.run_bound_s,
            "max_input_bytes": cfg.max_input_bytes,
        },
        "wall_s": round(wall_s, 1),
    }


def _guarded(category: str, attempt: Callable[[], Outcome]) -> Outcome:
    """A harness bug is reported as a failure of the try, never as a crash of the whole run."""
    try:
        return attempt()
    except BaseException as e:  # noqa: BLE001 - whatever escapes is exactly what we count
        if isinstance(e, KeyboardInterrupt) and not getattr(e, "from_tool", False):
            raise
        return Outcome(category, "escaped", True, f"{type(e).__name__}: {e}")


def _categories(cfg: ReliabilityConfig, rng: random.Random, root: Path) -> Iterator[tuple[str, list]]:
    yield "plans", [_bind(_plan_try, rng.random(), cfg) for _ in range(cfg.plan_tries)]
    yield "files", _file_tries(cfg.file_tries, root, cfg)
    yield "tools", [_bind(_tool_try, rng.random(), cfg) for _ in range(cfg.tool_tries)]
    yield "agent", [_bind(_agent_try, i, rng.random(), cfg) for i in range(cfg.agent_tries)]
    kills = [_bind(_teacher_kill_try, i, rng.random(), root, cfg) for i in range(cfg.teacher_kills)]
    kills += [_bind(_finetune_kill_try, i, rng.random(), root, cfg) for i in range(cfg.finetune_kills)]
    yield "kills", kills
    yield "races", [_bind(_race_try, i, root, cfg) for i in range(cfg.race_tries)]


def _bind(fn: Callable[..., Outcome], *args: Any) -> Callable[[], Outcome]:
    return lambda: fn(*args)


def _plan_try(seed: float, cfg: ReliabilityConfig) -> Outcome:
    text, kind = plan_text(seed, cfg.max_input_bytes)
    start = time.perf_counter()
    try:
        plan = parse_plan(text, tools=tinyagent_tools())
        critical_path_length(plan), plan_width(plan)
    except PlanError:
        pass
    batch = time.perf_counter() - start
    parser = StreamingPlanParser(strict=True)
    t1 = time.perf_counter()
    try:
        for i in range(0, len(text), 4096):
            parser.feed(text[i : i + 4096])
        parser.close()
    except PlanError:
        pass
    seconds = max(batch, time.perf_counter() - t1)
    slow = seconds > cfg.parse_bound_s
    detail = f"{len(text)} chars took {seconds:.2f} s (bound {cfg.parse_bound_s:g} s)" if slow else ""
    return Outcome("plans", kind, slow, detail, seconds)


# ------------------------------------------------------------------------------------------------ files

_CLI_CHILD = """
import contextlib, io, json, sys, traceback
from workbench.cli import main

results = []
for argv in json.loads(sys.stdin.read()):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            rc = main(argv)
        except BaseException:
            traceback.print_exc()
            rc = -1
    results.append({"rc": rc, "out": out.getvalue()[-2000:]})
print(json.dumps(results))
"""


def _file_tries(n: int, root: Path, cfg: ReliabilityConfig) -> list[Callable[[], Outcome]]:
    """`n` CLI runs on hostile files, all in one child process (the CLI's start-up, paid once); a try is
    failed by a wrong exit code, a traceback, or an error that does not name the file."""
    cases = file_cases()
    picked, argvs, names = [], [], []
    for i in range(n):
        case, argv, files, expected = cases[i % len(cases)]
        folder = root / f"files-{i}"
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for key, data in files.items():
            path = folder / f"{key}.jsonl"
            if data is None:
                path.mkdir(exist_ok=True)
            else:
                path.write_bytes(data)
            paths[key] = str(path)
        picked.append((case, expected))
        argvs.append([a.format(**paths) for a in argv])
        names.append([Path(p).name for p in paths.values()])
    results: list[Any] = []

    def batch() -> None:
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CLI_CHILD],
                input=json.dumps(argvs),
                capture_output=True,
                text=True,
                errors="replace",
                timeout=cfg.run_bound_s + 2 * n,
            )
            rows = json.loads(proc.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
            rows = [{"rc": None, "out": f"the CLI child failed: {type(e).__name__}: {e}"}] * n
        results.extend((row, (time.perf_counter() - start) / n) for row in rows)

    def judge(i: int) -> Outcome:
        if not results:
            batch()
        (row, seconds), (case, expected) = results[i], picked[i]
        problems = []
        if row["rc"] != expected:
            problems.append(f"exit code {row['rc']}, expected {expected}")
        if "Traceback" in row["out"]:
            problems.append("a traceback")
        if expected == 1 and not any(name in row["out"] for name in names[i]):
            problems.append("the error does not name the file")
        detail = f"{'; '.join(problems)}: {row['out'].strip()[-400:]}" if problems else ""
        return Outcome("files", case, bool(problems), detail, seconds)

    return [_bind(judge, i) for i in range(n)]


# ------------------------------------------------------------------------------------------------ tools


def _tool_try(seed: float, cfg: ReliabilityConfig) -> Outcome:
    rng = random.Random(seed)
    timeout_s = 0.2
    tools = fault_tools(timeout_s)
    names = list(tools)
    n = rng.randint(2, 7)
    steps, lines = [], []
    for i in range(1, n):
        name = rng.choice(names)
        arg = (
            rng.choice(HOSTILE_MATH)
            if name == "math"
            else (f"${rng.randint(1, i - 1)}" if i > 1 and rng.random() < 0.4 else "x")
        )
        steps.append(name)
        lines.append(f"{i}. {name}({json.dumps(arg)})")
    lines.append(f"{n}. join()<END_OF_PLAN>")
    case = "+".join(sorted(set(steps)))
    executor = Executor([function_tool(f) for f in tools.values()], timeout_s=timeout_s)
    start = time.perf_counter()
    bound = timeout_s * n * 2 + 2.0
    try:
        result = asyncio.run(
            asyncio.wait_for(executor.run(parse_plan("\n".join(lines), strict=False).steps), bound * 3)
        )
    except TimeoutError:
        return Outcome(
            "tools", case, True, f"the run hung past {bound * 3:.1f} s", time.perf_counter() - start
        )
    seconds = time.perf_counter() - start
    problems = []
    if seconds > bound:
        problems.append(f"took {seconds:.2f} s, bound {bound:.2f} s")
    for record in result.records.values():
        if record.status not in ("done", "failed", "skipped"):
            problems.append(f"task {record.idx} ({record.tool}) ended {record.status!r}")
        elif (
            record.tool in ("raises", "exits", "interrupts", "hangs", "blocks", "sleeps", "unprintable")
            and record.status == "done"
        ):
            problems.append(
                f"task {record.idx} ({record.tool}) was recorded done: {record.observation[:80]!r}"
            )
    return Outcome("tools", case, bool(problems), "; ".join(problems), seconds)


# ------------------------------------------------------------------------------------------------ agent


def _agent_try(i: int, seed: float, cfg: ReliabilityConfig) -> Outcome:
    kind, script = agent_script(i, random.Random(seed))
    retry = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02, timeout_s=0.4)
    start = time.perf_counter()
    with FakeChatServer([s if isinstance(s, tuple) else Reply(s) for s in script]) as server:

        async def go() -> Any:
            llm = OpenAICompatLLM("planner", server.base_url, "k", retry)
            try:
                desktop = SimulatedDesktop(latency=LatencyModel.uniform(0.0, 0.0))
                agent = LLMCompiler(
                    llm,
                    desktop_tools(desktop),
                    joiner=RuleJoiner(),
                    tinyagent=True,
                    today="2024-06-12",
                    max_replans=2,
                    tool_timeout_s=1.0,
                )
                return await asyncio.wait_for(agent.run(AGENT_QUERY), cfg.run_bound_s)
            finally:
                await llm.aclose()

        try:
            asyncio.run(go())
            failed, detail = False, ""
        except LLMError as e:
            failed, detail = False, str(e)[:100]  # a clear error: the endpoint failed for good
        except TimeoutError:
            failed, detail = True, f"no answer within {cfg.run_bound_s:g} s"
        except Exception as e:  # noqa: BLE001 - a crash of the agent is what this counts
            failed, detail = True, f"{type(e).__name__}: {e}"
    return Outcome("agent", kind, failed, detail if failed else "", time.perf_counter() - start)


# ------------------------------------------------------------------------------------------------ kills

_TEACHER_CHILD = """
import asyncio, sys
from workbench.llm import OpenAICompatLLM, RetryPolicy
from workbench.synth.teacher import TeacherConfig, synthesize

base_url, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
llm = OpenAICompatLLM("fake-model", base_url, "k", RetryPolicy(max_attempts=1, timeout_s=10.0))
cfg = TeacherConfig(n_records=n, concurrency=2, requests_per_minute=None, max_attempts_per_call=1)
asyncio.run(synthesize(llm, out, cfg, progress=False))
"""


def _store_counts(path: Path) -> tuple[list[str], list[str]]:
    """(ids, queries) of the whole lines of a store, repeats kept: `jsonl.read_records` drops a repeated id
    (with a warning), and the repeats are what this counts."""
    if not path.exists():
        return [], []
    rows = [json.loads(line) for line in path.read_bytes().split(b"\n") if line.strip()]
    return [r["id"] for r in rows], [r["query"] for r in rows]


def _teacher(server: FakeChatServer, out: Path, n: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _TEACHER_CHILD, server.base_url, str(out), str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _teacher_kill_try(i: int, seed: float, root: Path, cfg: ReliabilityConfig) -> Outcome:
    rng = random.Random(seed)
    out, n = root / f"teacher-kill-{i}.jsonl", 16
    start = time.perf_counter()
    slow = [Reply(teacher_reply(k), chunk_delay_s=0.004) for k in range(40)]
    with FakeChatServer(slow) as server:
        child = _teacher(server, out, n)
        time.sleep(rng.uniform(0.5, 3.0))  # the child's start-up, then somewhere in the run
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=cfg.run_bound_s)
    before_ids, before_queries = _store_counts(out)
    with FakeChatServer([Reply(teacher_reply(100 + k)) for k in range(40)]) as server:
        rerun = _teacher(server, out, n)
        log = rerun.communicate(timeout=cfg.run_bound_s)[0].decode(errors="replace")
    ids, queries = _store_counts(out)
    lost = len(set(before_queries) - set(queries))
    duplicated = (len(ids) - len(set(ids))) + (len(queries) - len(set(queries)))
    problems = []
    if rerun.returncode != 0:
        problems.append(f"the rerun failed ({rerun.returncode}): {log[-300:]}")
    if len(ids) != n:
        problems.append(f"{len(ids)} records after the rerun, not {n}")
    if lost or duplicated:
        problems.append(f"{lost} lost, {duplicated} duplicated")
    case = f"killed after {len(before_ids)} records"
    return Outcome(
        "kills", case, bool(problems), "; ".join(problems), time.perf_counter() - start, lost, duplicated
    )


_FINETUNE_CHILD = """
import sys, random
from pathlib import Path
import torch
torch.set_num_threads(1)
from workbench.finetune import base
from workbench.finetune.tokenizer import train_tokenizer
from workbench.finetune.train import run_trainer

out = Path(sys.argv[1])
docs = [f"text {i} for ana and bo at {i % 12} pm" for i in range(200)]
tokenizer = train_tokenizer(docs, vocab_size=300)
rows = [{"input_ids": ids, "labels": ids} for ids in tokenizer(docs)["input_ids"]]
model = base.small_llama(tokenizer, hidden=32, layers=1, heads=2, intermediate=64)
(out.parent / (out.name + ".started")).touch()
result = run_trainer(model, tokenizer, rows, rows[:8], out, lr=1e-3, epochs=3, batch_size=8, eval_every=3,
                     progress=False)
print("steps", result["steps"])
"""


def _finetune_kill_try(i: int, seed: float, root: Path, cfg: ReliabilityConfig) -> Outcome:
    rng = random.Random(seed)
    out = root / f"finetune-kill-{i}"
    started = out.parent / (out.name + ".started")
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", _FINETUNE_CHILD, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + cfg.run_bound_s * 4
    while not started.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(rng.uniform(0.2, 4.0))  # somewhere in training, a checkpoint save included
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=cfg.run_bound_s)
    killed_at = sorted(p.name for p in out.glob("checkpoint-*")) if out.exists() else []
    rerun = subprocess.run(
        [sys.executable, "-c", _FINETUNE_CHILD, str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=cfg.run_bound_s * 6,
    )
    failed = rerun.returncode != 0 or "steps 75" not in rerun.stdout
    detail = (
        f"the rerun failed ({rerun.returncode}): {(rerun.stdout + rerun.stderr)[-400:]}" if failed else ""
    )
    case = f"killed with {killed_at[-1] if killed_at else 'no checkpoint'}"
    return Outcome("kills", case, failed, detail, time.perf_counter() - start)


# ------------------------------------------------------------------------------------------------ races


def _race_try(i: int, root: Path, cfg: ReliabilityConfig) -> Outcome:
    out, n = root / f"race-{i}.jsonl", 12
    start = time.perf_counter()
    with FakeChatServer([Reply(teacher_reply(k), chunk_delay_s=0.004) for k in range(60)]) as server:
        runs = [_teacher(server, out, n), _teacher(server, out, n)]
        logs = [p.communicate(timeout=cfg.run_bound_s * 2)[0].decode(errors="replace") for p in runs]
    ids, queries = _store_counts(out)
    duplicated = (len(ids) - len(set(ids))) + (len(queries) - len(set(queries)))
    codes = sorted(p.returncode for p in runs)
    refused = [log for p, log in zip(runs, logs, strict=True) if p.returncode != 0]
    problems = []
    if duplicated:
        problems.append(f"{duplicated} duplicated records")
    if codes[0] != 0:
        problems.append(f"no run finished: exit codes {codes}")
    if refused and "StoreLockedError" not in refused[0]:
        problems.append(f"the second run failed without naming the lock: {refused[0][-300:]}")
    if len(ids) != n:
        problems.append(f"{len(ids)} records, not {n}")
    case = "both finished" if codes == [0, 0] else "one refused"
    return Outcome(
        "races", case, bool(problems), "; ".join(problems), time.perf_counter() - start, 0, duplicated
    )
