"""The `workbench` command, run as a user would (a subprocess of the installed entry point)."""

import argparse
import dataclasses
import re
import shutil
import subprocess
import sys

import pytest

from workbench import config
from workbench.cli import add_dataclass_arguments, dataclass_from_args, main
from workbench.paper_examples import FIG3_CASES


def test_entry_point_is_installed():
    exe = shutil.which("workbench") or str(__import__("pathlib").Path(sys.executable).parent / "workbench")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "reproduce" in out and "plan" in out


def test_plan_check(tmp_path, capsys):
    ok = tmp_path / "ok.txt"
    ok.write_text(FIG3_CASES[0][1])
    assert main(["plan", "check", str(ok)]) == 0
    out = capsys.readouterr().out
    assert "create_calendar_event" in out and "3 tasks, depth 2, width 2" in out
    bad = tmp_path / "bad.txt"
    bad.write_text('1. get_email_address("Sid")\n2. send_sms("$5", "hi")')
    assert main(["plan", "check", str(bad)]) == 1
    assert "line 2: step 2 refers to a later step ($5)" in capsys.readouterr().err


def test_plan_score(tmp_path, capsys):
    _, gold, pred, _ = FIG3_CASES[1]
    (tmp_path / "g").write_text(gold)
    (tmp_path / "p").write_text(pred)
    assert main(["plan", "score", str(tmp_path / "p"), str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "success 0" in out and "graph_edit_distance 1" in out


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["plan", "check", str(tmp_path / "nope.txt")]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.txt'} does not exist\n"


def test_viz_figures_writes_pngs(tmp_workbench, capsys):
    assert main(["viz", "figures"]) == 0
    for name in ("fig1_plan_dag.png", "fig3_dag_isomorphism.png"):
        png = tmp_workbench / "figures" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_bench_run_and_evaluate_through_a_local_server(tmp_path, monkeypatch, capsys):
    from workbench.llm.testing import FakeChatServer

    mirror = config.repo_root().parent / "shared" / "datasets"
    if not (mirror / "llmcompiler").is_dir():
        pytest.skip(f"no dataset mirror at {mirror}")
    monkeypatch.setenv("WORKBENCH_DATASETS_MIRROR", str(mirror))
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "Scott Derrickson.txt").write_text("Scott Derrickson is an American film director.")
    (pages / "Ed Wood.txt").write_text("Ed Wood was an American filmmaker.")
    plan = '1. search("Scott Derrickson")\n2. search("Ed Wood")\n3. join()<END_OF_PLAN>'
    store = tmp_path / "run.jsonl"
    with FakeChatServer([plan, "Thought: both American.\nAction: Finish(yes)"]) as server:
        rc = main(
            [
                "bench",
                "run",
                "--benchmark",
                "hotpotqa",
                "--limit",
                "1",
                "--provider",
                "vllm",
                "--model",
                "m",
                "--base-url",
                server.base_url,
                "--docstore",
                str(pages),
                "--store",
                str(store),
            ]
        )
        assert rc == 0 and len(server.requests) == 2
        assert "American film director" in server.requests[1]["messages"][-1]["content"]
    ran = capsys.readouterr().out
    assert main(["bench", "evaluate", str(store)]) == 0
    evaluated = capsys.readouterr().out
    assert "accuracy   100.0 %" in ran and "hotpotqa / llmcompiler / m: 1 examples" in ran
    assert "accuracy   100.0 %" in evaluated
    assert main(["bench", "evaluate", str(tmp_path / "missing.jsonl")]) == 1


def test_synth_with_an_explicit_profile(tmp_workbench, monkeypatch, capsys):
    import json

    monkeypatch.setenv("WORKBENCH_PROFILE", "offline")  # restored after the test, as is WB_QUICK
    monkeypatch.setenv("WB_QUICK", "1")
    assert main(["synth", "--profile", "quick", "--seed", "5"]) == 0
    report = json.loads((tmp_workbench / "data" / "results" / "synthesis.json").read_text())
    assert report["profile"] == "quick" and report["counts"]["train"] == 2000 and report["seed"] == 5
    assert "train 2000, val 200, test 200, ood 200 records" in capsys.readouterr().out


@dataclasses.dataclass
class _Settings:
    n: int = dataclasses.field(default=3, metadata={"help": "how many (100%)"})
    limit: int | None = dataclasses.field(default=None, metadata={"help": "at most"})
    stream: bool = dataclasses.field(default=True, metadata={"help": "stream"})
    methods: list[str] = dataclasses.field(default_factory=lambda: ["lora"], metadata={"help": "methods"})
    widths: tuple[int, ...] = dataclasses.field(default=(1, 2), metadata={"help": "widths"})
    kind: str = dataclasses.field(default="a", metadata={"help": "kind", "choices": ("a", "b")})


def test_flags_come_from_the_dataclass_and_only_given_flags_override(monkeypatch):
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile")
    add_dataclass_arguments(parser, _Settings)
    assert "how many (100%) (default: 3)" in " ".join(parser.format_help().split())
    assert dataclass_from_args(_Settings, parser.parse_args([]), "demo") == _Settings()
    args = parser.parse_args(
        [
            "-n",
            "5",
            "--limit",
            "none",
            "--no-stream",
            "--methods",
            "lora,full",
            "--widths",
            "4,8",
            "--kind",
            "b",
        ]
    )
    assert dataclass_from_args(_Settings, args, "demo") == _Settings(
        5, None, False, ["lora", "full"], (4, 8), "b"
    )
    assert dataclass_from_args(_Settings, parser.parse_args(["--limit", "7"]), "demo").limit == 7
    monkeypatch.setattr(config, "load_profile", lambda name=None: {"demo": {"n": 9, "stream": False}})
    from_profile = dataclass_from_args(_Settings, parser.parse_args(["--stream"]), "demo")
    assert (from_profile.n, from_profile.stream) == (9, True), "the profile, then the flags"
    with pytest.raises(SystemExit):
        parser.parse_args(["--kind", "c"])


@pytest.mark.parametrize(
    "command",
    [
        ["synth"],
        ["toolrag"],
        ["finetune"],
        ["quantize"],
        ["agent"],
        ["bench", "executor"],
        ["bench", "latency"],
        ["bench", "run"],
    ],
)
def test_every_stage_command_has_help_from_its_settings(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0 and "(default:" in capsys.readouterr().out


def test_a_bad_setting_is_an_error_message_not_a_traceback(tmp_workbench, capsys):
    assert main(["agent", "--benchmark", "-n", "0"]) == 1
    assert capsys.readouterr().err.startswith("error: need n >= 1")
    assert main(["agent", "Text Ana", "--benchmark"]) == 1
    assert "give a query, --audio FILE or --benchmark, one of them" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'1. get_phone_number("Ana")\n2. send_sms(["$1"], "Jos\xe9")',
            r"x.txt, line 2: not UTF-8 \(byte 0xe9",
        ),
        ("1. join()".encode("utf-16"), r"x.txt is UTF-16 \(it starts with a byte-order mark\)"),
        (b"\x7fELF\x02\x01\x01\x00\x00", r"x.txt, line 1: a NUL byte"),
        (None, r"x.txt is a directory"),
    ],
    ids=["latin-1", "utf-16", "binary", "directory"],
)
def test_plan_commands_name_a_file_they_cannot_read(tmp_path, capsys, data, expected):
    path = tmp_path / "x.txt"
    path.mkdir() if data is None else path.write_bytes(data)
    ok = tmp_path / "ok.txt"
    ok.write_text(FIG3_CASES[0][1])
    for argv in (["plan", "check", str(path)], ["plan", "score", str(path), str(ok)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {tmp_path}") and len(err.splitlines()) == 1, err
        assert re.search(expected, err), err


def test_evaluate_and_predict_name_a_file_that_is_not_utf8(tmp_workbench, capsys):
    bad = tmp_workbench / "bad.jsonl"
    bad.write_bytes(b'{"query": "a", "plan": "x"}\n{"query": "Jos\xe9", "plan": "x"}\n')
    gold = tmp_workbench / "gold.jsonl"
    gold.write_text('{"query": "a", "plan": "1. join()"}\n')
    for argv in (
        ["evaluate", "--pred", str(bad), "--gold", str(gold)],
        ["evaluate", "--pred", str(gold), "--gold", str(bad)],
        ["predict", "--input", str(bad), "--output", str(tmp_workbench / "out.jsonl")],
    ):
        assert main(argv) == 1
        assert capsys.readouterr().err == (
            f"error: {bad}, line 2: not UTF-8 (byte 0xe9 at byte 15 of the line); save the file as UTF-8\n"
        )


def test_predict_checks_today_before_it_looks_for_a_model(tmp_workbench, capsys):
    path = tmp_workbench / "in.jsonl"
    path.write_text('{"query": "Text Ana", "today": "tomorrow"}\n')
    assert main(["predict", "--input", str(path), "--output", str(tmp_workbench / "out.jsonl")]) == 1
    assert capsys.readouterr().err.startswith(
        f'error: {path}, line 1: "today" must be a date written YYYY-MM-DD'
    )


def test_bench_evaluate_of_a_store_of_another_kind(tmp_path, capsys):
    store = tmp_path / "teacher.jsonl"
    store.write_text('{"id": "t-1", "query": "Text Ana", "plan": "1. join()"}\n')
    assert main(["bench", "evaluate", str(store)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {store} is not a stored benchmark run: its record 't-1' has no benchmark")
    assert "workbench bench run --store" in err
    assert main(["bench", "evaluate", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith(f"error: the store {tmp_path} is a directory")
