"""Every paper figure and table, regenerated from the saved results alone (no stage is re-run).

`paper_figures()` is what `workbench viz figures` and `notebooks/08_paper_figures.ipynb` call: Figure 1 and
Figure 3 need nothing; the others are drawn from `data/results/<stage>.json` of the active profile when that
stage has run, and `missing()` names the command that makes each absent one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from workbench import config
from workbench.viz.dag import fig1_plan_dag, fig3_dag_isomorphism
from workbench.viz.data import fig_dataset_distributions, fig_toolrag_recall
from workbench.viz.planner import fig_mlx_lora, fig_success_rate, fig_training_curves
from workbench.viz.tables import table1_toolrag, table2_quantization
from workbench.viz.timeline import fig_llmcompiler_vs_react

#: stage result -> (the command that writes it, the figures and tables drawn from it)
SOURCES: dict[str, tuple[str, Callable[[], list[Path]]]] = {
    "llmcompiler_vs_react": ("workbench bench latency", lambda: [fig_llmcompiler_vs_react()]),
    "synthesis": ("workbench synth", lambda: [fig_dataset_distributions()]),
    "toolrag": ("workbench toolrag eval", lambda: [fig_toolrag_recall(), *table1_toolrag()]),
    "planner": ("workbench finetune", lambda: [fig_success_rate(), fig_training_curves()]),
    "quantization": ("workbench quantize", lambda: [*table2_quantization(), fig_mlx_lora()]),
}


def paper_figures() -> list[Path]:
    """Write every figure and table whose results exist; returns their paths (PNG, Markdown and CSV)."""
    paths = [fig1_plan_dag(), fig3_dag_isomorphism()]
    for stage, (_, draw) in SOURCES.items():
        if config.results_path(stage).exists():
            paths += draw()
    return paths


def missing() -> dict[str, str]:
    """`{stage: command}` for the results not saved yet in the active profile."""
    return {stage: cmd for stage, (cmd, _) in SOURCES.items() if not config.results_path(stage).exists()}
