"""Typed text to the words a person says, and a transcript back to typed text.

`spoken_words` writes a query as it is spoken ("3:30pm" -> "three thirty p m", "Ayşe" -> "ayse",
"v2.pdf" -> "v two dot pdf"): the text a domain language model learns, the words espeak-ng is asked to say,
and the reference of the word error rate, so all three agree. `written` turns a transcript back into what the
planner was trained to read ("three thirty p m" -> "3:30 pm", "twenty five minute" -> "25 minute"), with
text2num's `alpha2digit` for the numbers.

    >>> spoken_words("Text Ayşe at 3:30pm w/ the v2.pdf")
    ['text', 'ayse', 'at', 'three', 'thirty', 'p', 'm', 'with', 'the', 'v', 'two', 'dot', 'pdf']
    >>> written("meet at three thirty p m for twenty five minutes")
    'meet at 3:30 pm for 25 minutes'
"""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words

MONTHS = "january february march april may june july august september october november december".split()
_TIME = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?", re.IGNORECASE)
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_PHONE = re.compile(r"\+?\(?\d[\d\-() ]{6,}\d")
_NUMBER = re.compile(r"\d+")


def _say(n: int) -> str:
    return num2words(n).replace(",", "").replace(" and ", " ")


def _time(hour: str, minute: str | None, half: str | None) -> str:
    words = [_say(int(hour))]
    if minute and minute != "00":
        words.append(("oh " if minute.startswith("0") else "") + _say(int(minute)))
    elif minute and not half:
        words.append("o'clock")
    if half:
        words.append(f"{half.lower()} m")
    return " " + " ".join(words) + " "


def _date(m: re.Match[str]) -> str:
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if not 1 <= month <= 12:
        return " ".join(_say(int(x)) for x in m.groups())
    return f" {MONTHS[month - 1]} {num2words(day, to='ordinal')} {num2words(year, to='year')} "


_LETTERS = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ı": "i", "ß": "ss", "æ": "ae"}
)


def spoken_words(text: str) -> list[str]:
    """The words of `text` as it is said aloud: lowercase ASCII letters and apostrophes, numbers spelled."""
    text = unicodedata.normalize("NFKD", text.translate(_LETTERS)).encode("ascii", "ignore").decode()
    text = re.sub(r"(?<=\w)\.(?=\w)", " dot ", text)  # lease.pdf, uni.edu (3.5 is rare in a command)
    text = text.replace("w/", " with ").replace("&", " and ").replace("@", " at ").replace("+", " plus ")
    text = _DATE.sub(_date, text)
    text = _TIME.sub(lambda m: _time(m[1], m[2], m[3]), text)
    text = _CLOCK.sub(lambda m: _time(m[1], m[2], None), text)
    text = _ORDINAL.sub(lambda m: " " + num2words(int(m[1]), to="ordinal") + " ", text)
    text = _PHONE.sub(lambda m: " " + " ".join(_say(int(d)) for d in re.sub(r"\D", "", m[0])) + " ", text)
    text = _NUMBER.sub(lambda m: " " + _say(int(m[0])) + " ", text)
    return re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower().replace("-", " "))


def spoken(text: str) -> str:
    return " ".join(spoken_words(text))


_HOURS = {num2words(h): h for h in range(1, 13)}
_HOUR = re.compile(rf"\b({'|'.join(_HOURS)})\b(?= (?:[a-z]+ )?[ap] m\b)")  # "two p m", "two thirty p m"


def written(transcript: str, names: dict[str, str] | None = None) -> str:
    """A transcript in the typed form the planner learned: numbers as digits, times as "3:30 pm", and the words
    of `names` ({spoken: written}, e.g. {"ayse": "Ayşe"}) as written."""
    if names:
        transcript = " ".join(names.get(w, w) for w in transcript.split())
    from text_to_num import alpha2digit

    text = alpha2digit(_HOUR.sub(lambda m: str(_HOURS[m[1]]), transcript), "en")  # small numbers stay words
    text = re.sub(r"\b(\d{1,2}) (\d{2}) ([ap]) m\b", r"\1:\2 \3m", text)
    text = re.sub(r"\b(\d{1,2}) ([ap]) m\b", r"\1 \2m", text)
    text = re.sub(r"\b(19|20) (\d{2})\b", r"\1\2", text)  # twenty twenty four: 2024
    text = re.sub(r" dot (?=[a-z0-9])", ".", text)
    return text
