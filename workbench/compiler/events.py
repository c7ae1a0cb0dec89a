"""What happens during an LLMCompiler run, as events (Kim et al. 2023, Sec. 3): one loop, many listeners.

`LLMCompiler.run(question, on_event=...)` tells a listener, in the order they happen:

- `chunk`: a piece of plan text as the planner streams it (`data`: the text);
- `plan`: a whole line of the plan once it is written (`text`: the line);
- `step`: a step parsed from the plan and handed to the task fetching unit (`data`: the `Step`);
- `start` / `end`: a task started (arguments after `$` substitution) / ended (its observation; a task skipped
  because an input failed only ends) (`data`: the executor's `TaskRecord`);
- `join` / `replan`: the joiner's decision (`data`: the `JoinDecision`).

The TinyAgent agent adds `toolrag` (the tools selected) before the loop starts. The agent's printer
(`EventPrinter`), the plan-graph explorer and the tests all listen to the same events, so none of them runs a
loop of its own.

    >>> import io
    >>> out = io.StringIO()
    >>> EventPrinter(out)(Event("plan", '1. get_phone_number("Ana")'))
    >>> out.getvalue().split("] ")[1]
    'plan    1. get_phone_number("Ana")\\n'
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

SHOWN = ("toolrag", "plan", "start", "end", "replan")  # what `EventPrinter` prints


@dataclass(frozen=True)
class Event:
    """One thing that happened: its `kind`, a one-line `text` for people, and the object behind it."""

    kind: str
    text: str = ""
    data: Any = None
    round: int = 0  # 0 for the first plan, 1 for the first replan, ...


Listener = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The listener that hears nothing."""


def clip(text: Any, n: int = 100) -> str:
    """`text` on one line, at most `n` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


class EventPrinter:
    """Prints the events people read, with the seconds since the query: `[ 0.213 s] plan    1. ...`."""

    def __init__(self, file: IO[str] | None = None, kinds: tuple[str, ...] = SHOWN):
        self.file = file or sys.stdout
        self.kinds = kinds
        self.start = time.perf_counter()

    def __call__(self, event: Event) -> None:
        if event.kind in self.kinds:
            elapsed = time.perf_counter() - self.start
            print(f"[{elapsed:7.3f} s] {event.kind:<7} {event.text}", file=self.file, flush=True)
