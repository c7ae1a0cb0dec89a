"""The planner as llama.cpp runs it: a GGUF file, and llama.cpp's own 4-bit quantization (TinyAgent Sec. 6).

TinyAgent ships its planners as GGUF files (F16 and Q4_K_M) run by llama.cpp. `export_gguf` writes a Hugging
Face Llama folder (ours: byte-level BPE, whole-token tool names, a chat template) to a GGUF F16 file with the
PyPI `gguf` writer; `quantize_gguf` makes Q4_0 (blocks of 32 weights with one float16 scale: the paper's "4-bit,
group size 32") or Q4_K_M from it with llama.cpp's quantizer (`llama_model_quantize` in `llama-cpp-python`).

Why write the model here rather than run llama.cpp's `convert_hf_to_gguf.py`: that script is not part of any
installed package (it lives in llama.cpp's source tree), and it refuses a tokenizer whose pre-tokenizer it does
not know by hash, which every tokenizer trained here is. The parts it encodes are few and documented, and this
module writes them with the `gguf` package's writer and vocabulary helpers:

- the hyperparameters under llama's keys (`llama.embedding_length`, ...);
- the tensors under llama.cpp's names (`gguf.get_tensor_name_map`), 2-D ones in float16 and the norms in
  float32, with the query and key projections permuted from Hugging Face's rotate-half layout to the
  interleaved pairs llama.cpp's rotary embedding uses;
- the vocabulary as a GPT-2 style BPE (`tokenizer.ggml.model = "gpt2"`): tokens by id, their types (special
  tokens CONTROL, the added tool names USER_DEFINED, so that llama.cpp splits them out of text as transformers
  does and prints them), the merges, the special ids and the chat template (`gguf.SpecialVocab`), and the
  pre-tokenizer "starcoder": digits one by one, then GPT-2's split, which is what `finetune.tokenizer` trains.

A test checks that llama.cpp tokenizes the test queries to exactly the ids transformers gives.

QLoRA for a GGUF planner (TinyAgent's 4-bit model fine-tuned after quantization): `dequantize_gguf` turns a
quantized file back into a Hugging Face folder holding exactly the weights llama.cpp reads (`gguf.quants`
dequantizes each block), peft trains LoRA on that frozen copy, and `export_gguf_lora` writes the adapter as a
llama.cpp LoRA file (`general.type = "adapter"`), which llama.cpp applies at run time on top of the untouched
4-bit weights (`Llama(lora_path=...)`, `llama_cpp.server --lora_path`).

    >>> export_gguf("artifacts/planner/full", "artifacts/gguf/planner-f16.gguf")  # doctest: +SKIP
    >>> quantize_gguf("artifacts/gguf/planner-f16.gguf", "artifacts/gguf/planner-q4_0.gguf", "Q4_0")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from workbench.finetune.settings import DECODING_FILE
from workbench.llm.llamacpp import need_llama_cpp

#: The GGUF metadata key under which the planner's decoding settings (`workbench_decoding.json`) travel.
DECODING_KEY = "workbench.decoding"
#: llama.cpp's pre-tokenizer that splits as `finetune.tokenizer` does (each digit alone, then GPT-2's regex).
PRE_TOKENIZER = "starcoder"
#: What `quantize_gguf` makes, with llama.cpp's file-type names.
QUANT_TYPES = ("Q4_0", "Q4_K_M", "Q8_0", "F16")


def need_gguf() -> Any:
    try:
        import gguf
    except ImportError as exc:
        raise ImportError(
            f"GGUF export needs the `gguf` package ({exc}): `pip install 'tinyagent-workbench[gguf]'`"
        ) from None
    return gguf


def _rope_theta(config: dict[str, Any]) -> float:
    params = config.get("rope_parameters") or {}
    return float(params.get("rope_theta", config.get("rope_theta", 10000.0)))


def _permute(w: np.ndarray, heads: int) -> np.ndarray:
    """Rows of a query/key projection from rotate-half order (each head's first half, then its second) to
    interleaved pairs (0, d/2, 1, d/2+1, ...), the order llama.cpp's rotary embedding pairs dimensions in."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """The inverse of `_permute`: llama.cpp's interleaved rows back to Hugging Face's rotate-half order."""
    return w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _heads(config: dict[str, Any]) -> tuple[int, int]:
    heads = config["num_attention_heads"]
    return heads, config.get("num_key_value_heads") or heads


def tokenizer_kind(folder: Path) -> str:
    """ "gpt2" for a byte-level BPE (what `finetune.tokenizer` trains), "llama" for a SentencePiece-style BPE with
    byte fallback (Llama's and TinyLlama's: `▁` for spaces, `<0x..>` pieces for bytes); else an error."""
    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    model, decoder = tok["model"], (tok.get("decoder") or {}).get("type")
    if model.get("type") == "BPE" and decoder == "ByteLevel":
        return "gpt2"
    if model.get("type") == "BPE" and model.get("byte_fallback"):
        return "llama"
    raise ValueError(
        f"{folder}: GGUF export writes byte-level BPE (GPT-2 style) and byte-fallback BPE (Llama style) "
        f"tokenizers; this one is {model.get('type')} with a {decoder} decoder"
    )


def _scores(model: dict[str, Any]) -> dict[str, float]:
    """Llama-style vocabularies need a score per piece: llama.cpp's SentencePiece tokenizer merges the adjacent
    pair whose joined piece scores highest. A piece made by the r-th BPE merge scores -r, so the merges happen in
    the BPE's own order (the pieces a merge never makes, single characters and bytes, score 0)."""
    scores: dict[str, float] = {}
    for rank, merge in enumerate(model.get("merges", [])):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        scores.setdefault(left + right, -float(rank + 1))
    return scores


def _vocab(folder: Path, n_vocab: int) -> tuple[list[str], list[int], list[float]]:
    """Tokens by id, their GGUF types and scores, from `tokenizer.json` (`tokenizer_kind`)."""
    gguf = need_gguf()
    kind = tokenizer_kind(folder)
    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    model = tok["model"]
    scores = _scores(model) if kind == "llama" else {}

    def normal_or_byte(t: str) -> int:
        byte = kind == "llama" and len(t) == 6 and t.startswith("<0x") and t.endswith(">")
        return int(gguf.TokenType.BYTE if byte else gguf.TokenType.NORMAL)

    tokens: dict[int, tuple[str, int]] = {i: (t, normal_or_byte(t)) for t, i in model["vocab"].items()}
    for added in tok.get("added_tokens", []):
        token_type = gguf.TokenType.CONTROL if added["special"] else gguf.TokenType.USER_DEFINED
        if added["content"] == model.get("unk_token"):
            token_type = gguf.TokenType.UNKNOWN
        tokens[added["id"]] = (added["content"], int(token_type))
    names = [tokens.get(i, (f"[PAD{i}]", int(gguf.TokenType.UNUSED)))[0] for i in range(n_vocab)]
    types = [tokens.get(i, ("", int(gguf.TokenType.UNUSED)))[1] for i in range(n_vocab)]
    return names, types, [scores.get(name, 0.0) for name in names]


def _prefix_space(folder: Path) -> bool:
    """llama.cpp's `add_space_prefix`: a `▁` before the text and before the text after each special token, which
    is what Metaspace's "always" scheme (legacy Llama tokenizers) does. With "first", Hugging Face adds it only
    at the very start of the input; our prompts start with the special `<s>` (the chat template writes it), so
    there it adds none, and neither may llama.cpp."""
    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    parts = [tok.get("pre_tokenizer") or {}, tok.get("normalizer") or {}]
    parts += [p for part in list(parts) for p in part.get("pretokenizers", part.get("normalizers", []))]
    for part in parts:
        if part.get("type") == "Metaspace":
            return part.get("prepend_scheme", "always") == "always"
        if part.get("type") == "Prepend":
            return True
    return False


def _finish(writer: Any, tmp: Path, out: Path) -> Path:
    """Write a `gguf.GGUFWriter`'s file at `tmp`, then move it to `out` (no partial file under the final name)."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out


def export_gguf(
    model_dir: str | os.PathLike[str], out: str | os.PathLike[str], name: str | None = None
) -> Path:
    """Write the Llama model in `model_dir` (a Hugging Face folder) to the GGUF F16 file `out`; returns it.

    The planner's decoding settings, where its folder has them, go into the file's metadata (`DECODING_KEY`),
    so that a GGUF planner plans with the prompt and limits it was trained with.
    """
    from safetensors import safe_open

    gguf = need_gguf()
    folder, out = Path(model_dir), Path(out)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "llama":
        raise ValueError(
            f"{folder}: GGUF export writes Llama models; this one is {config.get('model_type')!r}"
        )
    heads, kv_heads = (
        config["num_attention_heads"],
        config.get("num_key_value_heads") or config["num_attention_heads"],
    )
    hidden, layers = config["hidden_size"], config["num_hidden_layers"]
    head_dim = config.get("head_dim") or hidden // heads
    n_vocab = config["vocab_size"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, layers)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    writer = gguf.GGUFWriter(tmp, "llama")
    writer.add_name(name or folder.name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    tokens, types, scores = _vocab(folder, n_vocab)
    kind = tokenizer_kind(folder)
    writer.add_tokenizer_model(kind)
    if kind == "gpt2":
        writer.add_tokenizer_pre(PRE_TOKENIZER)
    else:  # SentencePiece style: scores order the merges; a space before the first word, as `▁` pieces expect
        writer.add_token_scores(scores)
        writer.add_add_space_prefix(_prefix_space(folder))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(folder, load_merges=kind == "gpt2", n_vocab=n_vocab)
    special.add_to_gguf(writer)
    writer.add_add_bos_token(False)  # the chat template writes every token the prompt starts with
    if (folder / DECODING_FILE).exists():
        writer.add_string(DECODING_KEY, (folder / DECODING_FILE).read_text(encoding="utf-8"))

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no *.safetensors weights")
    for file in files:
        with safe_open(file, "np") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                w = f.get_tensor(key).astype(np.float32)
                if key.endswith("rotary_emb.inv_freq"):
                    continue
                if key == "lm_head.weight" and config.get("tie_word_embeddings"):
                    continue  # llama.cpp reads the tied output from token_embd
                if key.endswith("q_proj.weight"):
                    w = _permute(w, heads)
                elif key.endswith("k_proj.weight"):
                    w = _permute(w, kv_heads)
                target = names.get_name(key, try_suffixes=(".weight", ".bias"))
                if target is None:
                    raise ValueError(f"{file.name}: no GGUF name for tensor {key!r}")
                writer.add_tensor(target, w.astype(np.float16) if w.ndim > 1 else w)
    return _finish(writer, tmp, out)


def quantize_gguf(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], kind: str = "Q4_0", threads: int = 0
) -> Path:
    """llama.cpp's quantizer (`llama_model_quantize`) from the GGUF `src` to `dst` as `kind` (`QUANT_TYPES`).

    Q4_0 is 4-bit with one float16 scale per 32 weights. K-quants (Q4_K_M) need rows of 256 weights; llama.cpp
    stores a tensor whose rows are shorter in a fallback type, which `gguf_summary` reports.
    """
    llama_cpp = need_llama_cpp()
    if kind not in QUANT_TYPES:
        raise ValueError(f"quantization {kind!r}: choose one of {', '.join(QUANT_TYPES)}")
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"{src} does not exist: export the planner with `export_gguf` first")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.nthread = threads
    tmp = dst.with_name(dst.name + ".part")
    # llama.cpp logs every tensor it converts through llama-cpp-python's logger; errors only
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    code = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params)
    if code != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(
            f"llama.cpp could not quantize {src} to {kind} (llama_model_quantize returned {code})"
        )
    tmp.replace(dst)
    return dst


def gguf_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Size on disk, weights, bits per weight and the tensor types of a GGUF file (read with `gguf.GGUFReader`).

    Bits per weight count every tensor's bytes (scales included) over its weights, as `mlx.bits_per_weight`
    does for MLX models.
    """
    gguf = need_gguf()
    reader = gguf.GGUFReader(path)
    weights = sum(int(t.n_elements) for t in reader.tensors)
    data = sum(int(t.n_bytes) for t in reader.tensors)
    types: dict[str, int] = {}
    for t in reader.tensors:
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    return {
        "size_bytes": Path(path).stat().st_size,
        "weights": weights,
        "data_bytes": data,
        "bits_per_weight": round(8 * data / weights, 3),
        "tensor_types": dict(sorted(types.items())),
    }


def saved_gguf_decoding(metadata: dict[str, str]) -> dict[str, Any]:
    """The planner's decoding settings from a GGUF file's metadata (as llama-cpp-python's `Llama.metadata`
    gives it), or {} where `export_gguf` stored none."""
    text = metadata.get(DECODING_KEY)
    return json.loads(text) if text else {}


def _gguf_names(config: dict[str, Any]) -> Any:
    gguf = need_gguf()
    return gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config["num_hidden_layers"])


