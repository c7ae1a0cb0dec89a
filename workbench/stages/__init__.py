"""The pipeline's stages: each has one `run(cfg) -> results` that the CLI, the notebooks and the tests call.

A stage is the only place that resolves paths (`workbench.config`), saves `data/results/<stage>.json` and draws
figures (`workbench.viz`); the library below it receives folders and settings as arguments.

synth.py     the TinyAgent dataset: data/tinyagent/*.jsonl, synthesis.json
toolrag.py   the ToolRAG classifier vs basic RAG and no RAG: toolrag.json, Table 1
finetune.py  the planner: base model, LoRA and full fine-tuning, every decoding variant: planner.json
quantize.py  MLX float16 / 4-bit / QLoRA models of the planner: quantization.json, Table 2
agent.py     TinyAgent end to end over test queries: latency per stage, first-plan success: agent.json
bench.py     LLMCompiler: the task fetching unit (executor.json), latency vs ReAct (llmcompiler_vs_react.json),
             and the paper's benchmarks (a resumable store per run)
"""
