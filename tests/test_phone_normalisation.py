"""Phone numbers in E.164: the gateway's shortcut for North American numbers written the common
ways must give exactly what phonenumbers gives, for every spelling, area code and region."""

from __future__ import annotations

import random

import phonenumbers

from gateway.filtering import normalize_phone

SPELLINGS = (
    "+1{a}{b}{c}", "+1 {a} {b} {c}", "+1 ({a}) {b}-{c}", "+1-{a}-{b}-{c}", "+1({a}){b}{c}",
    "({a}) {b}-{c}", "({a}){b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "{a}{b}{c}", "{a} {b} {c}",
)  # fmt: skip


def by_phonenumbers(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_the_north_american_shortcut_agrees_with_phonenumbers() -> None:
    draw = random.Random(18)
    for _ in range(1500):
        parts = {
            "a": f"{draw.randrange(1000):03d}",
            "b": f"{draw.randrange(1000):03d}",
            "c": f"{draw.randrange(10000):04d}",
        }
        text = draw.choice(SPELLINGS).format(**parts)
        for region in ("US", "CA", "GB"):
            assert normalize_phone(text, region) == by_phonenumbers(text, region), (text, region)
