"""The fictional people behind every simulator's sample data, so the same person can appear in
several vendors, each writing their email and phone its own way.

Each simulator declares which customers it holds (its `HELD_CUSTOMERS`, indexes into CUSTOMERS),
chosen so the demo has people in one, two, three and all four built-in vendors (36-38 in all four,
0-2 and 39 in three, 3-4, 30-34 and 40-44 in two), plus near-misses: same name, different email and
phone, who must never be joined.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Person:
    first: str
    last: str
    email: str
    phone: str  # E.164
    company: str
    title: str
    city: str
    region: str
    postal_code: str
    country: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


_FIRST = (
    "Ava",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
    "Mateo",
    "Sofia",
    "Lucas",
    "Mia",
    "Ethan",
    "Amara",
    "Kenji",
    "Priya",
    "Diego",
    "Hannah",
    "Omar",
    "Chloe",
    "Ravi",
    "Ingrid",
    "Tomas",
    "Yuki",
    "Fatima",
    "Jonas",
    "Lena",
    "Marco",
    "Nadia",
    "Pablo",
    "Quinn",
    "Rosa",
    "Samir",
    "Talia",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zara",
    "Aiden",
    "Bianca",
    "Caleb",
    "Dalia",
    "Elias",
    "Freya",
    "Gabriel",
    "Hugo",
    "Isla",
    "Jasper",
    "Kira",
    "Leo",
    "Maya",
    "Nico",
    "Oscar",
    "Petra",
    "Rafael",
    "Selma",
    "Theo",
    "Ursula",
    "Vera",
    "Willa",
    "Xavier",
)
_LAST = (
    "Nguyen",
    "Okafor",
    "Schmidt",
    "Rossi",
    "Tanaka",
    "Silva",
    "Kowalski",
    "Haddad",
    "Larsen",
    "Moreau",
    "Patel",
    "Garcia",
    "Cohen",
    "Andersson",
    "Dubois",
    "Ibrahim",
    "Kim",
    "Lopez",
)
_COMPANIES = (
    ("Acme Corp", "acme.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella Health", "umbrella.example"),
    ("Stark Logistics", "stark.example"),
    ("Wayne Retail", "wayne.example"),
)
_TITLES = ("Buyer", "Office Manager", "CTO", "Analyst", "Owner", "Head of Support", "Engineer")
_CITIES = (
    ("San Francisco", "CA", "94105", "US"),
    ("Austin", "TX", "73301", "US"),
    ("Toronto", "ON", "M5H 2N2", "CA"),
    ("Seattle", "WA", "98101", "US"),
    ("Chicago", "IL", "60601", "US"),
)


def _person(i: int) -> Person:
    first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7) % len(_LAST)]
    company, domain = _COMPANIES[i % len(_COMPANIES)]
    city, region, postal, country = _CITIES[i % len(_CITIES)]
    area = ("415", "512", "206", "312")[i % 4]
    return Person(
        first=first,
        last=last,
        email=f"{first}.{last}@{domain}".lower(),
        phone=f"+1{area}555{i:04d}",
        company=company,
        title=_TITLES[i % len(_TITLES)],
        city=city,
        region=region,
        postal_code=postal,
        country=country,
    )


CUSTOMERS: tuple[Person, ...] = tuple(_person(i) for i in range(60))

# Near-misses: same names as CUSTOMERS[0] and CUSTOMERS[37], different email and phone.
NEAR_MISSES: tuple[Person, ...] = (
    Person(
        "Ava",
        "Nguyen",
        "ava.nguyen@stark.example",
        "+13125559901",
        "Stark Logistics",
        "Driver",
        "Chicago",
        "IL",
        "60601",
        "US",
    ),
    Person(
        CUSTOMERS[37].first,
        CUSTOMERS[37].last,
        f"{CUSTOMERS[37].first}.x@wayne.example".lower(),
        "+12065559902",
        "Wayne Retail",
        "Clerk",
        "Seattle",
        "WA",
        "98101",
        "US",
    ),
)

# Staff who take calls: MotionCX agents and Genesys users, joined by phone.
AGENTS: tuple[Person, ...] = tuple(
    Person(
        first=f,
        last=last,
        email=f"{f}.{last}@contactcenter.example".lower(),
        phone=f"+1415555{8000 + i:04d}",
        company="Contact Center",
        title=("Agent", "Supervisor")[i % 4 == 0],
        city="San Francisco",
        region="CA",
        postal_code="94105",
        country="US",
    )
    for i, (f, last) in enumerate(
        [
            ("Grace", "Hopper"),
            ("Alan", "Turing"),
            ("Ada", "Lovelace"),
            ("Linus", "Pauling"),
            ("Marie", "Curie"),
            ("Nikola", "Tesla"),
            ("Rosalind", "Franklin"),
            ("Carl", "Sagan"),
            ("Katherine", "Johnson"),
            ("Tim", "Berners"),
        ]
    )
)


def us_national(phone_e164: str) -> str:
    """ "+14155550100" -> "(415) 555-0100"."""
    digits = phone_e164.removeprefix("+1")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def us_dashed(phone_e164: str) -> str:
    """ "+14155550100" -> "415-555-0100"."""
    digits = phone_e164.removeprefix("+1")
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def us_digits(phone_e164: str) -> str:
    """ "+14155550100" -> "4155550100"."""
    return phone_e164.removeprefix("+1")


def shouted(email: str) -> str:
    """ "ava.nguyen@acme.example" -> "Ava.Nguyen@ACME.example": same mailbox, other case."""
    local, _, domain = email.partition("@")
    head, _, tld = domain.rpartition(".")
    return f"{local.title()}@{head.upper()}.{tld}"


def generated(index: int) -> Person:
    """The `index`-th generated person (for `demo --contacts N` and scale tests): a distinct
    email and phone each, one of a hundred companies ("Company 0" ... "Company 99")."""
    first, last = _FIRST[index % len(_FIRST)], _LAST[(index // len(_FIRST)) % len(_LAST)]
    city, region, postal, country = _CITIES[index % len(_CITIES)]
    area = ("415", "512", "206", "312", "646", "303")[index % 6]
    exchange = 200 + (index // 10_000) % 800
    return Person(
        first=first,
        last=last,
        email=f"{first}.{last}.{index}@company{index % 100}.example".lower(),
        phone=f"+1{area}{exchange}{index % 10_000:04d}",
        company=f"Company {index % 100}",
        title=_TITLES[index % len(_TITLES)],
        city=city,
        region=region,
        postal_code=postal,
        country=country,
    )


def generated_share(vendor_rank: int, count: int) -> range:
    """Which generated people the `vendor_rank`-th simulator holds: `count` of them, each vendor
    shifted by a quarter, so neighbours share three quarters of their people."""
    start = vendor_rank * (count // 4)
    return range(start, start + count)
