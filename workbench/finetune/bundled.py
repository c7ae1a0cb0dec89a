"""The planner that ships with the workbench: small trained weights in the repository, so a first run plans.

Training the offline planner takes about an hour on a 2-core CPU; the quick profile (CI, `make reproduce`)
has minutes. So the repository carries one planner trained by the offline recipe (its model card,
`README.md` in its folder, gives size, recipe, data, seed and the command that rebuilds it), and the quick
profile fine-tunes *from* it (`base_model: bundled`), the way the paper fine-tunes from a released checkpoint.
Every model file is listed with its SHA-256 in `SHA256SUMS`: a damaged copy (or a Git LFS pointer) is an error,
never a silently different model.

    >>> sorted(p.name for p in BUNDLED_DIR.iterdir())[:2]
    ['README.md', 'SHA256SUMS']
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from workbench.files import fresh_tmp_dir, replace_dir

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "pretrained" / "tinyagent-planner-1m"
SUMS = "SHA256SUMS"
#: What a model folder must hold to be bundled (the card, README.md, is written by hand beside them).
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "workbench_decoding.json",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    """{file name: SHA-256} as `SHA256SUMS` lists them (the `sha256sum` format, so `sha256sum -c` checks it)."""
    lines = (folder / SUMS).read_text(encoding="utf-8").splitlines()
    return {name.lstrip("*"): digest for digest, name in (line.split(maxsplit=1) for line in lines if line)}


def bundled_planner(folder: Path = BUNDLED_DIR) -> Path:
    """The bundled planner's folder, once every file matches `SHA256SUMS`."""
    if not (folder / SUMS).exists():
        raise FileNotFoundError(
            f"no bundled planner at {folder} ({SUMS} is missing): restore it with `git checkout -- {folder}`"
        )
    for name, digest in checksums(folder).items():
        path = folder / name
        if not path.exists() or sha256(path) != digest:
            raise ValueError(
                f"the bundled planner's {name} does not match its checksum in {folder / SUMS} (a damaged copy, "
                f"or a Git LFS pointer): restore it with `git checkout -- {folder}`, or rebuild it as its "
                "README.md says"
            )
    return folder


def bundle(model_dir: Path, out: Path = BUNDLED_DIR) -> Path:
    """Copy a trained planner's folder into `out` (the model card, README.md, is kept) and write `SHA256SUMS`."""
    missing = [n for n in MODEL_FILES if not (model_dir / n).exists()]
    if missing:
        raise FileNotFoundError(f"{model_dir} lacks {missing}: give a folder written by `workbench finetune`")
    tmp = fresh_tmp_dir(out)
    tmp.mkdir()
    for name in MODEL_FILES:
        shutil.copy(model_dir / name, tmp / name)
    if (out / "README.md").exists():
        shutil.copy(out / "README.md", tmp / "README.md")
    sums = "".join(f"{sha256(tmp / n)}  {n}\n" for n in sorted(MODEL_FILES))  # the card is not a model file
    (tmp / SUMS).write_text(sums, encoding="utf-8")
    return replace_dir(tmp, out)
