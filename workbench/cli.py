"""`workbench <stage> ...`: headless runs of every stage, the same functions the notebooks call.

workbench paths                       where data, figures and artifacts go, and the active profile
workbench plan check PLAN.txt         parse and validate a plan against the 16 TinyAgent tools
workbench plan score PRED GOLD        DAG success, graph edit distance and tool recall of one pair
workbench synth [--teacher offline|llm]  the TinyAgent dataset: data/tinyagent/{train,val,test,ood}.jsonl
workbench toolrag train|eval          ToolRAG: fine-tune the tool classifier; Table 1 (recall, tools, prompt)
workbench finetune                    planner: base model, LoRA and full fine-tuning, success rates
workbench predict --input Q.jsonl --output P.jsonl [--model DIR] [--toolrag DIR] [--constrained] [--grounded]
workbench evaluate --pred P.jsonl --gold G.jsonl   success rate, parse failures, tool recall, exact args
workbench quantize                    MLX: 4-bit (group 32) planner, QLoRA, mlx-lm LoRA; Table 2
workbench serve [--model DIR] [--port N]   mlx_lm.server for a planner on 127.0.0.1 (until Ctrl-C)
workbench agent "QUERY" | --benchmark  TinyAgent end to end: streamed plan, tasks, answer, latency per stage
workbench bench executor              task fetching unit: makespan / critical path, overhead per task
workbench bench latency               LLMCompiler vs ReAct latency under a scripted-LLM latency model
workbench bench run --benchmark B     LLMCompiler (or --react) on HotpotQA, Movie or ParallelQA
workbench bench evaluate STORE.jsonl  the summary of a stored run
workbench viz figures                 regenerate the figures in figures/ from code and saved results
workbench reproduce [--profile P]     run the numbered notebooks in order (quick unless told otherwise)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from workbench import config


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    p = Path(path)
    if not p.exists():
        raise SystemExit(f"error: {path} does not exist")
    return p.read_text(encoding="utf-8")


def cmd_paths(args: argparse.Namespace) -> int:
    print(f"profile    {config.active_profile(args.profile)}")
    for name, fn in [
        ("data", config.data_dir),
        ("results", config.results_dir),
        ("figures", config.figures_dir),
        ("artifacts", config.artifacts_dir),
    ]:
        print(f"{name:<10} {fn()}")
    print(f"mirror     {config.datasets_mirror() or '(none: WORKBENCH_DATASETS_MIRROR is unset)'}")
    return 0


def cmd_plan_check(args: argparse.Namespace) -> int:
    from workbench.metrics import critical_path_length, plan_width
    from workbench.plan import PlanError, parse_plan
    from workbench.tools import tinyagent_tools

    try:
        plan = parse_plan(
            _read(args.plan), tools=None if args.no_tools else tinyagent_tools(), strict=not args.lenient
        )
    except PlanError as e:
        print(f"invalid plan: {e}", file=sys.stderr)
        return 1
    for s in plan.steps:
        deps = ", ".join(f"${d}" for d in s.deps) or "-"
        print(f"{s.idx:>3}. {s.tool:<24} after {deps}")
    print(f"{len(plan.tasks)} tasks, depth {critical_path_length(plan):.0f}, width {plan_width(plan)}")
    return 0


def cmd_plan_score(args: argparse.Namespace) -> int:
    from workbench.metrics import graph_edit_distance, plan_success, tool_recall

    pred, gold = _read(args.pred), _read(args.gold)
    try:
        print(f"success {plan_success(pred, gold):.0f}")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"graph_edit_distance {graph_edit_distance(pred, gold):g}")
    print(f"tool_recall {tool_recall(pred, gold):.3f}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from workbench.llm.base import LLMError
    from workbench.synth.dataset import SynthConfig, run

    overrides = {
        k: v
        for k in ("teacher", "provider", "model", "base_url", "seed")
        if (v := getattr(args, k)) is not None
    }
    cfg = config.stage_config(SynthConfig, "synth", args.profile, **overrides)
    try:
        report = run(cfg)
    except (LLMError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{s} {n}" for s, n in report["counts"].items())
    print(
        f"{counts} records in {report['wall_s']} s ({report['teacher']} teacher); rejected: {report['rejected']}"
    )
    print(
        f"wrote {', '.join(str(config.data_dir() / f) for f in report['files'].values())} and "
        f"{config.results_path('synthesis')}"
    )
    return 0


def cmd_toolrag(args: argparse.Namespace) -> int:
    from workbench.toolrag import stage
    from workbench.toolrag.classifier import ToolRAGConfig
    from workbench.toolrag.encoder import EncoderError

    cfg = config.stage_config(ToolRAGConfig, "toolrag", args.profile)
    try:
        if args.action == "train":
            history = stage.train(cfg)
            print(
                f"trained on {history['n_train']} queries in {history['train_wall_s']} s; best val "
                f"{max(history['val'], key=lambda v: v['recall'] - 0.01 * v['avg_tools'])}"
            )
            return 0
        r = stage.run(cfg, retrain=args.retrain)
    except (EncoderError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"classifier: recall {r['classifier_recall_test']:.4f} at {r['classifier_avg_tools_test']:.2f} tools "
        f"(test), recall {r['classifier_recall_ood']:.4f} (ood); prompt {r['prompt_tokens_reduction_test']:.2f}x "
        f"smaller than no RAG; basic RAG recall at k=6: {r['basic_recall_at_k_test']['6']:.4f}"
    )
    print(f"wrote {config.results_path('toolrag')} and {config.figure_path('table1_toolrag.md')}")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    from workbench.finetune import stage

    overrides = {"methods": args.methods.split(",")} if args.methods else {}
    cfg = config.stage_config(stage.FinetuneConfig, "finetune", args.profile, **overrides)
    try:
        r = stage.run(cfg)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"best: {r['best_variant']}: success {r['best_success_test']:.3f} (test), {r['best_success_ood']:.3f} "
        f"(ood); constrained parse failures {r['constrained_parse_failure_rate']}; trained in {r['train_wall_s']} s"
    )
    print(f"wrote {config.results_path('planner')} and {config.figure_path('fig_success_rate.png')}")
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    from workbench import quantize

    cfg = config.stage_config(quantize.QuantizeConfig, "quantize", args.profile)
    try:
        r = quantize.run(cfg)
    except (FileNotFoundError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"4-bit/g{r['group_size']}: {r['size_ratio_vs_fp16']:.2f}x smaller than float16; success (test) "
        f"{r['success_test_full']:.3f} float16, {r['success_test_4bit']:.3f} 4-bit, {r['success_test_qlora']:.3f} "
        f"4-bit + QLoRA; latency 4-bit / float16 = {r['latency_ratio_4bit_over_full']:.2f} on {r['device']}"
    )
    print(f"wrote {config.results_path('quantization')} and {config.figure_path('table2_quantization.md')}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import time

    from workbench.quantize import mlx_dir
    from workbench.serve import MLXServer

    model = Path(args.model) if args.model else mlx_dir() / "q4g32"
    try:
        server = MLXServer(model, adapter_dir=args.adapter, port=args.port).start()
    except (FileNotFoundError, OSError, RuntimeError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"serving {model} at {server.url} (model name: default_model); Ctrl-C stops it", flush=True)
    try:
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from workbench.finetune.predict import predict_file

    try:
        n = predict_file(
            args.input,
            args.output,
            model=args.model,
            toolrag=args.toolrag,
            constrained=args.constrained,
            grounded=args.grounded,
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {n} plans to {args.output}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from workbench.finetune.evaluate import evaluate_files

    try:
        r = evaluate_files(args.pred, args.gold)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"n={r['n']}  success {r['success']:.4f}  parse failures {r['parse_failure']:.4f}  "
        f"tool recall {r['tool_recall']:.4f}  argument exact match {r['argument_exact']:.4f}"
    )
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from workbench import agent
    from workbench.llm.base import LLMError

    if args.benchmark and args.query is not None:
        print("error: give a query or --benchmark, not both", file=sys.stderr)
        return 1
    if not args.benchmark and not (args.query or "").strip():
        print(f"error: {agent.EMPTY_QUERY}", file=sys.stderr)
        return 1
    fields = agent.AgentConfig.__dataclass_fields__
    overrides = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    try:
        cfg = config.stage_config(agent.AgentConfig, "agent", args.profile, **overrides)
        if args.benchmark:
            print(agent.format_benchmark(agent.run_benchmark(cfg)))
            print(f"wrote {config.results_path('agent')}")
            return 0
        agent.ask(agent.TinyAgent.from_config(cfg), args.query)
    except (FileNotFoundError, ValueError, LLMError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_bench_executor(args: argparse.Namespace) -> int:
    from workbench.bench import executor_bench

    cfg = config.stage_config(executor_bench.ExecutorBenchConfig, "bench_executor", args.profile)
    r = executor_bench.run(cfg)
    print(
        f"makespan / critical path (median of {cfg.seeds} DAGs): {r['makespan_over_critical_path_median']:.3f}"
        f"  (plain asyncio.sleep tools: {r['makespan_over_critical_path_median_plain_sleep']:.3f};"
        f" 10 ms polling: {r['polling_10ms_makespan_over_critical_path_median']:.3f})"
    )
    print(f"scheduling overhead: {r['overhead_us_per_task']:.1f} us per task")
    print(f"wrote {config.results_path('executor')}")
    return 0


def cmd_bench_latency(args: argparse.Namespace) -> int:
    from workbench import viz
    from workbench.bench import latency

    cfg = config.stage_config(latency.LatencyBenchConfig, "bench_latency", args.profile)
    r = latency.run(cfg)
    print("width  ReAct s  LLMCompiler s  streaming s  speedup (streaming)")
    for row in r["rows"]:
        print(
            f"{row['width']:>5}  {row['react']['latency_s']:>7.2f}  {row['llmcompiler_no_stream']['latency_s']:>13.2f}"
            f"  {row['llmcompiler_stream']['latency_s']:>11.2f}  {row['speedup_llmcompiler_stream']:>6.2f}x"
        )
    print(f"wrote {config.results_path('llmcompiler_vs_react')} and {viz.fig_llmcompiler_vs_react(r)}")
    return 0


def cmd_bench_run(args: argparse.Namespace) -> int:
    from workbench.bench.runner import BenchRunConfig, format_summary, run_benchmark
    from workbench.llm.base import LLMError
    from workbench.tools.spec import ToolUnavailable

    fields = BenchRunConfig.__dataclass_fields__
    cfg = BenchRunConfig(**{k: v for k, v in vars(args).items() if k in fields and v is not None})
    try:
        summary = run_benchmark(cfg)
    except (LLMError, ToolUnavailable, FileNotFoundError, ValueError) as e:
        print(f"error: {e} (the examples finished so far are in the store; rerun to resume)", file=sys.stderr)
        return 1
    print(format_summary(summary))
    return 0


def cmd_bench_evaluate(args: argparse.Namespace) -> int:
    from workbench.bench.runner import evaluate, format_summary

    try:
        print(format_summary(evaluate(args.store)))
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_viz_figures(args: argparse.Namespace) -> int:
    from workbench.viz.paper import missing, paper_figures

    for path in paper_figures():
        print(f"wrote {path}")
    for stage, command in missing().items():
        print(f"skipped the {stage} figures: no saved results (run `{command}`)")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from workbench.notebooks import run_notebooks

    for row in run_notebooks(args.profile, args.only):
        print(f"{row['notebook']:<40} {row['wall_s']:>7.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("paths", help="show where things are read and written")
    p.add_argument("--profile", choices=config.PROFILES)
    p.set_defaults(func=cmd_paths)

    plan = sub.add_parser("plan", help="the plan language").add_subparsers(dest="plan_command", required=True)
    p = plan.add_parser("check", help="parse and validate a plan file ('-' reads stdin)")
    p.add_argument("plan")
    p.add_argument(
        "--no-tools", action="store_true", help="check structure only, not the TinyAgent tool specs"
    )
    p.add_argument("--lenient", action="store_true", help="skip lines that are neither steps nor thoughts")
    p.set_defaults(func=cmd_plan_check)
    p = plan.add_parser("score", help="compare a predicted plan with a gold plan")
    p.add_argument("pred")
    p.add_argument("gold")
    p.set_defaults(func=cmd_plan_score)

    p = sub.add_parser("synth", help="synthesize the TinyAgent (query, plan) dataset")
    p.add_argument("--profile", choices=config.PROFILES)
    p.add_argument("--teacher", choices=["offline", "llm"])
    p.add_argument("--provider", help="LLM teacher: openai | azure | vllm | friendli | ...")
    p.add_argument("--model", help="LLM teacher: model name")
    p.add_argument("--base-url", dest="base_url", help="LLM teacher: OpenAI-compatible server URL")
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("toolrag", help="ToolRAG: train the tool classifier, or evaluate (Table 1)")
    p.add_argument("action", choices=["train", "eval"])
    p.add_argument("--profile", choices=config.PROFILES)
    p.add_argument("--retrain", action="store_true", help="eval: train again even if a classifier is saved")
    p.set_defaults(func=cmd_toolrag)

    p = sub.add_parser(
        "finetune", help="planner: base model, LoRA / full fine-tuning, evaluation (planner.json)"
    )
    p.add_argument("--profile", choices=config.PROFILES)
    p.add_argument("--methods", help="comma-separated: lora,full (default: the profile's)")
    p.set_defaults(func=cmd_finetune)
    p = sub.add_parser("predict", help='plan each {"query": ...} line of a JSONL file')
    p.add_argument("--input", required=True, help="JSONL with a query per line (and optionally today)")
    p.add_argument(
        "--output", required=True, help="JSONL of {query, plan} (written whole, then moved in place)"
    )
    p.add_argument("--model", help="a model folder (default: the best planner `workbench finetune` trained)")
    p.add_argument(
        "--toolrag", help="a ToolRAG classifier folder, or 'none' (default: the trained one if any)"
    )
    p.add_argument(
        "--constrained",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="grammar-constrained decoding (default: as in the best variant)",
    )
    p.add_argument(
        "--grounded",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="constrained, with names, files and places copied from the query (default: as in the best "
        "variant; implies --constrained)",
    )
    p.add_argument("--profile", choices=config.PROFILES)
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("quantize", help="MLX: 4-bit (group 32) planner, QLoRA, Table 2 (quantization.json)")
    p.add_argument("--profile", choices=config.PROFILES)
    p.set_defaults(func=cmd_quantize)
    p = sub.add_parser(
        "serve", help="serve a planner with mlx_lm.server on 127.0.0.1 (OpenAI API) until Ctrl-C"
    )
    p.add_argument("--model", help="an MLX or Hugging Face model folder (default: the 4-bit planner)")
    p.add_argument("--adapter", help="a LoRA adapter folder (adapters.safetensors)")
    p.add_argument("--port", type=int, help="default: a free port")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("evaluate", help="score predicted plans against gold plans (matched by query)")
    p.add_argument("--pred", required=True)
    p.add_argument("--gold", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "agent", help="TinyAgent end to end: ToolRAG, planner, executor on the simulated desktop"
    )
    p.add_argument(
        "query", nargs="?", help='what to do, e.g. "Create a meeting with Sid and Lutfi for tomorrow 2pm"'
    )
    p.add_argument(
        "--benchmark",
        action="store_true",
        help="instead of a query: latency and success over N test queries (data/results/agent.json)",
    )
    p.add_argument("-n", type=int, help="--benchmark: how many test queries (default: the profile's)")
    p.add_argument("--profile", choices=config.PROFILES)
    p.add_argument(
        "--model", help="a planner model folder (default: the best planner `workbench finetune` trained)"
    )
    p.add_argument(
        "--toolrag", help="a ToolRAG classifier folder, or 'none' (default: the trained one if any)"
    )
    p.add_argument(
        "--constrained",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="grammar-constrained decoding (default: as in the best variant)",
    )
    p.add_argument(
        "--provider", help="plan with a served model instead: mlx | vllm | openai | llamacpp | ..."
    )
    p.add_argument("--base-url", dest="base_url", help="served planner: OpenAI-compatible server URL")
    p.add_argument("--model-name", dest="model_name", help="served planner: model name")
    p.add_argument("--prompt", choices=["compact", "full"], help="served planner: prompt kind")
    p.add_argument("--joiner", choices=["rule", "llm"], help="rule (default) or llm (the served model joins)")
    p.add_argument("--max-replans", dest="max_replans", type=int)
    p.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="dispatch each task as soon as its line is written (default: on)",
    )
    p.set_defaults(func=cmd_agent)

    bench = sub.add_parser("bench", help="LLMCompiler benchmarks").add_subparsers(
        dest="bench_command", required=True
    )
    p = bench.add_parser("executor", help="makespan / critical path on random DAGs; overhead per task")
    p.add_argument("--profile", choices=config.PROFILES)
    p.set_defaults(func=cmd_bench_executor)
    p = bench.add_parser("latency", help="LLMCompiler vs ReAct latency by plan width (scripted LLM)")
    p.add_argument("--profile", choices=config.PROFILES)
    p.set_defaults(func=cmd_bench_latency)

    p = bench.add_parser("run", help="run LLMCompiler (or ReAct) on a paper benchmark")
    p.add_argument("--benchmark", required=True, choices=["hotpotqa", "movie", "parallelqa"])
    p.add_argument("--limit", type=int, help="only the first N examples")
    p.add_argument("--store", help="append-only JSONL of per-example records (a rerun resumes it)")
    p.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stream the plan into the executor (default: on)",
    )
    p.add_argument("--react", action="store_true", help="run the ReAct baseline instead")
    p.add_argument("--logging", action="store_true", help="print each example's answer and score")
    p.add_argument("--provider", help="openai | azure | vllm | friendli | llamacpp | lmstudio | mlx")
    p.add_argument("--model", help="model or deployment name")
    p.add_argument("--base-url", dest="base_url", help="OpenAI-compatible server URL")
    p.add_argument(
        "--docstore", help="a folder of Wikipedia pages to use offline (default: online Wikipedia)"
    )
    p.add_argument("--max-replans", dest="max_replans", type=int)
    p.set_defaults(func=cmd_bench_run)
    p = bench.add_parser("evaluate", help="print the summary of a stored run")
    p.add_argument("store")
    p.set_defaults(func=cmd_bench_evaluate)

    viz = sub.add_parser("viz", help="figures").add_subparsers(dest="viz_command", required=True)
    p = viz.add_parser("figures", help="regenerate every figure that code and saved results allow")
    p.add_argument("--profile", choices=config.PROFILES, help="whose saved results (quick ones live apart)")
    p.set_defaults(func=cmd_viz_figures)

    p = sub.add_parser("reproduce", help="run the numbered notebooks in order")
    p.add_argument("--profile", choices=config.PROFILES, help="default: quick (or WORKBENCH_PROFILE)")
    p.add_argument("--only", default="", help="run only notebooks whose file name contains this")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "profile", None):  # an explicit --profile is the active profile for everything below
        os.environ["WORKBENCH_PROFILE"] = args.profile
        os.environ.pop("WB_QUICK", None)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
