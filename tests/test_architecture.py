"""The house rules of `workbench/` that a reader relies on (issue 20; STYLE.md 13 and 16).

The layers and the absence of import cycles are checked by import-linter (`lint-imports`, run by `make test`,
contracts in pyproject.toml); these tests check what it does not."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"


def _function_imports(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """Workbench imports inside functions: `file:line: import` for each."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(node):
                names = (
                    [sub.module or ""]
                    if isinstance(sub, ast.ImportFrom)
                    else [a.name for a in sub.names]
                    if isinstance(sub, ast.Import)
                    else []
                )
                if any(n == "workbench" or n.startswith("workbench.") for n in names):
                    out.append(f"{path.relative_to(root)}:{sub.lineno}: {ast.unparse(sub)}")
    return out


def test_workbench_modules_are_imported_at_the_top():
    """Imports inside functions hide the import graph from a reader: only heavy optional libraries (torch,
    transformers, mlx, llama.cpp) may be imported late, never a workbench module."""
    late = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _function_imports(path)]
    assert late == [], "move these imports to the top of their modules:\n" + "\n".join(late)


def test_the_check_sees_a_late_import(tmp_path):
    sample = tmp_path / "late.py"
    sample.write_text("def f():\n    from workbench import config\n    return config\n")
    assert _function_imports(sample, tmp_path) == ["late.py:2: from workbench import config"]


def test_one_call_of_each_decoding_engine():
    """Decoding is written once per engine: `model.generate` and `mlx_lm.stream_generate` are called in one
    place each (`llm/local.py`), llama.cpp's `Llama.generate` in one (`llm/llamacpp.py`), and the planner
    runtime, the agent and the explorer go through them."""
    calls = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name.endswith((".generate", "stream_generate")) and name != "self.generate":
                    calls.setdefault(name, []).append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    lines = {path: line for path, line in (c.split(":") for c in calls.get("self.network.generate", []))}
    assert calls == {
        "self.network.generate": [
            f"llm/llamacpp.py:{lines.get('llm/llamacpp.py')}",
            f"llm/local.py:{lines.get('llm/local.py')}",
        ],
        "stream_generate": ["llm/local.py:" + calls["stream_generate"][0].split(":")[1]],
    }, calls
