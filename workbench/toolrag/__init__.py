"""ToolRAG (TinyAgent, Sec. 4): select the tools a query needs, and the in-context examples that fit them."""

from workbench.toolrag.basic import BasicRAG
from workbench.toolrag.classifier import ToolRAGClassifier, ToolRAGConfig
from workbench.toolrag.encoder import EncoderError, load_encoder
from workbench.toolrag.examples import ExampleRetriever, format_examples
from workbench.toolrag.metrics import selection_metrics

__all__ = [
    "BasicRAG",
    "EncoderError",
    "ExampleRetriever",
    "ToolRAGClassifier",
    "ToolRAGConfig",
    "format_examples",
    "load_encoder",
    "selection_metrics",
]
