"""The planner's base model: a hub checkpoint, or (offline) a small Llama pre-trained here from scratch.

TinyAgent fine-tunes off-the-shelf models (TinyLlama-1.1B, Wizard-2-7B). Where no weights can be downloaded,
the offline profile makes its own base: a byte-level BPE tokenizer and a Llama-architecture causal LM
pre-trained on *plan-free* text only, so that it knows the language of the queries but not the plan format,
as an off-the-shelf base does. The text is:

- user queries of the train split (never their plans, never val/test/ood);
- the tools' descriptions and rules (what a model would meet in documentation);
- restatements: a query quoted and then repeated, as prose or as a chat turn in the chat template (an
  off-the-shelf instruct model has seen its template); repetition is what teaches a small model to copy a
  span it has just read (induction), which plans need for names, titles and messages it never saw;
- calendar and clock prose ("Three weeks after Monday, 2024-06-10 is 2024-07-01.", "half past nine is
  09:30"), the world knowledge an off-the-shelf model brings to date arithmetic.

The result is saved as a normal Hugging Face folder (config, safetensors, tokenizer with a chat template),
so peft, the Trainer and mlx-lm load it like any checkpoint.

    >>> corpus = pretraining_corpus([{"query": "Text Ana that I'm late."}], seed=0, calendar=2)
    >>> len(corpus) > 16 and not any("join()" in text for text in corpus)
    True
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.files import fresh_tmp_dir, replace_dir
from workbench.tools.tinyagent import tinyagent_tools

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]


def tool_documentation() -> list[str]:
    """One paragraph per tool: signature, description and rules (as in a manual, no plans)."""
    out = []
    for spec in tinyagent_tools():
        params = "; ".join(
            f"{p.name} ({p.type}){': ' + p.description if p.description else ''}" for p in spec.params
        )
        rules = " ".join(spec.rules)
        out.append(
            f"The tool {spec.name} is part of {spec.app}. Signature: {spec.signature()}. {spec.description} "
            f"Parameters: {params}. {rules}"
        )
    return out


def _ordinal(n: int) -> str:
    return f"{n}" + ({1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(n, "th"))


def _clock(rng: random.Random) -> str:
    """A time of day said one way, and its 24-hour form."""
    hour, minute = rng.randrange(24), rng.choice([0, 0, 15, 30, 45, rng.randrange(60)])
    h12, ampm = hour % 12 or 12, "am" if hour < 12 else "pm"
    said = rng.choice(
        [
            f"{h12}:{minute:02d} {ampm}",
            f"{h12}:{minute:02d}{ampm}",
            f"{hour}h{minute:02d}",
            f"{hour:02d}:{minute:02d}",
            {
                0: f"{NUMBER_WORDS[h12]} o'clock",
                15: f"quarter past {NUMBER_WORDS[h12]}",
                30: f"half past {NUMBER_WORDS[h12]}",
                45: f"quarter to {NUMBER_WORDS[h12 % 12 + 1]}",
            }.get(minute, f"{h12}:{minute:02d} {ampm}"),
        ]
    )
    if (hour, minute) == (12, 0):
        said = rng.choice([said, "noon", "midday"])
    return f"{said.capitalize()} is {hour:02d}:{minute:02d}:00 on a 24-hour clock."


def _calendar(rng: random.Random) -> str:
    """A sentence of date arithmetic or date naming."""
    day = dt.date(2023, 1, 1) + dt.timedelta(rng.randrange(3 * 365))
    name = f"{WEEKDAYS[day.weekday()]}, {day.isoformat()}"
    kind = rng.randrange(5)
    if kind == 0:
        n = rng.randint(1, 12)
        return f"{NUMBER_WORDS[n].capitalize()} days after {name} is {(day + dt.timedelta(n)).isoformat()}."
    if kind == 1:
        n = rng.randint(1, 8)
        word = rng.choice([NUMBER_WORDS[n], str(n)])
        return f"{word.capitalize()} weeks after {name} is {(day + dt.timedelta(7 * n)).isoformat()}."
    if kind == 2:
        return (
            f"{day.isoformat()} is {WEEKDAYS[day.weekday()]}, the {_ordinal(day.day)} of "
            f"{MONTHS[day.month - 1]} {day.year}; it is also written {MONTHS[day.month - 1]} {day.day}, {day.year}."
        )
    if kind == 3 and rng.random() < 0.2:
        n = rng.randint(2, 99)
        return f"On {name} the tickets cost ${n} each, so [two, three] of them cost ${2 * n} and ${3 * n}."
    if kind == 3:
        wd = rng.randrange(7)
        ahead = (wd - day.weekday() - 1) % 7 + 1
        return f"The first {WEEKDAYS[wd]} after {name} is {(day + dt.timedelta(ahead)).isoformat()}."
    return _clock(rng)


CORPUS_VERSION = 2  # bump when the corpus recipe changes, so a saved base is not reused
RESTATE = [
    'The message was: "{q}" Once more: "{q}"',
    "Request: {q}\nRepeated: {q}",
    'You said "{q}" and I heard "{q}"',
    "Note to self: {q}\nCopy of the note: {q}",
    "<|user|>\n{q}<|end|>\n<|assistant|>\nYou asked: {q}<|end|>\n",
    '<|system|>\nRepeat the request.<|end|>\n<|user|>\n{q}<|end|>\n<|assistant|>\n"{q}"<|end|>\n',
]


def pretraining_corpus(
    records: Sequence[dict[str, Any]],
    seed: int = 0,
    calendar: int = 20_000,
    doc_repeats: int = 50,
    restate: float = 0.5,
) -> list[str]:
    """Plan-free documents: the records' queries (a `restate` fraction of them quoted twice), tool
    documentation and calendar prose, shuffled."""
    rng = random.Random(seed)
    docs = [r["query"] for r in records]
    docs += [rng.choice(RESTATE).format(q=r["query"]) for r in records if rng.random() < restate]
    docs += tool_documentation() * doc_repeats
    docs += [_calendar(rng) for _ in range(calendar)]
    rng.shuffle(docs)
    return docs


def small_llama(
    tokenizer: Any,
    hidden: int = 128,
    layers: int = 4,
    heads: int = 4,
    intermediate: int = 384,
    max_positions: int = 1024,
    seed: int = 0,
) -> Any:
    """A randomly initialized Llama sized for a CPU, tied input and output embeddings."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        rope_theta=10_000.0,
    )
    return LlamaForCausalLM(cfg)


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


