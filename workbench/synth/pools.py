"""Entity pools for the offline teacher: people, places, files, titles, notes, messages.

Large and combinatorial on purpose: a small planner must learn to copy entities from the query, not to
memorize a short list (measured here: a 1M-parameter model trained on records drawn from 20 names reached
0.90 success on those names and 0.17 on unseen ones). First and last names come from many languages, with
non-ASCII spellings; places, file names and titles are built from parts.

Every pool is split once, deterministically: about one item in five is held out for the `ood` split and never
appears in train/val/test, so `ood` measures generalization to unseen entities.

    >>> len(people("train")) > 10_000 and not set(people("ood")[:50]) & set(people("train"))
    True
"""

from __future__ import annotations

from functools import cache

FIRST = """
Aaliyah Abebe Adaeze Adebayo Adriana Agnieszka Ahmed Aiko Aisha Akira Alejandro Aleksander Alessandro Amara Amaru
Amélie Anahí Anaïs Andrés Aneta Anika Antoine Anuhea Arash Arjun Astrid Ayşe Babajide Baptiste Beatriz Bilal Björn
Bongani Bruna Camila Catalina Cem Chaska Chiamaka Chidi Chloé Chinedu Cristina Dagny Daniela Darius Dawit Dilnoza
Dmitri Dóra Eero Efua Élodie Emeka Emre Enrique Esperanza Eun-ji Fatima Fatoumata Federica Felipe Femi Fernanda
Filip Finn Florin Francesca Freya Gabriel Gaurav Giulia Grzegorz Guadalupe Gülsen Gunnar Hamza Hana Hannah Haruto
Hassan Héctor Hemi Hiroshi Hoa Ibrahim Ifeoma Ilse Imani Inés Ingrid Ioana Irina Isabela Ivan Jabari Jae-won Jakub
Jamal Javier Jiahui Jin Joaquín Jonas Jorge José Juan Julia Jun Kai Kalani Kamala Kareem Katarzyna Kavya Kemal
Kenji Kerstin Khadija Kiri Kofi Kwame Laila Lakshmi Lars Laura Leilani Lena Liam Linh Lior Lucía Luis Łukasz
Lutfi Magdalena Mahmoud Malia Mamadou Manon Marco Mariam Marta Mateo Matías Mei Mehmet Miguel Mihai Mina Minh
Miriam Moana Mohammed Nadia Nalani Naoko Nasrin Nia Nick Nikolai Nnamdi Noa Noura Nuno Obinna Oksana Olga Oliver
Oluwaseun Omar Orly Oscar Paloma Paulo Pedro Pilar Priya Quang Rafael Rahul Rania Ravi Reza Rin Rosa Ruth Sadia
Saanvi Salma Samir Sandeep Santiago Saoirse Sebastián Sehoon Seo-yeon Sid Siddharth Sina Siobhan Sipho Søren
Sofía Sunita Suhong Sven Tadeo Tahmina Takeshi Tamar Tanvir Tariq Tatiana Teodora Thabo Thandiwe Tiago Timur
Tomás Tran Tupac Uchenna Ulla Valentina Vasil Vikram Wanjiru Wei Wiremu Xiadani Ximena Yael Yasmin Yerlan Yohannes
Yuki Yusuf Zainab Zanele Zara Zeynep Zhiwei Zoë Zofia Zuri
""".split()

LAST = """
Abdullah Achterberg Adeyemi Agarwal Ahn Akhtar Alvarez Amari Andersen Anwar Aoki Arslan Asante Bakker Balogun
Banerjee Barbosa Becker Bianchi Bjørnstad Boateng Borowski Brennan Bui Byrne Calderón Carvalho Castillo Çelik
Chaudhry Chen Choi Ciobanu Costa Cruz Dąbrowski Dang Das Demir Desai Diallo Díaz Dimitrov Dlamini Do Dubois
Duarte Dvořák Eriksen Erdogan Esposito Eze Fernández Ferreira Fischer Fofana Fonseca Fujita García Gashi
Gholami Gonzaga Gupta Haddad Hakimi Halvorsen Hamid Hansen Hernández Hoang Horvat Hosseini Huang Ibrahim Ilunga
Ishikawa Ivanova Iyer Jabłoński Jha Jiménez Johansson Joshi Juárez Kamau Kang Kapoor Karimi Katz Kaya Keutzer
Khan Kim Kiplagat Kobayashi Kovačević Kowalczyk Kozlov Kruger Kumar Kurt Lahiri Larsen Lee Lefebvre Li Lim
Lindqvist Liu López Lund Macharia Mahlangu Maier Makoni Malik Mancini Martín Mazur Mbeki Medina Mehta Mensah
Mendoza Meyer Mishra Moreau Moreno Morales Mukherjee Müller Murray Mwangi Nakamura Nascimento Ndlovu Nguyen
Nielsen Nikolaidis Njoroge Novák Nowak Nunes Obi Odhiambo Okafor Okeke Oliveira Olsen Ortiz Osei Owusu Özdemir
Park Patel Pereira Petrov Pham Popescu Quispe Rahman Ramírez Rao Reddy Reyes Ribeiro Rodríguez Romano Rossi
Sahin Saito Salazar Sánchez Santos Sato Schmidt Sen Shah Sharma Silva Singh Sokolov Sørensen Suárez Sun Suzuki
Takahashi Tanaka Tehrani Teo Thapa Torres Tran Tshabalala Uddin Usman Vargas Vasquez Verma Vo Volkov Wagner Wang
Watanabe Weber Wiśniewski Wójcik Wu Xu Yadav Yamamoto Yang Yilmaz Yıldız Yoon Zhang Zhao Zhou Zielinski
""".split()

