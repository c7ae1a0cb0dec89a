"""ToolRAG's classifier (TinyAgent, Sec. 4): which of the 16 tools does a query need?

A sentence encoder with a linear head over the tools, trained as a multi-label classifier (sigmoid, binary
cross-entropy) on the synthesized train split, with the best checkpoint on val kept. At inference the tools
with probability above the threshold (0.5) are selected. None passing means no tool serves the query (the
agent says so rather than plan): trained with out-of-scope negatives (`synth.out_of_scope`, our addition) it
learns to reject the weather or a song. Unlike similarity search, it learns *auxiliary* tools: creating an
invite needs `get_email_address` although the query never says "email". A missed tool fails the plan while an
extra one only lengthens the prompt, so `pos_weight` can weight the needed tools in the loss (reproductions of
TinyAgent report needing a large weight, about 60, for DeBERTa to reach its recall; the quick profile uses 3).

A second head (our addition) reads how many times the plan calls each tool, 1 to `MAX_COUNT` (three people to
look up, two files to attach): cross-entropy over those counts for the tools the plan calls, added to the loss
with `count_weight`. The planner can then decode under exactly those calls (`Planner(exact_counts=True)`),
since a plan whose tools are right but whose counts are not (a second look-up or attachment left out, a step
written twice) is its most common failure on held-out phrasings.

On one shared encoder the count loss also pulls the selection: in the offline run three in-scope requests of the
human dev set lost every tool (their best tool's probability fell from 0.93-0.996 to 0.17-0.33). Counts read
from the selection encoder's frozen features are far worse (every call right for 0.68 of val plans, against 0.93
trained jointly). With `counter_records` the two are kept apart: selection trains alone, then a second encoder,
the *counter* (saved in `counter/` beside the classifier), learns the counts on that many training records;
`counts` takes the tools from the classifier and their counts from the counter. It costs a second fine-tune and
a second encoder pass per query. `counter_from` says where the counter starts. `classifier`: a copy of the trained
selection, one pass on. In the offline run that read counts a little worse than the shared head with 24,000
records, and the planner scored lower on val. `base`: the encoder the classifier started from, so that the
counter learns selection and counts together as the shared head does, on weights of its own. On the
40,000 records the selection trains on, that read every call right for 0.947 of test plans and 0.658 of ood ones
(0.939 and 0.629 with the shared head) and left no in-scope dev request without a tool, but the planner under
its counts scored a query lower on val and two lower on test, so the offline profile keeps the shared head
(README, issue 16). What it keeps instead is a refusal floor (`refuse_below`, a selection setting, not a training
one): "no tool" only where every tool's probability is at most the floor; a query with none above the threshold
but one above the floor gets its most likely tool. At 0.15 it gives those three requests a tool and rejects 0.933
of the held-out out-of-scope queries (0.950 without it).

The paper fine-tunes DeBERTa-v3-small; the offline default is all-MiniLM-L6-v2 (22M parameters), which
trains here on a 2-core CPU at roughly 50 queries per second.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench import config
from workbench.files import write_json_atomic
from workbench.plan import parse_plan
from workbench.synth.out_of_scope import out_of_scope_queries
from workbench.toolrag.encoder import EncoderError, HFEncoder, load_encoder
from workbench.toolrag.metrics import selection_metrics
from workbench.tools.tinyagent import TOOL_NAMES


@dataclass
class ToolRAGConfig:
    encoder: str = field(default="minilm", metadata={"help": "minilm (offline), a folder, or a hub id"})
    max_train: int | None = field(default=20_000, metadata={"help": "train records used (None: all)"})
    out_of_scope: int = field(
        default=1000,
        metadata={
            "help": "queries no tool serves (synth.out_of_scope), added to training with no tool as the target"
        },
    )
    epochs: int = field(default=1, metadata={"help": "passes over the training records"})
    lr: float = field(default=2e-4, metadata={"help": "encoder learning rate (the head uses 20x)"})
    pos_weight: float = field(
        default=1.0,
        metadata={
            "help": "weight of a needed tool in the loss (>1 favours recall: a missed tool fails the plan, an "
            "extra one only lengthens the prompt)"
        },
    )
    batch_size: int = field(default=32, metadata={"help": "queries per step"})
    max_length: int = field(default=128, metadata={"help": "tokens per query (longer ones are cut)"})
    count_weight: float = field(
        default=1.0,
        metadata={"help": "weight of the count head's loss (how many calls of each tool; 0: no count head)"},
    )
    counter_records: int = field(
        default=0,
        metadata={
            "help": "0: the count head trains with the selection head on one encoder; N: selection trains alone, "
            "then a copy of it learns the counts on N training records (saved as counter/; the count loss then "
            "cannot pull the selection)"
        },
    )
    counter_from: str = field(
        default="classifier",
        metadata={
            "help": "where the counter starts (with counter_records): classifier (a copy of the trained selection) "
            "or base (the encoder the classifier started from: it learns selection and counts together, as the "
            "shared head does, on weights of its own)"
        },
    )
    threshold: float = field(default=0.5, metadata={"help": "select the tools above this probability"})
    refuse_below: float = field(
        default=0.5,
        metadata={
            "help": "no tool only where every tool's probability is at most this; a query with none above "
            "`threshold` but one above this gets its most likely tool (equal to `threshold`: no floor)"
        },
    )
    eval_every: int = field(default=200, metadata={"help": "steps between validations (best kept)"})
    max_val: int = field(default=500, metadata={"help": "val records used for checkpoint selection"})
    seed: int = field(default=0, metadata={"help": "shuffling and subsampling seed"})
    threads: int = field(
        default_factory=config.default_threads,
        metadata={"help": "torch CPU threads (default: WORKBENCH_THREADS or 2) (used only on the CPU)"},
    )
    device: str = field(
        default="auto", metadata={"help": "auto (cuda, then mps, then cpu), cuda, mps or cpu"}
    )
    basic_encoder: str = field(
        default="minilm",
        metadata={
            "help": "sentence encoder of the basic-RAG baselines and example retrieval (a sentence encoder, not "
            "the classifier's backbone)"
        },
    )
    basic_examples: int = field(
        default=5000,
        metadata={"help": "training queries embedded for the example-based basic RAG baseline (0: skip it)"},
    )


# The settings that change what is learned: a saved classifier trained with others is retrained, not reused.
TRAINING_FIELDS = (
    "encoder",
    "max_train",
    "out_of_scope",
    "epochs",
    "lr",
    "pos_weight",
    "batch_size",
    "max_length",
    "seed",
    "count_weight",
    "counter_records",
    "counter_from",
)
COUNTER_FROM = ("classifier", "base")
MAX_COUNT = 6  # the count head's classes: 1..MAX_COUNT calls of a tool (more are read as MAX_COUNT)
COUNTER = "counter"  # the counter's folder inside the classifier's (with `counter_records`)


def pick_device(name: str) -> str:
    import torch

    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"


def data_fingerprint(paths: Sequence[Path]) -> str:
    """A hash of the training and validation files: a classifier is only reused on the data it saw."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def targets(tool_lists: Sequence[Sequence[str]]) -> np.ndarray:
    index = {n: i for i, n in enumerate(TOOL_NAMES)}
    y = np.zeros((len(tool_lists), len(TOOL_NAMES)), dtype=np.float32)
    for row, tools in enumerate(tool_lists):
        for t in tools:
            y[row, index[t]] = 1.0
    return y


