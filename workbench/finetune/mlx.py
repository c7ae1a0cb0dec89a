"""The MLX path of TinyAgent (Sec. 5-6): LoRA and QLoRA with mlx-lm, fusing, 4-bit conversion, and planning.

On Apple silicon this is the fast path; the Linux CPU build of mlx runs the same code slowly (reference BLAS,
and a 4-bit matmul much slower than a float one), so there the offline profile trains a few iterations only
and leaves the real training to the transformers path (`finetune.train`). Everything here reads and writes
ordinary folders: a Hugging Face model folder converts to MLX (`to_mlx`), an adapter folder is what
`mlx_lm.lora` writes (`adapters.safetensors` + `adapter_config.json`), and a fused folder loads anywhere.

    >>> to_mlx("artifacts/planner/full/model", "artifacts/mlx/q4g32", bits=4, group_size=32)  # doctest: +SKIP
    >>> MLXPlanner.load("artifacts/mlx/q4g32").plan(["Text Ana that I'm late"])  # doctest: +SKIP

(`workbench.planner.MLXPlanner` plans with an MLX model: the planner runtime, on mlx-lm.)
"""

from __future__ import annotations

import json
import random
import shutil
import time
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.files import fresh_tmp_dir, replace_dir, write_text_atomic
from workbench.finetune.base import with_chat_template
from workbench.finetune.prompts import ordered, planner_chat, target_plan, with_negatives
from workbench.finetune.settings import DECODING_FILE
from workbench.llm.local import model_folder_or_hub_id, need_mlx_lm

#: An adapter folder holds these two files (what `mlx_lm.lora` writes and `mlx_lm.load(adapter_path=)` reads).
ADAPTER_FILES = ("adapters.safetensors", "adapter_config.json")


def _replace_dir(tmp: Path, dst: Path, src: Path | None = None) -> Path:
    """Move a finished folder into place, so a folder at `dst` is always complete; the source model's
    decoding settings (`workbench_decoding.json`) travel with it."""
    if src is not None and (src / DECODING_FILE).exists():
        shutil.copy2(src / DECODING_FILE, tmp / DECODING_FILE)
    return replace_dir(tmp, dst)


# ----------------------------------------------------------------------------------------------- data


def chat_record(
    record: dict[str, Any], tools: Sequence[str], kind: str = "compact", order: str = "gold"
) -> dict[str, Any]:
    """One training pair in mlx-lm's chat format: the planner's chat, then the gold plan (in `order`, see
    `prompts.target_plan`) as the assistant turn."""
    chat = planner_chat(record["query"], record["today"], list(tools), kind)
    return {"messages": chat + [{"role": "assistant", "content": target_plan(record["plan"], order)}]}


