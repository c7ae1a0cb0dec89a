"""The day a query names (`workbench.planner.dates`), and the runtime moving a plan's dates onto it."""

import datetime as dt

import pytest

from workbench.planner.dates import DateRepair, named_day

TODAY = dt.date(2024, 6, 12)  # a Wednesday


@pytest.mark.parametrize(
    ("query", "day"),
    [
        ("Create a meeting with Sid and Lutfi for tomorrow 2pm", "2024-06-13"),
        ("meeting w/ Arjun tmrw 10am", "2024-06-13"),
        ("remind me to pack tonight at 9", "2024-06-12"),
        ("lunch with Hana the day after tomorrow", "2024-06-14"),
        ("lunch with Hana the day atfer tmrw", "2024-06-14"),
        ("put lunch w/ Hannah on my calendar friday at noon", "2024-06-14"),
        ("call with Anh on Wed at 5", "2024-06-19"),  # the next Wednesday after today
        ("retro this thurs 4pm", "2024-06-13"),
        ("set a meeting w/ Rahul in 2 days at 3pm", "2024-06-14"),
        ("pack for the trip in three weeks", "2024-07-03"),
        ("create an event called Sprint Planning on Monday June 17 from 9 to 10:30", "2024-06-17"),
        ("dentist on the 28th at 9:30am", "2024-06-28"),
        ("dentist on the 3rd at 9:30am", "2024-07-03"),  # the 3rd has passed this month
        ("pay rent on the 20th of May", "2025-05-20"),  # May has passed this year
        ("Onboarding meeting on 2024-08-09 at 5pm", "2024-08-09"),
        ("zoom on Sept 3 at noon", "2024-09-03"),
    ],
)
def test_the_day_a_query_names(query, day):
    assert named_day(query, TODAY) == dt.date.fromisoformat(day)


@pytest.mark.parametrize(
    "query",
    [
        "text mom im running late",  # no day
        "block 2-4pm next monday for deep work",  # "next Monday": people disagree, the model decides
        "gym at 6am tomorrow and meal prep on saturday at noon",  # two days
        "meet on the 3rd floor at 2pm",  # a floor, not a day
        "summarize tomorrow's demo notes at 3pm",  # a name of a thing, not a day
        "zoom on June 31",  # no such day
    ],
)
def test_no_day_or_more_than_one_leaves_the_plan_to_the_model(query):
    assert named_day(query, TODAY) is None


def test_a_step_moves_by_whole_days_and_keeps_its_times_and_duration():
    repair = DateRepair(dt.date(2024, 6, 13))
    line = (
        '3. create_calendar_event("Sync", "2024-06-12 23:30:00", "2024-06-13 00:30:00", "", ["$1"], "", None)'
    )
    assert repair.line(line) == (
        '3. create_calendar_event("Sync", "2024-06-13 23:30:00", "2024-06-14 00:30:00", "", ["$1"], "", None)'
    )
    assert repair.line('1. create_reminder("Pay", "2024-06-11", "", "", 0, True)<END_OF_PLAN>') == (
        '1. create_reminder("Pay", "2024-06-13", "", "", 0, True)<END_OF_PLAN>'
    )
    for unchanged in (
        '2. send_sms(["$1"], "2024-06-12 10:00:00")',  # not a date parameter
        '1. create_reminder("Pay", "soon", "", "", 0, True)',  # not a date
        '1. create_reminder("Pay", "2024-02-30", "", "", 0, True)',  # no such day
        "Thought: 2024-06-12",
        "4. join()<END_OF_PLAN>",
    ):
        assert repair.line(unchanged) == unchanged
