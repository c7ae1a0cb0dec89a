"""A first run on a fresh clone (issue 21): every stage that lacks an input says which command makes it."""

import pytest

from workbench.cli import main as cli


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["finetune"], "workbench synth"),
        (["toolrag", "train"], "workbench synth"),
        (["quantize"], "workbench synth"),
        (["agent", "--benchmark"], "workbench synth"),
        (["agent", "Text Bo that I am late"], "workbench finetune"),
    ],
)
def test_a_stage_without_its_input_names_the_command_that_makes_it(tmp_workbench, capsys, argv, names):
    assert cli([*argv, "--profile", "quick"]) == 1
    err = capsys.readouterr().err
    assert f"run `{names}" in err and "[Errno" not in err, err


def test_quantize_without_a_planner_names_finetune(tmp_workbench, capsys):
    from workbench.stages.synth import run as synth
    from workbench.synth.dataset import SynthConfig

    synth(SynthConfig(train=20, val=5, test=5, ood=5, report_sample=2))
    assert cli(["quantize", "--profile", "quick"]) == 1
    err = capsys.readouterr().err
    assert "run `workbench finetune" in err, err
    assert not (tmp_workbench / "artifacts" / "planner").exists()  # nothing was trained as a side effect