def export_chat_data(
    folder: str | Path,
    train: Sequence[dict[str, Any]],
    valid: Sequence[dict[str, Any]],
    kind: str = "compact",
    seed: int = 0,
    negatives: bool = True,
    test: Sequence[dict[str, Any]] | None = None,
    order: str = "gold",
) -> Path:
    """Write `train.jsonl`, `valid.jsonl` (and `test.jsonl`) for `mlx_lm.lora --data FOLDER`, with the same
    prompts as `finetune.train`: each lists the query's tools plus random irrelevant ones."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    splits = (("train", train), ("valid", valid)) + ((("test", test),) if test is not None else ())
    for name, records in splits:
        lines = [
            json.dumps(
                chat_record(
                    r, with_negatives(r["tools"], rng) if negatives else ordered(r["tools"]), kind, order
                ),
                ensure_ascii=False,
            )
            + "\n"
            for r in records
        ]
        write_text_atomic(folder / f"{name}.jsonl", "".join(lines))
    return folder


# ------------------------------------------------------------------------------------ models and sizes


def to_mlx(
    src: str | Path, dst: str | Path, dtype: str = "float16", bits: int | None = None, group_size: int = 32
) -> Path:
    """Convert a Hugging Face model folder to MLX, quantized to `bits` (affine, `group_size`) when given.

    `dtype` is that of the unquantized weights and of the quantization scales and biases: float16 gives
    4 + 32/group_size bits per quantized weight (5 at group 32, the paper's setting; mlx-lm's default group is 64).
    """
    need_mlx_lm()
    from mlx_lm.convert import convert

    src, dst = model_folder_or_hub_id(src), Path(dst)
    tmp = fresh_tmp_dir(dst)
    convert(
        str(src),
        str(tmp),
        quantize=bits is not None,
        q_bits=bits,
        q_group_size=group_size if bits else None,
        dtype=dtype,
    )
    return _replace_dir(tmp, dst, src)


def dequantize(src: str | Path, dst: str | Path, dtype: str = "float32") -> Path:
    """A float copy of an MLX (quantized) folder: the same function, readable by transformers (`load_model`)."""
    need_mlx_lm()
    from mlx_lm.convert import convert

    src, dst = model_folder_or_hub_id(src), Path(dst)
    tmp = fresh_tmp_dir(dst)
    convert(str(src), str(tmp), dequantize=True, dtype=dtype)
    return _replace_dir(tmp, dst, src)


#: mlx-lm's learned 4-bit quantizers (`mlx_lm.quant`), beside round-to-nearest (`to_mlx(bits=4)`).
LEARNED_METHODS = ("gptq", "awq", "dwq")


def learned_quantize(
    src: str | Path,
    dst: str | Path,
    method: str,
    data_dir: str | Path,
    bits: int = 4,
    group_size: int = 32,
    samples: int = 128,
    seq_len: int = 256,
    dwq_lr: float = 1e-4,
    dwq_batch_size: int = 4,
    seed: int = 0,
) -> Path:
    """An MLX float model (`src`, from `to_mlx`) quantized to `bits`/`group_size` by mlx-lm's learned method
    `method` (`LEARNED_METHODS`), calibrated on our training chats (`data_dir/train.jsonl` and `valid.jsonl`, as
    `export_chat_data` writes them) instead of the calibration text mlx-lm's command lines download:

    - "gptq": each layer's rounding corrected column by column with the inverse Hessian of its inputs;
    - "awq": per-channel scales (and clipping) searched so that the salient input channels round well;
    - "dwq": round-to-nearest, then the scales and biases trained to match the float model's next-token
      distributions (distillation; `samples` chats, one pass).

    Every linear layer and the embedding get `bits` at `group_size`, as round-to-nearest gives them, so the
    rows differ only in how the codes, scales and biases were chosen.
    """
    need_mlx_lm()
    import copy

    import mlx.core as mx
    import mlx.optimizers as optimizers
    from mlx_lm import load
    from mlx_lm.utils import quantize_model, save

    if method not in LEARNED_METHODS:
        raise ValueError(f"learned quantization {method!r}: choose one of {', '.join(LEARNED_METHODS)}")
    src, dst, data_dir = model_folder_or_hub_id(src), Path(dst), Path(data_dir)
    mx.random.seed(seed)
    model, tokenizer, config = load(str(src), return_config=True)
    chats = _chat_tokens(tokenizer, data_dir / "train.jsonl", samples, seed)
    stream = mx.array([t for ids, _ in chats for t in ids])  # GPTQ, AWQ: the chats end to end, cut into rows
    rows = max(stream.size // seq_len, 1)
    data = stream[: rows * seq_len].reshape(rows, -1)
    if method == "gptq":
        from mlx_lm.quant.gptq import gptq_quantize

        model, config["quantization"] = gptq_quantize(model, data, bits, group_size, bits, group_size)
    elif method == "awq":
        from mlx_lm.quant.awq import AWQ_MODEL_CONFIGS, awq_quantize, update_config

        awq = AWQ_MODEL_CONFIGS[config["model_type"]]
        awq_quantize(
            model, data, awq, group_size=group_size, bits=bits, embed_group_size=group_size, embed_bits=bits
        )
        config = update_config(model, config)
    else:
        from mlx_lm.quant.dwq import dwq_quantize

        valid = _chat_tokens(tokenizer, data_dir / "valid.jsonl", max(samples // 8, dwq_batch_size), seed)
        q_model = copy.deepcopy(model)
        _, config = quantize_model(q_model, config, group_size=group_size, bits=bits)
        dwq_quantize(
            q_model,
            lambda batch, idx, split: model(batch),  # the float model's logits are the targets
            optimizers.Adam(learning_rate=dwq_lr, bias_correction=True),
            chats,
            valid,
            batch_size=dwq_batch_size,
            max_seq_length=max(len(ids) for ids, _ in chats),
            seed=seed,
            dtype=mx.float16,
        )
        model = q_model
    tmp = fresh_tmp_dir(dst)
    save(tmp, src, model, tokenizer, config)
    return _replace_dir(tmp, dst, src)


def _chat_tokens(tokenizer: Any, path: Path, n: int, seed: int) -> list[tuple[list[int], int]]:
    """`n` chats of an `export_chat_data` file (chosen with `seed`) as (token ids, prompt length), the pairs
    mlx-lm's trainers batch."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = random.Random(seed).sample(lines, min(n, len(lines)))
    out = []
    for line in lines:
        messages = json.loads(line)["messages"]
        ids = _ids(tokenizer.apply_chat_template(messages, tokenize=True))
        prompt = _ids(tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True))
        out.append((ids, len(prompt)))
    return out


