"""The fine-tuning settings (TinyAgent, Sec. 5): `FinetuneConfig`, which of them each cached model depends on,
and the decoding settings saved inside a trained model's folder (`workbench_decoding.json`), so that whoever
loads the model later prompts and decodes it the way it was trained.

    >>> grammar_limits(FinetuneConfig())
    {'max_steps': 20, 'max_str_len': 200, 'max_list_len': 8}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench import config

DECODING_FILE = "workbench_decoding.json"  # inside a model folder: how it was trained to be prompted


@dataclass
class FinetuneConfig:
    """The fine-tuning stage. Field help texts serve `--help` and notebooks (`config.describe`)."""

    base_model: str = field(
        default="offline",
        metadata={
            "help": "offline (pre-train a small Llama here), bundled (the planner in the repository), a model "
            "folder, or a hub id"
        },
    )
    vocab_size: int = field(
        default=1024, metadata={"help": "offline tokenizer: byte-level BPE size (+16 tool names)"}
    )
    hidden: int = field(default=128, metadata={"help": "offline base: hidden size"})
    layers: int = field(default=4, metadata={"help": "offline base: transformer layers"})
    heads: int = field(default=4, metadata={"help": "offline base: attention heads"})
    intermediate: int = field(default=384, metadata={"help": "offline base: MLP width"})
    calendar_docs: int = field(default=20_000, metadata={"help": "offline base: calendar/clock sentences"})
    restate: float = field(
        default=0.5, metadata={"help": "offline base: fraction of queries also quoted twice"}
    )
    pretrain_records: int | None = field(
        default=None, metadata={"help": "train queries pre-trained on (None: all)"}
    )
    pretrain_epochs: float = field(default=1.0, metadata={"help": "offline base: passes over the corpus"})
    pretrain_lr: float = field(default=3e-3, metadata={"help": "offline base: learning rate"})
    prompt: str = field(
        default="compact", metadata={"help": "compact (tool names) or full (LLMCompiler prompt)"}
    )
    plan_order: str = field(
        default="grouped",
        metadata={
            "help": "training targets' step order: gold (as synthesized, every lookup first) or grouped (each "
            "request's steps together; the same DAG)"
        },
    )
    train_examples: int = field(
        default=0,
        metadata={
            "help": "retrieved in-context examples in each training prompt (the paper's; 0 keeps CPU prompts short)"
        },
    )
    train_joiner: bool = field(
        default=False,
        metadata={
            "help": "also train on the dataset's joiner examples (joiner.jsonl, from `workbench synth --import "
            "tinyagent`): the paper's model plans and joins; without the file, nothing changes"
        },
    )
    train_records: int | None = field(default=24_000, metadata={"help": "training pairs used (None: all)"})
    val_records: int = field(default=300, metadata={"help": "val pairs for the best checkpoint"})
    batch_size: int = field(default=32, metadata={"help": "pairs per step"})
    eval_every: int = field(default=200, metadata={"help": "steps between val losses and checkpoints"})
    methods: list[str] = field(
        default_factory=lambda: ["lora", "full"], metadata={"help": "lora and/or full"}
    )
    lora_r: int = field(default=32, metadata={"help": "LoRA rank (all linear layers)"})
    lora_alpha: int = field(default=64, metadata={"help": "LoRA scale numerator"})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout"})
    lora_lr: float = field(default=2e-3, metadata={"help": "LoRA learning rate"})
    lora_epochs: float = field(default=1.0, metadata={"help": "LoRA: passes over the training pairs"})
    full_lr: float = field(default=1e-3, metadata={"help": "full fine-tuning learning rate"})
    full_epochs: float = field(
        default=1.0, metadata={"help": "full fine-tuning: passes over the training pairs"}
    )
    max_length: int = field(default=1024, metadata={"help": "longer training pairs are dropped"})
    eval_val: int = field(
        default=200, metadata={"help": "val records evaluated (the best variant is chosen on val)"}
    )
    eval_test: int | None = field(default=1000, metadata={"help": "test records evaluated (None: all)"})
    eval_ood: int | None = field(default=1000, metadata={"help": "ood records evaluated (None: all)"})
    best_eval_test: int = field(
        default=0,
        metadata={
            "help": "test records the best variant (chosen on val) plans once more, for its test success and "
            "failure breakdown (0: its eval_test records are enough)"
        },
    )
    eval_human_dev: int | None = field(
        default=None,
        metadata={
            "help": "hand-written dev queries (data/human/dev.jsonl) the best variant plans (None: all)"
        },
    )
    base_examples: int = field(
        default=2, metadata={"help": "retrieved in-context examples for the base model"}
    )
    latency_n: int = field(default=30, metadata={"help": "test queries timed one at a time per variant"})
    eval_batch_size: int = field(default=64, metadata={"help": "queries decoded together in evaluation"})
    max_new_tokens: int = field(default=320, metadata={"help": "generation budget per plan"})
    grammar_max_steps: int = field(default=20, metadata={"help": "constrained decoding: most tool steps"})
    grammar_max_str_len: int = field(default=200, metadata={"help": "constrained decoding: longest string"})
    grammar_max_list_len: int = field(default=8, metadata={"help": "constrained decoding: longest list"})
    seed: int = field(default=0, metadata={"help": "sampling, shuffling and initialization seed"})
    precision: str = field(
        default="auto",
        metadata={
            "help": "training arithmetic: bf16 (autocast, ~1.5x faster on a CPU with AVX512-BF16), fp32, or auto"
        },
    )
    threads: int = field(
        default_factory=config.default_threads,
        metadata={"help": "torch CPU threads (default: WORKBENCH_THREADS or 2)"},
    )
    progress: bool = field(default=True, metadata={"help": "progress bars"})


# The settings each cached model depends on: a saved model trained with others is retrained, not reused.
BASE_FIELDS = (
    "base_model",
    "vocab_size",
    "hidden",
    "layers",
    "heads",
    "intermediate",
    "calendar_docs",
    "restate",
    "pretrain_records",
    "pretrain_epochs",
    "pretrain_lr",
    "precision",
    "seed",
)
TUNE_FIELDS = (
    "prompt",
    "plan_order",
    "train_examples",
    "train_joiner",
    "train_records",
    "val_records",
    "batch_size",
    "eval_every",
    "max_length",
    "precision",
    "seed",
)
METHOD_FIELDS = {
    "lora": ("lora_r", "lora_alpha", "lora_dropout", "lora_lr", "lora_epochs"),
    "full": ("full_lr", "full_epochs"),
}


def decoding_settings(cfg: FinetuneConfig) -> dict[str, Any]:
    """What `DECODING_FILE` holds: the prompt kind, step order, examples, budget and grammar limits."""
    return {
        "prompt": cfg.prompt,
        "plan_order": cfg.plan_order,
        "examples": cfg.train_examples,
        "max_length": cfg.max_length,  # the longest prompt + plan it was trained on (QLoRA later keeps to it)
        "max_new_tokens": cfg.max_new_tokens,
        "grammar_limits": grammar_limits(cfg),
    }


def grammar_limits(cfg: FinetuneConfig) -> dict[str, int]:
    return {
        "max_steps": cfg.grammar_max_steps,
        "max_str_len": cfg.grammar_max_str_len,
        "max_list_len": cfg.grammar_max_list_len,
    }
