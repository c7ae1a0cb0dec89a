"""Files: the one reader of a user's text file (`read_text`), and the atomic writes, the one place the
workbench writes a file or a folder that must never be seen half-written.

A user's file may be anything: a folder, Latin-1 or UTF-16 text, a binary. `read_text` turns each into an
error that names the file, the line and what to do, instead of a codec's "can't decode byte 0xe9 in
position 1234" (which names neither the file nor the line).

Every writer goes through a temporary name in the same folder and an `os.replace`, so a reader (or a run
killed in the middle) finds the old file, the new file, or nothing; never a partial one. A failed write
leaves no temporary file behind.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_jsonl_atomic(folder / "rows.jsonl", [{"query": "hi"}]).read_text()
    '{"query": "hi"}\\n'
    >>> read_text(folder / "rows.jsonl")
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

UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # also the start of UTF-32's


def read_text(path: str | Path, what: str = "") -> str:
    """The text of a user's UTF-8 file (a UTF-8 byte-order mark, which Windows editors write, dropped), or
    an error naming the file, the line and what is wrong: the file is missing or a folder (`what`: "gold"
    says "gold file x.jsonl does not exist"), not UTF-8 (the byte and where), or holds a NUL (a binary, or
    UTF-16 without a byte-order mark, which would otherwise decode as text with a NUL after every letter)."""
    p = Path(path)
    name = f"{what} file {path}" if what else str(path)
    if p.is_dir():
        raise IsADirectoryError(f"{name} is a directory; give a file")
    if not p.exists():
        raise FileNotFoundError(f"{name} does not exist")
    data = p.read_bytes()
    if data.startswith(UTF16_BOMS):
        raise ValueError(f"{path} is UTF-16 (it starts with a byte-order mark); save the file as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = _line_and_column(data, e.start)
        raise ValueError(
            f"{path}, line {line}: not UTF-8 (byte 0x{data[e.start]:02x} at byte {column} of the line); "
            "save the file as UTF-8"
        ) from None
    if "\x00" in text:
        line, _ = _line_and_column(data, data.index(b"\x00"))
        raise ValueError(
            f"{path}, line {line}: a NUL byte, so not UTF-8 text (a binary file, or UTF-16?); give a text file"
        )
    return text.removeprefix("\ufeff")


def _line_and_column(data: bytes, offset: int) -> tuple[int, int]:
    """Line and byte in the line (both from 1) of the byte at `offset`: a line ends at a newline only."""
    return data.count(b"\n", 0, offset) + 1, offset - data.rfind(b"\n", 0, offset)


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
