"""A language model of the assistant's domain for PocketSphinx: what people say to it, in ARPA n-grams, and a
pronouncing dictionary that also knows the names in it.

PocketSphinx's stock English model knows news text, not "text Sid that I'm running late": it heard an espeak-ng
recording of that request as "the three i see you". Biasing the decoder toward the commands it will hear is
the classic fix. `build` writes

- `domain.arpa`: a trigram model of the spoken form (`voice.spoken`) of the synthesized training queries, the
  tool vocabulary and the desktop's names, with interpolated absolute discounting. Written here because no
  pip-installable package estimates an ARPA model (KenLM's `lmplz` is a C++ program outside its Python
  wheel; NLTK's models do not export ARPA); the estimator is thirty lines and its normalization is tested.
- `domain.dict`: CMUdict's pronunciations (shipped in the pocketsphinx wheel) of every word of the model, and
  for words CMUdict lacks (Lutfi, Agnieszka, Dilnoza), espeak-ng's phonemes mapped from IPA to CMU's phone set.
  Without espeak-ng such words are left out of the model, and the decoder cannot say them.

    >>> build(["text sid that i'm running late"], Path("/tmp/lm"))  # doctest: +SKIP
    DomainModel(arpa=PosixPath('/tmp/lm/domain.arpa'), dictionary=..., words=6, guessed=0, dropped=0)
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.files import write_json_atomic, write_text_atomic

VERSION = 2  # bump when the model's text or estimation changes: cached models are rebuilt

# espeak-ng's IPA (stress and length marks removed) to the CMU phones of PocketSphinx's en-us model
IPA_TO_CMU = {
    "aɪ": "AY", "aʊ": "AW", "ɔɪ": "OY", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW", "iə": "IY AH", "ɛɹ": "EH R",
    "ɪɹ": "IH R", "ʊɹ": "UH R", "ɔɹ": "AO R", "ɑɹ": "AA R", "aɪɚ": "AY ER", "aɪə": "AY AH", "tʃ": "CH",
    "dʒ": "JH", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "æ": "AE", "ɛ": "EH", "e": "EH", "ɪ": "IH", "ᵻ": "IH",
    "i": "IY", "u": "UW", "ʊ": "UH", "o": "OW", "ɑ": "AA", "ɒ": "AA", "a": "AA", "ɔ": "AO", "ɜ": "ER",
    "ɚ": "ER", "ɝ": "ER", "b": "B", "d": "D", "f": "F", "ɡ": "G", "g": "G", "h": "HH", "j": "Y", "k": "K",
    "l": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P", "ɹ": "R", "r": "R", "ɾ": "T", "s": "S", "ʃ": "SH",
    "t": "T", "θ": "TH", "ð": "DH", "v": "V", "w": "W", "z": "Z", "ʒ": "ZH", "x": "K", "ç": "HH", "ɬ": "L",
    "ʔ": "",
}  # fmt: skip


@dataclass(frozen=True)
class DomainModel:
    arpa: Path
    dictionary: Path
    words: int  # the model's vocabulary
    guessed: int  # pronunciations from espeak-ng
    dropped: int  # words with no pronunciation (left out)


def cmudict_path() -> Path:
    from pocketsphinx import get_model_path

    return Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"


def read_cmudict(path: Path | None = None) -> dict[str, list[str]]:
    """{word: [pronunciation, ...]} of a CMUdict-format file ("word(2)" lines are alternatives)."""
    out: dict[str, list[str]] = {}
    for line in (path or cmudict_path()).read_text(encoding="utf-8").splitlines():
        word, _, phones = line.partition(" ")
        out.setdefault(re.sub(r"\(\d+\)$", "", word), []).append(phones.strip())
    return out


def ipa_to_cmu(ipa: str) -> str | None:
    """One word's espeak-ng IPA, phonemes separated by "_", as CMU phones; None when a phoneme has no match."""
    phones = []
    for ph in ipa.replace("ˈ", "").replace("ˌ", "").replace("ː", "").replace("\u0329", "").split("_"):
        if not ph:
            continue
        if ph not in IPA_TO_CMU:
            return None
        phones.extend(IPA_TO_CMU[ph].split())
    return " ".join(phones) or None


