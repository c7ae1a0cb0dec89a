"""Grammar-constrained decoding of plans: the plan language of LLMCompiler (Kim et al. 2023, Sec. 3.1) as
TinyAgent's planner writes it (Erdogan et al. 2024, Sec. 2). Constraining the decoder is our addition; neither
paper does it.

A 1B planner that is mostly right still writes an occasional plan the executor cannot run: a tool that is
not offered, a missing argument, `"$4"` at step 3, prose after the plan. `plan_grammar` writes the plan
language for one tool set as a Lark grammar, and llguidance masks, token by token, every token that would
leave it (for llama.cpp, `dialect="gbnf"` writes the same grammar in GBNF, which llama.cpp's sampler applies
itself; `LlamaCppLLM.with_grammar`). Every constrained plan that ends within the token budget then parses and validates (`max_plan_bytes`
is a budget that always suffices; `close_cut_plan` closes one that does not end); the model only chooses among
valid plans.

    >>> print(plan_grammar([ToolSpec("get_phone_number", (Param("name"),), "")], max_steps=2).splitlines()[-1])
    step2: ("get_phone_number(" str2 ")") "\\n" "3. " JOIN

The grammar fixes what `render_args` writes: steps `1.`, `2.`, ... in order, one per line; each argument a
literal of its parameter's type (a double-quoted string, a list of them, True/False, a number, None where
the parameter is optional) or a reference `"$j"` to an earlier step j < k; arguments separated by `", "`;
and a last line `N. join()<END_OF_PLAN>`. Strings and lists are bounded so that any sampler terminates.
Plain strings exclude `$` (a `$5` inside a string is a reference, see `workbench.plan`), `<` (the text
`<END_OF_PLAN>` inside a string would end the plan) and control characters; the escapes `\\"` and `\\\\`
are allowed.

`PlanLogitsProcessor` applies one grammar per batch row inside Hugging Face `model.generate`;
`mlx_logits_processor` does the same for mlx-lm. `grammar_accepts` checks a text without a model.
`close_cut_plan` closes a plan that the token budget cut off, so that it too parses.
"""

from __future__ import annotations

import json
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import llguidance
import llguidance.hf
import llguidance.numpy as llnp
import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList, PreTrainedTokenizerFast

from workbench.plan import END_OF_PLAN, JOIN
from workbench.tools.spec import Param, ToolSpec

# A plain string: any character but `"`, `\`, `$`, `<` and control characters, or the escapes \" and \\.
_CHAR = r'([^"\\$<\x00-\x1f\x7f]|\\["\\])'


# ------------------------------------------------------------------------------------------- grammar


def plan_grammar(
    specs: Sequence[ToolSpec],
    max_steps: int = 20,
    max_str_len: int = 200,
    max_list_len: int = 8,
    spans: Sequence[str] | None = None,
    dialect: str = "lark",
    require: Sequence[str] = (),
    counts: Mapping[str, int] | None = None,
) -> str:
    """A grammar for plans of 1..`max_steps` tool steps over `specs`, then join: Lark (llguidance's dialect,
    for transformers and mlx-lm) or, with `dialect="gbnf"`, llama.cpp's GBNF, the same language rule for rule.

    `max_steps` defaults to 20 because gold plans have up to 17 tool steps (train); a plan may call a
    tool more than once. Rule `stepK` is step K: `"$j"` is only allowed there for j < K.
    With `spans` (grounded decoding, `query_spans(query)`), a grounded parameter (a person, file, place or
    note the user names) takes one of those spans, a reference, or, where optional, "" or None.
    With `require` (tool names), the plan calls each of those tools at least once before it may join
    (`_covering_steps`). With `counts` (tool name -> calls), the plan calls exactly those tools, each exactly
    that many times, in any order, and then joins (`_counted_grammar`).
    """
    if dialect not in _DIALECTS:
        raise ValueError(f"grammar dialect {dialect!r}: use 'lark' (llguidance) or 'gbnf' (llama.cpp)")
    if not specs:
        raise ValueError("a plan grammar needs at least one tool")
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    for spec in specs:
        if not spec.name.isidentifier() or spec.name == JOIN:
            raise ValueError(f"{spec.name!r} cannot be a tool name in a plan")
    d = _DIALECTS[dialect]
    specs = list({s.name: s for s in specs}.values())  # the same tool twice is offered once
    if counts is not None:
        if sum(counts.values()) > max_steps:
            raise ValueError(f"counts {dict(counts)} call more tools than a plan's {max_steps} steps")
        return _counted_grammar(specs, counts, max_str_len, max_list_len, spans, d)
    required = [spec for spec in specs if spec.name in set(require)]
    if len(required) > max_steps:
        raise ValueError(f"{len(required)} required tools cannot all be called in {max_steps} steps")
    lines = [
        f"{d.comment} plans over {len(specs)} tools, 1..{max_steps} tool steps, then join",
        f'{d.start}{d.defines} "1. " ' + ("step1m0" if required else "step1"),
        *_values(max_steps, max_str_len, max_list_len, spans, d),
    ]
    grounded = any(line.startswith("SPAN") for line in lines)
    if required:
        others = [spec for spec in specs if spec not in required]
        return "\n".join(lines + _covering_steps(required, others, max_steps, grounded, d))
    for k in range(1, max_steps + 1):
        calls = " | ".join(_call(spec, k, grounded) for spec in specs)
        tail = f'"{k + 1}. " (JOIN | step{k + 1})' if k < max_steps else f'"{k + 1}. " JOIN'
        lines.append(f'step{k}{d.defines} ({calls}) "\\n" {tail}')
    return "\n".join(lines)


