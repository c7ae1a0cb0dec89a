"""LLMCompiler: planner, task fetching unit (executor), joiner, the agent loop, and the ReAct baseline."""

from workbench.compiler.agent import AgentResult, LLMCompiler, Round
from workbench.compiler.executor import ExecutionResult, Executor, TaskRecord, substitute
from workbench.compiler.joiner import JoinDecision, LLMJoiner, RuleJoiner, parse_joiner_output
from workbench.compiler.prompts import PlannerPrompt
from workbench.compiler.react import ReAct
from workbench.compiler.tools import Tool, as_tools, desktop_tools, function_tool

__all__ = [
    "AgentResult",
    "ExecutionResult",
    "Executor",
    "JoinDecision",
    "LLMCompiler",
    "LLMJoiner",
    "PlannerPrompt",
    "ReAct",
    "Round",
    "RuleJoiner",
    "TaskRecord",
    "Tool",
    "as_tools",
    "desktop_tools",
    "function_tool",
    "parse_joiner_output",
    "substitute",
]
