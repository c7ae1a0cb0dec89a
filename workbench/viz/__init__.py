"""Figures and widgets. Every figure is written by code here, to `figures/`, under a stable name."""

from workbench.viz.dag import (
    APP_COLORS,
    draw_comparison,
    draw_plan,
    fig1_plan_dag,
    fig3_dag_isomorphism,
    save_figure,
)

__all__ = ["APP_COLORS", "draw_comparison", "draw_plan", "fig1_plan_dag", "fig3_dag_isomorphism", "save_figure"]
