"""The day a query names, worked out from today's date: the planner runtime puts it into the plan's dates.

A planner of a million parameters copies "2pm" into "14:00:00" reliably, but the calendar arithmetic behind
"tomorrow" or "on Friday" (today's date plus one, the next Friday after a given day) is where it slips: for
"Create a meeting with Sid and Lutfi for tomorrow 2pm" on 2024-06-12 the offline-recipe planner wrote
2024-06-12 or 2024-06-14. The arithmetic is no language task, so the runtime does it: `named_day` finds the
one day a query names, and `DateRepair` moves each step's dates (start, end, due date, start time) by the
same number of days so that the step's first date falls on it; the model's times and durations stay as they
are. DAG success does not look at arguments, so it is unchanged; argument exact match is what moves.

Only phrasings with one meaning are read: today, tonight, tomorrow (and "tmrw", "2moro"), the day after
tomorrow, in N days or weeks, a weekday ("friday", "on Fri", "this Friday": the next one after today), a
month and day ("June 20", "20th of June": the next one from today), the Nth alone (this month, or the next
if the day has passed) and ISO dates. "Next Friday" is left to the model: people disagree on which Friday
it means. A query naming two different days, or none of these, leaves the plan as the model wrote it.

    >>> named_day("Create a meeting with Sid and Lutfi for tomorrow 2pm", dt.date(2024, 6, 12))
    datetime.date(2024, 6, 13)
    >>> DateRepair(dt.date(2024, 6, 13)).line('3. create_reminder("Call", "2024-06-12 14:00:00", "", "", 0, False)')
    '3. create_reminder("Call", "2024-06-13 14:00:00", "", "", 0, False)'
"""

from __future__ import annotations

import datetime as dt
import re

from workbench.plan import read_step_line, render_args
from workbench.tools.tinyagent import tinyagent_tools

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")  # fmt: skip
_NUMBERS = {w: i for i, w in enumerate("one two three four five six seven eight nine ten".split(), 1)}
#: The parameters that hold a date ("YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS"), by tool.
DATE_PARAMS = {
    s.name: tuple(
        i for i, p in enumerate(s.params) if p.name in ("start_date", "end_date", "due_date", "start_time")
    )
    for s in tinyagent_tools()
}

_WD = r"(mon|tue|wed|thu|fri|sat|sun)(?:day|s|sday|nesday|s|r|rs|rsday|urday)?"  # friday, fri, tues, weds, thurs
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)(?:uary|ruary|ch|il|e|y|ust|t|tember|ober|ember)?"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "after_tomorrow",
        re.compile(r"\b(?:the )?day a[a-z]{3,5} (?:tomorrow|tomorow|tmrw|2moro)\b"),
    ),  # "atfer" too
    ("tomorrow", re.compile(r"\b(?:tomorrow|tomorow|tommorow|tommorrow|tmrw|tmr|2moro|2morrow)\b(?!'s)")),
    ("today", re.compile(r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b(?!'s)")),
    ("in_days", re.compile(r"\bin (\d{1,2}|" + "|".join(_NUMBERS) + r") (day|week)s?\b")),
    ("iso", re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")),
    ("month_day", re.compile(rf"\b{_MON}\.? (\d{{1,2}})(?:st|nd|rd|th)?\b")),
    ("day_month", re.compile(rf"\b(?:the )?(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MON}\b")),
    (
        "nth",
        re.compile(
            r"\b(?:on|for|by|before|until) the (\d{1,2})(?:st|nd|rd|th)\b(?! floor| street| st\b| ave)"
        ),
    ),
    ("weekday", re.compile(rf"(?<!next )(?<!last )\b{_WD}\b")),
]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?= \d{2}:\d{2}:\d{2}$|$)")


def named_day(query: str, today: dt.date) -> dt.date | None:
    """The one day `query` names (see the module's docstring for which phrasings), or None."""
    text = re.sub(r"\s+", " ", query.lower())
    if re.search(rf"\b(?:next|last) {_WD}\b", text):
        return None  # a day whose meaning people disagree on: the plan's date stays the model's
    days: set[dt.date] = set()
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            day = _day(kind, m, today)
            if day is not None:
                days.add(day)
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]  # read each span once
    return days.pop() if len(days) == 1 else None


def _day(kind: str, m: re.Match[str], today: dt.date) -> dt.date | None:
    if kind in ("today", "tomorrow", "after_tomorrow"):
        return today + dt.timedelta({"today": 0, "tomorrow": 1, "after_tomorrow": 2}[kind])
    if kind == "in_days":
        n = int(m.group(1)) if m.group(1).isdigit() else _NUMBERS[m.group(1)]
        return today + dt.timedelta(n * (7 if m.group(2) == "week" else 1))
    if kind == "weekday":
        wd = next(i for i, w in enumerate(WEEKDAYS) if w.startswith(m.group(1)[:3]))
        return today + dt.timedelta((wd - today.weekday() - 1) % 7 + 1)
    try:
        if kind == "iso":
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if kind == "nth":
            day = dt.date(today.year, today.month, int(m.group(1)))
            return day if day >= today else _add_month(day)
        month, d = (m.group(1), m.group(2)) if kind == "month_day" else (m.group(2), m.group(1))
        number = next(i for i, name in enumerate(MONTHS, 1) if name.startswith(month[:3]))
        day = dt.date(today.year, number, int(d))
        return day if day >= today else day.replace(year=today.year + 1)
    except ValueError:  # "June 31", "the 30th" in February: not a day
        return None


def _add_month(day: dt.date) -> dt.date | None:
    try:
        return day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)
    except ValueError:
        return None


class DateRepair:
    """Moves the dates of a plan's steps onto `day`, one line at a time (`line`), as a plan streams or whole
    (`plan`): in each step that holds dates, all of them move by the days between its first date and `day`.
    A line that is not a step with a date passes unchanged."""

    def __init__(self, day: dt.date):
        self.day = day

    def plan(self, text: str) -> str:
        return "\n".join(self.line(line) for line in text.split("\n"))

    def line(self, raw: str) -> str:
        step = read_step_line(raw)
        if step is None:
            return raw
        idx, tool, args, end = step
        dates = [i for i in DATE_PARAMS.get(tool, ()) if i < len(args) and _is_date(args[i])]
        if not dates:
            return raw
        shift = self.day - dt.date.fromisoformat(args[dates[0]][:10])
        if not shift:
            return raw
        new = list(args)
        for i in dates:
            new[i] = (dt.date.fromisoformat(args[i][:10]) + shift).isoformat() + args[i][10:]
        return f"{idx}. {tool}({render_args(tuple(new))}){end}"


def _is_date(value: object) -> bool:
    """A "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" string whose date exists."""
    if not (isinstance(value, str) and _DATE.match(value)):
        return False
    try:
        dt.date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True
