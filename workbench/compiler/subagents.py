"""The LLM sub-agents of TinyAgent (Erdogan et al. 2024, Sec. 2): an email writer, a PDF summarizer and a note
writer behind the desktop's `SubAgent` seam (`tools.subagents`), on any `workbench.llm` backend.

The prompts are written here: one system message per kind of text, and the user's request, the subject or
title, the context the plan gave and the source text (the document, the email answered) in the user turn.
The reply is the text itself, stripped of a "Subject:" line or quotes a chat model may add.

    >>> writer = LLMWriter(from_env("openai", "gpt-4o-mini"))  # doctest: +SKIP
    >>> SimulatedDesktop(writer=writer)  # doctest: +SKIP
"""

from __future__ import annotations

import re

from workbench.llm.base import LLM
from workbench.tools.subagents import KINDS, WritingTask

SYSTEM = {
    "email": "You write the body of an email for the user, from their request. Write only the body: a "
    "greeting, two to four sentences, a closing. No subject line, no placeholders in brackets.",
    "reply": "You write the user's reply to the email below, from their request. Write only the body: a "
    "greeting, one to three sentences, a closing. No subject line.",
    "forward": "You write the short note the user puts above an email they forward, from their request. One "
    "or two sentences.",
    "summary": "You summarize a document for the user in two or three plain sentences. Only what the document "
    "says; no preamble.",
    "note": "You write the content of a note for the user, from their request: a short list or a few lines. "
    "Only the content.",
}

MAX_SOURCE_CHARS = 6_000  # a long document is cut: the writer's context is not the planner's


def writing_messages(task: WritingTask) -> list[dict[str, str]]:
    """The chat messages for `task` (system: what to write; user: the request and what it is about)."""
    if task.kind not in KINDS:
        raise ValueError(f"unknown writing task {task.kind!r}: one of {', '.join(KINDS)}")
    parts = [f"Request: {task.request or '(not given)'}", f"Title: {task.title}"]
    if task.recipients:
        parts.append(f"To: {', '.join(task.recipients)}")
    if task.context:
        parts.append(f"Context: {task.context}")
    if task.source:
        parts.append(f"Text:\n{task.source[:MAX_SOURCE_CHARS]}")
    return [{"role": "system", "content": SYSTEM[task.kind]}, {"role": "user", "content": "\n".join(parts)}]


def clean(text: str) -> str:
    """The written text without a leading "Subject: ..." line or wrapping quotes."""
    text = re.sub(r"^\s*subject:[^\n]*\n+", "", text.strip(), flags=re.IGNORECASE)
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    return text.strip()


class LLMWriter:
    """A sub-agent on an LLM: one completion per text, at temperature 0."""

    def __init__(self, llm: LLM, max_tokens: int = 300):
        self.llm, self.max_tokens = llm, max_tokens
        self.name = f"LLM sub-agent ({llm.model})"

    async def write(self, task: WritingTask) -> str:
        done = await self.llm.complete(writing_messages(task), max_tokens=self.max_tokens)
        text = clean(done.text)
        if not text:
            raise ValueError("the LLM wrote nothing")
        return text