def _values(
    max_steps: int, max_str_len: int, max_list_len: int, spans: Sequence[str] | None, d: _Dialect
) -> list[str]:
    """The rules of the values a step writes: strings, numbers, the query's spans (grounded decoding) and,
    for step K, `strK` and `listK` (strings that may be references to steps 1..K-1)."""
    lines = [
        f"STRING{d.defines} {d.string(max_str_len)}",
        f"INT{d.defines} {d.int}",
        f"NUMBER{d.defines} {d.number}",
        f'BOOL{d.defines} "True" | "False"',
        f'NONE{d.defines} "None"',
        f'JOIN{d.defines} "{JOIN}(){END_OF_PLAN}"',
    ]
    spans = [v for v in dict.fromkeys(spans or ()) if v and _plain(v) and len(v) <= max_str_len]
    if spans:  # a literal of the argument as a plan writes it (`plan._render_value`): JSON twice
        lines.append(
            f"SPAN{d.defines} "
            + " | ".join(json.dumps(json.dumps(v, ensure_ascii=False), ensure_ascii=False) for v in spans)
        )
        lines.append(f'EMPTY{d.defines} "\\"\\""')
    for k in range(1, max_steps + 1):
        if k > 1:  # the values step k may write: strings may be references to steps 1..k-1
            lines.append(f"REF{k}{d.defines} {d.ref(k)}")
            lines.append(f"str{k}{d.defines} STRING | REF{k}")
        items = _nested(f"str{k}" if k > 1 else "STRING", max_list_len, d)
        lines.append(f'list{k}{d.defines} "[" {d.optional(items)} "]"')
    return lines


MAX_COUNTED_STATES = 4096  # `counts` grammars write one rule per reachable count vector


