"""Worker survey aggregation without I/O: over many random surveys (fixed seeds), no figure stands on
fewer than 10 respondents (or, for a government, 5 factories), no breakdown leaves fewer than that
beside its total, and every factory's and country's figure is exactly the sum of its rounds' shown
cells, so that no difference of two readable figures is a smaller group."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from betterwork_events.contracts import surveys as se
from gateway.read_models.surveys import DIMENSIONS, AnswerRow, QuestionResult, Thresholds, aggregate_question

SAFE = se.Question(id="feels-safe", text="I feel safe at work", type=se.QuestionType.SCALE, scale_max=5)
PROGRAMME = Thresholds(smallest_group=10, smallest_factories=1)
GOVERNMENT = Thresholds(smallest_group=10, smallest_factories=5)
GROUPS = {"sex": ("female", "male", "other-or-undisclosed"), "age_band": ("under-25", "25-34", "35-44", "45-and-over")}
GROUPS["role"] = ("worker", "supervisor", "manager")


def survey(rng: random.Random) -> list[AnswerRow]:
    rows = []
    for factory in range(rng.randint(1, 9)):
        for r in range(rng.randint(1, 3)):
            round_id = f"F{factory}-R{r}"
            # Skewed groups, so that small ones (and ones of exactly 9) are common.
            weights = {d: [rng.random() ** 3 for _ in groups] for d, groups in GROUPS.items()}
            for n in range(rng.choice([rng.randint(1, 12), rng.randint(8, 40)])):
                person = {d: rng.choices(groups, weights[d])[0] for d, groups in GROUPS.items()}
                rows.append(
                    AnswerRow(
                        f"{round_id}-{n}", round_id, f"F{factory}", "feels-safe", **person, value=rng.randint(1, 5)
                    )
                )
    return rows


def counts(result: QuestionResult) -> dict[str, dict[str, tuple[int, ...] | None]]:
    return {
        d: {g.group: tuple(c for _, c in g.cell.distribution) if g.cell.shown else None for g in result.breakdowns[d]}
        for d in DIMENSIONS
    }


def factories_of(rows: list[AnswerRow]) -> int:
    return len({r.factory_id for r in rows})


@pytest.mark.parametrize("seed", range(300))
def test_no_figure_or_difference_of_figures_is_a_group_under_10(seed: int) -> None:
    rng = random.Random(seed)
    rows = survey(rng)
    for thresholds in (PROGRAMME, GOVERNMENT):
        result = aggregate_question(SAFE, rows, thresholds)
        if not result.total.shown:
            assert result.total.respondents is None and all(not cells for cells in result.breakdowns.values())
            continue
        counted = {r.round_id for r in rows if sum(x.round_id == r.round_id for x in rows) >= 10}
        total = [r for r in rows if r.round_id in counted]
        assert result.total.respondents == len(total) >= 10 and factories_of(total) >= thresholds.smallest_factories
        for dimension in DIMENSIONS:
            shown = [g for g in result.breakdowns[dimension] if g.cell.shown]
            for group in shown:
                assert group.cell.respondents is not None and group.cell.respondents >= 10
            rest = len(total) - sum(g.cell.respondents or 0 for g in shown)
            assert rest == 0 or rest >= 10, (seed, dimension, rest)
    # The programme reads every level: a factory's cells are sums of its rounds', the country's of its factories'.
    country = counts(aggregate_question(SAFE, rows, PROGRAMME))
    for level in ("factory_id", "round_id"):
        parts: dict[str, dict[str, Counter[int]]] = {d: {} for d in DIMENSIONS}
        for key in {getattr(r, level) for r in rows}:
            part = counts(aggregate_question(SAFE, [r for r in rows if getattr(r, level) == key], PROGRAMME))
            for dimension, cells in part.items():
                for group, distribution in cells.items():
                    if distribution is not None:
                        summed = parts[dimension].setdefault(group, Counter())
                        summed.update(dict(enumerate(distribution)))
        for dimension, cells in country.items():
            for group, distribution in cells.items():
                found = +parts[dimension].get(group, Counter())  # zeros dropped
                whole = +Counter(dict(enumerate(distribution or ())))
                assert whole == found, (seed, level, dimension, group)


def test_a_group_of_9_beside_a_group_of_16_withholds_both() -> None:
    rows = [
        AnswerRow(f"r{n}", "R1", "F1", "feels-safe", "female" if n < 16 else "male", "25-34", "worker", 3)
        for n in range(25)
    ]
    result = aggregate_question(SAFE, rows, PROGRAMME)
    assert result.total.respondents == 25
    assert [(g.group, g.cell.shown) for g in result.breakdowns["sex"]] == [("female", False), ("male", False)]
    assert [(g.group, g.cell.respondents) for g in result.breakdowns["role"]] == [("worker", 25)]
