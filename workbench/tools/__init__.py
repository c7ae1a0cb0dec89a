"""Tools: specs, the 16 TinyAgent tools, a simulated desktop they run on, and a macOS backend."""

from workbench.tools.desktop import LatencyModel, SimulatedDesktop, ToolCall, ToolError
from workbench.tools.spec import Param, ToolSpec, tool_block
from workbench.tools.tinyagent import APPS, TOOL_NAMES, tinyagent_tools

__all__ = [
    "APPS",
    "TOOL_NAMES",
    "LatencyModel",
    "Param",
    "SimulatedDesktop",
    "ToolCall",
    "ToolError",
    "ToolSpec",
    "tinyagent_tools",
    "tool_block",
]