def _counted_grammar(
    specs: list[ToolSpec],
    counts: Mapping[str, int],
    max_str_len: int,
    max_list_len: int,
    spans: Sequence[str] | None,
    d: _Dialect,
) -> str:
    """A plan that calls each tool of `counts` exactly that many times, in any order, then joins: rule `atV`
    is the step after the calls of count vector V (its digits joined by `x`, a name both Lark and GBNF allow),
    so a plan has exactly `sum(counts)` steps and no rule is a dead end.

        >>> g = plan_grammar([ToolSpec("f", (), ""), ToolSpec("g", (), "")], counts={"f": 2, "g": 1})
        >>> print("\\n".join(line for line in g.splitlines() if line.startswith(("start", "at"))))
        start: "1. " at0x0
        at0x0: call1t0 "\\n" "2. " at1x0 | call1t1 "\\n" "2. " at0x1
        at1x0: call2t0 "\\n" "3. " at2x0 | call2t1 "\\n" "3. " at1x1
        at0x1: call2t0 "\\n" "3. " at1x1
        at2x0: call3t1 "\\n" "4. " JOIN
        at1x1: call3t0 "\\n" "4. " JOIN
    """
    by_name = {spec.name: spec for spec in specs}
    unknown = sorted(set(counts) - set(by_name))
    if unknown:
        raise ValueError(f"counts name tools the grammar is not given: {unknown}")
    counted = [(by_name[name], n) for name, n in counts.items() if n > 0]
    steps = sum(n for _, n in counted)
    if not counted:
        raise ValueError("counts call no tool: a plan of no tool is `1. join()`, which needs no grammar")
    states = 1
    for _, n in counted:
        states *= n + 1
    if states > MAX_COUNTED_STATES:
        raise ValueError(f"counts {dict(counts)} need {states} grammar states (at most {MAX_COUNTED_STATES})")
    lines = [
        f"{d.comment} plans of exactly {dict(counts)} calls, then join",
        f'{d.start}{d.defines} "1. " at' + "x".join("0" * len(counted)),
        *_values(steps, max_str_len, max_list_len, spans, d),
    ]
    grounded = any(line.startswith("SPAN") for line in lines)
    for k in range(1, steps + 1):
        lines += [f"call{k}t{i}{d.defines} {_call(spec, k, grounded)}" for i, (spec, _) in enumerate(counted)]
    start = (0,) * len(counted)
    todo, seen = [start], {start}
    while todo:
        done = todo.pop(0)
        k = sum(done) + 1
        alternatives = []
        for i, (_, n) in enumerate(counted):
            if done[i] == n:
                continue
            after = done[:i] + (done[i] + 1,) + done[i + 1 :]
            if sum(after) == steps:
                tail = f'"{k + 1}. " JOIN'
            else:
                tail = f'"{k + 1}. " at' + "x".join(map(str, after))
                if after not in seen:
                    seen.add(after)
                    todo.append(after)
            alternatives.append(f'call{k}t{i} "\\n" {tail}')
        lines.append("at" + "x".join(map(str, done)) + f"{d.defines} " + " | ".join(alternatives))
    return "\n".join(lines)


def _covering_steps(
    required: list[ToolSpec], others: list[ToolSpec], max_steps: int, grounded: bool, d: _Dialect
) -> list[str]:
    """Steps that call each `required` tool at least once before `join()`: rule `stepKmM` is step K when the
    tools of bitmask M have been called, and join is offered only once M holds them all. Only steps from
    which every missing tool still fits in the steps left are written, so no rule is a dead end; there are
    at most `max_steps * 2**len(required)` of them (ToolRAG selects about 3 tools a query).

        >>> g = plan_grammar([ToolSpec("f", (), ""), ToolSpec("g", (), "")], max_steps=2, require=["f", "g"])
        >>> print("\\n".join(line for line in g.splitlines() if line.startswith("step")))
        step1m0: call1t0 "\\n" "2. " step2m1 | call1t1 "\\n" "2. " step2m2
        step2m2: call2t0 "\\n" "3. " JOIN
        step2m1: call2t1 "\\n" "3. " JOIN
    """
    full, lines = (1 << len(required)) - 1, []
    for k in range(1, max_steps + 1):
        for i, spec in enumerate(required):
            lines.append(f"call{k}t{i}{d.defines} {_call(spec, k, grounded)}")
        if others:
            lines.append(f"other{k}{d.defines} " + " | ".join(_call(spec, k, grounded) for spec in others))
    todo, seen = [(1, 0)], {(1, 0)}
    while todo:
        k, mask = todo.pop()
        alternatives = []
        for call, after in [
            *([(f"other{k}", mask)] if others else []),
            *((f"call{k}t{i}", mask | 1 << i) for i in range(len(required))),
        ]:
            missing = len(required) - bin(after).count("1")
            if missing > max_steps - k:
                continue  # the tools still missing would not fit in the steps left
            if k == max_steps:
                tail = f'"{k + 1}. " JOIN'
            else:
                nxt = f"step{k + 1}m{after}"
                tail = f'"{k + 1}. " ' + (f"(JOIN | {nxt})" if after == full else nxt)
                if (k + 1, after) not in seen:
                    seen.add((k + 1, after))
                    todo.append((k + 1, after))
            alternatives.append(f'{call} "\\n" {tail}')
        lines.append(f"step{k}m{mask}{d.defines} " + " | ".join(alternatives))
    return lines


