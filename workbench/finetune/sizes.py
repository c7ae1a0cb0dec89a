"""How fast a larger planner trains on this machine: the measurement behind "try a 5-20M model" (issue 16).

TinyAgent fine-tunes a pre-trained 1.1B model; the offline planner is a 1M-parameter Llama trained here. A
larger planner, or one that reuses the pre-trained all-MiniLM-L6-v2 encoder (22M parameters, the only
pre-trained English model available offline), may read people's phrasing better, but only if it can be
trained within the offline budget. `measure` times real training steps (forward, backward and an AdamW
update on batches of real training pairs) for each size, and turns the rate into how many training pairs
the budget buys: the number to hold against the pairs the 1M planner needed.

    >>> SIZES["5m"].hidden
    256
"""

from __future__ import annotations

import statistics
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from workbench.finetune import base
from workbench.finetune.prompts import IGNORE, PadCollator, build_examples
from workbench.toolrag.encoder import minilm_path


@dataclass(frozen=True)
class Size:
    """A planner architecture to time: a decoder-only Llama, or the MiniLM encoder with a small decoder."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    encoder: str = ""  # "minilm": all-MiniLM-L6-v2 encodes the query, a small BERT decoder writes the plan


SIZES = {
    "1m": Size(128, 4, 4, 384),  # the offline planner
    "5m": Size(256, 6, 4, 768),
    "20m": Size(512, 6, 8, 1536),
    "minilm": Size(256, 4, 4, 768, encoder="minilm"),
}


@dataclass
class PlannerSizesConfig:
    """`workbench finetune-sizes`: time training steps of planners of several sizes (`sizes.SIZES`)."""

    sizes: str = field(
        default="1m,5m,20m,minilm", metadata={"help": "comma-separated names from sizes.SIZES"}
    )
    records: int = field(default=256, metadata={"help": "training pairs tokenized into the timed batches"})
    batch_size: int = field(default=32, metadata={"help": "pairs per training step"})
    steps: int = field(default=3, metadata={"help": "timed steps per size (after one untimed warm-up step)"})
    budget_s: float = field(
        default=1800.0,
        metadata={"help": "seconds of planner training the offline budget leaves (60 min in all)"},
    )
    threads: int = field(default=2, metadata={"help": "torch CPU threads"})


def _llama_batches(size: Size, records: list[dict[str, Any]], tokenizer: Any, batch_size: int) -> tuple:
    model = base.small_llama(tokenizer, size.hidden, size.layers, size.heads, size.intermediate)
    examples = build_examples(tokenizer, records, kind="compact", order="grouped")
    collate = PadCollator(tokenizer.pad_token_id)
    return model, [collate(examples[i : i + batch_size]) for i in range(0, len(examples), batch_size)]


def _minilm_batches(size: Size, records: list[dict[str, Any]], batch_size: int) -> tuple:
    """MiniLM encodes the query; a BERT decoder with cross-attention writes the plan in MiniLM's vocabulary
    (uncased WordPiece: the plan's names lose their case, which grounded decoding would have to restore)."""
    from transformers import AutoModel, AutoTokenizer, BertConfig, BertLMHeadModel, EncoderDecoderModel

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    encoder = AutoModel.from_pretrained(minilm_path())
    decoder = BertLMHeadModel(
        BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=size.hidden,
            num_hidden_layers=size.layers,
            num_attention_heads=size.heads,
            intermediate_size=size.intermediate,
            is_decoder=True,
            add_cross_attention=True,
        )
    )
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    model.config.decoder_start_token_id = tokenizer.cls_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    batches = []
    for i in range(0, len(records), batch_size):
        chunk = records[i : i + batch_size]
        enc = tokenizer([r["query"] for r in chunk], padding=True, return_tensors="pt")
        dec = tokenizer(
            [r["plan"] for r in chunk], padding=True, truncation=True, max_length=512, return_tensors="pt"
        )
        labels = dec["input_ids"].masked_fill(dec["attention_mask"] == 0, IGNORE)
        batches.append({**enc, "labels": labels})
    return model, batches


def _tokens(batch: dict[str, Any], encoder: bool) -> int:
    """Tokens a step reads, padding left out: prompt and plan (decoder only), or query and plan (encoder)."""
    plan = int((batch["labels"] != IGNORE).sum()) if encoder else 0
    return int(batch["attention_mask"].sum()) + plan


def measure(cfg: PlannerSizesConfig, records: list[dict[str, Any]], tokenizer: Any) -> list[dict[str, Any]]:
    """One row per size: parameters, training tokens and pairs per second, and the pairs `cfg.budget_s` buys."""
    import torch

    torch.set_num_threads(cfg.threads)
    rows = []
    for name in [s.strip() for s in cfg.sizes.split(",") if s.strip()]:
        if name not in SIZES:
            raise ValueError(f"unknown planner size {name!r}: choose from {', '.join(SIZES)}")
        size = SIZES[name]
        torch.manual_seed(0)
        if size.encoder:
            model, batches = _minilm_batches(size, records, cfg.batch_size)
        else:
            model, batches = _llama_batches(size, records, tokenizer, cfg.batch_size)
        batches = [b for b in batches if len(b["labels"]) == cfg.batch_size]
        if len(batches) < cfg.steps + 1:
            raise ValueError(f"{len(records)} records give too few full batches: raise `records`")
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model.train()
        seconds, tokens = [], []
        for step, batch in enumerate(batches[: cfg.steps + 1]):
            t0 = time.perf_counter()
            with (
                warnings.catch_warnings()
            ):  # EncoderDecoderModel's note on how losses were computed before 4.12
                warnings.filterwarnings("ignore", "Version v4.12.0", FutureWarning)
                loss = model(**batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            if step:  # the first step warms up allocators and kernels
                seconds.append(time.perf_counter() - t0)
                tokens.append(_tokens(batch, bool(size.encoder)))
        step_s = statistics.median(seconds)
        pairs_per_s = cfg.batch_size / step_s
        rows.append(
            {
                "size": name,
                "architecture": "MiniLM encoder + BERT decoder" if size.encoder else "Llama (decoder only)",
                "parameters": sum(p.numel() for p in model.parameters()),
                "step_s": round(step_s, 3),
                "tokens_per_s": round(sum(tokens) / sum(seconds)),
                "pairs_per_s": round(pairs_per_s, 2),
                "pairs_in_budget": int(pairs_per_s * cfg.budget_s),
            }
        )
    return rows
