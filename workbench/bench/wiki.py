"""Wikipedia tools of the HotpotQA and ParallelQA benchmarks (Kim et al. 2023, Sec. 5.1; ReAct, Yao et al.).

Both papers give the agent a docstore with two actions:

- `search(entity)`: the opening sentences of the entity's page, or, when there is no such page, a few
  similar titles so the model can retry with a better name;
- `lookup(keyword)`: the next sentence of the last page found that contains the keyword (ReAct's Ctrl+F).

LLMCompiler's planner for HotpotQA uses only `search`; ReAct uses both. Two backends share the logic:
`LocalDocstore` (a folder of pages: reproducible, offline, what tests use) and `OnlineWikipedia` (the public
API, for users with internet). The page found by `search` is session state, as in ReAct: after parallel
searches, a `lookup` reads whichever page came back last (ReAct never runs two searches at once).

    >>> store = LocalDocstore.from_pages({"Ed Wood": "Ed Wood was a film director. He was born in 1924."})
    >>> store.search("ed wood")
    'Ed Wood was a film director. He was born in 1924.'
    >>> store.lookup("born")
    '(Result 1 / 1) He was born in 1924.'
    >>> store.search("Ed Woods")
    "Could not find [Ed Woods]. Similar: ['Ed Wood']"
"""

from __future__ import annotations

import abc
import asyncio
import difflib
import json
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.compiler.tools import Tool
from workbench.jsonl import read_jsonl_numbered
from workbench.tools.spec import Param, ToolSpec, ToolUnavailable

SUMMARY_SENTENCES = 5
SIMILAR_TITLES = 5
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Page:
    title: str
    text: str


def title_key(title: str) -> str:
    """How titles are compared: case-insensitive, `_` as a space, runs of spaces as one."""
    return " ".join(title.replace("_", " ").split()).casefold()


def sentences(text: str) -> list[str]:
    """The sentences of `text`: a plain split after . ! or ? (abbreviations such as "U.S." split too)."""
    out: list[str] = []
    for paragraph in text.splitlines():
        out.extend(s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip())
    return out


def summary(text: str, n: int = SUMMARY_SENTENCES) -> str:
    """The first `n` sentences of the page's paragraphs, skipping headings (lines of one or two words)."""
    body = [p.strip() for p in text.splitlines() if len(p.split()) > 2]
    return " ".join(sentences("\n".join(body))[:n])


