"""Every numbered notebook runs, top to bottom and in order, through `make reproduce`'s runner, in the smoke
profile: every stage's code at the smallest sizes (`workbench/profiles/smoke.yaml`; the quick profile is the
first run a user makes, and takes longer).

Each notebook reads what the ones before it wrote, so they run in order, in one process: `make test` runs this
file alone after the unit tests. (Beside them, on a second pytest-xdist worker, the three processes fought for two
cores and notebook 04's training cell ran past its 15-minute limit.) The notebooks write to folders of their own.
"""

import pytest
from conftest import workbench_dirs

from workbench.notebooks import notebook_paths, run_notebooks

NOTEBOOKS = notebook_paths()


@pytest.fixture(scope="module")
def notebook_workbench(tmp_path_factory):
    # run_notebooks sets the profile variables too; these restore them afterwards. Alone, the kernels use both
    # cores (conftest gives each xdist worker one torch thread).
    env = {"WB_QUICK": "0", "WORKBENCH_PROFILE": "smoke", "OMP_NUM_THREADS": "2", "WORKBENCH_THREADS": "2"}
    with workbench_dirs(tmp_path_factory.mktemp("notebooks"), **env) as root:
        yield root


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, notebook_workbench):
    report = run_notebooks("smoke", pattern=path.name, timeout_s=900)
    assert [r["notebook"] for r in report] == [path.name]
    assert (notebook_workbench / "artifacts" / "executed" / path.name).exists()
