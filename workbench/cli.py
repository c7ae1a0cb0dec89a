"""`workbench <stage> ...`: headless runs of every stage, the same functions the notebooks call.

workbench paths                       where data, figures and artifacts go, and the active profile
workbench plan check PLAN.txt         parse and validate a plan against the 16 TinyAgent tools
workbench plan score PRED GOLD        DAG success, graph edit distance and tool recall of one pair
workbench synth [--teacher offline|llm]  the TinyAgent dataset: data/tinyagent/{train,val,test,ood}.jsonl
workbench synth --import tinyagent PATH  the same files from TinyAgent's released training/testing_data.json
workbench toolrag train|eval          ToolRAG: fine-tune the tool classifier; Table 1 (recall, tools, prompt)
workbench finetune                    planner: base model, LoRA and full fine-tuning, success rates
workbench predict --input Q.jsonl --output P.jsonl [--model DIR] [--toolrag DIR] [--constrained] [--grounded]
workbench evaluate --pred P.jsonl --gold G.jsonl   success rate, parse failures, tool recall, exact args
workbench quantize                    MLX 4-bit (RTN, GPTQ, AWQ, DWQ), QLoRA; GGUF F16/Q4_0/Q4_K_M; Table 2
workbench serve [--engine mlx|llamacpp] [--model DIR|FILE.gguf] [--port N]   a local OpenAI-compatible planner
                                      server on 127.0.0.1 (mlx_lm.server or llama_cpp.server), until Ctrl-C
workbench agent "QUERY" | --benchmark  TinyAgent end to end: streamed plan, tasks, answer, latency per stage
workbench agent --audio CMD.wav [--stt pocketsphinx|openai|faster-whisper|mlx-whisper]   the same, spoken
workbench voice                       spoken test queries (espeak-ng): WER, success from speech vs typed
workbench bench executor              task fetching unit: makespan / critical path, overhead per task
workbench bench latency               LLMCompiler vs ReAct latency under a scripted-LLM latency model
workbench bench run --benchmark B     LLMCompiler (or --react) on HotpotQA, Movie or ParallelQA
workbench bench evaluate STORE.jsonl  the summary of a stored run
workbench bench reliability           fuzz / fault harness: hostile input, faulty endpoints and tools, kills
workbench bench planner-sizes         training speed of larger planners (5-20M, MiniLM encoder) on this machine
workbench viz figures                 regenerate the figures in figures/ from code and saved results
workbench rehearse [--out DIR]       the paper profile on stand-ins (hub ids in a local cache, a test server)
workbench reproduce [--profile P]     run the numbered notebooks in order (quick unless told otherwise)

A stage's flags are its settings dataclass's fields (`--max-train 500`, `--methods lora,full`, `--no-stream`,
`--limit none`); a setting comes from the dataclass's default, then the profile (`--profile`), then the flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from workbench import config
from workbench.agent import EMPTY_QUERY, AgentConfig, TinyAgent, ask, format_benchmark
from workbench.bench.executor_bench import ExecutorBenchConfig
from workbench.bench.latency import LatencyBenchConfig
from workbench.bench.reliability import ReliabilityConfig
from workbench.bench.runner import BenchRunConfig, format_summary
from workbench.bench.runner import evaluate as evaluate_store
from workbench.files import read_text
from workbench.finetune.evaluate import evaluate_files
from workbench.finetune.settings import FinetuneConfig
from workbench.finetune.sizes import PlannerSizesConfig
from workbench.metrics import critical_path_length, graph_edit_distance, plan_success, plan_width, tool_recall
from workbench.notebooks import run_notebooks
from workbench.plan import parse_plan
from workbench.planner import Planner, Repairs, load_planner, predict_file, resolve_toolrag
from workbench.quantize import QuantizeConfig
from workbench.serve import LlamaCppServer, LocalServer, MLXServer
from workbench.stages import agent as agent_stage
from workbench.stages import bench as bench_stage
from workbench.stages import finetune as finetune_stage
from workbench.stages import quantize as quantize_stage
from workbench.stages import rehearse as rehearse_stage
from workbench.stages import synth as synth_stage
from workbench.stages import toolrag as toolrag_stage
from workbench.stages import voice as voice_stage
from workbench.synth.dataset import SynthConfig
from workbench.toolrag.classifier import ToolRAGConfig
from workbench.tools import tinyagent_tools
from workbench.viz.paper import missing, paper_figures
from workbench.voice import SpeechConfig, VoiceConfig, hear, load_audio, transcriber

#: What a command may fail with that is the user's to fix (a missing file, a bad value, an unreachable
#: server, ...): printed as `error: <message>` with exit code 1 instead of a traceback. FileNotFoundError,
#: TimeoutError (OSError); PlanError (ValueError); LLMError, EncoderError, ToolUnavailable, DatasetError
#: (RuntimeError); a missing optional library (ImportError).
USER_ERRORS = (OSError, ValueError, RuntimeError, ImportError)

C = TypeVar("C")


# --------------------------------------------------------------------------- flags from the dataclasses


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(`X`, True) for `X | None`, else (`annotation`, False)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return annotation, False


def _flag_type(annotation: Any) -> Callable[[str], Any]:
    """The text -> value converter for a field type: str, int, float, `X | None` ("none" gives None),
    and list or tuple of those (comma-separated: `--methods lora,full`)."""
    annotation, optional = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        item = typing.get_args(annotation)[0]

        def convert(text: str) -> Any:
            return origin(item(x.strip()) for x in text.split(",") if x.strip())

        name = f"comma-separated {item.__name__}"
    elif annotation in (str, int, float):
        convert, name = annotation, annotation.__name__  # type: ignore[assignment]
    else:
        raise TypeError(f"no command-line flag for a field of type {annotation}")

    def parse(text: str) -> Any:
        return None if optional and text.strip().lower() == "none" else convert(text)

    parse.__name__ = name  # argparse names it in "invalid <name> value"
    return parse


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per field of the settings dataclass `cls`, with the field's help string: `--field-name VALUE`
    (`-n` for a one-letter field), `--flag/--no-flag` for a bool, `choices` from the field's metadata.

    Written here rather than taken from simple_parsing or tyro: forty lines cover every field type the
    workbench uses, and the flags keep the profile between the dataclass defaults and the command line. A flag
    not given is absent from the parsed arguments, so `dataclass_from_args` leaves that setting to the profile.
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = f"-{f.name}" if len(f.name) == 1 else "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        shown = ",".join(map(str, default)) if isinstance(default, list | tuple) else default
        help_text = f"{f.metadata.get('help', '')} (default: {shown})".replace("%", "%%")
        common: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if _unwrap(hints[f.name])[0] is bool:
            parser.add_argument(name, action=argparse.BooleanOptionalAction, **common)
        else:
            kind = _flag_type(hints[f.name])
            parser.add_argument(
                name, type=kind, metavar=f.name.upper(), choices=f.metadata.get("choices"), **common
            )


def dataclass_from_args(cls: type[C], args: argparse.Namespace, stage: str) -> C:
    """`cls` from its defaults, the profile's `stage` section (`--profile`, else the active one), then the
    flags given on the command line."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}  # type: ignore[arg-type]
    return config.stage_config(cls, stage, getattr(args, "profile", None), **given)