class Docstore(abc.ABC):
    """`search` and `lookup` over some source of pages; subclasses only say how to find a page."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._page: Page | None = None
        self._keyword: str | None = None
        self._hits: list[str] = []
        self._next = 0

    @abc.abstractmethod
    def find(self, entity: str) -> Page | list[str]:
        """The page titled `entity`, or the titles most like it (possibly none)."""

    def search(self, entity: str) -> str:
        entity = " ".join(str(entity).split())
        if not entity:
            return "Error: search needs an entity name, e.g. search('Scott Derrickson')."
        found = self.find(entity)
        if isinstance(found, list):
            if not found:
                return f"Could not find [{entity}]. No similar titles."
            return f"Could not find [{entity}]. Similar: {found[:SIMILAR_TITLES]}"
        with self._lock:
            self._page, self._keyword, self._hits, self._next = found, None, [], 0
        return summary(found.text) or f"The page [{found.title}] is empty."

    def lookup(self, keyword: str) -> str:
        keyword = str(keyword).strip()
        with self._lock:
            if self._page is None:
                return "Error: lookup reads the page of the last successful search; search an entity first."
            if not keyword:
                return "Error: lookup needs a keyword."
            if self._keyword is None or keyword.casefold() != self._keyword.casefold():
                needle = keyword.casefold()
                self._keyword = keyword
                self._hits = [s for s in sentences(self._page.text) if needle in s.casefold()]
                self._next = 0
            if self._next >= len(self._hits):
                if not self._hits:
                    return f"No sentence of [{self._page.title}] mentions {keyword!r}."
                return "No more results."
            self._next += 1
            return f"(Result {self._next} / {len(self._hits)}) {self._hits[self._next - 1]}"


class LocalDocstore(Docstore):
    """Pages from a folder: `<Title>.txt` files and/or a `pages.jsonl` of {"title", "text"} lines.

    A title that appears twice is an error: which copy a benchmark read must never depend on file order.
    """

    def __init__(self, folder: str | Path | None = None, pages: Mapping[str, str] | None = None):
        super().__init__()
        self._pages: dict[str, Page] = {}
        if folder is not None:
            folder = Path(folder)
            if not folder.is_dir():
                raise FileNotFoundError(f"docstore folder {folder} does not exist")
            for path in sorted(folder.glob("*.txt")):
                self._add(path.stem, path.read_text(encoding="utf-8"), str(path))
            jsonl = folder / "pages.jsonl"
            if jsonl.is_file():
                self._read_jsonl(jsonl)
        for title, text in (pages or {}).items():
            self._add(title, text, "pages")

    @classmethod
    def from_pages(cls, pages: Mapping[str, str]) -> LocalDocstore:
        return cls(pages=pages)

    @property
    def titles(self) -> list[str]:
        return [p.title for p in self._pages.values()]

    def _add(self, title: str, text: str, source: str) -> None:
        key = title_key(title)
        if not key:
            raise ValueError(f"{source}: a page needs a non-empty title")
        if key in self._pages:
            raise ValueError(f"{source}: page {title!r} is already defined (as {self._pages[key].title!r})")
        self._pages[key] = Page(title, text)

    def _read_jsonl(self, path: Path) -> None:
        for n, row in read_jsonl_numbered(path, "wiki pages"):
            if not (isinstance(row, dict) and all(isinstance(row.get(k), str) for k in ("title", "text"))):
                raise ValueError(f'{path}:{n}: expected {{"title": str, "text": str}}')
            self._add(row["title"], row["text"], f"{path}:{n}")

    def find(self, entity: str) -> Page | list[str]:
        key = title_key(entity)
        if key in self._pages:
            return self._pages[key]
        keys = list(self._pages)
        close = difflib.get_close_matches(key, keys, n=SIMILAR_TITLES, cutoff=0.6)
        containing = [k for k in keys if key in k and k not in close]
        return [self._pages[k].title for k in (close + containing)[:SIMILAR_TITLES]]


class OnlineWikipedia(Docstore):
    """English Wikipedia through its public action API (plain-text extracts; needs internet).

    An exact title (after redirects) is fetched directly; otherwise the full-text search decides: a top hit
    whose title matches the entity up to case is used, else its titles are offered as similar. Network
    failures raise: an outage must not be scored as the model's mistake.
    """

    API = "https://en.wikipedia.org/w/api.php"

    def __init__(self, api: str = API, timeout: float = 20.0, user_agent: str = "tinyagent-workbench/0.1"):
        super().__init__()
        self.api, self.timeout, self.user_agent = api, timeout, user_agent

    def _query(self, **params: str) -> dict[str, Any]:
        params = {"action": "query", "format": "json", "formatversion": "2", **params}
        request = urllib.request.Request(
            f"{self.api}?{urllib.parse.urlencode(params)}", headers={"User-Agent": self.user_agent}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except (OSError, ValueError) as e:  # URLError and timeouts are OSErrors; a bad body is a ValueError
            raise ToolUnavailable(
                f"Wikipedia did not answer ({e}); check the connection or use --docstore"
            ) from None

    def _fetch(self, title: str) -> Page | None:
        data = self._query(prop="extracts", explaintext="1", redirects="1", titles=title)
        pages = data.get("query", {}).get("pages", [])
        if not pages or pages[0].get("missing") or not pages[0].get("extract"):
            return None
        return Page(pages[0]["title"], pages[0]["extract"])

    def find(self, entity: str) -> Page | list[str]:
        page = self._fetch(entity)
        if page is not None:
            return page
        hits = self._query(list="search", srsearch=entity, srlimit=str(SIMILAR_TITLES))
        titles = [h["title"] for h in hits.get("query", {}).get("search", [])]
        if titles and title_key(titles[0]) == title_key(entity):
            return self._fetch(titles[0]) or titles
        return titles


SEARCH_SPEC = ToolSpec(
    "search",
    (Param("entity", "str", "the exact name of a person, place, work or thing"),),
    "Looks the entity up on Wikipedia and returns the opening sentences of its page.",
    rules=("When there is no page with that exact name, it returns similar titles instead: retry with one.",),
    app="Wikipedia",
)
LOOKUP_SPEC = ToolSpec(
    "lookup",
    (Param("keyword", "str", "a word or phrase to find"),),
    "Returns the next sentence that contains the keyword in the page found by the last search.",
    rules=("Calling it again with the same keyword gives the following match.",),
    app="Wikipedia",
)


def wiki_tools(backend: Docstore, lookup: bool = True) -> list[Tool]:
    """`search` (and `lookup` unless disabled, as in LLMCompiler's HotpotQA set-up) as async tools.

    The backend is called in a worker thread so that parallel searches over the network overlap.
    """

    async def search(entity: str) -> str:
        return await asyncio.to_thread(backend.search, entity)

    async def lookup_fn(keyword: str) -> str:
        return await asyncio.to_thread(backend.lookup, keyword)

    tools = [Tool(SEARCH_SPEC, search)]
    if lookup:
        tools.append(Tool(LOOKUP_SPEC, lookup_fn))
    return tools
