"""Figures and widgets. Every figure is written by code here, to `figures/`, under a stable name."""

from workbench.viz import planner
from workbench.viz.dag import (
    APP_COLORS,
    draw_comparison,
    draw_plan,
    fig1_plan_dag,
    fig3_dag_isomorphism,
    save_figure,
)
from workbench.viz.data import fig_dataset_distributions, fig_toolrag_recall
from workbench.viz.explorer import PlanExplorer, explore
from workbench.viz.planner import fig_success_rate, fig_training_curves
from workbench.viz.tables import table1_toolrag, table2_quantization, write_table
from workbench.viz.timeline import (
    draw_timeline,
    fig_execution_timeline,
    fig_llmcompiler_vs_react,
    timeline_rows,
)

__all__ = [
    "APP_COLORS",
    "PlanExplorer",
    "draw_comparison",
    "draw_plan",
    "draw_timeline",
    "explore",
    "fig1_plan_dag",
    "fig3_dag_isomorphism",
    "fig_dataset_distributions",
    "fig_execution_timeline",
    "fig_success_rate",
    "fig_training_curves",
    "planner",
    "fig_toolrag_recall",
    "table1_toolrag",
    "table2_quantization",
    "write_table",
    "fig_llmcompiler_vs_react",
    "save_figure",
    "timeline_rows",
]
