"""The synthesis stage (TinyAgent, Sec. 3.1): the dataset into `data/tinyagent/`, its report into
`data/results/synthesis.json` (the figures of it: `viz.fig_dataset_distributions`).

    >>> run(config.stage_config(SynthConfig, "synth", "quick"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from workbench import config
from workbench.synth.dataset import SynthConfig, split_path, synthesize
from workbench.synth.records import SPLITS


def run(cfg: SynthConfig | None = None, llm: Any = None) -> dict[str, Any]:
    """Synthesize every split, write the files and `synthesis.json`; returns the report.

    `llm` replaces the LLM teacher that `cfg` names (a scripted one in tests).
    """
    cfg = cfg or config.stage_config(SynthConfig, "synth")
    folder = config.dataset_dir()
    report = {
        "profile": config.active_profile(),
        **synthesize(cfg, folder, llm),
        "files": {s: str(split_path(s, folder).relative_to(config.data_dir())) for s in SPLITS},
    }
    config.save_results("synthesis", report)
    return report