CITIES = """
Abuja|Accra|Addis Ababa|Almaty|Amsterdam|Asunción|Athens|Auckland|Austin|Bangalore|Barcelona|Berkeley|Berlin|
Bogotá|Boston|Brisbane|Bucharest|Budapest|Buenos Aires|Cairo|Cape Town|Casablanca|Chennai|Chicago|Copenhagen|
Córdoba|Dakar|Dar es Salaam|Denver|Dhaka|Dubai|Dublin|Durban|Edinburgh|Florence|Fukuoka|Gdańsk|Geneva|Guadalajara|
Hanoi|Helsinki|Ho Chi Minh City|Honolulu|Hyderabad|İstanbul|Jakarta|Johannesburg|Kampala|Kigali|Kraków|Kyoto|
Lagos|La Paz|Lima|Lisbon|Ljubljana|London|Los Angeles|Lyon|Madrid|Manila|Marrakesh|Medellín|Melbourne|
Mexico City|Milan|Montréal|Mumbai|Munich|Nairobi|Naples|Oakland|Osaka|Oslo|Palo Alto|Paris|Porto|Prague|Quito|
Reykjavík|Riga|Rio de Janeiro|Rome|San Diego|San Francisco|San José|Santiago|São Paulo|Seattle|Seoul|Seville|
Shanghai|Singapore|Sofia|Stockholm|Sydney|Taipei|Tallinn|Tbilisi|Tokyo|Toronto|Tunis|Valencia|Vancouver|Vienna|
Vilnius|Warsaw|Wellington|Yerevan|Zagreb|Zürich
""".replace("\n", "").split("|")

_PLACE_WORDS = """Blue Red Golden Silver Green Old New Little Grand Quiet Sunny Corner Harbor River Hill Garden
Maple Oak Cedar Willow Lotus Olive Fig Juniper Harbor Lantern Copper Granite Meadow Orchard""".split()
_PLACE_KINDS = """Café Bakery Bistro Library Museum Park Gym Hotel Diner Bookstore Market Station Cinema Gallery
Clinic Studio Tavern Teahouse Pier Plaza Theater Arena Campus Pharmacy""".split()
_STREETS = """Maple Oak Pine Cedar Elm Mission Market Shattuck Telegraph College Valencia Broadway Sunset Ocean
Lincoln Washington Highland Park Lake River Church Mill Spring Union Center Bancroft Dwight""".split()
_STREET_KINDS = ["Street", "Avenue", "Road", "Boulevard", "Lane", "Way", "Drive"]

_FILE_TOPICS = """Quarterly Budget|Annual Report|Project Phoenix|Marketing Plan|Research Proposal|Lease Agreement|
Travel Itinerary|Conference Schedule|Design Review|Sales Forecast|Hiring Plan|Board Minutes|Product Roadmap|
Safety Manual|Grant Application|Tax Return|Insurance Policy|Course Syllabus|Thesis Draft|User Study|Onboarding Guide|
Vendor Contract|Security Audit|Benchmark Results|Team Offsite|Release Notes|Customer Survey|Lab Protocol|
Wedding Plan|Recipe Collection|Reading List|Expense Report|Patent Draft|Style Guide|Meeting Notes|Investor Update""".replace(
    "\n", ""
).split("|")
# What people call their documents when they ask for one ("my resume", "the pitch deck"): the words are the
# name the plan looks up.
_DOC_NOUNS = """resume|slides|pitch deck|signed contract|invoice|receipt|boarding pass|itinerary|W2|offer letter|
floor plan|lease|NDA|syllabus|meeting agenda|photos from the trip|wedding photos|budget sheet|cover letter|
insurance card|draft|logo files|screenshots|project plan|spec|quote|report card|timesheet|menu|poster""".replace(
    "\n", ""
).split("|")
_FILE_QUALIFIERS = [
    "",
    " v2",
    " final",
    " draft",
    " 2024",
    " 2025",
    " (signed)",
    " Q3",
    " revised",
    " summary",
]

