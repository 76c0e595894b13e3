"""The suppression rules of policy.py, as properties over any data: no two readings a government (or
a brand, beside its own suppliers) may take can be differenced to give fewer than SMALLEST_CELL
factories away. Each test builds the factories behind every cell, applies the rule to their counts
only (as the gateway does), and checks what an attacker could work out from the cells shown."""

from __future__ import annotations

from gateway import policy
from gateway.policy import SMALLEST_CELL, BreakdownCell
from hypothesis import given
from hypothesis import strategies as st

POINTS = {"osh": ("osh.chemicals", "osh.accommodation"), "compensation": ("compensation.minimum-wages",)}
ALL_POINTS = [(cluster, point) for cluster, points in POINTS.items() for point in points]

# Per factory: the compliance points its report assessed (a factory may assess none of a cluster).
factories_assessing = st.lists(st.sets(st.sampled_from(ALL_POINTS)), max_size=14)


def cells_of(assessing: list[set[tuple[str, str]]]) -> dict[BreakdownCell, set[int]]:
    """The factories behind each cell: the whole, each cluster, each point."""
    cells: dict[BreakdownCell, set[int]] = {}
    for factory, points in enumerate(assessing):
        for cluster, point in points:
            for cell in [(None, None), (cluster, None), (cluster, point)]:
                cells.setdefault(cell, set()).add(factory)
    return cells


def children(cells: dict[BreakdownCell, set[int]], parent: BreakdownCell) -> list[BreakdownCell]:
    if parent == (None, None):
        return [c for c in cells if c[0] is not None and c[1] is None]
    return [c for c in cells if c[0] == parent[0] and c[1] is not None] if parent[1] is None else []


def assert_nothing_small_by_difference(cells: dict[BreakdownCell, set[int]], hidden: set[BreakdownCell]) -> None:
    for cell, factories in cells.items():
        if cell in hidden:
            continue
        assert len(factories) >= SMALLEST_CELL, (cell, factories)
        # The parent less its children shown: what the withheld children hold together.
        withheld_children = [c for c in children(cells, cell) if c in hidden]
        behind = set().union(*(cells[c] for c in withheld_children)) if withheld_children else set()
        assert not behind or len(behind) >= SMALLEST_CELL, (cell, withheld_children, behind)


@given(st.dictionaries(st.text(max_size=3), st.integers(0, 30)))
def test_a_breakdown_withholds_every_small_cell_and_never_small_ones_alone(counts: dict[str, int]) -> None:
    hidden = policy.withheld_cells(counts)
    assert {cell for cell, n in counts.items() if n < SMALLEST_CELL} <= hidden
    if hidden and len(hidden) < len(counts):
        assert max(counts[cell] for cell in hidden) >= SMALLEST_CELL


@given(factories_assessing)
def test_a_governments_breakdown_cannot_be_differenced_to_a_small_group(assessing: list[set[tuple[str, str]]]) -> None:
    cells = cells_of(assessing)
    hidden = policy.withheld_breakdown({cell: len(f) for cell, f in cells.items()})
    assert_nothing_small_by_difference(cells, hidden)


@given(factories_assessing, st.sets(st.integers(0, 13)))
def test_a_brand_cannot_difference_its_suppliers_from_the_country(
    assessing: list[set[tuple[str, str]]], suppliers: set[int]
) -> None:
    cells = cells_of(assessing)
    own = {cell: f & suppliers for cell, f in cells.items()}
    hidden = policy.withheld_beside({c: len(f) for c, f in cells.items()}, {c: len(f) for c, f in own.items()})
    assert_nothing_small_by_difference(cells, hidden)
    # Less the brand's own suppliers, which it reads one by one, the country's other factories.
    others = {cell: f - suppliers for cell, f in cells.items()}
    for cell in cells:
        if cell not in hidden:
            assert not others[cell] or len(others[cell]) >= SMALLEST_CELL, (cell, others[cell])
    assert_nothing_small_by_difference({c: f for c, f in others.items() if f}, hidden)


@given(st.dictionaries(st.integers(0, 8), st.integers(0, 12)), st.booleans())
def test_no_two_participation_lengths_differ_by_a_few_factories(by_years: dict[int, int], whole_withheld: bool) -> None:
    shown = policy.thresholds_shown(by_years, whole_withheld)
    at_least = {n: sum(count for years, count in by_years.items() if years >= n) for n in range(12)}
    for n in shown:
        assert at_least[n] >= SMALLEST_CELL
        for m in shown:
            assert at_least[n] == at_least[m] or abs(at_least[n] - at_least[m]) >= SMALLEST_CELL, (n, m)
        if whole_withheld:  # withheld elsewhere: nothing shown within a few factories of it, or equal to it
            assert at_least[0] - at_least[n] >= SMALLEST_CELL, n
    # Nothing big enough is withheld needlessly from the whole: all of them, if they are enough.
    assert (0 in shown) == (at_least[0] >= SMALLEST_CELL and not whole_withheld)
