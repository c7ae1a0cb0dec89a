"""In-context examples and tool sets of the three LLMCompiler benchmarks (Kim et al. 2023, Sec. 5.1-5.2).

The paper gives the planner a few example plans per benchmark, the joiner a few example decisions, and
the ReAct baseline a few example traces. These are ours: other entities than any question of the
benchmarks (so no example leaks an answer), facts rounded as Wikipedia's opening sentences give them.

- HotpotQA (comparison questions) and Movie recommendation are embarrassingly parallel: one `search` per
  entity, all independent, then `join()`.
- ParallelQA adds dependencies: searches feed `math(problem, ["$1", ...])` steps, which feed the answer.

Each example is kept as data (`PlanExample`, `JoinExample`, `ReactExample`) so that tests can check every
plan against the benchmark's tool specs and every decision against the joiner's parser; `examples_for`
renders them as the prompt text the agents take.

    >>> from workbench.bench.wiki import LocalDocstore
    >>> [t.name for t in benchmark_tools("parallelqa", LocalDocstore.from_pages({}))]
    ['search', 'math']
    >>> [t.name for t in benchmark_tools("hotpotqa", LocalDocstore.from_pages({}), react=True)]
    ['search', 'lookup']
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.bench.datasets import BENCHMARKS
from workbench.bench.mathtool import CompletesText, math_tool
from workbench.bench.wiki import Docstore, wiki_tools
from workbench.compiler.tools import Tool

SEPARATOR = "###"


@dataclass(frozen=True)
class PlanExample:
    """A query and the plan the planner should write for it (ending in `join()<END_OF_PLAN>`)."""

    query: str
    plan: str

    def render(self) -> str:
        return f"Query: {self.query}\n{self.plan}"


@dataclass(frozen=True)
class JoinExample:
    """A query, the scratchpad the joiner sees (steps and observations) and the reply it should give."""

    query: str
    scratchpad: str
    reply: str

    def render(self) -> str:
        return f"Query: {self.query}\nScratchpad:\n{self.scratchpad}\n{self.reply}"


@dataclass(frozen=True)
class ReactExample:
    """A query and a whole ReAct trace: Thought / Action / Observation turns ending in `Finish[...]`."""

    query: str
    trace: str

    def render(self) -> str:
        return f"Query: {self.query}\n{self.trace}"


@dataclass(frozen=True)
class BenchExamples:
    """The prompt texts of one benchmark, rendered."""

    planner: str
    joiner: str
    react: str


# ------------------------------------------------------------------------------------------- HotpotQA

_TORONTO = "University of Toronto"
_TORONTO_Q = "Which was founded first, the University of Toronto or McGill University?"
_TORONTO_OBS = (
    "The University of Toronto is a public research university in Toronto, Ontario, Canada. It was "
    "founded by royal charter in 1827 as King's College."
)
_MCGILL_OBS = (
    "McGill University is a public research university in Montreal, Quebec, Canada. It was founded "
    "in 1821 by royal charter."
)
_RIVERS_Q = "Are the Rhine and the Danube both longer than 1,000 kilometres?"
_RHINE_OBS = (
    "The Rhine is one of the major rivers of Europe. It rises in the Swiss Alps and flows about "
    "1,230 km to the North Sea."
)
_DANUBE_OBS = (
    "The Danube is the second-longest river in Europe. It flows about 2,850 km from the Black Forest "
    "to the Black Sea."
)
_BANDS_Q = "Are Radiohead and Muse both English rock bands?"

HOTPOTQA_PLANS = (
    PlanExample(
        _TORONTO_Q,
        (
            "Thought: Each founding year is on its own page, and neither search needs the other.\n"
            f'1. search("{_TORONTO}")\n'
            '2. search("McGill University")\n'
            "Thought: The two pages are enough to compare the years.\n"
            "3. join()<END_OF_PLAN>"
        ),
    ),
    PlanExample(
        _BANDS_Q,
        (
            "Thought: Look up where each band comes from and what music it plays; both searches run at once.\n"
            '1. search("Radiohead")\n'
            '2. search("Muse (band)")\n'
            "3. join()<END_OF_PLAN>"
        ),
    ),
)

HOTPOTQA_JOINS = (
    JoinExample(
        _TORONTO_Q,
        (
            f'1. search("{_TORONTO}")\nObservation: {_TORONTO_OBS}\n'
            f'2. search("McGill University")\nObservation: {_MCGILL_OBS}'
        ),
        (
            "Thought: McGill was founded in 1821 and Toronto in 1827, so McGill came first. The answer is the "
            "name alone.\n"
            "Action: Finish(McGill University)"
        ),
    ),
    JoinExample(
        _RIVERS_Q,
        (
            f'1. search("Rhine")\nObservation: {_RHINE_OBS}\n'
            "2. search(\"Danube River\")\nObservation: Could not find [Danube River]. Similar: ['Danube', "
            "'Danube Delta']"
        ),
        (
            "Thought: The Rhine is long enough, but the Danube's page was not found under that name; the page "
            "is titled Danube.\n"
            'Action: Replan(the Danube\'s length is missing: search "Danube" instead of "Danube River")'
        ),
    ),
    JoinExample(
        _RIVERS_Q,
        (f'1. search("Danube")\nObservation: {_DANUBE_OBS}'),
        (
            "Thought: Earlier the Rhine was about 1,230 km, and the Danube is about 2,850 km: both are longer "
            "than 1,000 km. A yes/no question is answered with yes or no alone.\n"
            "Action: Finish(yes)"
        ),
    ),
)

HOTPOTQA_REACT = (
    ReactExample(
        _TORONTO_Q,
        (
            "Thought: I need the founding year of the University of Toronto first.\n"
            f"Action: search[{_TORONTO}]\n"
            f"Observation: {_TORONTO_OBS}\n"
            "Thought: Toronto dates from 1827. Now McGill University.\n"
            "Action: search[McGill University]\n"
            f"Observation: {_MCGILL_OBS}\n"
            "Thought: 1821 is earlier than 1827, so McGill University was founded first.\n"
            "Action: Finish[McGill University]"
        ),
    ),
    ReactExample(
        _RIVERS_Q,
        (
            "Thought: I need the length of each river, starting with the Rhine.\n"
            "Action: search[Rhine]\n"
            "Observation: The Rhine is one of the major rivers of Europe. It rises in the Swiss Alps and flows "
            "into the North Sea.\n"
            "Thought: The opening sentences do not give the length; find it on the page.\n"
            "Action: lookup[km]\n"
            "Observation: (Result 1 / 1) Its course is about 1,230 km long.\n"
            "Thought: The Rhine is about 1,230 km. Now the Danube.\n"
            "Action: search[Danube]\n"
            f"Observation: {_DANUBE_OBS}\n"
            "Thought: Both rivers are longer than 1,000 km.\n"
            "Action: Finish[yes]"
        ),
    ),
)

# ---------------------------------------------------------------------------------------------- Movie

_MOVIE_Q = (
    "Find a movie similar to Jaws, Rocky, Taxi Driver, Annie Hall\nOptions:\nThe Conversation\n"
    "Barbie in a Mermaid Tale\nSharknado 4\nMarley & Me"
)
_MOVIE_TITLES = (
    "Jaws",
    "Rocky",
    "Taxi Driver",
    "Annie Hall",
    "The Conversation",
    "Barbie in a Mermaid Tale",
    "Sharknado 4",
    "Marley & Me",
)
_MOVIE_OBS = {
    "Jaws": "Jaws is a 1975 American thriller film directed by Steven Spielberg.",
    "Rocky": "Rocky is a 1976 American sports drama film directed by John G. Avildsen.",
    "Taxi Driver": "Taxi Driver is a 1976 American psychological drama film directed by Martin Scorsese.",
    "Annie Hall": "Annie Hall is a 1977 American romantic comedy film directed by Woody Allen.",
    "The Conversation": "The Conversation is a 1974 American mystery thriller film directed by Francis Ford "
    "Coppola.",
    "Barbie in a Mermaid Tale": "Barbie in a Mermaid Tale is a 2010 animated film released direct to video.",
    "Sharknado 4": "Sharknado 4: The 4th Awakens is a 2016 American television film.",
    "Marley & Me": "Marley & Me is a 2008 American comedy-drama film about a family and their dog.",
}

MOVIE_PLANS = (
    PlanExample(
        _MOVIE_Q,
        (
            "Thought: Look up every listed movie and every option to compare era, genre and acclaim. No search "
            "needs another, so all of them run at once.\n"
            + "\n".join(f'{i}. search("{t}")' for i, t in enumerate(_MOVIE_TITLES, 1))
            + f"\n{len(_MOVIE_TITLES) + 1}. join()<END_OF_PLAN>"
        ),
    ),
)

MOVIE_JOINS = (
    JoinExample(
        _MOVIE_Q,
        "\n".join(
            f'{i}. search("{t}")\nObservation: {_MOVIE_OBS[t]}' for i, t in enumerate(_MOVIE_TITLES, 1)
        ),
        (
            "Thought: The listed movies are acclaimed American films of the mid-1970s. Of the options, only The "
            "Conversation is one too. The answer is the option exactly as written.\n"
            "Action: Finish(The Conversation)"
        ),
    ),
    JoinExample(
        _MOVIE_Q,
        (
            f'1. search("Jaws")\nObservation: {_MOVIE_OBS["Jaws"]}\n'
            '2. search("Rocky")\nObservation: Error: search timed out after 60 s'
        ),
        (
            "Thought: Only two searches came back, one of them failed, and none of the options was looked up; "
            "that is not enough to choose.\n"
            "Action: Replan(search the remaining listed movies and all four options)"
        ),
    ),
)

MOVIE_REACT = (
    ReactExample(
        _MOVIE_Q,
        "\n".join(
            [
                f"Thought: I will look up {'the first listed movie' if i == 0 else 'the next title'}.\n"
                f"Action: search[{t}]\nObservation: {_MOVIE_OBS[t]}"
                for i, t in enumerate(_MOVIE_TITLES)
            ]
            + [
                "Thought: The listed movies are acclaimed American films of the mid-1970s; among the options only "
                "The Conversation fits.\nAction: Finish[The Conversation]"
            ]
        ),
    ),
)

# ------------------------------------------------------------------------------------------ ParallelQA

_RIVER_SCALE_Q = "If the Nile were 10% shorter and the Amazon River 5% longer, which river would be longer?"
_NILE_OBS = "The Nile is a major north-flowing river in northeastern Africa. It is about 6,650 km long."
_AMAZON_OBS = (
    "The Amazon River in South America is the largest river by discharge. It is about 6,400 km long."
)
_PEAKS_Q = "What is the combined height of Mount Fuji and Mont Blanc in metres?"
_FUJI_OBS = "Mount Fuji is an active volcano on the Japanese island of Honshu, 3,776 m high."
_BLANC_OBS = "Mont Blanc is the highest mountain of the Alps, rising 4,806 m above sea level."

PARALLELQA_PLANS = (
    PlanExample(
        _RIVER_SCALE_Q,
        (
            "Thought: First find both lengths; the two searches are independent.\n"
            '1. search("Nile")\n'
            '2. search("Amazon River")\n'
            "Thought: Scale each length; each calculation needs only its own river, so they also run in "
            "parallel.\n"
            '3. math("the length of the Nile in km decreased by 10%", ["$1"])\n'
            '4. math("the length of the Amazon River in km increased by 5%", ["$2"])\n'
            "5. join()<END_OF_PLAN>"
        ),
    ),
    PlanExample(
        _PEAKS_Q,
        (
            '1. search("Mount Fuji")\n'
            '2. search("Mont Blanc")\n'
            "Thought: One calculation needs both heights.\n"
            '3. math("the height of Mount Fuji plus the height of Mont Blanc, in metres", ["$1", "$2"])\n'
            "4. join()<END_OF_PLAN>"
        ),
    ),
)

PARALLELQA_JOINS = (
    JoinExample(
        _RIVER_SCALE_Q,
        (
            f'1. search("Nile")\nObservation: {_NILE_OBS}\n'
            f'2. search("Amazon River")\nObservation: {_AMAZON_OBS}\n'
            '3. math("the length of the Nile in km decreased by 10%", ["$1"])\nObservation: 5985\n'
            '4. math("the length of the Amazon River in km increased by 5%", ["$2"])\nObservation: 6720'
        ),
        (
            "Thought: 6720 km is more than 5985 km, so the Amazon River would be the longer one. The answer is "
            "the name alone.\n"
            "Action: Finish(Amazon River)"
        ),
    ),
    JoinExample(
        _PEAKS_Q,
        (
            f'1. search("Mount Fuji")\nObservation: {_FUJI_OBS}\n'
            f'2. search("Mont Blanc")\nObservation: {_BLANC_OBS}\n'
            '3. math("the height of Mount Fuji plus the height of Mont Blanc, in metres", ["$1", "$2"])\n'
            "Observation: Error: the model's expression '3776 + x' could not be evaluated"
        ),
        (
            "Thought: Both heights were found but the sum failed, so there is no number to give yet.\n"
            "Action: Replan(add the two heights again: 3776 and 4806 metres)"
        ),
    ),
    JoinExample(
        _PEAKS_Q,
        ('1. math("3776 + 4806")\nObservation: 8582'),
        (
            "Thought: The two heights add up to 8582 metres. A numeric answer is the number alone.\n"
            "Action: Finish(8582)"
        ),
    ),
)

PARALLELQA_REACT = (
    ReactExample(
        _RIVER_SCALE_Q,
        (
            "Thought: I need the length of the Nile.\n"
            "Action: search[Nile]\n"
            f"Observation: {_NILE_OBS}\n"
            "Thought: Now the length of the Amazon River.\n"
            "Action: search[Amazon River]\n"
            f"Observation: {_AMAZON_OBS}\n"
            "Thought: The Nile shortened by 10%.\n"
            'Action: math["6650 * 0.9"]\n'
            "Observation: 5985\n"
            "Thought: The Amazon lengthened by 5%.\n"
            'Action: math["6400 * 1.05"]\n'
            "Observation: 6720\n"
            "Thought: 6720 is more than 5985, so the Amazon River would be longer.\n"
            "Action: Finish[Amazon River]"
        ),
    ),
)

# ---------------------------------------------------------------------------------------------- access

PLANS: dict[str, tuple[PlanExample, ...]] = {
    "hotpotqa": HOTPOTQA_PLANS,
    "movie": MOVIE_PLANS,
    "parallelqa": PARALLELQA_PLANS,
}
JOINS: dict[str, tuple[JoinExample, ...]] = {
    "hotpotqa": HOTPOTQA_JOINS,
    "movie": MOVIE_JOINS,
    "parallelqa": PARALLELQA_JOINS,
}
REACT: dict[str, tuple[ReactExample, ...]] = {
    "hotpotqa": HOTPOTQA_REACT,
    "movie": MOVIE_REACT,
    "parallelqa": PARALLELQA_REACT,
}


def _check(name: str) -> None:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")


def _join(examples: tuple[PlanExample, ...] | tuple[JoinExample, ...] | tuple[ReactExample, ...]) -> str:
    return f"\n{SEPARATOR}\n".join(e.render() for e in examples)


def examples_for(name: str) -> BenchExamples:
    """The planner, joiner and ReAct example texts of benchmark `name`, ready for the agents' prompts."""
    _check(name)
    return BenchExamples(_join(PLANS[name]), _join(JOINS[name]), _join(REACT[name]))


def benchmark_tools(
    name: str, wiki_backend: Docstore, llm: CompletesText | None = None, react: bool = False
) -> list[Tool]:
    """The tools of benchmark `name`: `search` everywhere, `math` for ParallelQA.

    LLMCompiler's planner only gets `search` (the opening sentences are what a parallel plan can use);
    ReAct, as in its own paper, also gets `lookup`, which reads further into the last page found. `llm`
    writes the math tool's expressions for word problems (without it only plain arithmetic is solved).
    """
    _check(name)
    tools = wiki_tools(wiki_backend, lookup=react)
    if name == "parallelqa":
        tools.append(math_tool(llm))
    return tools


__all__ = ["BenchExamples", "JoinExample", "PlanExample", "ReactExample", "benchmark_tools", "examples_for"]
