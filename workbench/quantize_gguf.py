"""The GGUF rows of Table 2: the planner as TinyAgent ships it, a GGUF file run by llama.cpp (TinyAgent Sec. 6).

The quantization stage (`workbench.stages.quantize`) exports the planner it quantizes to GGUF F16 and makes
Q4_0 (4 bits, one float16 scale per 32 weights: the paper's "4-bit, group size 32") and Q4_K_M (what TinyAgent
ships) with llama.cpp's quantizer (`finetune.llamacpp`), into `<artifacts>/gguf/`. Each file is measured on
llama.cpp's own CPU kernels, one query at a time, with the planner's decoding mode (constrained decoding is the
plan grammar as GBNF in llama.cpp's sampler): size, bits per weight, the memory the engine adds, success on
test and ood, median and p95 planning latency over `gguf_latency_n` test queries, tokens per second.
With `gguf_qlora`, the Q4_0 file also gets QLoRA, as the MLX 4-bit model does: LoRA trained by peft on the
exactly dequantized Q4_0 weights (`build_gguf_qlora`), written as a llama.cpp LoRA file that llama.cpp applies
on top of the untouched 4-bit weights (row `gguf-q4_0-qlora`). `served_gguf_check` plans a few queries
through `python -m llama_cpp.server` with the `openai` client, the grammar sent in the request, and compares
them with the in-process plans.

    >>> files = build_gguf(Path("artifacts/planner/full"), Path("artifacts/gguf"))  # doctest: +SKIP
    >>> measure_gguf(cfg, "Q4_0", files["Q4_0"], splits, None, {"constrained": True}, Path("artifacts"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from workbench.aio import run_sync
from workbench.files import write_json_atomic
from workbench.finetune.evaluate import evaluate_splits
from workbench.finetune.llamacpp import (
    dequantize_gguf,
    export_gguf,
    export_gguf_lora,
    gguf_summary,
    quantize_gguf,
)
from workbench.llm.llamacpp import need_llama_cpp
from workbench.planner import NO_TOOL_PLAN, GGUFPlanner
from workbench.quantize import QuantizeConfig, _cached, _fingerprint, _stamp, lora_on_frozen
from workbench.serve import LlamaCppServer
from workbench.toolrag.selection import Selector

#: The GGUF rows, in Table 2's order: the float16 reference, the paper's 4-bit/g32 format, TinyAgent's release.
GGUF_ROWS = ("F16", "Q4_0", "Q4_K_M")


def gguf_available() -> bool:
    """True when llama-cpp-python and gguf import (the `.[gguf]` extra)."""
    try:
        import gguf  # noqa: F401
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def build_gguf(src: Path, out: Path) -> dict[str, Path]:
    """`out/planner-f16.gguf` exported from the model folder `src`, and each quantized file made from it; each
    step cached by the source's fingerprint."""
    stamp = {"source": _fingerprint(src), "rows": list(GGUF_ROWS)}
    files = {kind: out / f"planner-{kind.lower()}.gguf" for kind in GGUF_ROWS}
    if not (_cached(out, stamp) and all(f.exists() for f in files.values())):
        export_gguf(src, files["F16"], name="tinyagent-workbench planner")
        for kind in GGUF_ROWS[1:]:
            quantize_gguf(files["F16"], files[kind], kind)
        _stamp(out, stamp)
    return files


def build_gguf_qlora(
    cfg: QuantizeConfig, base: Path, source: Path, dataset: Path, out: Path
) -> tuple[Path, dict[str, Any]]:
    """QLoRA for the GGUF file `base` (Q4_0): peft LoRA (`cfg.qlora_*`, `cfg.train_records`) on its weights
    dequantized exactly (`dequantize_gguf`; `source` is the folder it was exported from), written as the
    llama.cpp LoRA file `out/<base>-qlora.gguf`. Cached by the base file and the settings; returns the
    adapter file and the training report."""
    work = out / f"{base.stem}-qlora"
    adapter = out / f"{base.stem}-qlora.gguf"
    stamp = {
        "base": hashlib.sha256(base.read_bytes()).hexdigest()[:16],
        "train": cfg.train_records,
        "val": cfg.val_records,
        "seed": cfg.seed,
        "lr": cfg.qlora_lr,
        "rank": cfg.qlora_rank,
        "scale": cfg.qlora_scale,
        "batch": cfg.qlora_batch_size,
        "epochs": cfg.qlora_epochs,
    }
    if not (_cached(work, stamp) and adapter.exists()):
        frozen = dequantize_gguf(base, source, work / "frozen")
        report = lora_on_frozen(cfg, frozen, work, dataset)
        export_gguf_lora(work / "adapter", frozen, adapter)
        write_json_atomic(work / "training.json", report)
        _stamp(work, stamp)
    return adapter, json.loads((work / "training.json").read_text(encoding="utf-8"))


def _rss_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")


