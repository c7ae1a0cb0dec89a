"""Fine-tuning on two processes (`accelerate launch`, gloo DDP on this CPU): one writer, sharded data, resumption,
and the same results file as a single process.

accelerate 1.15's `--cpu` launcher starts several processes only through mpirun, so the test launches with
`--multi_gpu --num_processes 2` (torchrun underneath); without CUDA both processes train on the CPU over gloo.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace

import psutil
import pytest
from conftest import synthesized_workbench

from workbench import config
from workbench.finetune import distributed
from workbench.finetune.settings import FinetuneConfig
from workbench.stages.finetune import run

FLAGS = {  # the quick profile, cut to a few steps and queries
    "train_records": 96,
    "val_records": 8,
    "eval_every": 1,
    "eval_val": 2,
    "eval_test": 2,
    "eval_ood": 2,
    "best_eval_test": 2,
    "eval_human_dev": 2,
    "latency_n": 1,
}


def _launch(root, *extra: str) -> subprocess.Popen:
    with socket.socket() as s:  # a free port for the processes' rendezvous (tests run side by side)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    flags = [x for k, v in FLAGS.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--main_process_port",
        str(port),
        "-m",
        "workbench",
        "finetune",
        "--profile",
        "quick",
        *flags,
        *extra,
    ]
    env = {
        **os.environ,
        **{f"WORKBENCH_{n}_DIR": str(root / n.lower()) for n in ("DATA", "FIGURES", "ARTIFACTS")},
    }
    env.pop("WB_QUICK", None)
    log = open(root / "launch.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    with synthesized_workbench(tmp_path_factory.mktemp("ddp"), train=300, val=40, test=20, ood=20) as root:
        yield root


def test_two_processes_train_once_resume_and_write_what_one_process_writes(data):
    root = data
    first = _launch(root)
    checkpoints = root / "artifacts" / "planner" / "full" / "checkpoints"
    deadline = time.monotonic() + 600
    while not any((c / "trainer_state.json").exists() for c in checkpoints.glob("checkpoint-*")):
        assert first.poll() is None, (root / "launch.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint after 10 minutes"
        time.sleep(0.2)
    # a crash mid-training, after the first checkpoint: every process of the run at once (torchrun starts its
    # workers in sessions of their own, so killing the launcher's group would leave them training)
    for p in [*psutil.Process(first.pid).children(recursive=True), psutil.Process(first.pid)]:
        p.send_signal(signal.SIGKILL)
    first.wait()
    psutil.wait_procs(psutil.Process().children(recursive=True), timeout=10)
    assert not (root / "artifacts" / "planner" / "full" / "model").exists()

    second = _launch(root)
    assert second.wait(timeout=900) == 0, (root / "launch.log").read_text()[-3000:]
    training = json.loads((root / "artifacts" / "planner" / "full" / "training.json").read_text())
    assert training["processes"] == 2 and training["resumed_from"].startswith("checkpoint-")
    # each process a shard: 96 records, 32 per process per step, 2 processes -> 2 steps (1 process: 3)
    assert training["steps"] == 2 and training["best_val_loss"] is not None
    ddp = json.loads((root / "data" / "results" / "planner.json").read_text())
    assert ddp["training_processes"] == 2

    # one process, the same settings, its own artifacts: the same results file, key for key
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_ARTIFACTS_DIR", str(root / "single"))
        mp.setenv("WORKBENCH_DATA_DIR", str(root / "data"))
        cfg = replace(config.stage_config(FinetuneConfig, "finetune", "quick"), **FLAGS)
        single = run(cfg)
    assert single["training_processes"] == 1 and single["training"]["full"]["steps"] == 3
    assert set(single) == set(ddp)
    assert [r["variant"] for r in single["rows"]] == [r["variant"] for r in ddp["rows"]]
    assert set(single["rows"][0]) == set(ddp["rows"][0])


def test_one_process_is_the_main_one():
    assert distributed.processes() == 1 and distributed.is_main() and not distributed.launched()
    with distributed.main_first():
        distributed.wait_for_everyone()


@pytest.mark.parametrize(("name", "kind"), [("multi_gpu", "MULTI_GPU"), ("fsdp", "FSDP")])
def test_the_shipped_accelerate_configs_load(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    path = config.PROFILES_DIR / "accelerate" / f"{name}.yaml"
    loaded = load_config_from_file(str(path))
    assert loaded.distributed_type.name == kind and loaded.mixed_precision == "bf16"