_TITLE_TOPICS = """budget|roadmap|design|hiring|launch|research|paper|demo|onboarding|security|marketing|sales|
offsite|retro|planning|interview|lab|thesis|grant|product|data|infra|customer|partner|quarterly|weekly|
ToolRAG|quantization|benchmark|release""".replace("\n", "").split("|")
_TITLE_KINDS = [
    "sync",
    "review",
    "meeting",
    "check-in",
    "kickoff",
    "standup",
    "brainstorm",
    "catch-up",
    "1:1",
    "workshop",
    "discussion",
    "planning session",
]

_NOTE_NAMES = """Grocery list|Book ideas|Packing list|Gift ideas|Workout plan|Reading notes|Recipe ideas|Weekend plans|
Project ideas|Shopping list|Travel plans|Meeting notes|Movie list|Podcast list|Garden plan|Budget notes|
To-do list|Birthday plans|Research log|Paper ideas""".replace("\n", "").split("|")
_NOTE_ITEMS = """milk|eggs|coffee beans|bread|olive oil|a new charger|sunscreen|the passport|two notebooks|basil|
rice|tomatoes|dark chocolate|a birthday card|batteries|tea|oat milk|apples|pasta|printer paper|a phone case|
yogurt|lemons|cheese|flowers|dish soap|a yoga mat|socks|an umbrella|spinach""".replace("\n", "").split("|")
_FOLDERS = ["Work", "Personal", "Travel", "Research", "Home", "Ideas", "School", "Family"]