def _count_lines(path: Path) -> int:
    return (
        sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        if path.exists()
        else 0
    )


def _ids(encoded: Any) -> list[int]:
    """Token ids from `apply_chat_template(tokenize=True)` (transformers 5 returns a BatchEncoding)."""
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def quantized_layers(model: Any) -> dict[str, tuple[int, int]]:
    """`{module name: (bits, group_size)}` for every quantized layer of an MLX model."""
    import mlx.nn as nn

    kinds = (nn.QuantizedLinear, nn.QuantizedEmbedding)
    return {name: (m.bits, m.group_size) for name, m in model.named_modules() if isinstance(m, kinds)}


def weights_bytes(folder: str | Path) -> int:
    """Bytes of the weight files in a model or adapter folder (what loading reads)."""
    return sum(p.stat().st_size for p in Path(folder).glob("*.safetensors"))


def bits_per_weight(model: Any) -> float:
    """Stored bits per model weight: quantized codes plus their scales and biases, float tensors as they are.

    A float16 model gives 16; 4-bit affine quantization with float16 scales and biases at group 32 gives
    4 + 32/32 = 5 on the quantized layers (norms stay float16).
    """
    from mlx.utils import tree_flatten

    return sum(p.nbytes * 8 for _, p in tree_flatten(model.parameters())) / _weight_count(model)


def _weight_count(model: Any) -> int:
    """Logical number of weights: a packed 4-bit matrix counts its unpacked entries."""
    from mlx.utils import tree_flatten

    params = dict(tree_flatten(model.parameters()))
    layers = quantized_layers(model)
    n = 0
    for name, p in params.items():
        owner, leaf = name.rsplit(".", 1) if "." in name else ("", name)
        if owner in layers:
            if leaf == "weight":
                n += p.size * 32 // layers[owner][0]  # uint32 words, each holding 32/bits codes
            continue  # scales and biases are overhead, not weights
        n += p.size
    return n


# ----------------------------------------------------------------------------------------- LoRA / QLoRA


