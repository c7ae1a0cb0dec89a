"""Every numbered notebook runs, top to bottom and in order, through `make reproduce`'s runner (quick profile).

Each notebook reads what the ones before it wrote, so they run in order, in one process: `make test` runs this
file alone after the unit tests. (Beside them, on a second pytest-xdist worker, the three processes fought for two
cores and notebook 04's training cell ran past its 15-minute limit.) The notebooks write to folders of their own.
"""

import pytest

from workbench.notebooks import notebook_paths, run_notebooks

NOTEBOOKS = notebook_paths()


@pytest.fixture(scope="module")
def notebook_workbench(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebooks")
    mp = pytest.MonkeyPatch()
    for name in ("DATA", "FIGURES", "ARTIFACTS"):
        mp.setenv(f"WORKBENCH_{name}_DIR", str(root / name.lower()))
    mp.setenv("WB_QUICK", "1")  # run_notebooks sets these too; the monkeypatch restores them afterwards
    mp.setenv("WORKBENCH_PROFILE", "quick")
    # Alone, the kernels use both cores (conftest gives each xdist worker one torch thread).
    mp.setenv("OMP_NUM_THREADS", "2")
    mp.setenv("WORKBENCH_THREADS", "2")
    yield root
    mp.undo()


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, notebook_workbench):
    report = run_notebooks("quick", pattern=path.name, timeout_s=900)
    assert [r["notebook"] for r in report] == [path.name]
    assert (notebook_workbench / "artifacts" / "executed" / path.name).exists()
