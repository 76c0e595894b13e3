"""Arguments no answer can be given for are the caller's mistake (BAD_USER_INPUT), never a failure."""

from __future__ import annotations

import pytest
from gateway.graphql.arguments import BadArgument, calendar_year
from gateway.graphql.schema import CODES


def test_a_year_outside_the_calendar_is_refused_before_any_date_is_made_of_it() -> None:
    assert calendar_year(2026) == 2026 and calendar_year(None) is None
    for year in (0, -1, 10_000, 1899):
        with pytest.raises(BadArgument, match=f"year must be a calendar year from 1900 to 2999, not {year}"):
            calendar_year(year)
    assert CODES[BadArgument] == "BAD_USER_INPUT"