class PackedBlocks:
    """Documents joined by the document separator and cut into equal blocks (a torch-style dataset)."""

    def __init__(self, tokenizer: Any, docs: Sequence[str], block: int = 128):
        ids: list[int] = []
        for enc in tokenizer(list(docs), add_special_tokens=False)["input_ids"]:
            ids.extend(enc)
            ids.append(tokenizer.bos_token_id)
        self.blocks = [ids[i : i + block] for i in range(0, len(ids) - block + 1, block)]
        self.tokens = len(self.blocks) * block

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return {"input_ids": self.blocks[i], "labels": self.blocks[i]}


def save_model(model: Any, tokenizer: Any, out_dir: Path) -> Path:
    """An HF folder written beside and then moved into place, so a crash never leaves half a model."""
    tmp = fresh_tmp_dir(out_dir)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    return replace_dir(tmp, out_dir)


# The prompt formats of base models whose tokenizer carries no chat template. TinyLlama-1.1B-32k-Instruct was tuned
# on Alpaca-style turns (its model card; independent TinyAgent reproductions found the planner needs them): the
# system prompt as the instruction, the user turn as the input, then the response.
ALPACA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}### Instruction:\n{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}### Input:\n{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'assistant' %}### Response:\n{{ m['content'] }}{{ eos_token }}\n\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}### Response:\n{% endif %}"
)
CHAT_TEMPLATES = {"Doctor-Shotgun/TinyLlama-1.1B-32k-Instruct": ALPACA_TEMPLATE}


def with_chat_template(tokenizer: Any, model_id: str) -> Any:
    """The tokenizer with a chat template: its own, else the one its base model was tuned with (`CHAT_TEMPLATES`),
    so that fine-tuning, evaluation and every engine after it (the template is saved with the tokenizer) format
    prompts the way the model learned them. A model with neither is an error naming what to do."""
    if tokenizer.chat_template:
        return tokenizer
    template = CHAT_TEMPLATES.get(model_id)
    if template is None:
        raise ValueError(
            f"{model_id}'s tokenizer has no chat template and its prompt format is not known here: add a "
            "`chat_template` to its tokenizer_config.json, or its format to workbench.finetune.base.CHAT_TEMPLATES"
        )
    tokenizer.chat_template = template
    return tokenizer


def load_model(path: str | Path, dtype: Any = None) -> tuple[Any, Any]:
    """A causal LM and its tokenizer from a folder (or a hub id when the hub is reachable); the tokenizer has a
    chat template (`with_chat_template`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = str(path)
    if not Path(path).exists() and ("/" not in path or path.startswith((".", "/"))):
        raise FileNotFoundError(
            f"no model at {path}: run `workbench finetune` first (it trains and saves one)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except OSError as e:  # not a folder here, and the hub is off or has no such model
        raise FileNotFoundError(
            f"cannot load a model from {path} ({str(e).splitlines()[0]}): give a model folder, "
            "a reachable hub id, or run `workbench finetune` first"
        ) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, with_chat_template(tokenizer, path)
