"""The TinyAgent dataset: splits, files and the synthesis report (TinyAgent, Sec. 3.1: 80K/1K/1K).

`synthesize(cfg, folder)` writes `<folder>/{train,val,test,ood}.jsonl` (the synth stage passes
`data/tinyagent/` and saves the report as `data/results/synthesis.json`). With the offline teacher (the
default here) the same seed gives byte-identical files. With an LLM teacher the records are first appended to
`<folder>/llm_raw.jsonl` (resumable), then split; the `ood` split always comes from the offline teacher's
held-out templates and entities, because it is defined by what training never saw.

Readers take the dataset folder too; without one they read the default `config.dataset_dir()`. A Hugging Face
`datasets` load path is here; mlx-lm's chat export lives with the MLX code (`finetune.mlx_data`).
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from workbench import config
from workbench.files import write_jsonl_atomic
from workbench.jsonl import read_records
from workbench.llm.openai_compat import from_env
from workbench.metrics import plan_depth, plan_width
from workbench.plan import parse_plan
from workbench.synth import everyday, offline
from workbench.synth.diversity import Diversity, unseen_share
from workbench.synth.records import SPLITS, Checker, Record, human_dev_queries, normalize_query
from workbench.synth.released import FORMATS, JOINER_FILE, import_released
from workbench.synth.teacher import TeacherConfig, read_store, run_teacher

IN_DISTRIBUTION = ("test", "val", "train")  # generated in this order: small evaluation splits first


@dataclass
class SynthConfig:
    """The synthesis stage. Field help texts serve `--help` and notebooks (`config.describe`)."""

    train: int = field(default=80_000, metadata={"help": "training records"})
    val: int = field(default=1_000, metadata={"help": "validation records"})
    test: int = field(default=1_000, metadata={"help": "test records (same distribution as train)"})
    ood: int = field(
        default=1_000, metadata={"help": "held-out templates, connectives, entities and intent pairs"}
    )
    seed: int = field(
        default=0, metadata={"help": "the same seed gives byte-identical files (offline teacher)"}
    )
    teacher: str = field(
        default="offline",
        metadata={"help": "offline (procedural) or llm (OpenAI-compatible)", "choices": ("offline", "llm")},
    )
    provider: str = field(
        default="openai", metadata={"help": "LLM teacher: provider for workbench.llm.from_env"}
    )
    model: str | None = field(default=None, metadata={"help": "LLM teacher: model name (paper: gpt-4-turbo)"})
    base_url: str | None = field(default=None, metadata={"help": "LLM teacher: OpenAI-compatible server URL"})
    concurrency: int = field(default=8, metadata={"help": "LLM teacher: calls in flight"})
    requests_per_minute: float = field(default=60.0, metadata={"help": "LLM teacher: rate limit"})
    import_format: str | None = field(
        default=None,
        metadata={
            "help": "import a released dataset instead of synthesizing train/val/test",
            "choices": FORMATS,
        },
    )
    import_path: str | None = field(
        default=None,
        metadata={
            "help": "import: the folder holding training_data.json (and testing_data.json), or one file"
        },
    )
    report_sample: int = field(
        default=5_000, metadata={"help": "records per split for the width/depth statistics"}
    )

    def sizes(self) -> dict[str, int]:
        return {s: getattr(self, s) for s in SPLITS}


def split_path(split: str, folder: Path | None = None) -> Path:
    """The file of one split in a dataset folder (default: `config.dataset_dir()`)."""
    return (folder or config.dataset_dir()) / f"{split}.jsonl"


# ----------------------------------------------------------------------------------------------- build


def generate_offline(
    cfg: SynthConfig,
    checker: Checker | None = None,
    splits: Iterable[str] = ("ood", *IN_DISTRIBUTION),
    diversity: dict[str, Diversity] | None = None,
) -> tuple[dict[str, list[Record]], dict]:
    """Records for each split from the offline teacher, all through one checker (no query repeats anywhere);
    `diversity`, when given, counts each split's clause skeletons (`synth.diversity`)."""
    checker = checker or Checker()
    diversity = diversity if diversity is not None else defaultdict(Diversity)
    sizes = cfg.sizes()
    out: dict[str, list[Record]] = {}
    templates: dict[str, set[str]] = {}
    total = sum(sizes[s] for s in splits)
    with tqdm(total=total, desc="offline teacher", unit="rec", disable=total < 5000, mininterval=2) as bar:
        for split in splits:
            rng = random.Random(f"{cfg.seed}:{split}")
            records, used = [], set()
            attempts, limit = 0, 20 * sizes[split] + 1000
            while len(records) < sizes[split]:
                attempts += 1
                if attempts > limit:
                    raise RuntimeError(
                        f"{split}: only {len(records)} of {sizes[split]} distinct records after "
                        f"{limit} tries; the pools are too small for this size"
                    )
                today = offline.random_today(rng)
                # half the queries from the intents' templates, half composed from parts the way people type
                compose = everyday.compose if rng.random() < everyday.SHARE else offline.compose
                query, plan, ids, skeletons = compose(rng, split, today)
                tools = checker.check(query, plan)
                if tools is None:
                    continue
                used.update(ids)
                for intent, skel in skeletons:
                    diversity[split].add(intent, skel)
                records.append(
                    Record(
                        f"{split}-{len(records):06d}", query, plan, tools, today.isoformat(), split, "offline"
                    )
                )
                bar.update()
            out[split] = records
            templates[split] = used
    return out, {s: sorted(t) for s, t in templates.items()}


