"""The three LLMCompiler benchmarks (Kim et al. 2023, Sec. 5.1-5.2): HotpotQA comparison, Movie, ParallelQA.

The question files are public in the LLMCompiler repository. They are never committed here; a file is
found, in this order:

1. `WORKBENCH_DATASETS_MIRROR`, when set: `<mirror>/llmcompiler/<file>` or `<mirror>/<file>`. A mirror is
   an explicit promise of offline work, so a file missing from it is an error, never a download.
2. the cache, `<data_dir>/cache/llmcompiler/<file>`;
3. the public URL, downloaded once into the cache (through a temporary file and a rename, so a cut
   download never leaves a file that a later run would trust).

    >>> sorted(BENCHMARKS)
    ['hotpotqa', 'movie', 'parallelqa']
    >>> BENCHMARKS["parallelqa"].expected_count
    113
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import config

BASE_URL = "https://raw.githubusercontent.com/SqueezeAILab/LLMCompiler/main/datasets/"
MIRROR_ENV = "WORKBENCH_DATASETS_MIRROR"
CORE_FIELDS = ("id", "question", "answer")


@dataclass(frozen=True)
class Benchmark:
    """Where one benchmark's file lives and what each of its items must hold besides id/question/answer."""

    name: str
    file: str
    expected_count: int
    extra_fields: tuple[str, ...] = ()


BENCHMARKS: dict[str, Benchmark] = {
    "hotpotqa": Benchmark("hotpotqa", "hotpotqa_comparison.json", 1487, ("level",)),
    "movie": Benchmark("movie", "movie_recommendations_formatted.json", 500),
    "parallelqa": Benchmark("parallelqa", "parallelqa_dataset.json", 113, ("branch",)),
}


@dataclass(frozen=True)
class Example:
    """One question; `extra` keeps the item's other fields (HotpotQA's `level`, ParallelQA's `branch`)."""

    id: str
    question: str
    answer: str
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


class DatasetError(RuntimeError):
    """A benchmark file that cannot be found, fetched or read; the message says what to do."""


def cache_dir() -> Path:
    return config.data_dir() / "cache" / "llmcompiler"


def load_benchmark(
    name: str, limit: int | None = None, *, base_url: str = BASE_URL, timeout: float = 30.0
) -> list[Example]:
    """The examples of benchmark `name` in file order; the first `limit` of them when given."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    bench = _benchmark(name)
    path = benchmark_path(name, base_url=base_url, timeout=timeout)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        hint = "; delete it to download it again" if path.parent == cache_dir() else ""
        raise DatasetError(f"{path} is not valid JSON ({exc}){hint}") from exc
    examples = parse_examples(raw, bench, source=str(path))
    return examples if limit is None else examples[:limit]


def benchmark_path(name: str, *, base_url: str = BASE_URL, timeout: float = 30.0) -> Path:
    """The local file of benchmark `name`; downloaded into the cache if neither mirror nor cache has it."""
    bench = _benchmark(name)
    mirror = config.datasets_mirror()
    if mirror is not None:
        candidates = [mirror / "llmcompiler" / bench.file, mirror / bench.file]
        for path in candidates:
            if path.is_file():
                return path
        tried = " or ".join(str(p) for p in candidates)
        raise DatasetError(
            f"{MIRROR_ENV} is set but {tried} does not exist; add the file from "
            f"{base_url}{bench.file} or unset {MIRROR_ENV} to use the cache and network"
        )
    cached = cache_dir() / bench.file
    if cached.is_file():
        return cached
    return _download(base_url + bench.file, cached, bench, timeout)


def _benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}") from None


def _download(url: str, dest: Path, bench: Benchmark, timeout: float) -> Path:
    """Fetch `url`, check its shape, then move it into place: the cache only ever holds whole, valid files."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DatasetError(
            f"could not download benchmark {bench.name!r} from {url} ({reason}). If this machine is offline, "
            f"set {MIRROR_ENV} to a folder holding llmcompiler/{bench.file} (or {bench.file}), "
            f"or copy the file to {dest}"
        ) from exc
    try:
        parse_examples(json.loads(body.decode("utf-8")), bench, source=url)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{url} did not return JSON ({exc}); nothing was cached") from exc
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def parse_examples(raw: Any, bench: Benchmark, source: str = "<data>") -> list[Example]:
    """Check the item shapes (a list of objects with string id/question/answer) and build `Example`s.

    Ids may be JSON numbers (turned into strings); answers must be strings, as in the released files, so
    that a mangled file is noticed rather than scored. Ids must be unique: results are keyed by them.
    """
    if not isinstance(raw, list):
        raise DatasetError(f"{source}: expected a JSON list of questions, got {type(raw).__name__}")
    examples: list[Example] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"{source}: item {i}"
        if not isinstance(item, dict):
            raise DatasetError(f"{where} is {type(item).__name__}, expected an object")
        missing = [k for k in (*CORE_FIELDS, *bench.extra_fields) if k not in item]
        if missing:
            raise DatasetError(f"{where} lacks field(s) {missing}; it has {sorted(item)}")
        item_id = item["id"]
        if isinstance(item_id, int) and not isinstance(item_id, bool):
            item_id = str(item_id)
        for key, value in (("id", item_id), ("question", item["question"]), ("answer", item["answer"])):
            if not isinstance(value, str) or not value.strip():
                raise DatasetError(f"{where}: {key} must be a non-empty string, got {value!r}")
        if item_id in seen:
            raise DatasetError(f"{where}: id {item_id!r} appears twice")
        seen.add(item_id)
        extra = {k: v for k, v in item.items() if k not in CORE_FIELDS}
        examples.append(Example(item_id, item["question"], item["answer"], extra))
    return examples
