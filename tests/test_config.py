"""Paths from the environment, profile resolution, typed stage settings, atomic result files."""

import dataclasses
import json

import pytest

from workbench import config
from workbench.agent import AgentConfig
from workbench.bench.executor_bench import ExecutorBenchConfig
from workbench.bench.latency import LatencyBenchConfig
from workbench.bench.reliability import ReliabilityConfig
from workbench.finetune.settings import FinetuneConfig
from workbench.finetune.sizes import PlannerSizesConfig
from workbench.quantize import QuantizeConfig
from workbench.synth.dataset import SynthConfig
from workbench.toolrag.classifier import ToolRAGConfig
from workbench.voice import VoiceConfig

STAGE_CONFIGS = {
    "synth": SynthConfig,
    "toolrag": ToolRAGConfig,
    "finetune": FinetuneConfig,
    "quantize": QuantizeConfig,
    "agent": AgentConfig,
    "bench_latency": LatencyBenchConfig,
    "bench_executor": ExecutorBenchConfig,
    "bench_reliability": ReliabilityConfig,
    "planner_sizes": PlannerSizesConfig,
    "voice": VoiceConfig,
}


def test_paths_follow_the_environment(tmp_workbench):
    assert config.data_dir() == tmp_workbench / "data"
    assert config.figures_dir() == tmp_workbench / "figures"
    assert config.artifacts_dir() == tmp_workbench / "artifacts"
    assert config.results_path("synthesis") == tmp_workbench / "data" / "results" / "synthesis.json"
    assert config.figure_path("x.png").parent.is_dir()


def test_default_paths_live_in_the_repo_and_small_runs_in_a_corner(monkeypatch):
    for name in ("DATA", "FIGURES", "ARTIFACTS"):
        monkeypatch.delenv(f"WORKBENCH_{name}_DIR", raising=False)
    monkeypatch.delenv("WB_QUICK", raising=False)
    monkeypatch.setenv("WORKBENCH_PROFILE", "offline")
    root = config.repo_root()
    assert (root / "pyproject.toml").exists()
    assert config.data_dir() == root / "data" and config.artifacts_dir() == root / "artifacts"
    assert config.results_path("toolrag") == root / "data" / "results" / "toolrag.json"
    monkeypatch.setenv("WB_QUICK", "1")  # a quick or smoke run never overwrites the measured results
    assert config.data_dir() == root / "data" / "quick" and config.figures_dir() == root / "figures" / "quick"
    monkeypatch.setenv("WB_QUICK", "0")
    monkeypatch.setenv("WORKBENCH_PROFILE", "smoke")
    assert (
        config.data_dir() == root / "data" / "smoke"
        and config.artifacts_dir() == root / "artifacts" / "smoke"
    )


def test_profile_resolution(monkeypatch):
    monkeypatch.delenv("WB_QUICK", raising=False)
    monkeypatch.delenv("WORKBENCH_PROFILE", raising=False)
    assert config.active_profile() == "quick"
    monkeypatch.setenv("WORKBENCH_PROFILE", "offline")
    assert config.active_profile() == "offline"
    monkeypatch.setenv("WB_QUICK", "1")
    assert config.active_profile() == "quick"
    assert config.active_profile("paper") == "paper"
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        config.active_profile("fast")


@pytest.mark.parametrize("name", config.PROFILES)
def test_every_profile_file_loads_into_its_stage_configs(name):
    """Every section of every profile builds its stage's settings (`make test` runs the notebooks in the smoke
    profile only, so a typo in another profile would otherwise wait for a user to find it)."""
    profile = config.load_profile(name)
    assert {"synth", "toolrag", "finetune", "quantize"} <= set(profile)
    for stage, section in profile.items():
        if section:
            assert stage in STAGE_CONFIGS, f"{name}.yaml: unknown stage section {stage!r}"
            assert isinstance(config.stage_config(STAGE_CONFIGS[stage], stage, name), STAGE_CONFIGS[stage])


@dataclasses.dataclass
class _Demo:
    n: int = dataclasses.field(default=3, metadata={"help": "how many"})
    name: str = "x"


def test_stage_config_fills_a_dataclass_and_rejects_typos(monkeypatch):
    cfg = config.stage_config(_Demo, "demo", "quick", n=5)
    assert cfg == _Demo(n=5, name="x")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['nn'\] for stage 'demo'"):
        config.stage_config(_Demo, "demo", "quick", nn=5)
    assert "n = 3: how many" in config.describe(_Demo)


def test_results_are_written_atomically(tmp_workbench):
    path = config.save_results("demo", {"a": 1, "b": [1, 2]})
    assert json.loads(path.read_text()) == {"a": 1, "b": [1, 2]}
    assert config.load_results("demo") == {"a": 1, "b": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["demo.json"]  # no temporary file left
    with pytest.raises(TypeError):
        config.save_results("demo", {"bad": object()})
    assert json.loads(path.read_text()) == {"a": 1, "b": [1, 2]}  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == ["demo.json"]
    with pytest.raises(FileNotFoundError, match="run `workbench missing`"):
        config.load_results("missing")


def test_threads_default_to_workbench_threads(monkeypatch):
    monkeypatch.setenv("WORKBENCH_THREADS", "3")
    assert FinetuneConfig().threads == 3 and ToolRAGConfig().threads == 3
    assert FinetuneConfig(threads=1).threads == 1
    monkeypatch.setenv("WORKBENCH_THREADS", "two")
    with pytest.raises(ValueError, match="WORKBENCH_THREADS='two'"):
        FinetuneConfig()
