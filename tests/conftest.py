"""Test set-up: a headless matplotlib and results/figures written to a temporary folder."""

import contextlib
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture
def tmp_workbench(tmp_path, monkeypatch):
    """Point data, figures and artifacts at a temporary folder for one test."""
    for name in ("DATA", "FIGURES", "ARTIFACTS"):
        monkeypatch.setenv(f"WORKBENCH_{name}_DIR", str(tmp_path / name.lower()))
    return tmp_path


@contextlib.contextmanager
def synthesized_workbench(root, **sizes):
    """A temporary workbench (data, figures, artifacts under `root`) holding a small synthesized dataset.

    For module-scoped fixtures: `with synthesized_workbench(tmp_path_factory.mktemp("x"), train=300) as root: yield root`.
    """
    from workbench.stages.synth import run as synth
    from workbench.synth.dataset import SynthConfig

    mp = pytest.MonkeyPatch()
    for name in ("DATA", "FIGURES", "ARTIFACTS"):
        mp.setenv(f"WORKBENCH_{name}_DIR", str(root / name.lower()))
    try:
        synth(SynthConfig(**{"report_sample": 10, **sizes}))
        yield root
    finally:
        mp.undo()
