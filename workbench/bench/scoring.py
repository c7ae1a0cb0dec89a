"""Answer accuracy as LLMCompiler reports it (Kim et al. 2023, Sec. 5, Tables 1-2).

HotpotQA and Movie are scored by exact match after the usual SQuAD/HotpotQA normalization (lower case,
no punctuation, no articles, single spaces). ParallelQA mixes names ("Mariana Trench") with computed
numbers ("5931.80"); a numeric answer counts when it lies within 10% of the gold value, since the
question's facts (heights, lengths) differ slightly between sources.

    >>> exact_match("The Mariana Trench.", "Mariana Trench")
    True
    >>> parse_number("$1,234.5 million")
    1234.5
    >>> score("parallelqa", "about 5,700", "5931.80")
    True
"""

from __future__ import annotations

import re
import string

BENCHMARKS = ("hotpotqa", "movie", "parallelqa")

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
# A number: optional sign, digits with optional thousands commas, optional decimals and exponent.
_NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?")
_NUMERIC_ANSWER = re.compile(r"\s*[-+]?\$?\s*(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?\s*%?\s*")


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation, drop the articles a/an/the, collapse whitespace."""
    text = str(text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(pred: str | None, gold: str) -> bool:
    return pred is not None and normalize_answer(pred) == normalize_answer(gold)


def parse_number(text: str | None) -> float | None:
    """The first number written in `text` ("$1,234.5 million" -> 1234.5, "45%" -> 45.0), or None.

    Scale words and units are ignored: answers are compared in the unit the question asked for.
    """
    if text is None:
        return None
    for match in _NUMBER.finditer(str(text)):
        token = match.group(0)
        if not any(c.isdigit() for c in token):
            continue
        try:
            return float(token.replace(",", "").replace("−", "-"))
        except ValueError:
            continue
    return None


def is_numeric_answer(gold: str) -> bool:
    """Whether a gold answer is a number (possibly with $, %, thousands commas), not a name."""
    return bool(_NUMERIC_ANSWER.fullmatch(gold)) and any(c.isdigit() for c in gold)


def numeric_match(pred: str | None, gold: str, rel_tol: float = 0.10) -> bool:
    """Whether the first number in `pred` is within `rel_tol` of the gold number (exactly equal for 0)."""
    p, g = parse_number(pred), parse_number(gold)
    if p is None or g is None:
        return False
    return abs(p - g) <= rel_tol * abs(g)


def score(benchmark: str, pred: str | None, gold: str) -> bool:
    """Whether `pred` answers the question, by the metric LLMCompiler uses for `benchmark`."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)}")
    if benchmark == "parallelqa" and is_numeric_answer(gold):
        return numeric_match(pred, gold)
    return exact_match(pred, gold)
