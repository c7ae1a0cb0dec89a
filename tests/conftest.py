"""Test set-up: a headless matplotlib and results/figures written to a temporary folder."""

import contextlib
import os

os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers share two cores: one torch thread each (set before torch is imported). With two threads each,
    # the fine-tuning fixture of test_finetune.py took 798 s; with one (and half the evaluated queries), 110 s.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("WORKBENCH_THREADS", "1")

import pytest  # noqa: E402


@pytest.fixture
def tmp_workbench(tmp_path, monkeypatch):
    """Point data, figures and artifacts at a temporary folder for one test."""
    for name in ("DATA", "FIGURES", "ARTIFACTS"):
        monkeypatch.setenv(f"WORKBENCH_{name}_DIR", str(tmp_path / name.lower()))
    return tmp_path


@contextlib.contextmanager
def workbench_dirs(root, **env):
    """Data, figures and artifacts under `root` (and any other variables in `env`) until the block ends.

    For module-scoped fixtures, which cannot take the function-scoped `monkeypatch`.
    """
    mp = pytest.MonkeyPatch()
    for name in ("DATA", "FIGURES", "ARTIFACTS"):
        mp.setenv(f"WORKBENCH_{name}_DIR", str(root / name.lower()))
    for key, value in env.items():
        mp.setenv(key, value)
    try:
        yield root
    finally:
        mp.undo()


@contextlib.contextmanager
def synthesized_workbench(root, **sizes):
    """A temporary workbench (data, figures, artifacts under `root`) holding a small synthesized dataset.

    For module-scoped fixtures: `with synthesized_workbench(tmp_path_factory.mktemp("x"), train=300) as root: yield root`.
    """
    from workbench.stages.synth import run as synth
    from workbench.synth.dataset import SynthConfig

    with workbench_dirs(root):
        synth(SynthConfig(**{"report_sample": 10, **sizes}))
        yield root
