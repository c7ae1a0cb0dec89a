"""Committed notebooks: numbered, clean of outputs, thin; and the runner behind `make reproduce`."""

import json

import nbformat
import pytest

from workbench import config
from workbench.notebooks import has_outputs, notebook_paths, strip_outputs

NOTEBOOKS = notebook_paths()


def test_there_are_numbered_notebooks():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"
    names = [p.name for p in (config.repo_root() / "notebooks").glob("*.ipynb")]
    assert sorted(names) == [p.name for p in NOTEBOOKS], "every notebook is named NN_verb_noun.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs(path):
    assert not has_outputs(path), f"{path.name} carries outputs: run `make clean-notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_code_cells_are_thin(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= 15, (
                f"{path.name}: a cell of >15 lines belongs in workbench/"
            )
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


def test_strip_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1")
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    cell.execution_count = 1
    nb.cells = [cell]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    assert has_outputs(path)
    assert strip_outputs(path) is True
    assert not has_outputs(path) and strip_outputs(path) is False
    assert "".join(json.loads(path.read_text())["cells"][0]["source"]) == "1 + 1"
