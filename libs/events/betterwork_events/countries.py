"""The country programmes: reference data other services need (shipped with the code, versioned
with it, and served at GET /countries)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CountryProgramme:
    code: str  # ISO 3166-1 alpha-2
    country: str
    programme: str
    runs_committees: bool  # whether the programme sets up worker-management committees (PICCs)
    public_reporting: bool  # whether assessment results are published on the transparency portal
    languages: tuple[str, ...]  # BCP 47, the languages reports are written in besides English
    timezone: str


# Starting values: each country team owns its settings and changes them here, under review.
COUNTRY_PROGRAMMES: dict[str, CountryProgramme] = {
    p.code: p
    for p in [
        CountryProgramme("BD", "Bangladesh", "Better Work Bangladesh", True, False, ("bn",), "Asia/Dhaka"),
        CountryProgramme("KH", "Cambodia", "Better Factories Cambodia", True, True, ("km",), "Asia/Phnom_Penh"),
        CountryProgramme("EG", "Egypt", "Better Work Egypt", True, False, ("ar",), "Africa/Cairo"),
        CountryProgramme("ET", "Ethiopia", "Better Work Ethiopia", True, False, ("am",), "Africa/Addis_Ababa"),
        CountryProgramme("HT", "Haiti", "Better Work Haiti", True, True, ("fr", "ht"), "America/Port-au-Prince"),
        CountryProgramme("ID", "Indonesia", "Better Work Indonesia", True, False, ("id",), "Asia/Jakarta"),
        CountryProgramme("JO", "Jordan", "Better Work Jordan", True, True, ("ar",), "Asia/Amman"),
        CountryProgramme("NI", "Nicaragua", "Better Work Nicaragua", True, True, ("es",), "America/Managua"),
        CountryProgramme("PK", "Pakistan", "Better Work Pakistan", True, False, ("ur",), "Asia/Karachi"),
        CountryProgramme("LK", "Sri Lanka", "Better Work Sri Lanka", True, False, ("si", "ta"), "Asia/Colombo"),
        CountryProgramme("VN", "Vietnam", "Better Work Vietnam", True, True, ("vi",), "Asia/Ho_Chi_Minh"),
    ]
}


def today_in(country: str, now: dt.datetime | None = None) -> dt.date:
    """The calendar day at the factory, not in UTC: a meeting held this morning in Phnom Penh is not
    in the future, and a day in Dhaka is over before it is in Managua."""
    programme = COUNTRY_PROGRAMMES.get(country)
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(programme.timezone) if programme else dt.UTC).date()