def measure_gguf(
    cfg: QuantizeConfig,
    kind: str,
    path: Path,
    splits: dict[str, list[dict[str, Any]]],
    selected: dict[str, list[list[str]]] | None,
    decoding: dict[str, bool],
    root: Path,
    lora: Path | None = None,
    select: Selector | None = None,
) -> dict[str, Any]:
    """One GGUF row of Table 2 (keys as the MLX rows', where they mean the same); with `lora`, the file
    with that llama.cpp LoRA file applied (size and bits per weight then count the adapter's bytes too).
    `selected` are `select`'s tools per split; its count head gives the counts where `decoding` has
    `exact_counts`."""
    before = _rss_bytes()
    planner = GGUFPlanner.load(path, threads=cfg.gguf_threads, lora=lora, **decoding)
    planner.select = select
    summary = gguf_summary(path)
    extra = gguf_summary(lora) if lora else {"size_bytes": 0, "data_bytes": 0}
    data_bits = 8 * (summary["data_bytes"] + extra["data_bytes"])
    row: dict[str, Any] = {
        "row": f"gguf-{kind.lower()}" + ("-qlora" if lora else ""),
        "engine": "llama.cpp",
        "file": _shown(path, root),
        "adapter": _shown(lora, root) if lora else None,
        "adapter_bytes": extra["size_bytes"] if lora else None,
        "size_bytes": summary["size_bytes"] + extra["size_bytes"],
        "bits_per_weight": round(data_bits / summary["weights"], 3),
        "tensor_types": summary["tensor_types"],
        **decoding,
        "toolrag": bool(selected),
    }
    test = splits["test"][: cfg.gguf_latency_n]
    tools = selected["test"][: cfg.gguf_latency_n] if selected else None
    planner.plan([test[0]["query"]], [test[0]["today"]], tools=[tools[0]] if tools else None)  # warm-up
    planner.engine.stats.clear()
    times = []
    for i, r in enumerate(test):
        start = time.perf_counter()
        planner.plan([r["query"]], [r["today"]], tools=[tools[i]] if tools else None)
        times.append(time.perf_counter() - start)
    stats = planner.engine.stats
    row.update(
        {
            "latency_n": len(times),
            "median_latency_s": round(statistics.median(times), 4),
            "p95_latency_s": round(float(np.percentile(times, 95)), 4),
            "generation_tokens_per_s": round(statistics.median(s["generation_tps"] for s in stats), 1),
            "prompt_tokens_per_s": round(statistics.median(s["prompt_tps"] for s in stats), 1),
            "median_generated_tokens": statistics.median(s["generation_tokens"] for s in stats),
            "peak_memory_mb": round(max(_rss_bytes() - before, 0) / 2**20, 2),
        }
    )
    name = path.stem + ("-qlora" if lora else "")
    caches = {s: path.parent / "eval" / f"{name}.{s}.json" for s in splits}
    files = {"file": _file_id(path), **({"lora": _file_id(lora)} if lora else {})}
    results = evaluate_splits(planner, splits, selected, caches, files)
    for split, res in results.items():
        res.pop("preds", None)
        row.update({f"{k}_{split}": v for k, v in res.items()})
    planner.engine.close()
    return row


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _file_id(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{int(st.st_mtime)}"


def served_gguf_check(path: Path, recs: list[dict[str, Any]], planner: GGUFPlanner) -> dict[str, Any]:
    """Plan `recs` through `llama_cpp.server` with the `openai` client (the GBNF grammar of each query in the
    request body, where `planner` is constrained) and compare with `planner`'s in-process plans."""

    async def ask_all(server: LlamaCppServer) -> list[str]:
        out = []
        for r in recs:
            tools = planner.tools_for([r["query"]])[0]
            if not tools:  # ToolRAG selected none: the runtime answers with the no-tool plan, as in process
                out.append(NO_TOOL_PLAN)
                continue
            grammar = planner.grammar(tools, r["query"])
            # greedy as in process: the server's default repeat penalty (1.1) would change the plans
            llm = server.llm(extra_body={"repeat_penalty": 1.0, **({"grammar": grammar} if grammar else {})})
            try:
                done = await llm.complete(
                    planner.messages(r["query"], r["today"], tools),
                    max_tokens=planner.max_new_tokens,
                    temperature=0.0,
                )
            finally:
                await llm.aclose()  # in this event loop, not at garbage collection after it closed
            out.append(done.text.strip())
        return out

    start = time.perf_counter()
    with LlamaCppServer(path, max_tokens=planner.max_new_tokens) as server:
        ready = time.perf_counter() - start
        served = run_sync(ask_all(server))
    local = [p["plan"] for p in planner._decode([r["query"] for r in recs], [r["today"] for r in recs])]
    return {
        "served_n": len(recs),
        "served_same_as_in_process": sum(a == b for a, b in zip(served, local, strict=True)),
        "server_startup_s": round(ready, 2),
        "served_example": {"query": recs[0]["query"], "plan": served[0]},
    }


def device_gguf() -> str:
    """The machine and llama.cpp's build (the CPU features it uses)."""
    llama_cpp = need_llama_cpp()
    info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    return f"{platform.system()} {platform.machine()}, llama-cpp-python {llama_cpp.__version__}: {info}"
