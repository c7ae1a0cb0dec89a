"""Atomic writes: the one place the workbench writes a file or a folder that must never be seen half-written.

Every writer goes through a temporary name in the same folder and an `os.replace`, so a reader (or a run
killed in the middle) finds the old file, the new file, or nothing; never a partial one. A failed write
leaves no temporary file behind.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_jsonl_atomic(folder / "rows.jsonl", [{"query": "hi"}]).read_text()
    '{"query": "hi"}\\n'
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented, key-sorted JSON, atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write one JSON object per line, atomically."""
    return write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def replace_dir(tmp: str | Path, dst: str | Path) -> Path:
    """Move the finished folder `tmp` into place at `dst` (replacing an old one), so that a folder at `dst`
    is always complete: a run killed before this call leaves only `tmp`, which the next run overwrites."""
    tmp, dst = Path(tmp), Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return dst


def fresh_tmp_dir(dst: str | Path) -> Path:
    """An empty `<dst>.tmp` folder to build `dst` in (a leftover of a killed run is removed first)."""
    tmp = Path(dst).with_name(Path(dst).name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    return tmp
