"""The planner runtime (TinyAgent, Sec. 3-5): one fine-tuned planner, one prompt, one decoding path.

grammar.py   the plan language as a grammar for constrained and grounded decoding (llguidance; GBNF for llama.cpp)
runtime.py   `Planner`: ToolRAG, prompt, batch decoding (`plan`) and streaming (`llm`) on one engine
             (transformers, mlx-lm or llama.cpp); saved decoding settings; `workbench predict`
"""

from workbench.planner.runtime import (
    NO_TOOL_PLAN,
    GGUFPlanner,
    MLXPlanner,
    Planner,
    Repairs,
    best_planner,
    load_planner,
    predict_file,
    resolve_toolrag,
    saved_decoding,
    saved_plan_order,
    saved_settings,
)

__all__ = [
    "GGUFPlanner",
    "MLXPlanner",
    "NO_TOOL_PLAN",
    "Planner",
    "Repairs",
    "best_planner",
    "load_planner",
    "predict_file",
    "resolve_toolrag",
    "saved_decoding",
    "saved_plan_order",
    "saved_settings",
]
