"""Every numbered notebook runs, top to bottom and in order, through `make reproduce`'s runner, in the smoke
profile: every stage's code at the smallest sizes (`workbench/profiles/smoke.yaml`; the quick profile is the
first run a user makes, and takes longer).

Each notebook reads what the ones before it wrote, so they run in order, in one process. `make test` runs this
file as a pytest run of its own beside the unit tests, at a lower CPU priority, with one torch thread (two threads
per kernel beside two busy workers once made notebook 04's training cell run past its 15-minute limit).
The notebooks write to folders of their own.
"""

import pytest
from conftest import workbench_dirs

from workbench.notebooks import notebook_paths, run_notebooks

NOTEBOOKS = notebook_paths()


@pytest.fixture(scope="module")
def notebook_workbench(tmp_path_factory):
    # run_notebooks sets the profile variables too; these restore them afterwards
    env = {"WB_QUICK": "0", "WORKBENCH_PROFILE": "smoke", "OMP_NUM_THREADS": "1", "WORKBENCH_THREADS": "1"}
    with workbench_dirs(tmp_path_factory.mktemp("notebooks"), **env) as root:
        yield root


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, notebook_workbench):
    report = run_notebooks("smoke", pattern=path.name, timeout_s=900)
    assert [r["notebook"] for r in report] == [path.name]
    assert (notebook_workbench / "artifacts" / "executed" / path.name).exists()