_TASKS = """renew the passport|call the plumber|pay the rent|water the plants|book the flights|submit the report|
pick up the dry cleaning|buy a gift for mom|back up the laptop|schedule a dentist appointment|return the library books|
cancel the gym trial|send the invoice|review the slides|order more coffee|file the expenses|feed the cat|
take out the recycling|charge the camera|print the boarding pass|check the tire pressure|update the resume|
read the paper draft|pay the electricity bill|pack for the trip""".replace("\n", "").split("|")
_MESSAGES = """I'm running ten minutes late|the meeting moved to 3pm|dinner is at seven|I'll bring the slides|
can you call me back|the package arrived|happy birthday|thanks for your help today|see you at the station|
the report is ready|I'm outside|let's reschedule to next week|don't forget the keys|the demo went great|
I booked the table|the train is delayed|please review the draft|I'll pick you up at noon|the doors open at 6|
bring an umbrella|I left the files on your desk|we're out of coffee|the kids are asleep|I landed safely""".replace(
    "\n", ""
).split("|")
# Free text composed from parts (issue 16): people write any content into a text, a reminder or a note, and
# a small planner that met two dozen fixed messages reads an unseen one as more requests (a text with news it
# had never seen planned with an email and a PDF summary after it). No part is taken from the hand-written dev
# set, which has to stay unseen in its phrasing as well as word for word.
_NEWS_SUBJECTS = """the match|band practice|the meeting|dinner|the flight|my train|the delivery|the party|our call|
the dentist appointment|rehearsal|the screening|the movie|brunch|pickup|the standup|the review|the concert|
the class|the bus|the plumber|the movers|the vet appointment|book club|the hike|our reservation|the demo|
the workshop|lunch|soccer|the recital|the open house|the playdate|the site visit|the call with the client|
the inspection""".replace("\n", "").split("|")
_NEWS = """got moved to 6:30|is called off|starts at 8 now|is pushed to tomorrow|is running late|went really well|
is on for tonight|got rescheduled to friday|is at the usual place|was moved to the big room|is delayed an hour|
is over, heading home|is confirmed|needs to be rebooked|starts in 10 min|is sold out|is off this week|
ran long, sorry|is at noon instead|got bumped to next week|is in room 204|was great, thanks|is at 5:30 sharp|
might be cancelled, will confirm""".replace("\n", "").split("|")
_TOOL_WORD_MESSAGES = """I'll email you the details tonight|check your email when you can|did you get my text?|
the zoom link is in the invite|I sent you the pdf|can you send me the address|I put it on the calendar|
call me when you land|don't forget to bring the notes|I'll text you when I'm outside|
read the report before the meeting|the directions are in my last message|meet me at the station at 5|
grab milk on the way home pls|the summary looks good to me|ping me when the files are ready|
I'm at the front desk|save me a seat|the kids need to be picked up at 3|can you forward me that email|
my number changed, this is the new one|let's do a video call instead|the notes from today are in the doc|
send me the slides when you can|the meeting link changed|I'll reply to the thread later|
open the garage when you get here|we need to schedule the next one|the doc is shared with you now|
remind me tomorrow, I'll forget""".replace("\n", "").split("|")
_TASK_PARTS = (
    (
        "call",
        (
            "the pharmacy",
            "the electrician",
            "auntie",
            "the daycare",
            "the insurance company",
            "{N}",
            "the vet",
        ),
    ),
    (
        "text",
        (
            "{N} the gate code",
            "{N} about the weekend",
            "the dog walker",
            "{N} happy birthday",
            "the group chat",
        ),
    ),
    (
        "email",
        (
            "the property manager",
            "{N} the invoice",
            "my professor",
            "the recruiter back",
            "{N} about the quote",
        ),
    ),
    ("send", ("{N} the photos", "the invoice", "the rsvp", "{N} a birthday card", "the signed forms")),
    ("pay", ("the water bill", "{N} back", "the parking ticket", "the credit card", "the cleaner")),
    ("buy", ("a gift for {N}", "printer ink", "concert tickets", "dog food", "stamps")),
    ("book", ("a haircut", "the airbnb", "a table for friday", "the car service", "a flight home")),
    ("check", ("the zoom recording", "my inbox", "the oven", "the mail", "on {N}")),
    ("follow up with", ("{N}", "{N} about the invoice", "the recruiter", "the contractor", "the clinic")),
    ("pick up", ("the twins", "{N} from the airport", "the prescription", "the cake", "the spare keys")),
    ("return", ("the rental car", "{N}'s charger", "the amazon package", "the drill", "the jacket")),
    ("update", ("the expense tracker", "my cv", "the shared todo", "the roadmap", "my availability")),
    (
        "reply to",
        ("{N}'s message", "the property manager", "the invite", "the recruiter", "the group thread"),
    ),
    ("finish", ("the slides", "the report draft", "the grant application", "the review", "my taxes")),
    ("look at", ("the quote", "{N}'s draft", "the map", "the blueprint", "the spreadsheet")),
    ("get", ("gas", "a haircut", "the car washed", "cash", "flowers for {N}")),
)
_NOTE_KINDS = ["ideas for", "questions for", "notes on", "thoughts on", "todo for", "links for", "plan for"]
_NOTE_TOPICS = """the newsletter|{N}|the offsite|the vacation|the new app|the kitchen reno|the talk|the garden|
the party|the hiring loop|next quarter|the move|the podcast|the wedding|the grant""".replace("\n", "").split(
    "|"
)
_SUBJECTS = """the quarterly numbers|next week's trip|the project update|the budget proposal|the conference|
tomorrow's demo|the hiring plan|the paper draft|the team dinner|the contract renewal|the new schedule|
the design review|the customer feedback|the launch date|the lab results|our offsite|the workshop agenda|
the onboarding plan|the grant deadline|the release notes""".replace("\n", "").split("|")
_LISTS = ["Groceries", "Work", "Errands", "Home", "Personal", "Travel"]


def _split(items: list[str], split: str) -> list[str]:
    """Every fifth item is held out for `ood`; the rest serves train, val and test."""
    items = list(dict.fromkeys(items))  # a repeated item must not land on both sides
    keep = [x for i, x in enumerate(items) if (i % 5 == 4) == (split == "ood")]
    return keep or items


@cache
def people(split: str) -> tuple[str, ...]:
    """Full names: every first name with every last name of the split's share (tens of thousands)."""
    return tuple(f"{f} {last}" for f in _split(FIRST, split) for last in _split(LAST, split))


@cache
def first_names(split: str) -> tuple[str, ...]:
    return tuple(_split(FIRST, split))


@cache
def places(split: str) -> tuple[str, ...]:
    """Cities, named venues ("Golden Fig Café") and street addresses ("1450 Shattuck Avenue")."""
    venues = [f"{w} {k}" for w in _PLACE_WORDS for k in _PLACE_KINDS]
    streets = [
        f"{n} {s} {k}"
        for n in (12, 100, 221, 450, 1450, 2600, 77, 9)
        for s in _STREETS
        for k in _STREET_KINDS
    ]
    return tuple(_split(CITIES, split) + _split(venues, split) + _split(streets, split))