@dataclass(frozen=True)
class _Dialect:
    """How one grammar format writes the plan grammar's rules (`plan_grammar`)."""

    comment: str
    start: str
    defines: str
    int: str
    number: str
    string: Callable[[int], str]  # max length -> a double-quoted plain string with escapes
    ref: Callable[[int], str]  # step k -> a reference "$j" to an earlier step j < k
    optional: Callable[[str], str]


_DIALECTS = {
    "lark": _Dialect(
        comment="//",
        start="start",
        defines=":",
        int=r"/-?(0|[1-9][0-9]{0,8})/",
        number=r"/-?(0|[1-9][0-9]{0,8})(\.[0-9]{1,8})?/",
        string=lambda n: f'/"{_CHAR}{{0,{n}}}"/',
        ref=lambda k: '/"\\$(' + "|".join(str(j) for j in range(1, k)) + ')"/',
        optional=lambda x: f"[{x}]",
    ),
    "gbnf": _Dialect(
        comment="#",
        start="root",
        defines=" ::=",
        int=r'"-"? ("0" | [1-9] [0-9]{0,8})',
        number=r'INT ("." [0-9]{1,8})?',
        string=lambda n: f'"\\"" ([^"\\\\$<\\x00-\\x1f\\x7f] | "\\\\" ["\\\\]){{0,{n}}} "\\""',
        ref=lambda k: '"\\"$" (' + " | ".join(f'"{j}"' for j in range(1, k)) + ') "\\""',
        optional=lambda x: f"({x})?",
    ),
}


def query_spans(query: str, max_words: int = 8) -> list[str]:
    """The values a grounded argument may take for `query`: every run of up to `max_words` words without the
    quotes, brackets and trailing punctuation around it, also without a possessive 's, and with a capital first
    letter as well.

        >>> query_spans("Text Ana's phone.", max_words=2)[:6]
        ['Text', "Text Ana's", 'Text Ana', "Ana's", 'Ana', "Ana's phone"]
    """
    words = query.split()
    out: dict[str, None] = {}
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + max_words) + 1):
            text = " ".join(words[i:j])
            for v in (text, text.rstrip(_TRAILING), text.rstrip(_TRAILING).removesuffix("'s")):
                v = v.strip("()'\"").rstrip(_TRAILING)
                for w in (v, v[:1].upper() + v[1:]):
                    if w:
                        out[w] = None
    return list(out)


_TRAILING = ".,;:!?"


def _plain(value: str) -> bool:
    """A value a plan can hold as a plain string: no `$` (a reference), `<` or control characters."""
    return not any(c in "$<" or ord(c) < 32 or ord(c) == 127 for c in value)


def max_plan_bytes(
    specs: Sequence[ToolSpec], max_steps: int = 20, max_str_len: int = 200, max_list_len: int = 8
) -> int:
    """An upper bound on the bytes of any plan `plan_grammar` accepts with these limits.

    Every token is at least one byte, so `max_new_tokens` at this bound lets every constrained row finish:
    the grammar then guarantees a valid plan even from a random model.

        >>> from workbench.tools.tinyagent import tinyagent_tools
        >>> max_plan_bytes(tinyagent_tools(), max_steps=3, max_str_len=6, max_list_len=2)
        1363
    """
    string = 2 + 4 * max_str_len  # quotes, and a non-ASCII character takes up to 4 bytes
    value = max(string, 2 + max_list_len * (string + 2), 12)  # a list, or a number / True / False / None
    call = max(len(s.name) + 2 + len(s.params) * (value + 2) for s in specs)
    step_no = len(str(max_steps + 1)) + 2
    return max_steps * (step_no + call + 1) + step_no + len(f"{JOIN}(){END_OF_PLAN}")


