"""Arguments no answer can be given for, refused as BAD_USER_INPUT (the schema's CODES) before any
read, whichever area takes them."""

from __future__ import annotations

# Reports, training and surveys all began this century; the bounds only keep a date constructible.
FIRST_YEAR, LAST_YEAR = 1900, 2999


class BadArgument(ValueError):
    pass


def calendar_year(year: int | None) -> int | None:
    if year is not None and not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadArgument(f"year must be a calendar year from {FIRST_YEAR} to {LAST_YEAR}, not {year}")
    return year