def lora(
    model_dir: str | Path,
    data_dir: str | Path,
    adapter_dir: str | Path,
    *,
    iters: int,
    batch_size: int = 8,
    lr: float = 1e-3,
    rank: int = 8,
    scale: float = 2.0,
    dropout: float = 0.0,
    num_layers: int | None = None,
    steps_per_report: int = 5,
    steps_per_eval: int = 50,
    val_batches: int = 4,
    max_seq_length: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """LoRA with mlx-lm on `data_dir/{train,valid}.jsonl`; on a quantized model this is QLoRA.

    `max_seq_length` None is the longest chat in the data: mlx-lm cuts longer ones from the end, which would cut
    off the plan, the only part with a loss (the paper's full prompt runs to 4,096 tokens; mlx-lm's default is
    2,048). A batch is at most as large as the smaller of the two files (mlx-lm refuses a larger one).

    The same code `mlx_lm.lora --train` runs (`mlx_lm.lora.train_model`), with the loss on the assistant
    turn only (`mask_prompt`). Returns the loss curve, tokens/s and wall time; the adapter (and its config,
    which `mlx_lm.load(adapter_path=...)`, `fuse` and `mlx_lm.server --adapter-path` read) goes to `adapter_dir`.
    """
    need_mlx_lm()
    import mlx.core as mx
    import numpy as np
    from mlx_lm import load
    from mlx_lm.lora import CONFIG_DEFAULTS, train_model
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.tuner.datasets import load_local_dataset

    model_dir, data_dir = model_folder_or_hub_id(model_dir), Path(data_dir)
    if not (data_dir / "train.jsonl").exists():
        raise FileNotFoundError(f"{data_dir / 'train.jsonl'} is missing: write it with `export_chat_data`")
    model, tokenizer = load(str(model_dir))[:2]
    with_chat_template(tokenizer._tokenizer, str(model_dir))  # a base model without one: the format it knows
    layers = len(model.layers) if num_layers is None else num_layers
    sizes = {name: _count_lines(data_dir / f"{name}.jsonl") for name in ("train", "valid")}
    if batch_size > min(sizes.values()):
        print(f"mlx-lm LoRA: batch size {batch_size} -> {min(sizes.values())} (the data has {sizes} chats)")
        batch_size = min(sizes.values())
    if max_seq_length is None:
        chats = [
            c for name in sizes for c in _chat_tokens(tokenizer, data_dir / f"{name}.jsonl", sizes[name], 0)
        ]
        max_seq_length = max(len(ids) for ids, _ in chats)
    args = types.SimpleNamespace(
        **{
            **CONFIG_DEFAULTS,
            "model": str(model_dir),
            "train": True,
            "data": str(data_dir),
            "seed": seed,
            "num_layers": layers,
            "batch_size": batch_size,
            "iters": iters,
            "val_batches": val_batches,
            "learning_rate": lr,
            "steps_per_report": steps_per_report,
            "steps_per_eval": steps_per_eval,
            "adapter_path": str(adapter_dir),
            "save_every": max(iters, 1),
            "max_seq_length": max_seq_length,
            "lora_parameters": {"rank": rank, "scale": scale, "dropout": dropout},
            "mask_prompt": True,
        }
    )
    train_set, valid_set, _ = load_local_dataset(data_dir, tokenizer, args)

    class Curve(TrainingCallback):
        def __init__(self) -> None:
            self.train: list[dict[str, float]] = []
            self.val: list[dict[str, float]] = []

        def on_train_loss_report(self, info: dict) -> None:
            self.train.append({k: float(info[k]) for k in ("iteration", "train_loss", "tokens_per_second")})

        def on_val_loss_report(self, info: dict) -> None:
            self.val.append({"iteration": int(info["iteration"]), "val_loss": float(info["val_loss"])})

    curve = Curve()
    mx.reset_peak_memory()
    start = time.perf_counter()
    # mlx-lm's batch order draws from numpy's global generator, which only its CLI (`mlx_lm.lora.run`) seeds:
    # seeded here too, the same data gives the same curve whatever ran before in the process
    np.random.seed(seed)
    train_model(args, model, train_set, valid_set, curve)
    wall = time.perf_counter() - start
    return {
        "iters": iters,
        "batch_size": batch_size,
        "max_seq_length": max_seq_length,
        "lr": lr,
        "rank": rank,
        "scale": scale,
        "layers": layers,
        "quantized_base": bool(quantized_layers(model)),
        "train_curve": curve.train,
        "val_curve": curve.val,
        "tokens_per_s": round(sum(c["tokens_per_second"] for c in curve.train) / max(len(curve.train), 1), 1),
        "wall_s": round(wall, 1),
        "peak_memory_mb": round(mx.get_peak_memory() / 2**20, 1),
    }


def fuse(model_dir: str | Path, adapter_dir: str | Path, dst: str | Path, dequantize: bool = False) -> Path:
    """Merge a LoRA adapter into its model (what `mlx_lm.fuse` does) and save the result as a model folder.

    A quantized base stays quantized (the merged weights are quantized again with the same bits and group)
    unless `dequantize`, which gives the exact float function of base + adapter.
    """
    need_mlx_lm()
    from mlx.utils import tree_unflatten
    from mlx_lm.utils import dequantize_model, hf_repo_to_path, load, save

    model_dir, adapter_dir, dst = model_folder_or_hub_id(model_dir), Path(adapter_dir), Path(dst)
    missing = [f for f in ADAPTER_FILES if not (adapter_dir / f).exists()]
    if missing:
        raise FileNotFoundError(f"adapter folder {adapter_dir} lacks {missing}: train it with `lora` first")
    model, tokenizer, cfg = load(str(model_dir), adapter_path=str(adapter_dir), return_config=True)
    with_chat_template(
        tokenizer._tokenizer, str(model_dir)
    )  # saved with the model, as the adapter learned it
    fused = [(n, m.fuse(dequantize=dequantize)) for n, m in model.named_modules() if hasattr(m, "fuse")]
    model.update_modules(tree_unflatten(fused))
    if dequantize:
        model = dequantize_model(model)
        cfg.pop("quantization", None)
        cfg.pop("quantization_config", None)
    tmp = fresh_tmp_dir(dst)
    # a hub id as the source makes mlx-lm fetch the hub's model card, which fails offline even with the model in
    # the cache (from_pretrained caches no README): give it the cached snapshot's folder instead
    source = model_dir if model_dir.exists() else hf_repo_to_path(str(model_dir))
    save(tmp, str(source), model, tokenizer, cfg, donate_model=False)
    return _replace_dir(tmp, dst, source)


def peft_to_mlx_adapter(peft_dir: str | Path, dst: str | Path) -> Path:
    """A peft LoRA adapter of a Llama (`finetune.train`) as an mlx-lm adapter folder, to run on an MLX model.

    peft computes `W x + (alpha / r) B A x` with `A` (r, in) and `B` (out, r); mlx-lm computes
    `W x + scale (x a) b` with `a` (in, r) and `b` (r, out): so `a = A^T`, `b = B^T`, `scale = alpha / r`.
    """
    import re

    import numpy as np
    from safetensors.numpy import load_file, save_file

    peft_dir, dst = Path(peft_dir), Path(dst)
    meta = json.loads((peft_dir / "adapter_config.json").read_text(encoding="utf-8"))
    weights, layers, keys = {}, set(), set()
    for name, w in load_file(str(peft_dir / "adapter_model.safetensors")).items():
        m = re.fullmatch(r"base_model\.model\.(model\.layers\.(\d+)\.(.+))\.lora_([AB])\.weight", name)
        if m is None:
            raise ValueError(
                f"{peft_dir}: unexpected adapter tensor {name!r} (only Llama block linears convert)"
            )
        weights[f"{m.group(1)}.lora_{m.group(4).lower()}"] = np.ascontiguousarray(w.T.astype(np.float32))
        layers.add(int(m.group(2)))
        keys.add(m.group(3))
    dst.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(dst / "adapters.safetensors"))
    config = {
        "fine_tune_type": "lora",
        "num_layers": len(layers),
        "converted_from": "peft",
        "lora_parameters": {
            "rank": meta["r"],
            "scale": meta["lora_alpha"] / meta["r"],
            "dropout": 0.0,
            "keys": sorted(keys),
        },
    }
    (dst / "adapter_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return dst
