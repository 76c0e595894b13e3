"""Programme ids: stable, human-readable factory ids like `KH-2026-0042-5`.

Country, year of registration, a running number within the country and year, and a check digit
(Luhn, over the year and the number) that catches a mistyped digit or two swapped neighbours
when an id is read out over the phone or copied from a paper report.
"""

from __future__ import annotations

import re

PATTERN = re.compile(r"^(?P<country>[A-Z]{2})-(?P<year>\d{4})-(?P<number>\d{4,})-(?P<check>\d)$")


def check_digit(digits: str) -> int:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 0:  # doubled from the rightmost, as the check digit will sit to its right
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def programme_id(country: str, year: int, number: int) -> str:
    body = f"{year:04d}{number:04d}"
    return f"{country}-{year:04d}-{number:04d}-{check_digit(body)}"


def is_valid(value: str) -> bool:
    match = PATTERN.match(value)
    if match is None:
        return False
    return check_digit(match["year"] + match["number"]) == int(match["check"])


def number_of(value: str) -> int:
    match = PATTERN.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a programme id")
    return int(match["number"])
