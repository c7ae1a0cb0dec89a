"""The planner runtime's requests (`workbench.planner.requests`): how a query is split, and which request plans
are put back into a whole plan."""

import pytest

from workbench.plan import parse_plan
from workbench.planner.requests import add_dropped_requests, dropped_steps, split_requests


@pytest.mark.parametrize(
    ("query", "requests"),
    [
        ("text mom im running 10 min late", ["text mom im running 10 min late"]),
        ("meeting with Sid and Lutfi tmrw 2pm, pls", ["meeting with Sid and Lutfi tmrw 2pm, pls"]),
        (
            "tell ana via text that i picked up the kids, and remind me to call the school at 4pm",
            ["tell ana via text that i picked up the kids", "remind me to call the school at 4pm"],
        ),
        (
            "Open my Grocery list note. Finally, make a zoom meeting with Li and send everyone the link.",
            ["Open my Grocery list note", "make a zoom meeting with Li and send everyone the link"],
        ),
        ("add eggs & milk to my list + text Bo hi", ["add eggs & milk to my list", "text Bo hi"]),
        (
            "email Jo the deck; afterwards show Oak Park in maps",
            ["email Jo the deck", "show Oak Park in maps"],
        ),
        ("hey", ["hey"]),
    ],
)
def test_a_query_is_split_into_its_requests(query, requests):
    assert split_requests(query) == requests


WHOLE = '1. get_email_address("Li")\n2. compose_new_email(["$1"], [], "Deck", "", [])\n3. join()<END_OF_PLAN>'
SUMMARY = (
    '1. open_and_get_file_path("Q3.pdf")\n2. summarize_pdf("$1")\n3. create_note("Q3", "$2", "")\n'
    "4. join()<END_OF_PLAN>"
)


def test_a_dropped_request_is_appended_with_its_references_renumbered():
    out = add_dropped_requests(WHOLE, [WHOLE, SUMMARY])
    plan = parse_plan(out)
    assert plan.tools == ["get_email_address", "compose_new_email", "open_and_get_file_path", "summarize_pdf",
                          "create_note"]  # fmt: skip
    assert plan.step(4).deps == (3,) and plan.step(5).deps == (4,) and plan.steps[-1].idx == 6


def test_a_request_the_plan_serves_or_that_does_not_parse_adds_nothing():
    sms_too = (
        '1. get_email_address("Li")\n2. compose_new_email(["$1"], [], "", "", [])\n3. join()<END_OF_PLAN>'
    )
    assert (
        dropped_steps(WHOLE, [sms_too, "1. compose_new_email(", '1. get_email_address("Bo")\n2. join()'])
        == []
    )
    assert add_dropped_requests(WHOLE, []) == WHOLE


@pytest.mark.parametrize(
    "whole",
    [
        '1. get_email_address("Li")\n2. compose_new_email(["$1"], [], "", "", [])',  # cut: no join
        "1. compose_new_email(",  # does not parse
        '1. get_email_address("Li")\n2. join()<END_OF_PLAN>\n3. send_sms(["x"], "y")',  # a step after join
    ],
)
def test_nothing_is_added_to_a_plan_that_does_not_end_in_its_join(whole):
    assert dropped_steps(whole, [SUMMARY]) == [] and add_dropped_requests(whole, [SUMMARY]) == whole
