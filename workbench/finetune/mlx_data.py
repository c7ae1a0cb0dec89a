"""The TinyAgent dataset in mlx-lm's chat format, for `mlx_lm.lora --data FOLDER` (the paper's Apple-silicon path).

`export_mlx_chat(out_dir, dataset)` writes `train.jsonl`, `valid.jsonl` and `test.jsonl` of
`{"messages": [system, user, assistant]}`, with the fine-tuned planner's own prompts
(`finetune.mlx.export_chat_data`): the data flows forward from synthesis into fine-tuning, never back.

    >>> export_mlx_chat(config.dataset_dir() / "mlx", config.dataset_dir())  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from workbench.finetune.mlx import export_chat_data
from workbench.synth.dataset import load_split


def export_mlx_chat(out_dir: Path, dataset: Path) -> Path:
    """The train, val and test splits of the dataset folder `dataset` as mlx-lm chat files in `out_dir`."""
    return export_chat_data(
        out_dir,
        load_split("train", folder=dataset),
        load_split("val", folder=dataset),
        test=load_split("test", folder=dataset),
    )
