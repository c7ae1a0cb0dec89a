"""The LLM teacher of TinyAgent's synthetic function-calling data (Erdogan et al. 2024, Sec. 3.1, data generation).

TinyAgent builds its training set by asking a strong model (GPT-4-Turbo in the paper; here any
OpenAI-compatible model) for realistic user queries together with the plan that answers each one. Every
call samples a few of the 16 tools, shows their descriptions and a few example (query, plan) pairs, and asks
for new pairs in a fixed block format:

    Query: Text Alice that I am running late.
    Plan:
    1. get_phone_number("Alice")
    2. send_sms(["$1"], "I am running late.")
    3. join()<END_OF_PLAN>
    ###

Each reply is parsed (`parse_teacher_reply`) and each pair goes through one shared `Checker`, so broken
plans and repeated queries are dropped across the whole run; the survivors are appended to a JSON-lines file,
one fsynced line per record. The run is resumable: a run killed at any moment loses no accepted record, and
starting it again continues where it stopped without writing a query twice. One run at a time writes a
store (an OS lock beside it, `store_lock`); a failure no retry can fix (a rejected key, an unknown model)
stops the run at once, and so do `max_consecutive_failures` failed calls in a row.

    >>> parse_teacher_reply('Query: Call Bo\\nPlan:\\n1. get_phone_number("Bo")\\n2. join()<END_OF_PLAN>\\n###')
    [('Call Bo', '1. get_phone_number("Bo")\\n2. join()<END_OF_PLAN>')]
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tqdm.auto import tqdm

from workbench.aio import run_sync
from workbench.bench.cost import cost_usd, validate_prices
from workbench.jsonl import append, open_for_append, read_records
from workbench.llm.base import LLM, LLMError, Message, Usage
from workbench.paper_examples import FIG1_PLAN, FIG1_QUERY
from workbench.plan import END_OF_PLAN
from workbench.synth.records import Checker, Record, human_dev_queries, normalize_query
from workbench.tools.spec import ToolSpec, tool_block
from workbench.tools.tinyagent import TOOL_NAMES, tinyagent_tools

SEPARATOR = "###"
STORE_FIELDS = ("id", "query", "plan")  # a stored record without one of them is damage, named by line
ID_PREFIX = "llm-"
_ID_RE = re.compile(rf"^{ID_PREFIX}(\d+)$")

# A tool whose arguments must come from another tool: offering one without the other invites the teacher
# to invent email addresses, phone numbers or file paths, which the plan rules forbid.
COMPANIONS: dict[str, tuple[str, ...]] = {
    "create_calendar_event": ("get_email_address",),
    "compose_new_email": ("get_email_address",),
    "forward_email": ("get_email_address",),
    "get_zoom_meeting_link": ("get_email_address",),
    "send_sms": ("get_phone_number",),
    "summarize_pdf": ("open_and_get_file_path",),
}

# Hand-written demonstrations (they pass the checker; tests keep it so). FIG1 is the paper's own example.
DEFAULT_EXAMPLES: tuple[tuple[str, str], ...] = (
    (FIG1_QUERY, FIG1_PLAN),
    (
        "Let Alice and Bob know by text that the 3pm standup moved to 4pm.",
        '1. get_phone_number("Alice")\n'
        '2. get_phone_number("Bob")\n'
        '3. send_sms(["$1", "$2"], "The 3pm standup moved to 4pm.")\n'
        "4. join()" + END_OF_PLAN,
    ),
    (
        "Email the Q2 budget PDF to Maria, with a short summary of it in the body.",
        '1. open_and_get_file_path("Q2 budget")\n'
        '2. get_email_address("Maria")\n'
        '3. summarize_pdf("$1")\n'
        '4. compose_new_email(["$2"], [], "Q2 budget", "$3", ["$1"])\n'
        "5. join()" + END_OF_PLAN,
    ),
    (
        "Set up a 45 minute Zoom call with Priya on Friday at 10am about the launch and remind me an hour before.",
        '1. get_email_address("Priya")\n'
        '2. get_zoom_meeting_link("Launch", "2024-06-14 10:00:00", 45, ["$1"])\n'
        '3. create_reminder("Zoom call with Priya about the launch", "2024-06-14 09:00:00", "$2", "", 0, False)\n'
        "4. join()" + END_OF_PLAN,
    ),
    (
        "Get me walking directions to the Ferry Building and save the link in a note called Weekend plans.",
        '1. maps_show_directions("", "Ferry Building, San Francisco", "w")\n'
        '2. create_note("Weekend plans", "$1", "")\n'
        "3. join()" + END_OF_PLAN,
    ),
)


@dataclass
class TeacherConfig:
    """One teacher run. Field help texts serve `--help` and notebooks (`config.describe`)."""

    n_records: int = field(
        default=100, metadata={"help": "accepted records wanted in the file (resumed ones count)"}
    )
    tools_per_prompt: tuple[int, int] = field(
        default=(2, 5),
        metadata={"help": "min and max tools sampled per call (their look-up tools are added)"},
    )
    pairs_per_call: int = field(default=5, metadata={"help": "(query, plan) pairs asked for in one call"})
    examples_per_prompt: int = field(default=3, metadata={"help": "demonstration pairs shown in each prompt"})
    concurrency: int = field(default=4, metadata={"help": "teacher calls in flight at once"})
    requests_per_minute: float | None = field(
        default=60.0, metadata={"help": "start at most this many requests per minute (None: no limit)"}
    )
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature (variety of queries)"})
    max_tokens: int | None = field(default=4096, metadata={"help": "completion token limit per call"})
    max_attempts_per_call: int = field(
        default=3, metadata={"help": "tries per call after the client's own retries give up"}
    )
    retry_backoff_s: float = field(
        default=2.0, metadata={"help": "wait before retrying a failed call (doubles)"}
    )
    call_timeout_s: float | None = field(
        default=600.0, metadata={"help": "give up on one try after this long"}
    )
    max_consecutive_failures: int = field(
        default=5, metadata={"help": "stop the run after this many failed calls in a row"}
    )
    max_calls: int | None = field(
        default=None,
        metadata={"help": "stop after this many calls (None: 5x what n_records needs, at least 10)"},
    )
    today: str = field(
        default="2024-06-12", metadata={"help": "the date the prompt calls today (YYYY-MM-DD)"}
    )
    seed: int = field(default=0, metadata={"help": "seeds the tool subsets and example choice"})
    prices: dict[str, tuple[float, float]] | None = field(
        default=None,
        metadata={"help": "model -> (USD per 1M prompt, per 1M completion); None: bench defaults"},
    )

    def __post_init__(self) -> None:
        self.tools_per_prompt = (int(self.tools_per_prompt[0]), int(self.tools_per_prompt[1]))
        lo, hi = self.tools_per_prompt
        if not 1 <= lo <= hi <= len(TOOL_NAMES):
            raise ValueError(f"tools_per_prompt must be (min, max) with 1 <= min <= max <= {len(TOOL_NAMES)}")
        for name in ("pairs_per_call", "concurrency", "max_attempts_per_call", "max_consecutive_failures"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.n_records < 0 or self.examples_per_prompt < 0:
            raise ValueError("n_records and examples_per_prompt must be >= 0")
        if self.requests_per_minute is not None and self.requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be > 0, or None for no limit")
        dt.date.fromisoformat(self.today)  # a wrong date would silently shift every plan's dates
        if self.prices is not None:
            self.prices = validate_prices(self.prices)

    def call_budget(self) -> int:
        """The most calls a run makes, so a teacher that never writes a valid plan cannot run forever."""
        if self.max_calls is not None:
            return self.max_calls
        return max(10, 5 * -(-self.n_records // self.pairs_per_call))


# ------------------------------------------------------------------------------------------------ prompt

_SYSTEM = """\
You write training data for a small assistant that runs on a laptop and controls its apps through tools. \
Each training example is a request a user might type, together with the plan that carries it out. \
Write requests real people would make: varied wording, everyday situations, different names, places, \
times and topics. Every plan must be correct, complete and use only the tools you are given."""

_RULES = """\
How a plan is written:
- One tool call per numbered step: `1. tool(arg, arg, ...)`. Arguments are Python literals given by position, \
never by keyword, in the order of the tool's signature.
- Fill in every argument. When one does not apply, pass "" or None (or [] for a list).
- To use what an earlier step returns, pass the string "$N" (quoted), where N is that step's number.
- Never make up an email address, a phone number or a file path: look it up with a tool first \
(get_email_address, get_phone_number, open_and_get_file_path) and pass "$N".
- Dates and times are 'YYYY-MM-DD HH:MM:SS', worked out from today's date; "tomorrow", "next Monday" and \
so on are relative to today.
- Make the plan as parallel as possible: a step refers only to the steps it really needs, so independent \
look-ups can run at the same time.
- Use every result you look up. The last step is `N. join()<END_OF_PLAN>`."""

_FORMAT = f"""\
Answer with exactly {{n}} examples and nothing else, each in this format, each followed by a line with \
only {SEPARATOR}:
Query: <the user's request, on one line>
Plan:
1. <first step>
...
N. join(){END_OF_PLAN}
{SEPARATOR}"""


def format_pair(query: str, plan: str) -> str:
    """One (query, plan) pair in the block format the teacher is asked to answer in."""
    return f"Query: {query}\nPlan:\n{plan.strip()}\n{SEPARATOR}"


def teacher_messages(
    tools: Sequence[ToolSpec], examples: Sequence[tuple[str, str]], today: str, n_pairs: int
) -> list[Message]:
    """The chat prompt of one teacher call: the tools, the plan rules, demonstrations, and the request.

    The weekday is spelled out next to the date because queries say "on Friday" and the teacher must turn
    that into a date without a calendar.
    """
    day = dt.date.fromisoformat(today)
    names = ", ".join(t.name for t in tools)
    demos = "\n".join(format_pair(q, p) for q, p in examples)
    user = (
        f"Today is {day.strftime('%A')}, {day.isoformat()}.\n\n"
        f"The tools:\n\n{tool_block(tools)}\n\n{_RULES}\n\n"
        + (f"Examples of the format (they may use other tools):\n{demos}\n\n" if examples else "")
        + f"Write {n_pairs} new, different requests. Each must need one or more of these tools: {names}; "
        "several should combine two or more of them. Do not repeat the examples.\n\n"
        + _FORMAT.format(n=n_pairs)
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def sample_tools(rng: random.Random, lo: int, hi: int) -> list[ToolSpec]:
    """A random subset of `lo`..`hi` tools plus the look-ups they depend on, in the tools' fixed order.

    Different subsets across calls spread the data over all tools and their combinations, as in the paper.
    """
    chosen = set(rng.sample(TOOL_NAMES, rng.randint(lo, hi)))
    chosen |= {c for name in list(chosen) for c in COMPANIONS.get(name, ())}
    return [t for t in tinyagent_tools() if t.name in chosen]


def pick_examples(
    rng: random.Random, examples: Sequence[tuple[str, str]], tools: Sequence[ToolSpec], k: int
) -> list[tuple[str, str]]:
    """The `k` demonstrations that share the most tools with this call (ties broken at random).

    Demonstrations that use the offered tools show their argument conventions exactly where it matters.
    """
    offered = {t.name for t in tools}

    def overlap(pair: tuple[str, str]) -> int:
        return sum(f"{name}(" in pair[1] for name in offered)

    shuffled = list(examples)
    rng.shuffle(shuffled)
    return sorted(shuffled, key=overlap, reverse=True)[:k]


# ------------------------------------------------------------------------------------------------- parse

_SEPARATOR_RE = re.compile(r"^\s*#{3,}\s*$")
_QUERY_RE = re.compile(r"^[\s*_>#-]*query[\s*_]*:[\s*_]*(.*?)\s*$", re.IGNORECASE)
_PLAN_RE = re.compile(r"^[\s*_>#-]*plan[\s*_]*:[\s*_]*(.*?)\s*$", re.IGNORECASE)
_STEP_RE = re.compile(r"^\s*(\d+\s*\.\s*\w+\s*\(|thought\s*:)", re.IGNORECASE)
_FENCE_RE = re.compile(r"^\s*```")


def parse_teacher_reply(text: str, skipped: Counter | None = None) -> list[tuple[str, str]]:
    """The (query, plan text) pairs of a reply in the block format of `teacher_messages`.

    Blocks are separated by lines of `###`. Prose around and between blocks is ignored, and so are code
    fences. A block that has a query but no plan steps is skipped and counted in `skipped` as
    `prose_not_plan` (one with steps but no query as `missing_query`); a reply that holds no block at all
    counts once as `prose_not_plan`. Plans are returned as written: the checker judges them.
    """
    pairs: list[tuple[str, str]] = []
    counts: Counter = Counter()
    block: list[str] = []
    for line in [*text.splitlines(), SEPARATOR]:
        if _SEPARATOR_RE.match(line):
            result = _parse_block(block)
            if isinstance(result, tuple):
                pairs.append(result)
            elif result is not None:
                counts[result] += 1
            block = []
        else:
            block.append(line)
    if not pairs and not counts and text.strip():
        counts["prose_not_plan"] += 1
    if skipped is not None:
        skipped.update(counts)
    return pairs


def _parse_block(lines: list[str]) -> tuple[str, str] | str | None:
    """A pair, a skip reason, or None for a block of pure prose."""
    lines = [ln for ln in lines if not _FENCE_RE.match(ln)]
    q_at = next((i for i, ln in enumerate(lines) if _QUERY_RE.match(ln)), None)
    after = 0 if q_at is None else q_at + 1
    plan_at = next((i for i in range(after, len(lines)) if _PLAN_RE.match(lines[i])), None)
    if plan_at is not None:
        first = _PLAN_RE.match(lines[plan_at]).group(1)  # type: ignore[union-attr]
        body = ([first] if first else []) + lines[plan_at + 1 :]
    else:
        start = next((i for i in range(after, len(lines)) if _STEP_RE.match(lines[i])), len(lines))
        body = lines[start:]
    plan: list[str] = []
    for ln in body:
        if END_OF_PLAN in ln:
            plan.append(ln[: ln.index(END_OF_PLAN) + len(END_OF_PLAN)])
            break
        plan.append(ln)
    has_steps = any(_STEP_RE.match(ln) for ln in plan)
    if q_at is None:
        return "missing_query" if has_steps else None
    if not has_steps:
        return "prose_not_plan"
    query = _QUERY_RE.match(lines[q_at]).group(1)  # type: ignore[union-attr]
    if not query:  # the query on the line below its label
        query = next((ln for ln in lines[q_at + 1 :] if ln.strip()), "")
        query = "" if _PLAN_RE.match(query) or _STEP_RE.match(query) else query
    return query.strip().strip("\"'“”*").strip(), "\n".join(plan).strip()


# ------------------------------------------------------------------------------------------------- store


class StoreLockedError(RuntimeError):
    """Another run is writing the same store: two writers would give records the same ids."""


@contextlib.contextmanager
def store_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive OS lock on `<store>.lock` while a run writes `path` (refused at once if held).

    `flock` is released by the kernel when the holder dies, so a killed run never leaves a stale lock; the
    holder's pid is written into the lock file only to name it in the error.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise StoreLockedError(
                f"{path} is being written by another teacher run (process {holder}); wait for it to end or "
                "stop it, then rerun to resume (two runs on one store would write duplicate ids)"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def read_store(path: Path) -> list[dict[str, Any]]:
    """The whole records of a teacher output file (a torn last line is skipped; see `workbench.jsonl`)."""
    return read_records(path, required=STORE_FIELDS)


def _next_number(records: Sequence[dict[str, Any]]) -> int:
    numbers = [int(m.group(1)) for r in records if (m := _ID_RE.match(r["id"]))]
    return max(numbers, default=-1) + 1


# ------------------------------------------------------------------------------------------------- run


class RateLimiter:
    """Starts requests at least `60 / per_minute` seconds apart (a token bucket holding one token).

    A bucket without burst is what providers' per-minute limits tolerate best: no 429 storm at start-up.
    """

    def __init__(self, per_minute: float | None):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = asyncio.get_running_loop().time()
        start = max(now, self._next)
        self._next = start + self.interval  # reserved before sleeping, so waiters queue in order
        if start > now:
            await asyncio.sleep(start - now)


@dataclass
class _Run:
    """The mutable state shared by the workers of one `synthesize` call."""

    cfg: TeacherConfig
    llm: LLM
    out: IO[str]
    checker: Checker
    examples: Sequence[tuple[str, str]]
    limiter: RateLimiter
    bar: Any
    model: str
    total: int
    number: int
    salt: int
    accepted: int = 0
    calls: int = 0
    attempts: int = 0
    streak: int = 0  # failed calls in a row
    failures: Counter = field(default_factory=Counter)
    usage: Usage = field(default_factory=Usage)

    @property
    def done(self) -> bool:
        return self.total >= self.cfg.n_records

    async def worker(self) -> None:
        while not self.done and self.calls < self.cfg.call_budget():
            index = self.calls
            self.calls += 1
            text = await self._call(index)
            if text is not None:
                self._keep(text)

    async def _call(self, index: int) -> str | None:
        """One teacher call, tried up to `max_attempts_per_call` times; None (reason counted) if all fail."""
        # Seeded per call, not per worker, so subsets do not depend on timing; the salt (records already in
        # the file) keeps a resumed run from replaying the first run's prompts.
        rng = random.Random(f"{self.cfg.seed}/{self.salt}/{index}")
        tools = sample_tools(rng, *self.cfg.tools_per_prompt)
        demos = pick_examples(rng, self.examples, tools, self.cfg.examples_per_prompt)
        messages = teacher_messages(tools, demos, self.cfg.today, self.cfg.pairs_per_call)
        reason, detail = "llm_error", ""
        for attempt in range(self.cfg.max_attempts_per_call):
            if attempt:
                await asyncio.sleep(self.cfg.retry_backoff_s * 2 ** (attempt - 1))
            await self.limiter.wait()
            self.attempts += 1
            try:
                completion = await asyncio.wait_for(
                    self.llm.complete(
                        messages, temperature=self.cfg.temperature, max_tokens=self.cfg.max_tokens
                    ),
                    self.cfg.call_timeout_s,
                )
            except LLMError as err:
                if err.permanent:
                    raise  # a rejected key or unknown model: every further call would fail the same way
                reason, detail = "llm_error", str(err)
                continue
            except TimeoutError:
                reason, detail = "timeout", f"no answer within {self.cfg.call_timeout_s:g} s"
                continue
            self.usage = self.usage + completion.usage
            self.streak = 0
            return completion.text
        self.failures[reason] += 1
        self.streak += 1
        message = f"teacher call failed ({reason}, {self.cfg.max_attempts_per_call} tries): {detail}"
        tqdm.write(message, file=sys.stderr)
        if self.streak >= self.cfg.max_consecutive_failures:
            raise LLMError(f"{self.streak} teacher calls in a row failed; the last: {detail}")
        return None

    def _keep(self, text: str) -> None:
        """Check each pair and append the accepted ones. No await here: a record is written whole."""
        for query, plan in parse_teacher_reply(text, self.failures):
            if self.done:
                return
            tools = self.checker.check(query, plan)
            if tools is None:
                continue
            record = Record(
                f"{ID_PREFIX}{self.number:06d}",
                query,
                plan,
                tools,
                self.cfg.today,
                "unsplit",
                f"llm:{self.model}",
            )
            append(self.out, record.to_dict())
            self.number += 1
            self.accepted += 1
            self.total += 1
            self.bar.update(1)
        self.bar.set_postfix(
            calls=self.calls, rejected=sum(self.checker.rejected.values()) + sum(self.failures.values())
        )


async def synthesize(
    llm: LLM,
    out_path: str | Path,
    cfg: TeacherConfig | None = None,
    examples: Sequence[tuple[str, str]] = DEFAULT_EXAMPLES,
    progress: bool = True,
) -> dict[str, Any]:
    """Ask the teacher for pairs until `out_path` holds `cfg.n_records` accepted records; return the report.

    Resumes an existing file (see `read_store`): its queries seed the duplicate check and ids continue after
    its last one. Failed calls and rejected pairs are counted in the report's `rejected` and never stop the
    run; the run stops when the target is reached (in-flight calls are cancelled and nothing beyond the
    target is written) or after `cfg.call_budget()` calls.
    """
    cfg = cfg or TeacherConfig()
    path = Path(out_path)
    with store_lock(path):
        return await _synthesize(llm, path, cfg, examples, progress)


async def _synthesize(
    llm: LLM, path: Path, cfg: TeacherConfig, examples: Sequence[tuple[str, str]], progress: bool
) -> dict[str, Any]:
    started = time.perf_counter()
    existing, out = open_for_append(path, required=STORE_FIELDS)
    model = getattr(llm, "model", "") or type(llm).__name__
    checker = Checker(seen={normalize_query(r["query"]) for r in existing}, held_out=human_dev_queries())
    bar = tqdm(
        total=cfg.n_records,
        initial=min(len(existing), cfg.n_records),
        unit="rec",
        desc=f"teacher {model}",
        disable=not progress,
    )
    run = _Run(
        cfg,
        llm,
        out,
        checker,
        examples,
        RateLimiter(cfg.requests_per_minute),
        bar,
        model,
        total=len(existing),
        number=_next_number(existing),
        salt=len(existing),
    )
    tasks = [asyncio.create_task(run.worker()) for _ in range(cfg.concurrency)]
    pending = set(tasks)
    try:
        while pending:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            # every finished task's exception is retrieved, or asyncio logs the others when they are collected
            for err in [task.exception() for task in finished]:
                if isinstance(err, LLMError):
                    raise LLMError(
                        f"the teacher stopped at {run.total} of {cfg.n_records} records in {path} (kept; rerun "
                        f"to resume): {err}",
                        permanent=err.permanent,
                    ) from None
                if err is not None:
                    raise err
            if run.done:
                break
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        out.close()
        bar.close()
    usage = {"prompt_tokens": run.usage.prompt_tokens, "completion_tokens": run.usage.completion_tokens}
    return {
        "model": model,
        "accepted": run.accepted,
        "resumed": len(existing),
        "total": run.total,
        "target": cfg.n_records,
        "stopped": "target" if run.done else "call_budget",
        "rejected": dict(sorted((checker.rejected + run.failures).items())),
        "calls": run.calls,
        "attempts": run.attempts,
        **usage,
        "cost_usd": cost_usd(model, usage, cfg.prices),
        "wall_s": time.perf_counter() - started,
        "out_path": str(path),
    }


def run_teacher(cfg: TeacherConfig, llm: LLM, out_path: str | Path, progress: bool = True) -> dict[str, Any]:
    """`synthesize` from sync code (scripts, the CLI, notebook cells)."""
    return run_sync(synthesize(llm, out_path, cfg, progress=progress))
