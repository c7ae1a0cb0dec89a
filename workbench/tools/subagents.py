"""TinyAgent's sub-agents (Erdogan et al. 2024, Sec. 2): tools that produce free text hand the writing to a
writer of their own, so the planner never has to write an email or a summary inside a plan.

The plan leaves an email's body empty (`compose_new_email([...], [], "Budget", "", [])`, as TinyAgent's plans
do); the desktop asks its `SubAgent` to write it from the user's request, the subject and any context the
plan gave. The same holds for `reply_to_email`, `forward_email` (a note above the forwarded mail),
`summarize_pdf` (the document's text) and a note created without content.

Two writers implement `SubAgent.write(task) -> str`:

- `OfflineWriter` (the offline default, named as what it is): templated email bodies and notes, and an
  extractive summary (the document's highest-scoring sentences by word frequency, Luhn's method). No model
  writes anything; results say "offline template" or "extractive summary".
- `compiler.subagents.LLMWriter`: any `workbench.llm` backend with prompts written for each kind of text
  (the paper's behaviour; it lives above the LLM layer, which tools do not import).

    >>> import asyncio
    >>> asyncio.run(OfflineWriter().write(WritingTask("summary", "", "Memo", "Costs rose. Costs rose again.")))
    'Costs rose. Costs rose again.'
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

KINDS = ("email", "reply", "forward", "summary", "note")


@dataclass(frozen=True)
class WritingTask:
    """What a sub-agent is asked to write."""

    kind: str  # one of KINDS
    request: str  # the user's request ("" when the desktop was not told it)
    title: str  # the email's subject, the document's or the note's name
    source: str = ""  # the document's text, or the email answered or forwarded
    recipients: tuple[str, ...] = ()  # people written to, by name or address
    context: str = ""  # what the plan gave to go on (an email's `context`, a note's content)


@dataclass(frozen=True)
class Written:
    """What a sub-agent wrote, as the desktop records it (the explorer's replay shows it)."""

    tool: str
    kind: str
    writer: str
    text: str


class SubAgent(Protocol):
    name: str

    async def write(self, task: WritingTask) -> str: ...


_STOP = set(
    "a an the and or but of to in on at for with by from is are was were be been it its this that these those "
    "as we our you your they their he she his her i me my not no so if then than also can will would".split()
)


def extractive_summary(text: str, sentences: int = 2) -> str:
    """The `sentences` sentences of `text` whose content words are most frequent in it, in their order.

    Luhn's frequency scoring (1958), written here in ten lines rather than taken from sumy or gensim: those
    pull in NLTK data downloads or a large dependency for one function."""
    parts = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]
    if len(parts) <= sentences:
        return " ".join(parts)
    words = [re.findall(r"[a-z0-9']+", s.lower()) for s in parts]
    freq = Counter(w for ws in words for w in ws if w not in _STOP)
    score = [sum(freq[w] for w in ws if w not in _STOP) / (len(ws) or 1) for ws in words]
    best = sorted(sorted(range(len(parts)), key=lambda i: -score[i])[:sentences])
    return " ".join(parts[i] for i in best)


def _first_names(names: tuple[str, ...]) -> str:
    first = [n.split()[0] for n in names if n.strip() and "@" not in n] or ["there"]
    return first[0] if len(first) == 1 else ", ".join(first[:-1]) + " and " + first[-1]


class OfflineWriter:
    """The offline default: templates and an extractive summary, not a model."""

    name = "offline template / extractive summary (no model)"

    async def write(self, task: WritingTask) -> str:
        if task.kind not in KINDS:
            raise ValueError(f"unknown writing task {task.kind!r}: one of {', '.join(KINDS)}")
        context = task.context.strip()
        if task.kind == "summary":
            return extractive_summary(task.source)
        if task.kind == "note":
            return context or task.request.strip() or task.title
        if task.kind == "reply":
            return f"Hi,\n\nThanks for your email about {task.title}. {context}".strip() + "\n\nBest regards"
        if task.kind == "forward":
            return f"Hi {_first_names(task.recipients)},\n\nPlease see the email below. {context}".strip()
        about = context or (f"I'm writing to you about {task.title}." if task.title else "")
        return f"Hi {_first_names(task.recipients)},\n\n{about}\n\nBest regards"