def _stage_parser(sub: Any, name: str, cls: type, help_text: str) -> argparse.ArgumentParser:
    description = (
        f"{help_text}. A setting is the flag's value when given, else the profile's, else the default shown."
    )
    p = sub.add_parser(name, help=help_text, description=description)
    p.add_argument("--profile", choices=config.PROFILES)
    add_dataclass_arguments(p, cls)
    return p


# ------------------------------------------------------------------------------------------- commands


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return read_text(p)  # a clear error for a folder or a file that is not UTF-8, naming file and line


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
    plan = parse_plan(
        _read(args.plan), tools=None if args.no_tools else tinyagent_tools(), strict=not args.lenient
    )
    for s in plan.steps:
        deps = ", ".join(f"${d}" for d in s.deps) or "-"
        print(f"{s.idx:>3}. {s.tool:<24} after {deps}")
    print(f"{len(plan.tasks)} tasks, depth {critical_path_length(plan):.0f}, width {plan_width(plan)}")
    return 0


def cmd_plan_score(args: argparse.Namespace) -> int:
    pred, gold = _read(args.pred), _read(args.gold)
    print(f"success {plan_success(pred, gold):.0f}")
    ged = graph_edit_distance(pred, gold)
    print(f"graph_edit_distance {ged:g}" if ged.exact else f"graph_edit_distance <= {ged:g} (timed out)")
    print(f"tool_recall {tool_recall(pred, gold):.3f}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    if args.import_pair:  # `--import tinyagent PATH`: the two settings in one flag
        args.import_format, args.import_path = args.import_pair
    report = synth_stage.run(dataclass_from_args(SynthConfig, args, "synth"))
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
    cfg = dataclass_from_args(ToolRAGConfig, args, "toolrag")
    if args.action == "train":
        history = toolrag_stage.train(cfg)
        print(
            f"trained on {history['n_train']} queries in {history['train_wall_s']} s; best val "
            f"{max(history['val'], key=lambda v: v['recall'] - 0.01 * v['avg_tools'])}"
        )
        return 0
    r = toolrag_stage.run(cfg, retrain=args.retrain)
    print(
        f"classifier: recall {r['classifier_recall_test']:.4f} at {r['classifier_avg_tools_test']:.2f} tools "
        f"(test), recall {r['classifier_recall_ood']:.4f} (ood); prompt {r['prompt_tokens_reduction_test']:.2f}x "
        f"smaller than no RAG; basic RAG recall at k=6: {r['basic_recall_at_k_test']['6']:.4f}"
    )
    print(f"wrote {config.results_path('toolrag')} and {config.figure_path('table1_toolrag.md')}")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    r = finetune_stage.run(dataclass_from_args(FinetuneConfig, args, "finetune"))
    if "best_variant" not in r:  # a process of `accelerate launch` other than the main one: it only trained
        return 0
    print(
        f"best: {r['best_variant']}: success {r['best_success_test']:.3f} ({r['best_test_n']} test queries), "
        f"{r['best_success_ood']:.3f} "
        f"(ood); constrained parse failures {r['constrained_parse_failure_rate']}; trained in {r['train_wall_s']} s"
    )
    print(f"wrote {config.results_path('planner')} and {config.figure_path('fig_success_rate.png')}")
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    r = quantize_stage.run(dataclass_from_args(QuantizeConfig, args, "quantize"))
    print(
        f"4-bit/g{r['group_size']}: {r['size_ratio_vs_fp16']:.2f}x smaller than float16; success (test) "
        f"{r['success_test_full']:.3f} float16, {r['success_test_4bit']:.3f} 4-bit, {r['success_test_qlora']:.3f} "
        f"4-bit + QLoRA; latency 4-bit / float16 = {r['latency_ratio_4bit_over_full']:.2f} on {r['device']}"
    )
    print(f"best MLX 4-bit method: {r['mlx_best_4bit_method']} ({r['success_test_4bit_best']:.3f} on test)")
    if "gguf_success_test_f16" in r:
        print(
            f"GGUF on llama.cpp, success (test): {r['gguf_success_test_f16']:.3f} F16, "
            f"{r['gguf_success_test_q4_0']:.3f} Q4_0, {r['gguf_success_test_q4_k_m']:.3f} Q4_K_M; Q4_0 is "
            f"{r['gguf_size_ratio_q4_0_vs_f16']:.2f}x smaller and its latency {r['gguf_latency_ratio_q4_0_over_f16']:.2f}x "
            f"F16's; parse failures {r['gguf_parse_failure_rate']:.3f}"
        )
        if "gguf_success_test_q4_0_qlora" in r:
            print(f"GGUF Q4_0 + QLoRA (test): {r['gguf_success_test_q4_0_qlora']:.3f}")
    else:
        print(f"GGUF: {r.get('gguf')}")
    print(f"wrote {config.results_path('quantization')} and {config.figure_path('table2_quantization.md')}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    server: LocalServer
    if args.engine == "llamacpp":
        model = Path(args.model) if args.model else config.artifacts_dir() / "gguf" / "planner-q4_0.gguf"
        # --adapter: a llama.cpp LoRA file (`workbench quantize` writes <artifacts>/gguf/planner-q4_0-qlora.gguf)
        server = LlamaCppServer(model, port=args.port, lora=args.adapter).start()
    else:
        model = Path(args.model) if args.model else config.mlx_dir() / "q4g32"
        server = MLXServer(model, adapter_dir=args.adapter, port=args.port).start()
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
    artifacts = config.artifacts_dir()

    def planner() -> Planner:  # loaded once the input has been checked
        if args.model is None:  # the best planner with its decoding settings, and the trained ToolRAG if any
            out = Planner.best(
                artifacts,
                toolrag=args.toolrag or "auto",
                constrained=True if args.grounded else args.constrained,
                grounded=args.grounded,
            )
        else:
            out = load_planner(
                args.model,
                toolrag=resolve_toolrag(args.toolrag or "auto", artifacts),
                constrained=bool(args.constrained or args.grounded),
                grounded=bool(args.grounded),
            )
        for f in dataclasses.fields(Repairs):  # a flag given overrides; else the planner keeps its own
            setattr(out, f.name, getattr(args, f.name, getattr(out, f.name)))
        if (out.cover_tools or out.exact_counts) and not out.constrained:
            raise SystemExit("--cover-tools and --exact-counts hold the plan grammar: add --constrained")
        return out

    n = predict_file(args.input, args.output, planner)
    print(f"wrote {n} plans to {args.output}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    r = evaluate_files(args.pred, args.gold)
    print(
        f"n={r['n']}  success {r['success']:.4f}  parse failures {r['parse_failure']:.4f}  "
        f"tool recall {r['tool_recall']:.4f}  argument exact match {r['argument_exact']:.4f}"
    )
    if "success_any_right_plan" in r:  # gold records with alternatives (the human dev set)
        kinds = ", ".join(f"{k} {n}" for k, n in r["error_breakdown"].items() if n)
        print(
            f"success against any right plan {r['success_any_right_plan']:.4f}; failures: {kinds or 'none'}"
        )
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    if sum(map(bool, (args.benchmark, args.query is not None, args.audio))) > 1:
        raise ValueError("give a query, --audio FILE or --benchmark, one of them")
    if not args.benchmark and not args.audio and not (args.query or "").strip():
        raise ValueError(EMPTY_QUERY)
    cfg = dataclass_from_args(AgentConfig, args, "agent")
    if args.benchmark:
        print(format_benchmark(agent_stage.run(cfg)))
        print(f"wrote {config.results_path('agent')}")
        return 0
    query = args.query
    if args.audio:
        load_audio(args.audio)  # a bad file fails here, before any model loads
        engine = transcriber(
            dataclass_from_args(VoiceConfig, args, "voice"), config.artifacts_dir(), config.dataset_dir()
        )
        heard, query = hear(engine, args.audio)
        print(
            f"heard ({heard.engine}, {heard.seconds:.2f} s for {heard.audio_s:.1f} s of audio): {heard.text}"
        )
    ask(TinyAgent.from_config(cfg, config.artifacts_dir()), query)
    return 0


def cmd_voice(args: argparse.Namespace) -> int:
    r = voice_stage.run(dataclass_from_args(VoiceConfig, args, "voice"))
    print(f"{r['n']} spoken queries ({', '.join(r['voices'])}); engine: {r['stt_engine']}")
    for split, v in r["by_split"].items():
        print(
            f"{split}: WER {v['wer']:.3f}, entity WER {v['wer_entities']}, first-plan success from speech "
            f"{v['success_speech']:.3f} vs typed {v['success_text']:.3f}; "
            f"{v['stt_seconds_per_audio_second']:.2f} s per second of audio"
        )
    if "wer_stock_lm" in r:
        print(
            f"stock language model on the first {r['stock_n']}: WER {r['wer_stock_lm']:.3f} (domain: {r['wer_domain_lm_same_queries']:.3f})"
        )
    print(f"wrote {config.results_path('voice')}")
    return 0


def cmd_bench_executor(args: argparse.Namespace) -> int:
    cfg = dataclass_from_args(ExecutorBenchConfig, args, "bench_executor")
    r = bench_stage.executor(cfg)
    print(
        f"makespan / critical path (median of {cfg.seeds} DAGs): {r['makespan_over_critical_path_median']:.3f}"
        f"  (plain asyncio.sleep tools: {r['makespan_over_critical_path_median_plain_sleep']:.3f};"
        f" 10 ms polling: {r['polling_10ms_makespan_over_critical_path_median']:.3f})"
    )
    print(f"scheduling overhead: {r['overhead_us_per_task']:.1f} us per task")
    print(f"wrote {config.results_path('executor')}")
    return 0


def cmd_bench_latency(args: argparse.Namespace) -> int:
    r = bench_stage.latency(dataclass_from_args(LatencyBenchConfig, args, "bench_latency"))
    print("width  ReAct s  LLMCompiler s  streaming s  speedup (streaming)")
    for row in r["rows"]:
        print(
            f"{row['width']:>5}  {row['react']['latency_s']:>7.2f}  {row['llmcompiler_no_stream']['latency_s']:>13.2f}"
            f"  {row['llmcompiler_stream']['latency_s']:>11.2f}  {row['speedup_llmcompiler_stream']:>6.2f}x"
        )
    figure = config.figures_dir() / "fig_llmcompiler_vs_react.png"
    print(f"wrote {config.results_path('llmcompiler_vs_react')} and {figure}")
    return 0


def cmd_bench_planner_sizes(args: argparse.Namespace) -> int:
    r = finetune_stage.sizes(dataclass_from_args(PlannerSizesConfig, args, "planner_sizes"))
    print("size    parameters  step s  tokens/s  pairs/s  pairs in budget")
    for row in r["rows"]:
        print(
            f"{row['size']:<7} {row['parameters']:>10,}  {row['step_s']:>6.2f}  {row['tokens_per_s']:>8,}"
            f"  {row['pairs_per_s']:>7.2f}  {row['pairs_in_budget']:>15,}"
        )
    print(f"wrote {config.results_path('planner_sizes')}")
    return 0


def cmd_bench_reliability(args: argparse.Namespace) -> int:
    r = bench_stage.reliability(dataclass_from_args(ReliabilityConfig, args, "bench_reliability"))
    for name, c in r["by_category"].items():
        print(f"{name:<7} {c['tries']:>5} tries  {c['failures']:>3} failures  longest {c['max_s']:.2f} s")
    print(
        f"{r['tries']} tries, {r['failures']} failures; longest parse {r['max_parse_s']:.3f} s; "
        f"records lost {r['records_lost']}, duplicated {r['records_duplicated']}"
    )
    for f in r["failure_examples"]:
        print(f"  FAILED {f['category']} / {f['case']}: {f['detail'][:200]}")
    print(f"wrote {config.results_path('reliability')}")
    return 1 if r["failures"] else 0


def cmd_bench_run(args: argparse.Namespace) -> int:
    print(format_summary(bench_stage.llmcompiler(dataclass_from_args(BenchRunConfig, args, "bench_run"))))
    return 0


def cmd_bench_evaluate(args: argparse.Namespace) -> int:
    print(format_summary(evaluate_store(args.store)))
    return 0


def cmd_viz_figures(args: argparse.Namespace) -> int:
    for path in paper_figures():
        print(f"wrote {path}")
    for stage, command in missing().items():
        print(f"skipped the {stage} figures: no saved results (run `{command}`)")
    return 0


def cmd_rehearse(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else config.repo_root() / "artifacts" / rehearse_stage.PROFILE
    summary = rehearse_stage.rehearse(out, keep=args.keep, notebooks=not args.no_notebooks)
    for stage, row in summary["stages"].items():
        print(f"{stage:<10} {row['wall_s']:>7.1f} s")
    print(
        f"the paper profile ran end to end on stand-ins; the test server answered {summary['server_calls']}"
    )
    print(f"wrote {out / 'summary.json'} (results, figures and artifacts under {out})")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    for row in run_notebooks(args.profile, args.only):
        print(f"{row['notebook']:<40} {row['wall_s']:>7.1f} s")
    return 0


# --------------------------------------------------------------------------------------------- parser


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

    p = _stage_parser(sub, "synth", SynthConfig, "synthesize the TinyAgent (query, plan) dataset")
    p.add_argument(
        "--import",
        dest="import_pair",
        nargs=2,
        metavar=("FORMAT", "PATH"),
        help="import a released dataset for train/val/test instead of synthesizing: `--import tinyagent "
        "FOLDER_OR_FILE` (TinyAgent's training_data.json and testing_data.json)",
    )
    p.set_defaults(func=cmd_synth)

    p = _stage_parser(
        sub, "toolrag", ToolRAGConfig, "ToolRAG: train the tool classifier, or evaluate (Table 1)"
    )
    p.add_argument("action", choices=["train", "eval"])
    p.add_argument("--retrain", action="store_true", help="eval: train again even if a classifier is saved")
    p.set_defaults(func=cmd_toolrag)

    p = _stage_parser(
        sub,
        "finetune",
        FinetuneConfig,
        "planner: base model, LoRA / full fine-tuning, evaluation (planner.json)",
    )
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
        help="grammar-constrained decoding (default: as in the best variant; off with --model)",
    )
    p.add_argument(
        "--grounded",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="constrained, with names, files and places copied from the query (default: as in the best "
        "variant; off with --model; implies --constrained)",
    )
    add_dataclass_arguments(p, Repairs)  # --merge-repeats/--no-merge-repeats and the like
    p.add_argument("--profile", choices=config.PROFILES)
    p.set_defaults(func=cmd_predict)

    p = _stage_parser(
        sub,
        "quantize",
        QuantizeConfig,
        "MLX 4-bit (group 32) planners, QLoRA, GGUF on llama.cpp; Table 2 (quantization.json)",
    )
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser(
        "serve",
        help="serve a planner on 127.0.0.1 (OpenAI API) with mlx_lm.server or llama_cpp.server until Ctrl-C",
    )
    p.add_argument(
        "--engine",
        choices=("mlx", "llamacpp"),
        default="mlx",
        help="mlx: mlx_lm.server and an MLX folder; llamacpp: llama_cpp.server and a GGUF file",
    )
    p.add_argument(
        "--model",
        help="an MLX or Hugging Face model folder, or a .gguf file with --engine llamacpp (default: the 4-bit "
        "planner `workbench quantize` made: <artifacts>/mlx/q4g32 or <artifacts>/gguf/planner-q4_0.gguf)",
    )
    p.add_argument(
        "--adapter",
        help="a LoRA adapter: an mlx-lm adapter folder (adapters.safetensors), or with --engine llamacpp a "
        "llama.cpp LoRA file (.gguf)",
    )
    p.add_argument("--port", type=int, help="default: a free port")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("evaluate", help="score predicted plans against gold plans (matched by query)")
    p.add_argument("--pred", required=True)
    p.add_argument("--gold", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = _stage_parser(
        sub, "agent", AgentConfig, "TinyAgent end to end: ToolRAG, planner, executor on the simulated desktop"
    )
    p.add_argument(
        "query", nargs="?", help='what to do, e.g. "Create a meeting with Sid and Lutfi for tomorrow 2pm"'
    )
    p.add_argument(
        "--benchmark",
        action="store_true",
        help="instead of a query: latency and success over N test queries (data/results/agent.json)",
    )
    p.add_argument(
        "--audio", help="instead of a query: a spoken command (WAV, FLAC or MP3), transcribed first"
    )
    add_dataclass_arguments(p, SpeechConfig)
    p.set_defaults(func=cmd_agent)

    p = _stage_parser(
        sub, "voice", VoiceConfig, "spoken test queries (espeak-ng): WER and success from speech"
    )
    p.set_defaults(func=cmd_voice)

    bench = sub.add_parser("bench", help="LLMCompiler benchmarks").add_subparsers(
        dest="bench_command", required=True
    )
    p = _stage_parser(
        bench, "executor", ExecutorBenchConfig, "makespan / critical path on random DAGs; overhead per task"
    )
    p.set_defaults(func=cmd_bench_executor)
    p = _stage_parser(
        bench, "latency", LatencyBenchConfig, "LLMCompiler vs ReAct latency by plan width (scripted LLM)"
    )
    p.set_defaults(func=cmd_bench_latency)
    p = _stage_parser(
        bench, "reliability", ReliabilityConfig, "fuzz and fault harness: hostile input, faults, kills, races"
    )
    p.set_defaults(func=cmd_bench_reliability)
    p = _stage_parser(
        bench,
        "planner-sizes",
        PlannerSizesConfig,
        "training speed of 1M-20M planners and a MiniLM encoder one",
    )
    p.set_defaults(func=cmd_bench_planner_sizes)
    p = bench.add_parser("run", help="run LLMCompiler (or ReAct) on a paper benchmark")
    add_dataclass_arguments(p, BenchRunConfig)
    p.set_defaults(
        func=cmd_bench_run, error_hint="the examples finished so far are in the store; rerun to resume"
    )
    p = bench.add_parser("evaluate", help="print the summary of a stored run")
    p.add_argument("store")
    p.set_defaults(func=cmd_bench_evaluate)

    viz = sub.add_parser("viz", help="figures").add_subparsers(dest="viz_command", required=True)
    p = viz.add_parser("figures", help="regenerate every figure that code and saved results allow")
    p.add_argument(
        "--profile", choices=config.PROFILES, help="whose saved results (quick and smoke ones live apart)"
    )
    p.set_defaults(func=cmd_viz_figures)

    p = sub.add_parser(
        "rehearse",
        help="the paper profile end to end on stand-ins (tiny models under the paper's hub ids, a local test "
        "server as the LLMs), offline, in minutes",
    )
    p.add_argument("--out", help="where everything goes (default: artifacts/paper-rehearsal)")
    p.add_argument(
        "--keep",
        action="store_true",
        help="reuse what an earlier rehearsal in --out built (a rerun after a fix)",
    )
    p.add_argument(
        "--no-notebooks", action="store_true", help="the stages only, not the notebooks after them"
    )
    p.set_defaults(func=cmd_rehearse)

    p = sub.add_parser("reproduce", help="run the numbered notebooks in order")
    p.add_argument("--profile", choices=config.PROFILES, help="default: quick (or WORKBENCH_PROFILE)")
    p.add_argument("--only", default="", help="run only notebooks whose file name contains this")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run the command; the one place where a user's error becomes `error: <message>` (exit code 1)."""
    args = build_parser().parse_args(argv)
    if getattr(args, "profile", None):  # an explicit --profile is the active profile for everything below
        os.environ["WORKBENCH_PROFILE"] = args.profile
        os.environ.pop("WB_QUICK", None)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        hint = getattr(args, "error_hint", "")
        print(f"error: {e}" + (f" ({hint})" if hint else ""), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