def dequantize_gguf(
    path: str | os.PathLike[str], like: str | os.PathLike[str], dst: str | os.PathLike[str]
) -> Path:
    """A float32 Hugging Face folder `dst` with the weights the GGUF file `path` holds, each block dequantized
    by `gguf.quants.dequantize` (so a 4-bit file's rounding is kept exactly); config and tokenizer are taken
    from `like`, the folder the file was exported from. Returns `dst`."""
    import shutil

    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    gguf = need_gguf()
    like, dst = Path(like), Path(dst)
    config = json.loads((like / "config.json").read_text(encoding="utf-8"))
    names = _gguf_names(config)
    heads, kv_heads = _heads(config)
    reader = gguf.GGUFReader(path)
    stored = {t.name: t for t in reader.tensors}
    weights: dict[str, torch.Tensor] = {}
    for file in sorted(like.glob("*.safetensors")):
        with safe_open(file, "np") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                if key.endswith("rotary_emb.inv_freq"):
                    continue
                if key == "lm_head.weight" and config.get("tie_word_embeddings"):
                    continue
                target = names.get_name(key, try_suffixes=(".weight", ".bias"))
                if target not in stored:
                    raise ValueError(f"{path}: no tensor {target!r} (for {key!r}): is {like} its source?")
                t = stored[target]
                w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
                w = w.reshape(f.get_slice(key).get_shape())
                if key.endswith("q_proj.weight"):
                    w = _unpermute(w, heads)
                elif key.endswith("k_proj.weight"):
                    w = _unpermute(w, kv_heads)
                weights[key] = torch.from_numpy(np.ascontiguousarray(w))
    if not weights:
        raise FileNotFoundError(f"{like} holds no *.safetensors weights")
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for (
        file
    ) in like.iterdir():  # config, tokenizer, chat template, decoding settings; not checksums of `like`
        if file.suffix in (".json", ".jinja") and file.name != "model.safetensors.index.json":
            shutil.copy(file, dst / file.name)
    save_file(weights, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def export_gguf_lora(
    adapter_dir: str | os.PathLike[str], base: str | os.PathLike[str], out: str | os.PathLike[str]
) -> Path:
    """A peft LoRA adapter (`adapter_model.safetensors`, trained on the Llama folder `base`) as a llama.cpp LoRA
    file `out`; returns it.

    peft adds `(alpha / r) B A x` to each target layer, with `A` (r, in) and `B` (out, r); llama.cpp reads
    `<tensor>.lora_a` and `<tensor>.lora_b` in the same shapes and scales by `adapter.lora.alpha / r`. The rows
    of `B` for the query and key projections are permuted as `export_gguf` permutes those weights.
    """
    from safetensors import safe_open

    gguf = need_gguf()
    folder, out = Path(adapter_dir), Path(out)
    settings = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    config = json.loads((Path(base) / "config.json").read_text(encoding="utf-8"))
    if settings.get("peft_type") != "LORA":
        raise ValueError(f"{folder}: a LoRA adapter is needed, this one is {settings.get('peft_type')!r}")
    names = _gguf_names(config)
    heads, kv_heads = _heads(config)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    writer = gguf.GGUFWriter(tmp, "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(settings["lora_alpha"]))
    with safe_open(folder / "adapter_model.safetensors", "np") as f:
        for key in sorted(f.keys()):
            part = "lora_a" if ".lora_A." in key else "lora_b" if ".lora_B." in key else None
            if part is None:
                raise ValueError(
                    f"{folder}: unexpected adapter tensor {key!r} (only LoRA A and B are written)"
                )
            layer = key.split(".lora_")[0].removeprefix("base_model.model.") + ".weight"
            target = names.get_name(layer, try_suffixes=(".weight",))
            if target is None:
                raise ValueError(f"{folder}: no GGUF name for {layer!r}")
            w = f.get_tensor(key).astype(np.float32)
            if part == "lora_b" and layer.endswith("q_proj.weight"):
                w = _permute(w, heads)
            elif part == "lora_b" and layer.endswith("k_proj.weight"):
                w = _permute(w, kv_heads)
            writer.add_tensor(f"{target}.{part}", w)
    return _finish(writer, tmp, out)
