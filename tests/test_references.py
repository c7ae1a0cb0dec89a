"""References of the right kind (`planner.references`): gold plans pass untouched, wrong-kind ones are re-pointed."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from workbench.plan import parse_plan
from workbench.planner.references import GIVES, TAKES, ReferenceTyper, retype_references
from workbench.synth import offline
from workbench.tools.tinyagent import TOOL_NAMES

HUMAN_DEV = Path(__file__).resolve().parent.parent / "data" / "human" / "dev.jsonl"


def _gold_plans() -> list[str]:
    rows = [json.loads(line) for line in HUMAN_DEV.read_text(encoding="utf-8").splitlines()]
    human = [p for r in rows for p in (r["plan"], *r.get("alternatives", []))]
    rng = random.Random(11)
    synthesized = [
        offline.compose(rng, split, offline.random_today(rng))[1] for split in ("train", "ood") * 300
    ]
    return human + synthesized


def test_every_gold_plan_passes_unchanged():
    """Each reference of a gold plan (hand-written and synthesized) already passes a kind its parameter takes."""
    plans = _gold_plans()
    assert len(plans) > 700
    assert [p for p in plans if retype_references(p) != p] == []


def test_the_kinds_name_real_tools_and_parameters():
    assert set(GIVES) <= set(TOOL_NAMES) and set(TAKES) == set(TOOL_NAMES)
    assert TAKES["send_sms"][0] == "phone" and TAKES["compose_new_email"][0] == "email"
    assert {k for kinds in TAKES.values() for k in kinds} == {None, *GIVES.values()}


@pytest.mark.parametrize(
    ("wrong", "right"),
    [
        (  # a body that names the email look-up: the note, the nearest unused text
            '1. get_email_address("team")\n2. open_note("notes", "")\n3. compose_new_email(["$1"], [], "Notes", "$1", [])',
            '1. get_email_address("team")\n2. open_note("notes", "")\n3. compose_new_email(["$1"], [], "Notes", "$2", [])',
        ),
        (  # a file path as a recipient: the unused look-up; the file stays an attachment
            '1. get_email_address("Ana")\n2. open_and_get_file_path("deck")\n3. compose_new_email(["$2"], [], "Deck", "", ["$2"])',
            '1. get_email_address("Ana")\n2. open_and_get_file_path("deck")\n3. compose_new_email(["$1"], [], "Deck", "", ["$2"])',
        ),
        (  # an email address as a text's recipient, and no phone look-up to point at: dropped
            '1. get_email_address("Bo")\n2. send_sms(["$1"], "hi")',
            '1. get_email_address("Bo")\n2. send_sms([], "hi")',
        ),
        (  # the look-up and the note come after the email: it waits for them, and the plan is numbered again
            '1. compose_new_email(["$3"], [], "Notes", "$3", [])\n2. get_email_address("team")\n3. open_note("notes", "")',
            '1. get_email_address("team")\n2. open_note("notes", "")\n3. compose_new_email(["$1"], [], "Notes", "$2", [])',
        ),
        (  # a later step some other step already uses is not taken; what refers to a waiting step waits too
            '1. get_email_address("Li")\n2. compose_new_email(["$1"], [], "x", "$1", [])\n3. send_sms(["$1"], "$2")\n'
            '4. get_phone_number("Al")\n5. open_note("n", "")\n6. create_note("t", "$5", "")',
            '1. get_email_address("Li")\n2. get_phone_number("Al")\n3. open_note("n", "")\n4. create_note("t", "$3", "")\n'
            '5. compose_new_email(["$1"], [], "x", "", [])\n6. send_sms(["$2"], "")',
        ),
        (  # a re-pointed reference is not named twice in one list
            '1. get_email_address("A")\n2. get_phone_number("A")\n3. compose_new_email(["$1", "$2"], [], "x", "", [])',
            '1. get_email_address("A")\n2. get_phone_number("A")\n3. compose_new_email(["$1"], [], "x", "", [])',
        ),
    ],
)
def test_a_wrong_kind_reference_is_re_pointed_or_dropped(wrong, right):
    assert retype_references(wrong) == right
    steps = len(right.split("\n"))
    parse_plan(retype_references(wrong) + f"\n{steps + 1}. join()<END_OF_PLAN>")  # still a plan


def test_lines_that_are_no_step_pass_unchanged_and_streaming_matches_batch():
    plan = '1. get_phone_number("Ilya")\n2. create_reminder("x", None, "", "", 0, False)\n3. send_sms(["$1"], "$2")\nThought: done\n4. join()<END_OF_PLAN>'
    typer = ReferenceTyper()
    streamed = [out for line in plan.split("\n") for out in typer.feed(line)] + typer.close()
    assert "\n".join(streamed) == retype_references(plan)
    # the text waited for a text step that never came: it goes out before join(), its message left empty
    assert retype_references(plan).endswith('Thought: done\n3. send_sms(["$1"], "")\n4. join()<END_OF_PLAN>')
    assert retype_references("not a plan (") == "not a plan ("
