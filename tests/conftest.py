"""Test set-up: a headless matplotlib and results/figures written to a temporary folder."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture
def tmp_workbench(tmp_path, monkeypatch):
    """Point data, figures and artifacts at a temporary folder for one test."""
    for name in ("DATA", "FIGURES", "ARTIFACTS"):
        monkeypatch.setenv(f"WORKBENCH_{name}_DIR", str(tmp_path / name.lower()))
    return tmp_path