def write_split(records: list[Record], path: Path) -> None:
    """One JSON object per line, written to a temporary file and renamed: never a partial file."""
    write_jsonl_atomic(path, (r.to_dict() for r in records))


def require_splits(folder: Path | None = None, splits: Sequence[str] = SPLITS) -> None:
    """Fail before any work when a split a stage reads is missing, naming the command that writes it."""
    for split in splits:
        path = split_path(split, folder)
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: run `workbench synth` (or notebook 02) first")


def load_split(split: str, limit: int | None = None, folder: Path | None = None) -> list[dict[str, Any]]:
    """The records of one split (the first `limit`), from `folder` (default: `config.dataset_dir()`)."""
    path = split_path(split, folder)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `workbench synth` (or notebook 02) first")
    records = read_records(path, required=("id", "query", "plan"))
    return records if limit is None else records[:limit]


# ---------------------------------------------------------------------------------------------- report


def describe(records: list[Record], sample: int, seed: int = 0) -> dict[str, Any]:
    """Diversity figures of one split: tools, plan lengths, DAG widths and depths, query lengths."""
    tools = Counter(t for r in records for t in r.tools)
    lengths = Counter(len(r.tools) for r in records)
    picked = random.Random(seed).sample(records, min(sample, len(records)))
    plans = [parse_plan(r.plan) for r in picked]
    return {
        "n": len(records),
        "distinct_queries": len({r.query for r in records}),
        "tools": dict(sorted(tools.items())),
        "tasks_per_plan": {str(k): v for k, v in sorted(lengths.items())},
        "dag_width": {str(k): v for k, v in sorted(Counter(plan_width(p) for p in plans).items())},
        "dag_depth": {str(k): v for k, v in sorted(Counter(plan_depth(p) for p in plans).items())},
        "shape_sample": len(picked),
        "query_words_mean": statistics.fmean(len(r.query.split()) for r in records) if records else 0.0,
    }


def diversity_report(diversity: dict[str, Diversity]) -> dict[str, Any]:
    """Per split and intent: clauses, distinct clause skeletons, distinct word trigrams; and the share of ood's
    distinct skeletons that train, val and test never show (the held-out part of the grammar)."""
    if not diversity:
        return {}
    seen = set().union(*(diversity[split].all_skeletons() for split in IN_DISTRIBUTION))
    return {
        "diversity": {split: d.report() for split, d in sorted(diversity.items())},
        "ood_skeletons_unseen_in_training": unseen_share(diversity["ood"], seen)
        if "ood" in diversity
        else None,
    }


def synthesize(cfg: SynthConfig, folder: Path, llm: Any = None) -> dict[str, Any]:
    """Synthesize every split into `folder`; returns the report (the stage adds the profile and file names)."""
    start = time.perf_counter()
    checker = Checker(held_out=human_dev_queries())
    extra: dict[str, Any] = {}
    diversity: dict[str, Diversity] = defaultdict(Diversity)
    if cfg.import_format or cfg.import_path:
        splits, templates, extra = _import(cfg, checker, folder)
    elif cfg.teacher == "offline":
        splits, templates = generate_offline(cfg, checker, diversity=diversity)
    elif cfg.teacher == "llm":
        splits, templates, extra = _generate_with_llm(cfg, checker, llm, folder)
    else:
        raise ValueError(f"unknown teacher {cfg.teacher!r}: use 'offline' or 'llm'")
    for split in SPLITS:
        write_split(splits[split], split_path(split, folder))
    wall = time.perf_counter() - start
    train_templates = (
        set(templates.get("train", [])) | set(templates.get("val", [])) | set(templates.get("test", []))
    )
    return {
        "teacher": f"imported ({cfg.import_format})" if cfg.import_path else cfg.teacher,
        "seed": cfg.seed,
        "counts": {s: len(splits[s]) for s in SPLITS},
        "rejected": dict(sorted(checker.rejected.items())),
        "distinct_queries": len({r.query for recs in splits.values() for r in recs}),
        "distinct_templates": {s: len(t) for s, t in templates.items()},
        # LLM-teacher records have no templates: the overlap is only defined for the offline teacher
        "ood_templates_seen_in_training": len(set(templates.get("ood", [])) & train_templates)
        if cfg.teacher == "offline" and not cfg.import_path
        else None,
        "wall_s": round(wall, 2),
        "splits": {s: describe(splits[s], cfg.report_sample, cfg.seed) for s in SPLITS},
        **diversity_report(diversity),
        **extra,
    }


