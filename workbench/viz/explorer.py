"""The plan-graph explorer: one ipywidgets widget that walks a query through the TinyAgent pipeline.

Pick a dataset example (or type a query) and the widget shows, in the order the pipeline runs:

- the tools ToolRAG retrieves for the query (TinyAgent, Sec. 4), needed tools marked when the gold plan is known;
- the size of the planner prompt in tokens, beside the size with all 16 tools (what ToolRAG saves);
- the plan text as the planner streams it (LLMCompiler, Sec. 3.1);
- the plan's DAG, nodes coloured by app and edges for `$` references (`viz.dag.draw_plan`);
- a replay of the run on the simulated desktop: the task fetching unit (LLMCompiler, Sec. 3.2) dispatched each
  task when its inputs existed; a slider (or play button) steps through the run's events (a task starts, a task
  ends) and recolours the DAG by task state (waiting, running, done, failed, skipped), while a table shows each
  task's arguments as written and after `$` substitution, and its observation;
- the Gantt timeline of the planner and the tasks (`viz.timeline.draw_timeline`), with a cursor at the event;
- for dataset examples, the gold DAG beside the plan's and the verdict of TinyAgent's metric (Sec. 3.2): success
  when the two DAGs are isomorphic.

The plan runs once, when it is made; the replay only looks the recorded run up. The DAG is laid out once per
plan text and cached: a replay step recolours the drawn nodes and re-encodes the PNG, so the widget stays
responsive on two CPU cores (`PlanExplorer.layouts` counts layouts).

    >>> from workbench.viz.explorer import explore
    >>> explore("test-000003")  # doctest: +SKIP

The planner is injectable: `plan_fn(query, today, tools)` returns plan text, an iterator of text chunks
(streamed), or an async iterator of chunks. By default the best planner `workbench finetune` trained is loaded
on first use; without one, a dataset example shows its gold plan (and says so) and a typed query shows a
message naming `workbench finetune`. The tool selector is injectable too (`select(queries) -> tool lists`);
the default is the trained ToolRAG classifier, or all 16 tools when none is trained.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import inspect
import io
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from workbench import config
from workbench.aio import run_sync
from workbench.compiler.agent import AgentResult, LLMCompiler
from workbench.compiler.events import Event, Listener, ignore
from workbench.compiler.executor import ExecutionResult
from workbench.compiler.joiner import JoinDecision
from workbench.compiler.prompts import PlannerChat
from workbench.compiler.tools import desktop_tools
from workbench.llm.base import LLM, Message, StreamState, Usage, count_tokens
from workbench.metrics import plan_to_graph, score_plan
from workbench.plan import Plan, render_args
from workbench.planner.runtime import Planner, resolve_toolrag
from workbench.synth.dataset import load_split
from workbench.toolrag.examples import planner_token_counter, prompt_tokens
from workbench.toolrag.selection import Selector, toolrag_selector
from workbench.tools.desktop import LatencyModel, SimulatedDesktop
from workbench.tools.tinyagent import TOOL_NAMES
from workbench.viz.dag import draw_plan
from workbench.viz.timeline import draw_timeline
from workbench.voice import Engine, Transcript, VoiceConfig, hear, transcriber

PlanFn = Callable[[str, str, list[str]], Any]

# How a task state looks on the DAG: the app colour stays, its opacity and outline carry the state.
STATE_STYLE: dict[str, dict[str, Any]] = {
    "waiting": {"alpha": 0.25, "edge": "#9a9a9a", "width": 1.0, "line": "solid"},
    "running": {"alpha": 0.95, "edge": "#f79009", "width": 4.0, "line": "solid"},
    "done": {"alpha": 0.95, "edge": "#1a7f37", "width": 2.5, "line": "solid"},
    "failed": {"alpha": 0.95, "edge": "#d92d20", "width": 4.0, "line": "solid"},
    "skipped": {"alpha": 0.35, "edge": "#d92d20", "width": 2.0, "line": "dashed"},
}
DPI = 100
NO_PLANNER = "no trained planner was found: run `workbench finetune` to train one"
_END = object()


# ------------------------------------------------------------------------------------------- the replay


@dataclass(frozen=True)
class ReplayEvent:
    """A task started or ended, at `time` seconds from the query."""

    time: float
    idx: int
    kind: str  # start | end


def replay_events(execution: ExecutionResult) -> list[ReplayEvent]:
    """Every start and end of a recorded run, in time order (a skipped task only ends)."""
    events = []
    for rec in sorted(execution.records.values(), key=lambda r: r.idx):
        if rec.started is not None:
            events.append(ReplayEvent(rec.started, rec.idx, "start"))
        if rec.ended is not None:
            events.append(ReplayEvent(rec.ended, rec.idx, "end"))
    return sorted(events, key=lambda e: e.time)  # stable: a task's start stays before its end


def task_states(execution: ExecutionResult, events: Sequence[ReplayEvent], k: int) -> dict[int, str]:
    """The state of every task after the first `k` events (0: before the run, all waiting)."""
    states = dict.fromkeys(execution.records, "waiting")
    for e in events[:k]:
        states[e.idx] = "running" if e.kind == "start" else execution.records[e.idx].status
    return states


def describe_event(execution: ExecutionResult, events: Sequence[ReplayEvent], k: int) -> str:
    """One line for the replay position, e.g. `event 3 of 8, 0.12 s: task 2 (get_phone_number) done`."""
    if not events:
        return "no task ran"
    if k == 0:
        return f"event 0 of {len(events)}: before the first task; every task is waiting"
    e = events[k - 1]
    rec = execution.records[e.idx]
    what = "started" if e.kind == "start" else rec.status
    return f"event {k} of {len(events)}, {e.time:.3f} s: task {e.idx} ({rec.tool}) {what}"


def replay_rows(plan: Plan, execution: ExecutionResult, states: dict[int, str]) -> list[dict[str, str]]:
    """Per task at a replay position: its arguments as written, after `$` substitution once it has started,
    and its observation once it has ended."""
    rows = []
    for step in plan.tasks:
        rec = execution.records.get(step.idx)
        state = states.get(step.idx, "waiting")
        started = state != "waiting" and rec is not None and rec.resolved_args is not None
        ended = state not in ("waiting", "running") and rec is not None
        rows.append(
            {
                "step": str(step.idx),
                "tool": step.tool,
                "state": state,
                "args": _args(step.args),
                "resolved": _args(rec.resolved_args) if started else "",
                "observation": (rec.observation or "") if ended else "",
            }
        )
    return rows


def _args(args: Sequence[Any] | None) -> str:
    try:
        return render_args(tuple(args or ()))
    except ValueError:  # a value with no literal form (never from a parsed plan)
        return repr(tuple(args or ()))


# ------------------------------------------------------------------------------- planning and running


class PlanFnLLM(LLM):
    """A plan function as an `LLM` for one query: `plan_fn(query, today, tools)` returns the plan text, an
    iterator of text chunks (read off the event loop) or an async iterator of chunks. Usage counts the given
    `prompt_tokens` and the plan's approximate tokens."""

    def __init__(self, plan_fn: PlanFn, query: str, today: str, tools: list[str], prompt_tokens: int = 0):
        self.plan_fn, self.args, self.prompt_tokens = plan_fn, (query, today, list(tools)), prompt_tokens
        self.model = getattr(plan_fn, "__name__", type(plan_fn).__name__)

    async def _generate(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        out = await asyncio.to_thread(self.plan_fn, *self.args)
        if inspect.isawaitable(out):  # an async plan function
            out = await out
        text = ""
        if isinstance(out, str):
            text = out
            yield out
        elif hasattr(out, "__aiter__"):
            async for chunk in out:
                text += chunk
                yield chunk
        else:
            it: Iterator[str] = iter(out)
            while (chunk := await asyncio.to_thread(next, it, _END)) is not _END:
                text += chunk
                yield chunk
        state.usage = Usage(self.prompt_tokens, count_tokens(text))


@dataclass
class PlanRun:
    """One query planned and executed: the streamed text, the steps parsed, the recorded run."""

    text: str
    plan: Plan
    execution: ExecutionResult
    result: AgentResult  # one round, finished without a joiner: what `draw_timeline` draws
    events: list[ReplayEvent]


async def _no_joiner(question: str, pad: str, execution: ExecutionResult) -> tuple[JoinDecision, None]:
    """The explorer shows one plan and its run: it always finishes, without a joiner."""
    return JoinDecision("finish", ""), None


async def stream_and_execute(
    planner: LLM,
    messages: Callable[[str, str], list[Message]],
    query: str,
    desktop: SimulatedDesktop,
    on_event: Listener = ignore,
) -> PlanRun:
    """One round of the LLMCompiler loop (`compiler.LLMCompiler`, the agent's loop) without a joiner: the
    planner streams, each task runs on `desktop` as soon as its line is complete, and `on_event` hears the
    chunks, steps and tasks. A bad line stops dispatching; the rest of the stream is still read, for the text."""
    compiler = LLMCompiler(
        planner,
        desktop_tools(desktop),
        joiner=_no_joiner,
        max_replans=0,
        tool_timeout_s=30.0,
        max_plan_tokens=None,
        messages=messages,
    )
    result = await compiler.run(query, on_event)
    rnd = result.rounds[0]
    return PlanRun(rnd.plan_text, Plan(list(rnd.steps)), rnd.execution, result, replay_events(rnd.execution))


class _Listener:
    """The explorer's ears on the loop: plan chunks go to the text box; for a typed query, each step's people
    and files are added to the desktop before the step runs."""

    def __init__(self, on_chunk: Callable[[str], None], desktop: SimulatedDesktop | None):
        self.on_chunk, self.desktop = on_chunk, desktop

    def __call__(self, event: Event) -> None:
        if event.kind == "chunk":
            self.on_chunk(event.data)
        elif event.kind == "step" and self.desktop is not None:
            self.desktop.prepare_for(Plan([event.data]))


def replay_latency(scale: float = 0.1, seed: int = 0) -> LatencyModel:
    """`LatencyModel.typical()` sped up by `scale`: the tasks overlap as on a laptop, and a run takes well
    under a second."""
    typical = LatencyModel.typical(seed)
    ranges = {k: (lo * scale, hi * scale) for k, (lo, hi) in typical.ranges.items()}
    return LatencyModel(ranges, (typical.default[0] * scale, typical.default[1] * scale), seed)


# ------------------------------------------------------------------------------------------ drawings


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _dag_figure() -> tuple[Figure, Any]:
    """A figure outside pyplot (a notebook never shows it by itself) with a fixed frame, so that the PNG keeps
    its size from one replay step to the next."""
    fig = Figure(figsize=(6.0, 3.4))
    fig.subplots_adjust(left=0.02, right=0.98, top=0.86, bottom=0.16)
    return fig, fig.add_subplot()


def _nodes(ax: Any) -> PathCollection:
    """The node markers `draw_plan` drew on `ax` (edges are patches, not collections)."""
    return next(c for c in ax.collections if isinstance(c, PathCollection))


def _fit(fig: Figure, nodes: PathCollection) -> None:
    """Grow the figure with the DAG's width and depth, read off the drawn nodes: node markers have a fixed size
    in points, so a wide plan (six parallel look-ups) would otherwise draw its nodes on top of each other."""
    columns: dict[float, int] = {}
    for x, _ in nodes.get_offsets():
        columns[float(x)] = columns.get(float(x), 0) + 1
    fig.set_size_inches(max(6.0, 1.6 * len(columns) + 1.2), max(3.4, max(columns.values(), default=1) + 0.6))


class DagCanvas:
    """A plan's DAG drawn once (layout, edges, labels); `render(states)` recolours the nodes only."""

    def __init__(self, plan: Plan, title: str):
        self.title = title
        self.fig, self.ax = _dag_figure()
        draw_plan(plan, ax=self.ax, legend=True)  # the only layout of this plan
        self.nodes = list(plan_to_graph(plan))  # draw_plan's node order
        self.collection = _nodes(self.ax)
        _fit(self.fig, self.collection)
        self.base = [to_rgba(c) for c in self.collection.get_facecolors()]
        self.collection.set_alpha(None)  # per-node opacity from here on
        self.labels = [
            self.ax.annotate(
                "",
                xy=tuple(xy),
                xytext=(17, 17),
                textcoords="offset points",
                fontsize=6.5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )
            for xy in self.collection.get_offsets()
        ]  # upper right of each node: columns leave room

    def render(self, states: dict[int, str], caption: str = "") -> bytes:
        styles = [STATE_STYLE[states.get(n, "waiting")] for n in self.nodes]
        self.collection.set_facecolors([(*c[:3], s["alpha"]) for c, s in zip(self.base, styles, strict=True)])
        self.collection.set_edgecolors([s["edge"] for s in styles])
        self.collection.set_linewidths([s["width"] for s in styles])
        self.collection.set_linestyles([s["line"] for s in styles])
        for n, label in zip(self.nodes, self.labels, strict=True):
            label.set_text(states.get(n, "waiting"))
            label.set_color(STATE_STYLE[states.get(n, "waiting")]["edge"])
        self.ax.set_title(f"{self.title}\n{caption}" if caption else self.title, fontsize=8)
        return _png(self.fig)


class TimelineCanvas:
    """The run's Gantt chart drawn once; `render(t)` moves the cursor to `t` seconds."""

    def __init__(self, result: AgentResult):
        rows = len(result.rounds[0].execution.records) + 1
        self.fig = Figure(figsize=(7.5, 0.32 * rows + 1.3))
        self.ax = self.fig.add_subplot()
        draw_timeline(
            result,
            ax=self.ax,
            title=f"measured on the simulated desktop (tool times from a latency "
            f"model): {result.latency_s:.2f} s",
        )
        self.cursor = self.ax.axvline(0.0, color="#d92d20", lw=1.2)
        self.fig.tight_layout()

    def render(self, t: float) -> bytes:
        self.cursor.set_xdata([t, t])
        return _png(self.fig)


def message_png(text: str) -> bytes:
    """A small picture with a message, where a DAG cannot be drawn."""
    fig = Figure(figsize=(6.0, 1.2))
    fig.text(0.02, 0.5, text, fontsize=9, color="#b42318", va="center", wrap=True)
    return _png(fig)


# ------------------------------------------------------------------------------------------- HTML


def tools_html(selected: Sequence[str], needed: Sequence[str] = ()) -> str:
    """Selected tools as chips; with the gold plan's tools, needed ones green and missed ones red."""
    need = set(needed)
    chips = []
    for name in selected:
        color = "#1a7f37" if name in need else ("#8a8a8a" if need else "#2e6fd8")
        chips.append(
            f'<span style="border:1px solid {color};color:{color};border-radius:4px;padding:0 4px;'
            f'margin-right:4px">{name}</span>'
        )
    missed = [n for n in TOOL_NAMES if n in need and n not in set(selected)]
    tail = f' <span style="color:#d92d20">missed: {", ".join(missed)}</span>' if missed else ""
    return f"<b>tools</b> ({len(selected)} of {len(TOOL_NAMES)}): {''.join(chips)}{tail}"


def rows_html(rows: list[dict[str, str]]) -> str:
    """The replay table: one row per task."""
    head = "".join(
        f"<th style='text-align:left;padding:0 6px'>{h}</th>"
        for h in ("step", "tool", "state", "arguments as written", "after $ substitution", "observation")
    )
    body = []
    for r in rows:
        color = STATE_STYLE[r["state"]]["edge"]
        cells = [r["step"], r["tool"], f"<b style='color:{color}'>{r['state']}</b>"]
        cells += [html.escape(r[k]) for k in ("args", "resolved", "observation")]
        body.append("<tr>" + "".join(f"<td style='padding:0 6px'>{c}</td>" for c in cells) + "</tr>")
    return (
        f"<table style='font-family:monospace;font-size:11px;border-collapse:collapse'><tr>{head}</tr>"
        f"{''.join(body)}</table>"
    )


def verdict_html(pred: str, gold: str, gold_shown: bool = False) -> str:
    """TinyAgent's success metric for `pred` against `gold`: DAG isomorphism, with tool recall and whether
    every argument matches too (`metrics.score_plan`)."""

    s = score_plan(pred, gold)
    if s["parse_failure"]:
        head, color = "failure: not a valid plan (it does not parse, or does not fit the tools)", "#b42318"
    elif s["success"]:
        head, color = "success: the DAGs are isomorphic", "#1a7f37"
    else:
        head, color = "failure: the DAGs are not isomorphic", "#b42318"
    extra = (
        f"tool recall {s['tool_recall']:.2f}; arguments {'all equal' if s['argument_exact'] else 'differ'}"
    )
    if gold_shown:
        extra += "; the gold plan itself is shown (no trained planner)"
    return f"<b style='color:{color}'>{head}</b> <span style='color:#555'>({extra})</span>"


def prompt_size(query: str, today: str, tools: Sequence[str], planner: Any = None) -> tuple[int, int, str]:
    """Tokens of the planner prompt with `tools` and with all 16, and how they were counted.

    With a trained `Planner`, the exact prompt it decodes from (its kind, tokenizer and retrieved examples);
    otherwise the LLMCompiler planner prompt as ToolRAG's Table 1 counts it (`toolrag.examples.prompt_tokens`).
    """
    if planner is not None:
        ids = planner.prompts([query, query], [today, today], [list(tools), list(TOOL_NAMES)])
        return len(ids[0]), len(ids[1]), f"{planner.kind} prompt, planner tokenizer"
    count, how = planner_token_counter(config.planner_dir() / "tokenizer.json")
    n, n_all = prompt_tokens([tools, TOOL_NAMES], count)
    return n, n_all, f"LLMCompiler planner prompt, {how}"


def load_examples(splits: Sequence[str], limit: int) -> dict[str, dict[str, Any]]:
    """Dataset records by id, the first `limit` of each split that exists."""
    out = {}
    for split in splits:
        with contextlib.suppress(FileNotFoundError):
            out.update({r["id"]: r for r in load_split(split, limit)})
    return out


# ----------------------------------------------------------------------------------------- the widget


class PlanExplorer(widgets.VBox):
    """The explorer widget. Show it with `PlanExplorer().show()`, or as a cell's last value.

    `plan_fn`: the planner, `plan_fn(query, today, tools)` -> text or chunks, or a `planner.Planner`
    (default: the best trained planner, loaded on first use). `select`: ToolRAG, `select(queries)` -> tool
    lists (default: the trained classifier, or all 16 tools). `splits`/`limit`: the examples offered.
    `latency`: the simulated desktop's tool latencies (default: `replay_latency()`). `example`: an example id
    to open at once. `speech`: the speech engine for spoken commands (the `audio` upload, `explore_audio`;
    default: the profile's, `voice.transcriber`, made on first use).
    """

    def __init__(
        self,
        plan_fn: PlanFn | Any = None,
        select: Selector | None = None,
        splits: Sequence[str] = ("test", "ood"),
        limit: int = 50,
        latency: LatencyModel | None = None,
        example: str | None = None,
        seed: int = 0,
        speech: Engine | None = None,
    ):
        self.records = load_examples(splits, limit)
        self._speech = speech
        self.heard: Transcript | None = None
        self._plan_fn, self._select, self._planner = plan_fn, select, None
        self._loaded = plan_fn is not None
        self.latency = latency if latency is not None else replay_latency(seed=seed)
        self.seed = seed
        self.layouts = 0  # DAG layouts computed; a replay step never adds one
        self._dags: dict[str, DagCanvas] = {}
        self._golds: dict[str, bytes] = {}
        self.run: PlanRun | None = None
        self.record: dict[str, Any] | None = None
        self.last_error: BaseException | None = None
        self._timeline: TimelineCanvas | None = None
        self._quiet = False
        self._build()
        super().__init__(self._rows(), layout=widgets.Layout(width="100%"))
        self.add_class("wb-explorer")
        if not self.records:
            self.note.value = (
                f"No dataset examples in {', '.join(splits)}: run `workbench synth` (or notebook 02) "
                "to pick one; typed queries work without them."
            )
        if example is not None:
            self.example.value = example

    # ------------------------------------------------------------------------------------ layout

    def _build(self) -> None:
        options = [("(type a query below)", None)] + [
            (f"{i}: {r['query'][:90]}", i) for i, r in self.records.items()
        ]
        self.example = _tag(
            widgets.Dropdown(
                options=options, value=None, description="example", layout=widgets.Layout(width="98%")
            ),
            "wb-example",
        )
        self.query = _tag(
            widgets.Text(
                description="query",
                placeholder="or type a query and press Enter",
                continuous_update=False,
                layout=widgets.Layout(width="80%"),
            ),
            "wb-query",
        )
        self.go = _tag(widgets.Button(description="plan", button_style="primary"), "wb-run")
        self.audio = _tag(
            widgets.FileUpload(accept="audio/*,.wav,.flac,.mp3,.ogg", multiple=False, description="audio"),
            "wb-audio",
        )
        self.note = _tag(widgets.HTML(), "wb-note")
        self.tools = _tag(widgets.HTML(), "wb-tools")
        self.prompt = _tag(widgets.HTML(), "wb-prompt")
        self.plan = _tag(
            widgets.Textarea(
                description="plan", disabled=True, layout=widgets.Layout(width="98%", height="9em")
            ),
            "wb-plan",
        )
        self.dag = _tag(widgets.Image(format="png", layout=widgets.Layout(width="49%")), "wb-dag")
        self.gold = _tag(widgets.Image(format="png", layout=widgets.Layout(width="49%")), "wb-gold")
        self.verdict = _tag(widgets.HTML(description="verdict"), "wb-verdict")
        self.play = _tag(widgets.Play(min=0, max=0, interval=700, description="play"), "wb-play")
        self.step = _tag(
            widgets.IntSlider(
                min=0,
                max=0,
                description="replay",
                continuous_update=False,
                layout=widgets.Layout(width="60%"),
            ),
            "wb-step",
        )
        widgets.jslink((self.play, "value"), (self.step, "value"))
        widgets.dlink((self.step, "max"), (self.play, "max"))  # in the kernel: tests see it too
        self.event = _tag(widgets.HTML(), "wb-event")
        self.states = _tag(widgets.HTML(), "wb-states")
        self.timeline = _tag(widgets.Image(format="png", layout=widgets.Layout(width="98%")), "wb-timeline")
        self.example.observe(self._on_example, "value")
        self.query.observe(self._on_query, "value")
        self.go.on_click(lambda _: self._on_query({"new": self.query.value}))
        self.step.observe(self._on_step, "value")
        self.audio.observe(self._on_audio, "value")

    def _rows(self) -> list[widgets.Widget]:
        return [
            self.example,
            widgets.HBox([self.query, self.go, self.audio]),
            self.note,
            self.tools,
            self.prompt,
            self.plan,
            widgets.HBox([self.dag, self.gold]),
            self.verdict,
            widgets.HBox([self.play, self.step]),
            self.event,
            self.states,
            self.timeline,
        ]

    def show(self) -> None:
        """Display the widget (in a notebook)."""
        from IPython.display import display

        display(self)

    # ------------------------------------------------------------------------------------ events

    def _on_example(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None:
            return
        record = self.records[change["new"]]
        with self._silently():
            self.query.value = record["query"]
        self._guarded(record["query"], record)

    def _on_query(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        record = self.records.get(self.example.value) if self.example.value is not None else None
        if record is None or record["query"] != change["new"]:
            record = None
            with self._silently():
                self.example.value = None
        self._guarded(change["new"], record)

    def _on_audio(self, change: dict[str, Any]) -> None:
        if change["new"]:
            upload = change["new"][0]
            self.explore_audio(bytes(upload["content"]), upload["name"])

    def _on_step(self, change: dict[str, Any]) -> None:
        if not self._quiet and self.run is not None:
            self._show_step(change["new"])

    @contextlib.contextmanager
    def _silently(self) -> Iterator[None]:
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _guarded(self, query: str, record: dict[str, Any] | None) -> None:
        """`explore_query`, with any error shown in the note (a widget callback's traceback is invisible)."""
        self.last_error = None
        try:
            self.explore_query(query, record)
        except Exception as e:  # noqa: BLE001 - shown to the user, kept in last_error
            self.last_error = e
            self.note.value = f"<span style='color:#b42318'>{html.escape(f'{type(e).__name__}: {e}')}</span>"

    # ------------------------------------------------------------------------------ the pipeline

    def explore_audio(self, audio: str | Path | bytes, name: str = "command.wav") -> None:
        """Transcribe a spoken command (a file, or an upload's bytes named `name`), then explore what was heard
        as a typed query; the transcript is shown in the note."""
        self.last_error = None
        try:
            if isinstance(audio, bytes):
                audio_path = Path(tempfile.mkdtemp(prefix="workbench-audio-")) / Path(name).name
                audio_path.write_bytes(audio)
            else:
                audio_path = Path(audio)
            if self._speech is None:
                cfg = config.stage_config(VoiceConfig, "voice")
                self._speech = transcriber(cfg, config.artifacts_dir(), config.dataset_dir())
            self.heard, query = hear(self._speech, audio_path)
        except Exception as e:  # noqa: BLE001 - shown to the user, kept in last_error
            self.last_error = e
            self.note.value = f"<span style='color:#b42318'>{html.escape(f'{type(e).__name__}: {e}')}</span>"
            return
        with self._silently():
            self.example.value = None
            self.query.value = query
        self._guarded(query, None)
        if self.last_error is None:
            heard = f"heard ({self.heard.engine}, {self.heard.seconds:.2f} s): {self.heard.text}"
            self.note.value = html.escape(heard) + ("<br>" + self.note.value if self.note.value else "")

    def explore_query(self, query: str, record: dict[str, Any] | None = None) -> None:
        """Select tools, size the prompt, plan (streamed into the text box), run, and show the replay."""
        self._clear(record)
        if not query.strip():
            self.note.value = "Pick an example or type a query."
            return
        today = record["today"] if record else dt.date.today().isoformat()
        tools = self._tools(query)
        self.tools.value = tools_html(tools, record["tools"] if record else ())
        plan_fn, gold_shown = self._planner_for(record)
        n, n_all, how = prompt_size(query, today, tools, self._planner)
        if self._planner is not None:  # the planner runtime, streaming under the grammar of the tools
            planner, messages = (
                self._planner.llm(tools, query, today),
                PlannerChat(today, tools, self._planner.kind),
            )
        elif plan_fn is not None:
            planner, messages = PlanFnLLM(plan_fn, query, today, tools, n), PlannerChat(today, tools)
        self.prompt.value = (
            f"<b>planner prompt</b>: {n:,} tokens with {len(tools)} tools "
            f"(all {len(TOOL_NAMES)} tools: {n_all:,}; {how})"
        )
        if plan_fn is None:
            self.note.value = f"{NO_PLANNER}; pick a dataset example to replay its gold plan."
            return
        desktop = SimulatedDesktop(self.seed, today=today, latency=self.latency)
        desktop.request = query  # what a sub-agent writes an email body or a note from
        if record:  # the example's people and files exist; a plan naming someone else fails, as it should
            desktop.prepare_for(record["plan"])
            self.note.value = f"{NO_PLANNER}; showing the example's gold plan instead" if gold_shown else ""
        else:
            self.note.value = "The simulated desktop was given the people, files and notes the plan names."
        self.run = run_sync(
            stream_and_execute(
                planner, messages, query, desktop, _Listener(self._append_text, None if record else desktop)
            )
        )
        self._show_run(record, gold_shown)

    def _clear(self, record: dict[str, Any] | None) -> None:
        self.record, self.run, self._timeline = record, None, None
        for w in (self.note, self.tools, self.prompt, self.verdict, self.event, self.states):
            w.value = ""
        self.plan.value = ""
        self.dag.value = self.gold.value = self.timeline.value = b""
        with self._silently():
            self.step.value, self.step.max = 0, 0

    def _append_text(self, chunk: str) -> None:
        self.plan.value += chunk

    def _tools(self, query: str) -> list[str]:
        if self._select is None:
            folder = resolve_toolrag("auto", config.artifacts_dir())
            self._select = toolrag_selector(folder) or (lambda queries: [list(TOOL_NAMES) for _ in queries])
        return list(self._select([query])[0])

    def _planner_for(self, record: dict[str, Any] | None) -> tuple[PlanFn | None, bool]:
        """The plan function (None when nothing can plan this query) and whether it is the gold plan; a
        planner runtime (the best trained one, or one given as `plan_fn`) is kept in `_planner`."""
        if not self._loaded:
            self._loaded = True
            with contextlib.suppress(OSError):  # FileNotFoundError: nothing trained yet
                # the explorer selects the tools itself
                self._planner = Planner.best(config.artifacts_dir(), toolrag="none")
        elif hasattr(self._plan_fn, "llm") and hasattr(self._plan_fn, "prompts"):
            self._planner = self._plan_fn  # a Planner given as plan_fn
        if self._planner is not None or self._plan_fn is not None:
            return self._plan_fn, False
        if record is None:
            return None, False
        gold = record["plan"]
        return (lambda q, today, tools: gold), True

    # ------------------------------------------------------------------------------- the replay

    def _show_run(self, record: dict[str, Any] | None, gold_shown: bool) -> None:
        run = self.run
        assert run is not None
        if run.execution.plan_error is not None:
            self.note.value += (
                f"<br><span style='color:#b42318'>the plan stopped at "
                f"{html.escape(str(run.execution.plan_error))}</span>"
            )
        if run.plan.steps:
            self._timeline = TimelineCanvas(run.result)
        if record:
            self.gold.value = self._gold_png(record["plan"])
            self.verdict.value = verdict_html(run.text, record["plan"], gold_shown)
        else:
            self.verdict.value = "no gold plan for a typed query: nothing to compare with"
        with self._silently():
            self.step.max = len(run.events)
            self.step.value = len(run.events)
        self._show_step(len(run.events))

    def dag_canvas(self, plan: Plan, text: str) -> DagCanvas:
        """The drawn DAG of a plan text, laid out once and cached."""
        if text not in self._dags:
            if len(self._dags) >= 16:
                self._dags.pop(next(iter(self._dags)))
            self.layouts += 1
            self._dags[text] = DagCanvas(plan, "plan DAG")
        return self._dags[text]

    def _gold_png(self, gold: str) -> bytes:
        if gold not in self._golds:
            fig, ax = _dag_figure()
            draw_plan(gold, ax=ax, title="gold plan", legend=True)
            _fit(fig, _nodes(ax))
            self._golds[gold] = _png(fig)
        return self._golds[gold]

    def node_states(self, k: int | None = None) -> dict[int, str]:
        """Every step's state at replay position `k` (default: the slider's), join included."""
        run = self.run
        if run is None:
            return {}
        k = self.step.value if k is None else k
        states = task_states(run.execution, run.events, k)
        for s in run.plan.steps:
            if s.is_join:
                states[s.idx] = "done" if k == len(run.events) else "waiting"
        return states

    def rows(self) -> list[dict[str, str]]:
        """The replay table at the slider's position (what the states widget shows)."""
        return replay_rows(self.run.plan, self.run.execution, self.node_states()) if self.run else []

    def _show_step(self, k: int) -> None:
        run = self.run
        assert run is not None
        states = self.node_states(k)
        self.event.value = describe_event(run.execution, run.events, k)
        self.states.value = rows_html(self.rows())
        t = run.events[k - 1].time if k > 0 and run.events else 0.0
        if run.plan.steps:
            caption = f"event {k} of {len(run.events)}, t = {t:.3f} s"
            self.dag.value = self.dag_canvas(run.plan, run.text).render(states, caption)
        else:
            self.dag.value = message_png(f"no DAG: {run.execution.plan_error}")
        if self._timeline is not None:
            self.timeline.value = self._timeline.render(t)


def _tag(widget: widgets.Widget, css: str) -> Any:
    widget.add_class(css)
    return widget


def explore(example: str | None = None, **kwargs: Any) -> PlanExplorer:
    """The explorer, opened on `example` (a dataset id such as "test-000003") when given; a notebook cell
    that ends with `explore()` shows it. `kwargs` go to `PlanExplorer`."""
    return PlanExplorer(example=example, **kwargs)
