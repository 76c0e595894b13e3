"""Programme ids, without I/O."""

import pytest
from factory_registry.programme_id import is_valid, number_of, programme_id


def test_an_id_reads_country_year_number_and_check_digit() -> None:
    assert programme_id("KH", 2026, 42) == "KH-2026-0042-5"
    assert is_valid("KH-2026-0042-5")
    assert number_of("KH-2026-0042-5") == 42


def test_numbers_past_9999_keep_growing() -> None:
    assert number_of(programme_id("BD", 2027, 12345)) == 12345


@pytest.mark.parametrize(
    "typo", ["KH-2026-0043-5", "KH-2026-0024-5", "KH-2062-0042-5", "KH-2026-0042-1", "KH-2026-42-5", "kh-2026-0042-5"]
)
def test_a_mistyped_digit_or_swapped_neighbours_are_caught(typo: str) -> None:
    assert not is_valid(typo)