def _generate_with_llm(cfg: SynthConfig, checker: Checker, llm: Any, folder: Path) -> tuple[dict, dict, dict]:
    """The paper's path: an LLM teacher for train/val/test, the offline teacher's held-out ood split."""
    if llm is None:
        llm = from_env(cfg.provider, model=cfg.model, **({"base_url": cfg.base_url} if cfg.base_url else {}))
    n = cfg.train + cfg.val + cfg.test
    raw = folder / "llm_raw.jsonl"
    tcfg = TeacherConfig(
        n_records=n, concurrency=cfg.concurrency, requests_per_minute=cfg.requests_per_minute, seed=cfg.seed
    )
    teacher_report = run_teacher(tcfg, llm, raw)
    rows = read_store(raw)
    if len(rows) < n:
        raise RuntimeError(
            f"the LLM teacher stopped at {len(rows)} of {n} records ({teacher_report.get('stopped')}); "
            f"rerun `workbench synth --teacher llm` to resume {raw}"
        )
    checker.seen.update(normalize_query(r["query"]) for r in rows)  # the ood split must not repeat one
    random.Random(cfg.seed).shuffle(rows)
    out: dict[str, list[Record]] = {}
    start = 0
    for split in IN_DISTRIBUTION:
        chunk = rows[start : start + getattr(cfg, split)]
        start += len(chunk)
        out[split] = [
            Record(f"{split}-{i:06d}", r["query"], r["plan"], r["tools"], r["today"], split, r["teacher"])
            for i, r in enumerate(chunk)
        ]
    ood, templates = generate_offline(cfg, checker, splits=("ood",))
    out["ood"] = ood["ood"]
    return out, templates, {"llm_teacher": teacher_report}


def _import(cfg: SynthConfig, checker: Checker, folder: Path) -> tuple[dict, dict, dict]:
    """A released dataset for train/val/test (`synth.released`), the offline teacher's held-out ood split, and
    the join data points in `<folder>/joiner.jsonl`."""
    if cfg.import_format not in FORMATS or not cfg.import_path:
        raise ValueError(
            f"an import needs a format ({', '.join(FORMATS)}) and a path; got {cfg.import_format!r} and "
            f"{cfg.import_path!r}: `workbench synth --import tinyagent PATH`"
        )
    found = import_released(
        cfg.import_path, checker, train=cfg.train, val=cfg.val, test=cfg.test, seed=cfg.seed
    )
    if not found.records["train"]:
        raise ValueError(
            f"no record of {cfg.import_path} passed the sanity checks (rejected: {dict(found.rejected)}); "
            "see the reasons, or check that it is TinyAgent's data format"
        )
    out: dict[str, list[Record]] = dict(found.records)
    ood, templates = generate_offline(cfg, checker, splits=("ood",))
    out["ood"] = ood["ood"]
    write_jsonl_atomic(folder / JOINER_FILE, found.joins)
    return (
        out,
        templates,
        {"import": {"format": cfg.import_format, "path": str(cfg.import_path), **found.report()}},
    )


# --------------------------------------------------------------------------------------------- exports


def hf_data_files(folder: Path | None = None) -> dict[str, str]:
    """`datasets.load_dataset("json", data_files=hf_data_files())` loads the four splits."""
    return {s: str(split_path(s, folder)) for s in SPLITS}


def load_hf(folder: Path | None = None):  # noqa: ANN201 - datasets.DatasetDict, imported lazily
    try:
        import datasets
    except ImportError:
        raise ImportError("loading through Hugging Face needs `pip install datasets`") from None
    files = hf_data_files(folder)
    missing = [p for p in files.values() if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} does not exist: run `workbench synth` first")
    return datasets.load_dataset("json", data_files=files)