def espeak_pronunciations(words: Sequence[str]) -> dict[str, str]:
    """CMU pronunciations of `words` from espeak-ng (one call for all of them); {} without espeak-ng."""
    espeak = shutil.which("espeak-ng")
    if not espeak or not words:
        return {}
    done = subprocess.run(
        [espeak, "-q", "-v", "en-us", "--ipa", "--sep=_"],
        input="\n".join(words) + "\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or len(lines) != len(words):  # a word spoken as two clauses: give up on all
        return {}
    out = {}
    for word, ipa in zip(words, lines, strict=True):
        phones = ipa_to_cmu(ipa.replace(" ", "_"))
        if phones:
            out[word] = phones
    return out


def write_arpa(
    sentences: Iterable[Sequence[str]], path: Path, order: int = 3, words: Iterable[str] = ()
) -> int:
    """An ARPA n-gram model of `sentences` (lists of words) by interpolated absolute discounting; returns the
    vocabulary size. Each order's discount is Ney's estimate n1 / (n1 + 2 n2) from its counts of counts.
    `words` are counted once each as unigrams only: names a sentence may hold that the sample never used."""
    counts: list[Counter[tuple[str, ...]]] = [Counter() for _ in range(order + 1)]
    counts[1].update((w,) for w in words)
    for words in sentences:
        s = ["<s>", *words, "</s>"]
        for n in range(1, order + 1):
            for i in range(len(s) - n + 1):
                counts[n][tuple(s[i : i + n])] += 1
    context: list[Counter[tuple[str, ...]]] = [Counter() for _ in range(order + 1)]
    followers: list[Counter[tuple[str, ...]]] = [Counter() for _ in range(order + 1)]
    for n in range(2, order + 1):
        for gram, c in counts[n].items():
            context[n][gram[:-1]] += c
            followers[n][gram[:-1]] += 1
    discount = [0.0] * (order + 1)
    for n in range(2, order + 1):
        n1 = sum(1 for c in counts[n].values() if c == 1)
        n2 = sum(1 for c in counts[n].values() if c == 2)
        discount[n] = n1 / (n1 + 2 * n2) if n1 else 0.5
    total = sum(c for g, c in counts[1].items() if g != ("<s>",))
    prob: dict[tuple[str, ...], float] = {g: c / total for g, c in counts[1].items() if g != ("<s>",)}

    def backoff(h: tuple[str, ...]) -> float:  # the mass that `h` leaves to the lower order
        n = len(h) + 1
        return discount[n] * followers[n][h] / context[n][h] if context[n][h] else 1.0

    for n in range(2, order + 1):
        for gram, c in counts[n].items():
            h = gram[:-1]
            prob[gram] = (c - discount[n]) / context[n][h] + backoff(h) * prob[gram[1:]]
    lines = ["\\data\\", *(f"ngram {n}={len(counts[n])}" for n in range(1, order + 1)), ""]
    for n in range(1, order + 1):
        lines.append(f"\\{n}-grams:")
        for gram in sorted(counts[n]):
            p = f"{math.log10(prob[gram]):.5f}" if gram in prob else "-99.00000"  # <s> starts, never follows
            bo = f"\t{math.log10(backoff(gram)):.5f}" if n < order and context[n + 1][gram] else ""
            lines.append(f"{p}\t{' '.join(gram)}{bo}")
        lines.append("")
    lines.append("\\end\\")
    write_text_atomic(path, "\n".join(lines) + "\n")
    return len(counts[1]) - 2


def cached(folder: Path, source: Any) -> DomainModel | None:
    """The model in `folder` when it was built from `source` (any JSON value naming the text) by this code."""
    arpa, dictionary, info = folder / "domain.arpa", folder / "domain.dict", folder / "domain.json"
    if not (info.exists() and arpa.exists() and dictionary.exists()):
        return None
    saved = json.loads(info.read_text(encoding="utf-8"))
    if saved.get("source") != [VERSION, source]:
        return None
    return DomainModel(arpa, dictionary, saved["words"], saved["guessed"], saved["dropped"])


def build(
    sentences: Sequence[str], folder: Path, names: Sequence[str] = (), source: Any = None
) -> DomainModel:
    """The domain model of `sentences` (spoken-form text) and `names` (spoken-form people, places, files) in
    `folder`; `source` names the text for `cached` (default: a hash of it).

    A word CMUdict lacks stays in the model only when it is part of a name (its pronunciation from espeak-ng):
    the generator's typos ("mroning") and texting shorthand ("pls") are typed, not said."""
    if source is None:
        source = hashlib.sha256(json.dumps([list(sentences), list(names)]).encode()).hexdigest()[:16]
    if (model := cached(folder, source)) is not None:
        return model
    arpa, dictionary, info = folder / "domain.arpa", folder / "domain.dict", folder / "domain.json"
    cmu = read_cmudict()
    name_words = sorted({w for name in names for w in name.split()})
    guessed = espeak_pronunciations([w for w in name_words if w not in cmu])
    known = set(cmu) & {w for s in sentences for w in s.split()} | set(name_words) & (set(cmu) | set(guessed))
    kept = [[w for w in s.split() if w in known] for s in sentences]
    n = write_arpa([s for s in kept if s], arpa, words=[w for w in name_words if w in known])
    entries = [f"{w} {p}" if i == 0 else f"{w}({i + 1}) {p}" for w in sorted(known) for i, p in
               enumerate(cmu.get(w) or [guessed[w]])]  # fmt: skip
    write_text_atomic(dictionary, "\n".join(entries) + "\n")
    dropped = len({w for s in [*sentences, *names] for w in s.split()} - known)
    model = DomainModel(arpa, dictionary, n, len(guessed), dropped)
    saved = {"source": [VERSION, source], "words": n, "guessed": model.guessed, "dropped": dropped}
    write_json_atomic(info, saved)
    return model
