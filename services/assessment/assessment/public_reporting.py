"""Which non-compliances a country programme reports publicly (its transparency portal).

Starting values, one list for every country that reports publicly; a country team changes its
own list here, under review. Entries are compliance point ids of the assessment tool.
"""

from __future__ import annotations

from betterwork_events.countries import COUNTRY_PROGRAMMES

CRITICAL_ISSUES = frozenset(
    {
        "child-labour.child-labourers",
        "child-labour.unconditional-worst-forms",
        "child-labour.hazardous-work",
        "discrimination.gender",
        "discrimination.race-and-origin",
        "forced-labour.coercion",
        "forced-labour.bonded-labour",
        "freedom-of-association.interference-and-discrimination",
        "freedom-of-association.freedom-to-associate",
        "compensation.minimum-wages",
        "compensation.overtime-wages",
        "compensation.social-security",
        "osh.emergency-preparedness",
        "osh.chemicals",
        "working-time.overtime",
    }
)

PUBLICLY_REPORTED: dict[str, frozenset[str]] = {
    code: CRITICAL_ISSUES for code, programme in COUNTRY_PROGRAMMES.items() if programme.public_reporting
}


def publicly_reported(country: str) -> frozenset[str]:
    return PUBLICLY_REPORTED.get(country, frozenset())
