"""Running and cleaning the numbered notebooks (`make reproduce`, `make clean-notebooks`).

`run_notebooks` executes `notebooks/NN_*.ipynb` in order in a fresh kernel each, with the profile in the
environment (`WB_QUICK=1` for quick, `WORKBENCH_PROFILE` always). The committed notebooks stay free of
outputs: executed copies go to `<artifacts>/executed/` for reading.

    $ python -m workbench.notebooks strip notebooks/*.ipynb

nbformat and nbclient are imported where they are used: nbformat's schema validation takes seconds to import,
which every `workbench` command (the CLI imports this module) would otherwise pay.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from workbench import config


def notebook_paths(pattern: str = "") -> list[Path]:
    """The numbered notebooks in order, optionally only those whose name contains `pattern`."""
    folder = config.repo_root() / "notebooks"
    paths = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in paths if pattern in p.name]


def has_outputs(path: Path) -> bool:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def strip_outputs(path: Path) -> bool:
    """Remove outputs and execution counts in place; True if the file changed."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count):
            cell.outputs, cell.execution_count, changed = [], None, True
    if changed:
        nbformat.write(nb, path)
    return changed


def run_notebooks(profile: str | None = None, pattern: str = "", timeout_s: int | None = 1800) -> list[dict]:
    """Execute the notebooks in order; stops at the first failure, naming the notebook and the cell.

    `timeout_s` limits each cell; the offline profile allows 2 hours (pre-training, two fine-tunings and
    the evaluation of every variant run in one cell), the paper profile has none (its LLM teacher alone runs
    for hours).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm import tqdm

    profile = config.active_profile(profile)
    if profile == "paper":
        timeout_s = None
    elif profile == "offline" and timeout_s is not None:
        timeout_s = max(timeout_s, 7200)
    os.environ["WORKBENCH_PROFILE"] = profile
    if profile == "quick":
        os.environ["WB_QUICK"] = "1"
    else:
        os.environ.pop("WB_QUICK", None)
    out_dir = config.artifacts_dir() / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = notebook_paths(pattern)
    if not paths:
        raise FileNotFoundError(f"no notebooks matching {pattern!r} in {config.repo_root() / 'notebooks'}")
    report = []
    for path in tqdm(paths, desc=f"notebooks ({profile})", unit="nb"):
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        start = time.perf_counter()
        try:
            client.execute()
        except CellExecutionError as e:
            nbformat.write(nb, out_dir / path.name)
            raise RuntimeError(f"{path.name} failed (executed copy: {out_dir / path.name}):\n{e}") from None
        nbformat.write(nb, out_dir / path.name)
        report.append({"notebook": path.name, "wall_s": round(time.perf_counter() - start, 1)})
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "strip":
        print("usage: python -m workbench.notebooks strip NOTEBOOK...", file=sys.stderr)
        return 2
    for p in args[1:]:
        if strip_outputs(Path(p)):
            print(f"stripped {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