def plan_calls(plan: str) -> dict[str, int]:
    """How many times `plan` calls each tool it calls: what the count head learns to read."""
    return dict(Counter(parse_plan(plan).tools))


def count_targets(plans: Sequence[str | None]) -> np.ndarray:
    """Class `calls - 1` (capped at `MAX_COUNT - 1`) per plan and tool, -1 where the plan calls it not (or
    there is no plan: an out-of-scope query), which the count loss ignores."""
    index = {n: i for i, n in enumerate(TOOL_NAMES)}
    y = np.full((len(plans), len(TOOL_NAMES)), -1, dtype=np.int64)
    for row, plan in enumerate(plans):
        calls = plan_calls(plan) if plan else {}
        for tool, n in calls.items():
            y[row, index[tool]] = min(n, MAX_COUNT) - 1
    return y


def select_from_probabilities(
    probs: np.ndarray, threshold: float, refuse_below: float | None = None
) -> list[list[str]]:
    """The tools above `threshold` in each row. Where none is, the row's most likely tool if its probability is
    above `refuse_below` (None: `threshold`), else an empty list: no tool serves that query.

        >>> select_from_probabilities(np.array([[0.3] + [0.0] * 15]), 0.5, 0.15)
        [['get_phone_number']]
    """
    floor = threshold if refuse_below is None else refuse_below
    if floor > threshold:
        raise ValueError(
            f"refuse_below ({floor}) is above threshold ({threshold}): set it at most the threshold"
        )
    out = []
    for row in probs:
        picked = [TOOL_NAMES[j] for j in np.flatnonzero(row > threshold)]
        if not picked and row.max(initial=0.0) > floor:
            picked = [TOOL_NAMES[int(row.argmax())]]
        out.append(picked)
    return out


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (less padding on a CPU), in random order."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunks = [
        sorted(idx[i : i + batch_size * 50], key=lambda j: lengths[j])
        for i in range(0, len(idx), batch_size * 50)
    ]
    batches = [c[i : i + batch_size] for c in chunks for i in range(0, len(c), batch_size)]
    rng.shuffle(batches)
    return batches


