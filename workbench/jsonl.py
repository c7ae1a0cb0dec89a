"""JSONL files: the one reader of a user's JSONL file (`read_jsonl`), and append-only stores that survive a kill at any moment (the LLM teacher's output, benchmark runs).

A record is on disk once its line, newline included, has been written and fsynced. A process killed while
writing leaves at most one torn last line: readers skip it with a `StoreWarning`, and `open_for_append` cuts it
off before appending, so a resumed run neither loses an accepted record nor writes a duplicate. A bad line
anywhere else is real damage and raises `ValueError` naming the line.

    out_records, out = open_for_append(path)      # existing records, and the file ready to extend
    append(out, {"id": "x-1", ...})               # one line, fsynced
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any


class StoreWarning(UserWarning):
    """A repaired store: a torn last line was skipped, or an id was stored twice."""


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(
            f"the store {path} is a directory; give a file path such as {path / 'run.jsonl'}"
        )


def _record_or_none(raw: bytes, required: Sequence[str], where: str) -> dict[str, Any] | None:
    """The record, or None for bytes that are not JSON (torn); JSON of the wrong shape is damage, not a tear."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not (isinstance(record, dict) and all(isinstance(record.get(k), str) for k in required)):
        raise ValueError(
            f"{where}: a JSON line without {', '.join(required)} (as text); the store is damaged"
        )
    return record


def parse(data: bytes, path: Path, required: Sequence[str] = ("id",)) -> tuple[list[dict[str, Any]], int]:
    """(records, length in bytes of the good prefix): anything after the prefix is a torn last line."""
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    lines = data.split(b"\n")
    last = max((i for i, raw in enumerate(lines) if raw.strip()), default=-1)
    offset = 0  # where line i starts
    for i, raw in enumerate(lines):
        if raw.strip():
            record = _record_or_none(raw, required, f"{path}:{i + 1}")
            if record is None and i == last:
                warnings.warn(
                    f"{path}: line {i + 1} is not a complete record (the run was probably killed while "
                    "writing it); it is ignored",
                    StoreWarning,
                    stacklevel=3,
                )
                return records, offset
            if record is None:
                raise ValueError(
                    f"{path}:{i + 1}: not a JSON record with {', '.join(required)}; the store is "
                    "damaged (only a torn last line is repaired automatically)"
                )
            if record["id"] in seen:
                warnings.warn(
                    f"{path}: id {record['id']!r} is stored twice; the first record is kept",
                    StoreWarning,
                    stacklevel=3,
                )
            else:
                seen.add(record["id"])
                records.append(record)
        offset += len(raw) + 1
    return records, len(data)


def read_records(path: str | Path, required: Sequence[str] = ("id",)) -> list[dict[str, Any]]:
    """The whole records of a store, in file order (no file: none)."""
    path = Path(path)
    _check_path(path)
    return parse(path.read_bytes(), path, required)[0] if path.exists() else []


def open_for_append(
    path: str | Path, required: Sequence[str] = ("id",)
) -> tuple[list[dict[str, Any]], IO[str]]:
    """Read the stored records, cut off a torn last line (fsynced), and open the file to append."""
    path = Path(path)
    _check_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = path.read_bytes() if path.exists() else b""
    records, good = parse(data, path, required)
    if good < len(data):
        with open(path, "r+b") as f:
            f.truncate(good)
            f.flush()
            os.fsync(f.fileno())
    out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    if good and not data[:good].endswith(b"\n"):
        out.write("\n")  # a whole record whose newline was lost
    return records, out


def append(out: IO[str], record: dict[str, Any]) -> None:
    """One line, flushed and fsynced before anything else happens: a kill afterwards cannot lose it."""
    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()
    os.fsync(out.fileno())


def read_jsonl(path: str | Path, what: str = "input") -> list[dict[str, Any]]:
    """Every line of a user's file a JSON object (blank lines skipped); a clear error names the file and
    line otherwise. (A store of records written by the workbench is read with `read_records`.)"""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    out = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{path}, line {i}: not JSON ({e.msg}); write one JSON object per line"
            ) from None
        if not isinstance(row, dict):
            raise ValueError(f'{path}, line {i}: a JSON object with a "query" is expected')
        out.append(row)
    return out
