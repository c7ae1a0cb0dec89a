"""Every paper figure and table, regenerated from the saved results alone (no stage is re-run).

`paper_figures()` is what `workbench viz figures` and `notebooks/08_paper_figures.ipynb` call: Figure 1 and
Figure 3 need nothing; the others are drawn from `data/results/<stage>.json` of the active profile when that
stage has run, and `missing()` names the command that makes each absent one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from workbench import config

#: stage result -> (the command that writes it, the figures and tables drawn from it)
SOURCES: dict[str, tuple[str, Callable[[], list[Path]]]] = {}


def _register() -> None:
    from workbench import viz

    SOURCES.update(
        {
            "llmcompiler_vs_react": ("workbench bench latency", lambda: [viz.fig_llmcompiler_vs_react()]),
            "synthesis": ("workbench synth", lambda: [viz.fig_dataset_distributions()]),
            "toolrag": ("workbench toolrag eval", lambda: [viz.fig_toolrag_recall(), *viz.table1_toolrag()]),
            "planner": ("workbench finetune", lambda: [viz.fig_success_rate(), viz.fig_training_curves()]),
            "quantization": (
                "workbench quantize",
                lambda: [*viz.table2_quantization(), viz.planner.fig_mlx_lora()],
            ),
        }
    )


def paper_figures() -> list[Path]:
    """Write every figure and table whose results exist; returns their paths (PNG, Markdown and CSV)."""
    from workbench import viz

    _register()
    paths = [viz.fig1_plan_dag(), viz.fig3_dag_isomorphism()]
    for stage, (_, draw) in SOURCES.items():
        if config.results_path(stage).exists():
            paths += draw()
    return paths


def missing() -> dict[str, str]:
    """`{stage: command}` for the results not saved yet in the active profile."""
    _register()
    return {stage: cmd for stage, (cmd, _) in SOURCES.items() if not config.results_path(stage).exists()}