def _nested(item: str, n: int, dialect: _Dialect) -> str:
    """Up to `n` comma-separated items, as nested optionals: `x [", " x [", " x]]` (Lark)."""
    out = item
    for _ in range(n - 1):
        out = f"{item} {dialect.optional(f'{chr(34)}, {chr(34)} {out}')}"
    return out


def _call(spec: ToolSpec, k: int, grounded: bool = False) -> str:
    args = ' ", " '.join(_value(p, k, grounded) for p in spec.params)
    return f'"{spec.name}(" {args} ")"' if args else f'"{spec.name}()"'


def _value(param: Param, k: int, grounded: bool = False) -> str:
    """The alternatives for one argument at step k; a reference passes for any type, as in `Param.type_error`."""
    s = f"str{k}" if k > 1 else "STRING"
    ref = [f"REF{k}"] if k > 1 else []
    if grounded and param.grounded and param.type == "str":
        alts = ["SPAN", *ref, *(["EMPTY", "NONE"] if param.optional else [])]
        return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"
    alts = {
        "str": [s],
        "list[str]": [f"list{k}", *([s] if param.single_ok else [])],
        "int": ["INT", *ref],
        "float": ["NUMBER", *ref],
        "bool": ["BOOL", *ref],
        "any": [s, f"list{k}", "NUMBER", "BOOL"],
    }[param.type]
    if (param.optional or param.type == "any") and "NONE" not in alts:
        alts.append("NONE")
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


# ------------------------------------------------------------------------------------------- matchers

_LL_TOKENIZERS: weakref.WeakKeyDictionary[Any, llguidance.LLTokenizer] = weakref.WeakKeyDictionary()
# keyed by the tokenizer object itself, not its id(): a freed tokenizer's id may be reused by another
_TEMPLATES: OrderedDict[tuple[llguidance.LLTokenizer, str], llguidance.LLMatcher] = OrderedDict()


def ll_tokenizer(tokenizer: Any) -> llguidance.LLTokenizer:
    """The llguidance view of a fast HF tokenizer, built once per tokenizer (it takes up to a second)."""
    if tokenizer not in _LL_TOKENIZERS:
        _LL_TOKENIZERS[tokenizer] = llguidance.hf.from_tokenizer(tokenizer)
    return _LL_TOKENIZERS[tokenizer]


def new_matcher(ll_tok: llguidance.LLTokenizer, grammar: str) -> llguidance.LLMatcher:
    """A fresh matcher; grammars are compiled once (per tokenizer) and copied, since a batch repeats them."""
    key = (ll_tok, grammar)
    if key not in _TEMPLATES:
        matcher = llguidance.LLMatcher(ll_tok, grammar, log_level=0)
        if matcher.is_error():
            raise ValueError(f"invalid plan grammar: {matcher.get_error()}")
        _TEMPLATES[key] = matcher
        while len(_TEMPLATES) > 64:
            _TEMPLATES.popitem(last=False)
    _TEMPLATES.move_to_end(key)
    return _TEMPLATES[key].deep_copy()


def grammar_accepts(tokenizer: Any, grammar: str, text: str) -> bool:
    """True when `text` is a complete sentence of `grammar` (diagnostics and tests).

    >>> from workbench.finetune.tokenizer import train_tokenizer
    >>> tok = train_tokenizer(['1. f("a")'] * 10, vocab_size=300)
    >>> g = plan_grammar([ToolSpec("f", (Param("x"),), "")])
    >>> grammar_accepts(tok, g, '1. f("a")\\n2. join()<END_OF_PLAN>'), grammar_accepts(tok, g, '1. f(1)')
    (True, False)
    """
    ll_tok = ll_tokenizer(tokenizer)
    matcher = new_matcher(ll_tok, grammar)
    return matcher.consume_tokens(ll_tok.tokenize_str(text)) and matcher.is_accepting()