class ToolRAGClassifier:
    """Encoder + linear head. `train` fits it; `load` reads a saved one; `select` picks tools."""

    def __init__(
        self,
        encoder: HFEncoder,
        threshold: float = 0.5,
        device: str = "cpu",
        count_head: bool = False,
        refuse_below: float | None = None,
    ):
        import torch

        self.encoder = encoder
        self.threshold = threshold
        self.refuse_below = threshold if refuse_below is None else refuse_below
        self.device = device
        self.head = torch.nn.Linear(encoder.dim, len(TOOL_NAMES))
        # calls of each tool: MAX_COUNT classes per tool (None: a classifier trained without it)
        self.count_head = torch.nn.Linear(encoder.dim, len(TOOL_NAMES) * MAX_COUNT) if count_head else None
        self.encoder.model.to(device)
        self.head.to(device)
        if self.count_head is not None:
            self.count_head.to(device)
        # reads the counts where it was trained apart (`counter_records`); None: the count head above does
        self.counter: ToolRAGClassifier | None = None
        self.meta: dict[str, Any] = {}
        self._torch = torch

    def logits(self, queries: list[str]) -> Any:
        return self.head(self._pooled(queries))

    def _pooled(self, queries: list[str]) -> Any:
        batch = {k: v.to(self.device) for k, v in self.encoder.tokenize(queries).items()}
        return self.encoder.pooled(batch)

    def _count_logits(self, pooled: Any) -> Any:
        """(batch, tools, MAX_COUNT): logits of 1..MAX_COUNT calls of each tool."""
        return self.count_head(pooled).view(len(pooled), len(TOOL_NAMES), MAX_COUNT)

    @property
    def counted(self) -> bool:
        """Whether `counts` can read calls: a count head of its own or a counter's."""
        return self.count_head is not None or self.counter is not None

    def counts(self, queries: Sequence[str], batch_size: int = 64) -> list[dict[str, int]]:
        """The selected tools of each query with how many times the plan calls each (the count head's most
        likely class, the counter's where there is one); `{}` where no tool is selected. Raises on a
        classifier trained without either."""
        counter = self.counter or self
        if counter.count_head is None:
            raise EncoderError(
                "this ToolRAG classifier was trained without a count head: retrain it with `workbench toolrag "
                "train` (count_weight > 0)"
            )
        queries = [q if isinstance(q, str) else str(q) for q in queries]
        out: list[dict[str, int]] = []
        self.encoder.model.eval()
        counter.encoder.model.eval()
        with self._torch.inference_mode():
            for start in range(0, len(queries), batch_size):
                batch = queries[start : start + batch_size]
                pooled = self._pooled(batch)
                chosen = select_from_probabilities(
                    self._torch.sigmoid(self.head(pooled)).cpu().numpy(), self.threshold, self.refuse_below
                )
                counted = pooled if counter is self else counter._pooled(batch)
                calls = counter._count_logits(counted).argmax(-1).cpu().numpy() + 1
                out += [
                    {t: int(c[TOOL_NAMES.index(t)]) for t in tools}
                    for tools, c in zip(chosen, calls, strict=True)
                ]
        return out

    def calls_exact(self, records: Sequence[dict[str, Any]]) -> float:
        """The share of `records` whose plan's every call (tools and how often) `counts` reads right."""
        calls = [plan_calls(r["plan"]) for r in records]
        right = sum(a == b for a, b in zip(self.counts([r["query"] for r in records]), calls, strict=True))
        return round(right / max(1, len(records)), 4)

    def probabilities(self, queries: Sequence[str], batch_size: int = 64) -> np.ndarray:
        queries = [q if isinstance(q, str) else str(q) for q in queries]
        out = np.zeros((len(queries), len(TOOL_NAMES)), dtype=np.float32)
        self.encoder.model.eval()
        with self._torch.inference_mode():
            for start in range(0, len(queries), batch_size):
                out[start : start + batch_size] = (
                    self._torch.sigmoid(self.logits(queries[start : start + batch_size])).cpu().numpy()
                )
        return out

    def select(
        self, queries: Sequence[str], threshold: float | None = None, refuse_below: float | None = None
    ) -> list[list[str]]:
        """The tools of each query (`select_from_probabilities`); `threshold` and `refuse_below` default to
        the classifier's, and the floor is never above the threshold given."""
        threshold = self.threshold if threshold is None else threshold
        floor = min(threshold, self.refuse_below if refuse_below is None else refuse_below)
        return select_from_probabilities(self.probabilities(queries), threshold, floor)

    def set_selection(self, path: Path, threshold: float, refuse_below: float) -> None:
        """Select with `threshold` and `refuse_below` from now on, and record them in the classifier saved at
        `path` (they change no weight, so the planner, agent and quantization, which load it from there,
        select as the profile says without retraining)."""
        select_from_probabilities(np.zeros((0, len(TOOL_NAMES))), threshold, refuse_below)  # checks them
        self.threshold, self.refuse_below = threshold, refuse_below
        meta = json.loads((path / "toolrag.json").read_text(encoding="utf-8"))
        if (meta["threshold"], meta.get("refuse_below", meta["threshold"])) != (threshold, refuse_below):
            meta |= {"threshold": threshold, "refuse_below": refuse_below}
            write_json_atomic(path / "toolrag.json", meta)
        self.meta = meta

    # ---------------------------------------------------------------------------------------- training

    @classmethod
    def train(
        cls,
        cfg: ToolRAGConfig,
        train: Sequence[dict[str, Any]],
        val: Sequence[dict[str, Any]],
        out_dir: Path,
        progress: bool = True,
        data_fingerprint_of: str = "",
    ) -> tuple[ToolRAGClassifier, dict[str, Any]]:
        """Fine-tune encoder and head; save the best-on-val checkpoint to `out_dir` (the stage passes
        `<artifacts>/toolrag/classifier`); return it and the history. With `counter_records` (and a count
        loss), then train the counter from it into `out_dir/counter` (see the module docstring).

        `data_fingerprint_of` (see `data_fingerprint`) is stored with the checkpoint so that a later run can tell
        whether it was trained on the current data. The history is written last: a run cut before it is
        trained again, not reused.
        """
        apart = cfg.counter_records > 0 and cfg.count_weight > 0
        if apart and cfg.counter_from not in COUNTER_FROM:  # before the selection's training, not after it
            raise ValueError(f"counter_from is {cfg.counter_from!r}: give one of {', '.join(COUNTER_FROM)}")
        model, history = cls._fit(
            cfg,
            train,
            val,
            out_dir,
            progress,
            data_fingerprint_of,
            count_head=cfg.count_weight > 0 and not apart,
        )
        if apart:
            history["counter"] = cls._train_counter(cfg, train, val, out_dir, progress, data_fingerprint_of)
            history["train_wall_s"] = round(history["train_wall_s"] + history["counter"]["train_wall_s"], 1)
        model.save_history(out_dir, history)
        return cls.load(out_dir, model.device), history

    @classmethod
    def _train_counter(
        cls,
        cfg: ToolRAGConfig,
        train: Sequence[dict[str, Any]],
        val: Sequence[dict[str, Any]],
        out_dir: Path,
        progress: bool,
        data_fingerprint_of: str,
    ) -> dict[str, Any]:
        """One pass over `counter_records` training records from the saved classifier's encoder (or, with
        `counter_from="base"`, from the encoder it started from), with the count loss beside the selection loss
        (whose head is not used); saved once, at the end, in `out_dir/counter`, which `out_dir`'s settings
        then name. Returns the counter's history in short."""
        steps = math.ceil(cfg.counter_records / cfg.batch_size)
        counter_cfg = replace(
            cfg,
            encoder=str(out_dir / "encoder") if cfg.counter_from == "classifier" else cfg.encoder,
            max_train=cfg.counter_records,
            out_of_scope=0,  # nothing to count in a query no tool serves
            epochs=1,
            eval_every=steps,
            counter_records=0,
        )
        _, counter_history = cls._fit(
            counter_cfg, train, val, out_dir / COUNTER, progress, data_fingerprint_of, count_head=True
        )
        meta_path = out_dir / "toolrag.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        write_json_atomic(meta_path, {**meta, "counter": COUNTER})
        return {
            "n_train": counter_history["n_train"],
            "steps": counter_history["steps"],
            "train_wall_s": counter_history["train_wall_s"],
            # its counts of the classifier's tools
            "calls_exact_val": cls.load(out_dir, cfg.device).calls_exact(list(val)[: cfg.max_val]),
        }

    @classmethod
    def _fit(
        cls,
        cfg: ToolRAGConfig,
        train: Sequence[dict[str, Any]],
        val: Sequence[dict[str, Any]],
        out_dir: Path,
        progress: bool,
        data_fingerprint_of: str,
        count_head: bool,
    ) -> tuple[ToolRAGClassifier, dict[str, Any]]:
        """The fine-tune itself: best-on-val checkpoints saved to `out_dir`; the model as trained last."""
        import torch
        from tqdm.auto import tqdm

        torch.manual_seed(cfg.seed)
        device = pick_device(cfg.device)
        threads = torch.get_num_threads()
        if device == "cpu":
            torch.set_num_threads(cfg.threads)
        rng = random.Random(cfg.seed)
        encoder = load_encoder(cfg.encoder, cfg.max_length)
        if not isinstance(encoder, HFEncoder):
            raise EncoderError(
                "the classifier fine-tunes a transformers encoder; OpenAI embeddings cannot be trained"
            )
        model = cls(encoder, cfg.threshold, device, count_head=count_head)
        records = list(train)
        if cfg.max_train is not None and len(records) > cfg.max_train:
            records = rng.sample(records, cfg.max_train)
        if cfg.out_of_scope:  # negatives: every probability should end below the threshold
            records += [{"query": q, "tools": []} for q in out_of_scope_queries(cfg.out_of_scope, cfg.seed)]
        queries = [r["query"] for r in records]
        y = torch.from_numpy(targets([r["tools"] for r in records])).to(device)
        y_counts = torch.from_numpy(count_targets([r.get("plan") for r in records])).to(device)
        val = list(val)[: cfg.max_val]
        lengths = [len(q) for q in queries]
        steps = cfg.epochs * math.ceil(len(records) / cfg.batch_size)
        heads = [model.head, *([model.count_head] if model.count_head is not None else [])]
        opt = torch.optim.AdamW(
            [
                {"params": encoder.model.parameters(), "lr": cfg.lr},
                {"params": [p for head in heads for p in head.parameters()], "lr": cfg.lr * 20},
            ],
            weight_decay=0.01,
        )
        warmup = max(1, steps // 20)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / max(1, steps - warmup))
        )
        loss_fn = torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.full((len(TOOL_NAMES),), float(cfg.pos_weight), device=device)
        )
        count_loss = torch.nn.CrossEntropyLoss(ignore_index=-1)
        history: dict[str, Any] = {
            "train_loss": [],
            "train_count_loss": [],
            "val": [],
            "n_train": len(records),
            "steps": steps,
            "data": data_fingerprint_of,
            "device": device,
        }
        best, step, start = -1.0, 0, time.perf_counter()
        desc = "ToolRAG counter" if out_dir.name == COUNTER else "ToolRAG classifier"
        bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress, mininterval=2)
        for _ in range(cfg.epochs):
            for batch in _batches(lengths, cfg.batch_size, rng):
                encoder.model.train()
                pooled = model._pooled([queries[i] for i in batch])
                loss = loss_fn(model.head(pooled), y[batch])
                if model.count_head is not None:  # tools the plan does not call (-1) are ignored
                    counted = count_loss(model._count_logits(pooled).flatten(0, 1), y_counts[batch].flatten())
                    if not counted.isnan():  # a batch of out-of-scope queries alone has no count to learn
                        loss = loss + cfg.count_weight * counted
                        history["train_count_loss"].append(round(counted.item(), 5))
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(
                    [*encoder.model.parameters(), *(p for head in heads for p in head.parameters())], 1.0
                )
                opt.step()
                sched.step()
                step += 1
                history["train_loss"].append(round(loss.item(), 5))
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.4f}")
                if step % cfg.eval_every == 0 or step == steps:
                    score = model._validate(val, step, history)
                    if score > best:
                        best = score
                        model.save(out_dir, cfg, history)
        bar.close()
        if device == "cpu":
            torch.set_num_threads(threads)
        history["train_wall_s"] = round(time.perf_counter() - start, 1)
        return model, history

    def _validate(self, val: Sequence[dict[str, Any]], step: int, history: dict[str, Any]) -> float:
        """Recall of complete tool sets minus a small cost per extra tool: the checkpoint selection score."""
        queries = [r["query"] for r in val]
        m = selection_metrics(self.select(queries), [r["tools"] for r in val])
        if self.count_head is not None:  # reported, not selected on
            m["calls_exact"] = self.calls_exact(val)
        history["val"].append({"step": step, **m})
        return m["recall"] - 0.01 * m["avg_tools"]

    # ------------------------------------------------------------------------------------------ saving

    def save(self, out_dir: Path, cfg: ToolRAGConfig, history: dict[str, Any]) -> None:
        """Write the encoder, head and settings to a temporary folder, then swap it in (never half-saved)."""
        tmp = out_dir.with_name(out_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.encoder.model.save_pretrained(tmp / "encoder")
        self.encoder.tokenizer.save_pretrained(tmp / "encoder")
        self._torch.save(self.head.state_dict(), tmp / "head.pt")
        if self.count_head is not None:
            self._torch.save(self.count_head.state_dict(), tmp / "count_head.pt")
        meta = {
            "labels": list(TOOL_NAMES),
            "threshold": self.threshold,
            "refuse_below": min(self.threshold, cfg.refuse_below),  # selection only: training never reads it
            "count_classes": MAX_COUNT if self.count_head is not None else 0,
            "max_length": self.encoder.max_length,
            "base_encoder": cfg.encoder,
            "config": asdict(cfg),
            "saved_at_step": history["val"][-1]["step"],
            "val": history["val"][-1],
            "n_train": history["n_train"],
            "data": history.get("data", ""),
        }
        (tmp / "toolrag.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        old = out_dir.with_name(out_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def save_history(out_dir: Path, history: dict[str, Any]) -> None:
        write_json_atomic(out_dir / "history.json", history)

    @classmethod
    def load(cls, path: Path, device: str = "auto") -> ToolRAGClassifier:
        import torch

        old = path.with_name(path.name + ".old")
        if not path.exists() and old.exists():  # a save was cut between its two renames
            path = old
        meta_path = path / "toolrag.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"no trained ToolRAG classifier at {path}: run `workbench toolrag train`")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta["labels"] != list(TOOL_NAMES):
            raise EncoderError(f"{path} was trained for other tools: {meta['labels']}")
        device = pick_device(device)
        counted = meta.get("count_classes", 0)
        if counted not in (0, MAX_COUNT):
            raise EncoderError(f"{path}'s count head has {counted} classes, not {MAX_COUNT}: retrain it")
        model = cls(
            HFEncoder(path / "encoder", meta["max_length"]),
            meta["threshold"],
            device,
            bool(counted),
            refuse_below=meta.get("refuse_below"),  # a classifier saved before the floor has none
        )
        model.meta = meta
        if meta.get("counter"):
            model.counter = cls.load(path / meta["counter"], device)
        try:
            model.head.load_state_dict(torch.load(path / "head.pt", weights_only=True, map_location=device))
            if model.count_head is not None:
                model.count_head.load_state_dict(
                    torch.load(path / "count_head.pt", weights_only=True, map_location=device)
                )
        except (OSError, RuntimeError) as e:
            raise EncoderError(
                f"{path}'s head.pt or count_head.pt is missing or broken ({e}); retrain with `workbench toolrag train`"
            ) from None
        return model
