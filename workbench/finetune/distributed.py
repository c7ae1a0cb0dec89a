"""Fine-tuning on more than one process (`accelerate launch`: DDP, FSDP or DeepSpeed): who writes, and who waits.

The Trainer already does the distributed part of training under `accelerate launch`: each process takes its shard
of every batch (a distributed sampler), gradients are averaged, and checkpoints are saved by the main process. What
is ours to guard is everything around it: the stage's own files (a trained model's folder, `training.json`, the
cache markers, `planner.json`) are written by the main process only, the others wait for them at a barrier, and
evaluation (greedy decoding, one query at a time) runs once, on the main process. accelerate's `PartialState`
is the one source of truth for the rank: it reads what `accelerate launch` (or torchrun) set, and is a
single process otherwise. On a CPU, `accelerate launch --cpu --num_processes N` (accelerate 1.15) starts *one*
process, because its CPU launcher spreads processes only through mpirun; `--multi_gpu --num_processes N` starts N
through torchrun, and without CUDA they train on the CPU over gloo (`single_process_note` says so at run time).

    accelerate launch --multi_gpu --num_processes 2 -m workbench finetune --profile quick   # gloo DDP on a CPU
    accelerate launch --config_file workbench/profiles/accelerate/multi_gpu.yaml -m workbench finetune --profile paper

    >>> processes(), is_main()
    (1, True)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any


def launched() -> bool:
    """True under a launcher that starts several processes (`accelerate launch`, torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@cache
def _state() -> Any:
    """accelerate's process state; on a machine without CUDA it must be told so (`cpu=True`), or it takes the
    launcher's ranks for a single process. The Trainer makes the same object (a shared singleton) with its
    `use_cpu` argument, so this agrees with it."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def single_process_note() -> str | None:
    """What to say when `accelerate launch --cpu --num_processes N` gave this stage one process: accelerate's
    `--cpu` launcher starts several only through mpirun."""
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() == "true" and not launched():
        return (
            "note: `accelerate launch --cpu` started one process (its CPU launcher spreads processes only through "
            "mpirun); for N gloo processes on a CPU use `accelerate launch --multi_gpu --num_processes N` (torchrun "
            "underneath; without CUDA the processes use gloo) or `torchrun --nproc_per_node N -m workbench ...`"
        )
    return None


def processes() -> int:
    return _state().num_processes if launched() else 1


def is_main() -> bool:
    return _state().is_main_process if launched() else True


def wait_for_everyone() -> None:
    """A barrier across the processes (nothing to wait for in a single process)."""
    if launched():
        _state().wait_for_everyone()


@contextmanager
def main_first() -> Iterator[None]:
    """The main process runs the block first (it writes a cache or a file), then the others (they read it)."""
    if not launched():
        yield
        return
    with _state().main_process_first():
        yield