class BatchMatcher:
    """One llguidance matcher per batch row: `consume` the sampled tokens, then `fill` the next masks.

    A row whose plan is complete (or, should a disallowed token ever slip through, broken) may only
    write the end-of-sequence token, so no row is ever left with nothing to sample.
    """

    def __init__(self, tokenizer: Any, grammars: Sequence[str], threads: int = 0):
        self.ll_tok = ll_tokenizer(tokenizer)
        self.eos = tokenizer.eos_token_id
        self.matchers = [new_matcher(self.ll_tok, g) for g in grammars]
        self.bitmask = llnp.allocate_token_bitmask(len(self.matchers), self.ll_tok.vocab_size)
        self._eos_only = np.zeros(self.bitmask.shape[1], dtype=np.int32)
        self._eos_only.view(np.uint32)[self.eos // 32] = np.uint32(1 << (self.eos % 32))
        # A row's mask takes tens of microseconds here; llguidance's thread pool pays off only for big
        # batches on many cores, and on a few cores its spinning threads fight torch's for them.
        self._executor = llguidance.LLExecutor(threads) if threads > 0 else None

    def consume(self, tokens: Sequence[int]) -> None:
        """Advance every live row by its sampled token (finished rows receive padding, which is ignored)."""
        live = [(m, int(t)) for m, t in zip(self.matchers, tokens, strict=True) if not m.is_stopped()]
        if self._executor is None:
            for m, t in live:
                m.consume_token(t)
        elif live:
            llnp.consume_token_par(self._executor, live)

    def fill(self) -> np.ndarray:
        """The allowed tokens of every row, as llguidance's packed int32 bitmask (batch, ceil(vocab/32))."""
        live = [(m, i) for i, m in enumerate(self.matchers) if not m.is_stopped()]
        if self._executor is None:
            for m, i in live:
                llnp.fill_next_token_bitmask(m, self.bitmask, i)
        elif live:
            llnp.fill_next_token_bitmask_par(self._executor, live, self.bitmask)
        for i, m in enumerate(self.matchers):
            if m.is_stopped():
                self.bitmask[i] = self._eos_only
        return self.bitmask

    def errors(self) -> list[str]:
        """The error of each row ("" where none)."""
        return [m.get_error() for m in self.matchers]


def _expand(grammars: str | Sequence[str], batch: int) -> list[str]:
    """One grammar per row; a list of n grammars serves a batch of n*r rows (num_return_sequences=r)."""
    grammars = [grammars] if isinstance(grammars, str) else list(grammars)
    if not grammars or batch % len(grammars):
        raise ValueError(f"{len(grammars)} grammars for a batch of {batch} rows")
    r = batch // len(grammars)
    return [g for g in grammars for _ in range(r)]


def _disallowed(bitmask: np.ndarray, vocab: int) -> np.ndarray:
    """(batch, words) packed int32 -> (batch, vocab) bool, True where a token is masked; tokens past the
    tokenizer's vocabulary (models often pad theirs) are masked too."""
    return np.unpackbits(bitmask.view(np.uint8), axis=-1, count=vocab, bitorder="little") == 0


def _mask_logits(scores: torch.Tensor, bitmask: np.ndarray) -> torch.Tensor:
    """A copy of `scores` with the logits of disallowed tokens at -inf (`generate` keeps the raw logits)."""
    if scores.device.type == "cpu" and scores.dtype == torch.float32:
        # numpy, in one thread: torch's intra-op threads stall when other processes share the cores
        masked = np.where(
            _disallowed(bitmask, scores.shape[-1]), np.float32(-np.inf), scores.detach().numpy()
        )
        return torch.from_numpy(masked)
    words = torch.from_numpy(bitmask).to(scores.device, non_blocking=True)  # unpack on the GPU
    bits = (words.unsqueeze(-1) >> torch.arange(32, dtype=torch.int32, device=scores.device)) & 1
    allowed = torch.nn.functional.pad(
        bits.flatten(1).bool(), (0, max(0, scores.shape[-1] - 32 * words.shape[1]))
    )
    return scores.masked_fill(~allowed[:, : scores.shape[-1]], float("-inf"))


# ------------------------------------------------------------------------------------------ Hugging Face


class PlanLogitsProcessor(LogitsProcessor):
    """Masks the logits of `model.generate` so that each row writes a plan of its own grammar.

    `grammars`: one per row, or one for all rows (with `num_return_sequences=r`, n grammars serve n*r
    rows). A call whose input is not one token longer than the last one's starts new plans, so one
    processor may serve several `generate` calls. Greedy search and sampling work; beam search does not
    (beams reorder rows).

        >>> kwargs = constrained_generate_kwargs(tok, [plan_grammar(specs) for specs in rows])  # doctest: +SKIP
        >>> model.generate(**inputs, do_sample=True, max_new_tokens=256, **kwargs)  # doctest: +SKIP
    """

    def __init__(self, tokenizer: Any, grammars: str | Sequence[str], threads: int = 0):
        self.tokenizer = tokenizer
        self.grammars = grammars
        self.threads = threads
        self.batch: BatchMatcher | None = None
        self._length = -1
        for g in {grammars} if isinstance(grammars, str) else set(grammars):
            new_matcher(ll_tokenizer(tokenizer), g)  # compile (and check) each grammar now, not at step 1

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows, length = input_ids.shape
        if self.batch is None or length != self._length + 1:
            self.batch = BatchMatcher(self.tokenizer, _expand(self.grammars, rows), self.threads)
        else:
            self.batch.consume(input_ids[:, -1].tolist())
        self._length = length
        return _mask_logits(scores, self.batch.fill())


def constrained_generate_kwargs(tokenizer: Any, grammars: str | Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for `model.generate`: a fresh `PlanLogitsProcessor`, and eos/pad from `tokenizer`."""
    return {
        "logits_processor": LogitsProcessorList([PlanLogitsProcessor(tokenizer, grammars)]),
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else tokenizer.eos_token_id,
    }


def close_cut_plan(text: str) -> str:
    """A constrained plan that the token budget cut off, closed with `join()` after its last whole step.

    Under the grammar every finished line is a valid step, so the closed plan parses and validates (the
    "0% parse failures" promise holds for any budget); it is seldom right, since the steps it never wrote
    are missing, but the executor can run it. A plan that ended by itself is returned unchanged:

        >>> close_cut_plan('1. get_phone_number("Ana")\\n2. get_phone_number("Bo")\\n3. send_sms(["$1", "$')
        '1. get_phone_number("Ana")\\n2. get_phone_number("Bo")\\n3. join()<END_OF_PLAN>'
    """
    if text.endswith(END_OF_PLAN):
        return text
    steps = text.split("\n")[:-1]  # the last line is unfinished (finished lines end with a newline)
    return "\n".join([*steps, f"{len(steps) + 1}. {JOIN}(){END_OF_PLAN}"])


# ------------------------------------------------------------------------------------------------ mlx-lm


def mlx_logits_processor(tokenizer: Any, grammar: str) -> Callable[[Any, Any], Any]:
    """(mlx-lm, one sequence) A `logits_processors` entry for `mlx_lm.generate`: `(tokens, logits) -> logits`.

    `tokenizer` is an HF tokenizer or mlx-lm's wrapper of one. Masking is done in numpy, so it also
    runs on mlx's CPU build (the tests run it there); new generations are detected as in `PlanLogitsProcessor`.
    """
    hf_tok = tokenizer if isinstance(tokenizer, PreTrainedTokenizerFast) else tokenizer._tokenizer
    new_matcher(ll_tokenizer(hf_tok), grammar)  # compile (and check) the grammar now
    batch, seen = None, -1  # the matcher, and the number of tokens at the last call

    def process(tokens: Any, logits: Any) -> Any:
        nonlocal batch, seen
        if batch is None or len(tokens) != seen + 1:  # a new generation
            batch = BatchMatcher(hf_tok, [grammar])
        else:
            batch.consume([int(tokens[-1])])
        seen = len(tokens)
        if isinstance(logits, np.ndarray):
            out = logits.astype(np.float32).reshape(1, -1)
        else:  # an mlx array
            import mlx.core as mx

            out = np.array(logits.astype(mx.float32)).reshape(1, -1)
        np.putmask(out, _disallowed(batch.fill(), out.shape[-1]), -np.inf)
        if isinstance(logits, np.ndarray):
            return out.reshape(logits.shape)
        return mx.array(out).reshape(logits.shape).astype(logits.dtype)

    return process
