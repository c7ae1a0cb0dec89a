"""JSONL files: the one reader of a user's JSONL file (`read_jsonl`), and append-only stores that survive a kill at any moment (the LLM teacher's output, benchmark runs).

A user's file (`read_jsonl`) may be anything: each line must be a JSON object whose fields of the workbench's
vocabulary (`FIELDS`: query, plan, today) are well formed, or the error names the file and the line. Lines end
at "\\n" only, as JSON writes them.

A record of a store is on disk once its line, newline included, has been written and fsynced. A process
killed while writing leaves at most one torn last line: readers skip it with a `StoreWarning`, and
`open_for_append` cuts it off before appending, so a resumed run neither loses an accepted record nor writes
a duplicate. A bad line anywhere else is real damage and raises `ValueError` naming the line.

    out_records, out = open_for_append(path)      # existing records, and the file ready to extend
    append(out, {"id": "x-1", ...})               # one line, fsynced
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from workbench.files import read_text


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


def read_jsonl(path: str | Path, what: str = "input", required: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The records of a user's JSONL file (see `read_jsonl_numbered`), without their line numbers."""
    return [record for _, record in read_jsonl_numbered(path, what, required)]


def read_jsonl_numbered(
    path: str | Path, what: str = "input", required: Sequence[str] = ()
) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for every line of a user's file, each a JSON object (blank lines skipped) whose
    `required` fields are present and whose fields of `FIELDS` are well formed; otherwise an error naming the
    file and line. (A store of records written by the workbench is read with `read_records`.)

    Lines end at "\\n" only: `str.splitlines` would also split at U+2028, U+2029 or U+0085, which JSON
    writes unescaped inside a string (`json.dumps(..., ensure_ascii=False)`, as `workbench predict` does).

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "q.jsonl"
        >>> _ = path.write_text('\\n{"query": "a\\u2028b"}', encoding="utf-8")
        >>> read_jsonl_numbered(path)
        [(2, {'query': 'a\\u2028b'})]
    """
    out = []
    for i, line in enumerate(read_text(path, what).split("\n"), 1):
        if line.strip(" \t\r"):  # JSON's whitespace; a line of other blanks is not JSON
            out.append((i, _record(line, required, f"{path}, line {i}")))
    return out


#: The fields of the workbench's records (a query, its plan, the date it is asked on), as a user's file must
#: give them: checked wherever they appear, so that a wrong one is an error naming its line rather than an
#: "unhashable type" in a dictionary or a tokenizer's crash far from the file.
FIELDS = {
    "query": "a non-empty string",
    "plan": "a string",
    "today": "a date written YYYY-MM-DD (e.g. 2024-06-12)",
}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_KINDS = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}


def _record(line: str, required: Sequence[str], where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not JSON ({e.msg}); write one JSON object per line") from None
    except ValueError as e:  # a number of thousands of digits
        raise ValueError(
            f"{where}: not JSON ({str(e).split(':')[0]}); write one JSON object per line"
        ) from None
    except RecursionError:
        raise ValueError(
            f"{where}: nested too deeply to read (lists or objects inside each other thousands of levels "
            "down); write one flat JSON object per line"
        ) from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: a JSON object is expected, not {_kind(record)}")
    missing = [k for k in required if k not in record]
    if missing:
        raise ValueError(
            f"{where}: needs " + " and ".join(f'a "{k}" ({FIELDS.get(k, "any value")})' for k in missing)
        )
    for name in (k for k in FIELDS if k in record):
        problem = field_problem(name, record[name])
        if problem:
            raise ValueError(f"{where}: {problem}")
    return record


def field_problem(name: str, value: Any) -> str | None:
    """What is wrong with `value` as the field `name` of `FIELDS` (None: nothing).

    >>> field_problem("query", ["Text Ana"])
    '"query" must be a non-empty string, not a list'
    """
    if not (isinstance(value, str) and _WELL_FORMED[name](value)):
        return f'"{name}" must be {FIELDS[name]}, not {_kind(value)}'
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:  # "\\ud800" is valid JSON but no character: nothing can encode it
        return (
            f'"{name}" holds a lone surrogate (\\u{ord(value[e.start]):04x}), half of a UTF-16 pair and no '
            "character; write the character itself"
        )
    return None


def _is_date(text: str) -> bool:
    if not _ISO_DATE.fullmatch(text):  # fromisoformat alone also takes 20240612 and 2024-W24-3
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:  # 2024-02-30
        return False
    return True


_WELL_FORMED = {"query": lambda text: bool(text.strip()), "plan": lambda text: True, "today": _is_date}


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    return "null" if value is None else _KINDS.get(type(value), type(value).__name__)
