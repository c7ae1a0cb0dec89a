"""The fuzz and fault harness (issue 21), small: every category runs, and nothing is handled badly.

The full harness is `workbench bench reliability --profile offline` (`data/results/reliability.json`).
"""

import json

from workbench import config
from workbench.bench.hostile import plan_text
from workbench.bench.reliability import CATEGORIES, ReliabilityConfig
from workbench.stages import bench


def test_the_small_harness_finds_no_failure(tmp_workbench):
    cfg = config.stage_config(ReliabilityConfig, "bench_reliability", "quick", progress=False)
    r = bench.reliability(cfg)
    assert r["failure_examples"] == [] and r["failures"] == 0
    assert r["records_lost"] == 0 and r["records_duplicated"] == 0
    assert 0 < r["max_parse_s"] < cfg.parse_bound_s
    assert all(r["by_category"][c]["tries"] > 0 for c in CATEGORIES)
    assert r["tries"] == sum(c["tries"] for c in r["by_category"].values())
    saved = json.loads(config.results_path("reliability").read_text())
    assert saved["failures"] == 0 and saved["profile"] == "quick"


def test_generated_plans_are_deterministic_and_bounded():
    a, b = plan_text(0.25, 10_000), plan_text(0.25, 10_000)
    assert a == b
    assert all(len(plan_text(i / 50, 10_000)[0]) <= 10_064 for i in range(50))
    assert len({plan_text(i / 50, 10_000)[1] for i in range(50)}) >= 6  # the kinds are all drawn
