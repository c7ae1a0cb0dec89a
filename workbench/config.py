"""Paths and profiles, defined once.

Every stage reads its paths from here and passes them down to the library, so that one environment variable
moves them all:

    WORKBENCH_DATA_DIR       datasets and results          (default: <repo>/data)
    WORKBENCH_FIGURES_DIR    figures and tables            (default: <repo>/figures)
    WORKBENCH_ARTIFACTS_DIR  weights, adapters, checkpoints (default: <repo>/artifacts, ignored by git)
    WORKBENCH_DATASETS_MIRROR  a folder that replaces the network for public benchmark files

The small profiles (`SMALL_PROFILES`: quick, the first run; smoke, the smallest run of every code path, which
`make test` uses) work with the default folders in a corner of their own (`data/quick`, `figures/quick`,
`artifacts/quick`; `data/smoke`, ...; all ignored by git), so that they never overwrite the measured results of
a full run, and always use the scripted LLM. A folder given by environment variable is used as it is.

A profile (`smoke`, `quick`, `offline`, `paper`, `paper-rehearsal`) is a small commented YAML file in `workbench/profiles/`; each stage
reads its own section into a typed dataclass with `stage_config`. The active profile is chosen by, in order:
an explicit name, `WB_QUICK=1` (quick; `make test` sets it for the unit tests), `WORKBENCH_PROFILE`, then `quick`.

    >>> from workbench import config
    >>> config.results_path("synthesis").name
    'synthesis.json'
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml

from workbench.files import write_json_atomic

PROFILES = ("smoke", "quick", "offline", "paper", "paper-rehearsal")
SMALL_PROFILES = ("smoke", "quick")  # a corner of their own, and the scripted LLM
OWN_CORNER = (*SMALL_PROFILES, "paper-rehearsal")  # default folders of their own (`data/<profile>`, ...)


def default_threads() -> int:
    """torch CPU threads for training and decoding: `WORKBENCH_THREADS`, else 2 (this project's machines).

    Processes that share the cores (pytest-xdist workers, two runs at once) set it to 1: tiny models decode several
    times slower when their threads outnumber the cores.
    """
    value = os.environ.get("WORKBENCH_THREADS", "2")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"WORKBENCH_THREADS={value!r}: set a positive whole number of threads, e.g. 1 or 2")
    return int(value)


PROFILES_DIR = Path(__file__).parent / "profiles"


def repo_root() -> Path:
    """The checkout this package lives in (editable install), else the current directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def _dir(env: str, default: str) -> Path:
    value = os.environ.get(env)
    if value:
        return Path(value).expanduser()
    base = repo_root() / default
    profile = active_profile()
    return base / profile if profile in OWN_CORNER else base


def data_dir() -> Path:
    return _dir("WORKBENCH_DATA_DIR", "data")


def figures_dir() -> Path:
    return _dir("WORKBENCH_FIGURES_DIR", "figures")


def artifacts_dir() -> Path:
    return _dir("WORKBENCH_ARTIFACTS_DIR", "artifacts")


def dataset_dir() -> Path:
    """The TinyAgent dataset: `<data>/tinyagent/{train,val,test,ood}.jsonl`."""
    return data_dir() / "tinyagent"


def planner_dir() -> Path:
    """The planner's models: `<artifacts>/planner/{base,lora,full}/`, `best.json`, `tokenizer.json`."""
    return artifacts_dir() / "planner"


def toolrag_dir() -> Path:
    """ToolRAG: `<artifacts>/toolrag/classifier/` and the embedding cache `<artifacts>/toolrag/cache/`."""
    return artifacts_dir() / "toolrag"


def mlx_dir() -> Path:
    """The MLX models of the planner: `<artifacts>/mlx/{float16,q4g32,qlora_adapter,...}/`."""
    return artifacts_dir() / "mlx"


def shown_path(path: str | Path) -> str:
    """A path as results show it: relative to the artifacts folder when inside it (results name no machine paths)."""
    try:
        return str(Path(path).resolve().relative_to(artifacts_dir().resolve()))
    except ValueError:
        return str(path)


def results_dir() -> Path:
    return data_dir() / "results"


def results_path(stage: str) -> Path:
    return results_dir() / f"{stage}.json"


def datasets_mirror() -> Path | None:
    value = os.environ.get("WORKBENCH_DATASETS_MIRROR")
    return Path(value).expanduser() if value else None


def figure_path(name: str) -> Path:
    """Where the figure or table `name` (with its extension) is written; creates the folder."""
    figures_dir().mkdir(parents=True, exist_ok=True)
    return figures_dir() / name


# --------------------------------------------------------------------------------------------- profiles


def active_profile(name: str | None = None) -> str:
    """Resolve the profile name (see the module docstring for the order)."""
    if name is None:
        if os.environ.get("WB_QUICK", "") not in ("", "0"):
            name = "quick"
        else:
            name = os.environ.get("WORKBENCH_PROFILE") or "quick"
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
    return name


def load_profile(name: str | None = None) -> dict[str, Any]:
    """The profile file as a dict of stage sections (empty sections are `{}`).

    A profile may start with `inherits: <profile>`: it then holds only what it changes, section by section
    (`paper-rehearsal` is `paper` with the counts shrunk).
    """
    name = active_profile(name)
    with open(PROFILES_DIR / f"{name}.yaml", encoding="utf-8") as f:
        raw = yaml.safe_load(f) or {}
    parent = raw.pop("inherits", None)
    own = {stage: (section or {}) for stage, section in raw.items()}
    if parent is None:
        return own
    merged = load_profile(parent)
    for stage, section in own.items():
        merged[stage] = {**merged.get(stage, {}), **section}
    return merged


C = TypeVar("C")


def stage_config(cls: type[C], stage: str, profile: str | None = None, **overrides: Any) -> C:
    """Build the dataclass `cls` from its defaults, the profile's `stage` section, then `overrides`.

    Unknown keys are an error (a typo in a profile must not pass silently).
    """
    values = dict(load_profile(profile).get(stage, {}))
    values.update(overrides)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(
            f"unknown setting(s) {unknown} for stage {stage!r}; {cls.__name__} has: {sorted(names)}"
        )
    return cls(**values)


def describe(cls: type) -> str:
    """One line per field: name, default and help string (for `--help` texts and notebooks)."""
    lines = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        lines.append(f"{f.name} = {default!r}: {f.metadata.get('help', '')}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- results


def save_results(stage: str, results: dict[str, Any]) -> Path:
    """Write `data/results/<stage>.json` (a flat dict of measured figures) atomically."""
    return write_json_atomic(results_path(stage), results)


def load_results(stage: str) -> dict[str, Any]:
    path = results_path(stage)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `workbench {stage}` (or its notebook) first")
    return json.loads(path.read_text(encoding="utf-8"))