@cache
def files(split: str) -> tuple[str, ...]:
    """PDF and other document names built from topic x qualifier."""
    names = [f"{t}{q}.pdf" for t in _FILE_TOPICS for q in _FILE_QUALIFIERS]
    names += [
        f"{t}{q}.{ext}" for t in _FILE_TOPICS[:12] for q in ("", " v2") for ext in ("docx", "xlsx", "key")
    ]
    return tuple(_split(names, split))


def file_topics(split: str) -> list[str]:
    """The topics file names are built from ("Lease Agreement"), as a person might name the file."""
    return _split(_FILE_TOPICS, split)


def doc_nouns(split: str) -> list[str]:
    return _split(_DOC_NOUNS, split)


@cache
def titles(split: str) -> tuple[str, ...]:
    return tuple(
        _split(
            [f"{t.capitalize() if t.islower() else t} {k}" for t in _TITLE_TOPICS for k in _TITLE_KINDS],
            split,
        )
    )


def note_names(split: str) -> list[str]:
    return _split(_NOTE_NAMES, split)


@cache
def note_items(split: str) -> tuple[str, ...]:
    """Things put in a note: items, and free text composed from parts ("questions for Kofi", "ideas for the
    newsletter")."""
    composed = [
        f"{kind} {topic.format(N=n)}"
        for kind in _split(_NOTE_KINDS, split)
        for topic in _split(_NOTE_TOPICS, split)
        for n in _split(FIRST, split)[:3]
    ]
    return tuple(_split(_NOTE_ITEMS, split) + list(dict.fromkeys(composed)))


def folders(split: str) -> list[str]:
    return _split(_FOLDERS, split)


@cache
def tasks(split: str) -> tuple[str, ...]:
    """What a reminder is for: the fixed tasks, and tasks composed from a verb and its object, many of them
    actions a tool could do ("text Ana the gate code", "email the property manager"): a reminder to
    do something is one reminder, never the thing itself."""
    people = _split(FIRST, split)
    composed = [
        f"{verb} {obj.format(N=people[(i * 7 + j * 3 + k * 11) % len(people)])}"
        for i, (verb, objects) in enumerate(_split(list(_TASK_PARTS), split))
        for j, obj in enumerate(_split(list(objects), split))
        for k in range(3 if "{N}" in obj else 1)
    ]
    return tuple(_split(_TASKS, split) + composed)


@cache
def messages(split: str) -> tuple[str, ...]:
    """What a text or an email says: the fixed messages, news composed from a subject and what happened to it
    ("the match got moved to 6:30"), and lines that name what tools do ("I'll email you the slides tonight"):
    what a message says never adds a step to the plan."""
    composed = [f"{what} {news}" for what in _split(_NEWS_SUBJECTS, split) for news in _split(_NEWS, split)]
    return tuple(_split(_MESSAGES, split) + composed + _split(_TOOL_WORD_MESSAGES, split))


def subjects(split: str) -> list[str]:
    return _split(_SUBJECTS, split)


def reminder_lists(split: str) -> list[str]:
    return _split(_LISTS, split)


# Groups and roles people write instead of a name ("email the design team"): the phrase in the query, and the
# name the look-up gets (the contacts app resolves a group or a role like a person).
GROUP_LOOKUP = {
    "the design team": "design team",
    "my manager": "manager",
    "the marketing team": "marketing team",
    "accounting": "accounting",
    "my landlord": "landlord",
    "mom": "Mom",
    "the sales team": "sales team",
    "my boss": "boss",
    "the team": "team",
    "HR": "HR",
    "dad": "Dad",
    "the front desk": "front desk",
    "the book club": "book club",
    "my sister": "sister",
    "the IT helpdesk": "IT helpdesk",
}
_DOMAINS = ["example.com", "gmail.com", "company.org", "uni.edu", "mail.net"]


def groups(split: str) -> list[str]:
    return _split(list(GROUP_LOOKUP), split)


def phone_number(rng, split: str) -> str:
    """A phone number typed into the query (so no look-up); ood writes formats that training never shows."""
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    formats = [f"{a}-555-{c:04d}", f"({a}) 555-{c:04d}", f"+1 {a} 555 {c:04d}"]
    ood = [f"+44 7700 {b}{c % 1000:03d}", f"{a}.555.{c:04d}"]
    return rng.choice(ood if split == "ood" else formats)


def email_address(rng, split: str) -> str:
    """An email address typed into the query, from the split's first names (held-out names for ood)."""
    first = rng.choice(first_names(split)).lower()
    first = first.encode("ascii", "ignore").decode() or "alex"
    return f"{first}{rng.choice(['', '.k', '22', '.work'])}@{rng.choice(_DOMAINS)}"
