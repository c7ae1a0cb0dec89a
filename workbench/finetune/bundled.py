"""The planner that ships with the workbench: small trained weights in the repository, so a first run plans.

Training a planner takes hours on a 2-core CPU; the first run (`make reproduce`, the quick profile) has
minutes. So the repository carries one planner trained by the offline recipe and then on newer versions of
the generator (`RECIPE`; its model card, `README.md` in its folder, gives size, recipe, data, seed and the
command that rebuilds it, `make bundle-planner`), and the quick profile fine-tunes *from* it
(`base_model: bundled`), the way the paper fine-tunes from a released checkpoint.
Every model file is listed with its SHA-256 in `SHA256SUMS`: a damaged copy (or a Git LFS pointer) is an error,
never a silently different model.

    >>> sorted(p.name for p in BUNDLED_DIR.iterdir())[:2]
    ['README.md', 'SHA256SUMS']
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
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


# ----------------------------------------------------------------------------------------------- rebuild


@dataclass(frozen=True)
class Stage:
    """One stage of the bundled planner's recipe: the offline dataset as the generator at `commit` writes it
    (seed 0), and `workbench finetune` with `args` (after the first stage, from the previous stage's model)."""

    name: str
    commit: str  # the generator's commit; "HEAD": this checkout's
    args: tuple[str, ...]


_EVAL = "--eval-val 40 --eval-test 100 --eval-ood 50 --eval-human-dev 40 --latency-n 2"
_PASS = "--methods full --full-lr 5e-4 --full-epochs 1 --train-records 44000 --base-examples 0"
# 44,000 pairs drawn from all 80,000 records of the same data, at a lower rate
_MORE = "--methods full --full-lr 3e-4 --full-epochs 0.55 --train-records 80000 --base-examples 0"
# 32,000 pairs of a dataset half of whose queries are composed as people type them (`synth.everyday`)
_EVERYDAY = _PASS.replace("44000", "32000")
#: The recipe of the weights in BUNDLED_DIR, stage by stage (the model card says why there are eight). The
#: generator changed between the stages (a casual phrasing layer; "them" for the people of an earlier
#: request; meetings without a title; requests composed from parts as people type them; free text composed
#: from parts), and each stage trained on the data of its day.
RECIPE = (
    Stage("offline-recipe", "7ea91b2", tuple(f"--methods full {_EVAL}".split())),
    Stage("phrasing-layer", "02dc6c5", tuple(f"{_PASS} {_EVAL}".split())),
    Stage("them", "8f89eef", tuple(f"{_PASS} {_EVAL}".split())),
    Stage("them-more", "8f89eef", tuple(f"{_MORE} {_EVAL}".split())),
    Stage("untitled-meetings", "2d2d8e0", tuple(f"{_PASS.replace('5e-4', '3e-4')} {_EVAL}".split())),
    Stage("everyday", "7c88e88", tuple(f"{_EVERYDAY} {_EVAL}".split())),
    Stage("everyday-more-shapes", "2d16d77", tuple(f"{_EVERYDAY} {_EVAL}".split())),
    Stage("free-text", "9c100f9", tuple(f"{_EVERYDAY} {_EVAL}".split())),
)


def rebuild(out: Path, recipe: tuple[Stage, ...] = RECIPE, threads: int = 2) -> Path:
    """Run `recipe` in `out` (one folder per stage, each resumable: a finished stage is skipped) and bundle the
    last stage's model into BUNDLED_DIR. Each stage's dataset is written by the generator of its commit (a git
    worktree of this repository); training runs on this checkout's code. Hours on a 2-core CPU."""
    repo = BUNDLED_DIR.parent.parent.parent
    base: Path | None = None
    for stage in recipe:
        folder = (out / stage.name).resolve()
        env = {
            **os.environ,
            "WORKBENCH_DATA_DIR": str(folder / "data"),
            "WORKBENCH_ARTIFACTS_DIR": str(folder / "artifacts"),
            "WORKBENCH_FIGURES_DIR": str(folder / "figures"),
        }
        model = folder / "artifacts" / "planner" / "full" / "model"
        if not (model / "model.safetensors").exists():
            source = repo
            if stage.commit != "HEAD":
                source = (out / f"generator-{stage.commit}").resolve()
                if not source.exists():
                    _run(
                        ["git", "-C", str(repo), "worktree", "add", "--detach", str(source), stage.commit],
                        env,
                    )
            if not (folder / "data" / "tinyagent" / "test.jsonl").exists():
                _run([sys.executable, "-m", "workbench.cli", "synth", "--profile", "offline"],
                     {**env, "PYTHONPATH": str(source)}, cwd=source)  # fmt: skip
            args = [*stage.args, *(["--base-model", str(base)] if base else []), "--threads", str(threads)]
            _run(
                [sys.executable, "-m", "workbench.cli", "finetune", "--profile", "offline", *args],
                env,
                cwd=repo,
            )
        base = model
    assert base is not None, "an empty recipe"
    return bundle(base)


def _run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, env=env, cwd=cwd, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Rebuild the bundled planner by its recipe (`make bundle-planner`)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(".bundle-build"), help="the stages' folders (resumable)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for training")
    args = parser.parse_args(argv)
    print(f"bundled {rebuild(args.out, threads=args.threads)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
