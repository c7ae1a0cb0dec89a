"""The papers' running examples as plan text, shared by notebooks, tests and figure code.

FIG1 is TinyAgent's running example (Erdogan et al. 2024, Fig. 1 and Sec. 2): two independent address
look-ups feed one calendar invite. FIG3_CASES are the two kinds of comparison in its Fig. 3: the same
DAG written in another order (a success) and a plan with one wrong function (a failure).
"""

FIG1_QUERY = "Create a calendar invite with Sid and Lutfi for tomorrow 2pm about the Apple Design Award."
FIG1_PLAN = """\
Thought: First, get the email address of each invitee; the two look-ups are independent.
1. get_email_address("Sid")
2. get_email_address("Lutfi")
Thought: Then create the event with both addresses.
3. create_calendar_event("Apple Design Award", "2024-06-13 14:00:00", "2024-06-13 15:00:00", "", ["$1", "${2}"], "", None)
Thought: I have created the event.
4. join()<END_OF_PLAN>"""

_SWAPPED = """\
1. get_email_address("Lutfi")
2. get_email_address("Sid")
3. create_calendar_event("Apple Design Award", "2024-06-13 14:00:00", "2024-06-13 15:00:00", "", ["$2", "$1"], "", None)
4. join()<END_OF_PLAN>"""

_WRONG_TOOL = """\
1. get_email_address("Sid")
2. get_phone_number("Lutfi")
3. create_calendar_event("Apple Design Award", "2024-06-13 14:00:00", "2024-06-13 15:00:00", "", ["$1", "$2"], "", None)
4. join()<END_OF_PLAN>"""

# (caption, gold plan, predicted plan, expected success)
FIG3_CASES = [
    ("Look-ups in the other order", FIG1_PLAN, _SWAPPED, 1.0),
    ("One wrong function", FIG1_PLAN, _WRONG_TOOL, 0.0),
]
