"""Worker survey results and manager survey impact in GraphQL, from hand-made survey events (a
fixed seed for the answers), every figure checked against one worked out here from the raw
responses; a group of 9 withheld for every audience, and no difference of two figures giving it
away; each caller only what is theirs."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
from dataclasses import dataclass
from typing import Any

from betterwork_events.auth import Audience
from betterwork_events.contracts import surveys as se
from betterwork_events.contracts.training import Role, Sex

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer

QUESTIONS = (
    se.Question(id="feels-safe", text="I feel safe at work", type=se.QuestionType.SCALE, scale_max=5),
    se.Question(
        id="paid-on-time",
        text="Were you paid on time last month?",
        type=se.QuestionType.CHOICE,
        options=("yes", "no", "not-sure"),
    ),
    se.Question(id="overtime-hours", text="Overtime hours last week", type=se.QuestionType.NUMBER, minimum=0),
    se.Question(id="comments", text="Anything else?", type=se.QuestionType.TEXT, required=False),
)
SECRET_COMMENT = "my supervisor Mr Vuthy shouts at line 7"  # a free-text answer: never to come back


@dataclass(frozen=True)
class Respondent:
    round_id: str
    factory_id: str
    sex: str
    age_band: str
    role: str
    answers: dict[str, Any]


# Each round: factory, country, closed?, and who responded as (sex, age band, role, how many).
ROUNDS: dict[str, tuple[str, str, bool, list[tuple[str, str, str, int]]]] = {
    # Angkor: 16 women and the group of 9 men (and the 9 are all 35-44).
    "R1": ("KH-F1", "KH", True, [("female", "25-34", "worker", 16), ("male", "35-44", "worker", 9)]),
    "R2": (
        "KH-F2",
        "KH",
        True,
        [
            ("female", "under-25", "worker", 12),
            ("female", "25-34", "supervisor", 6),
            ("male", "25-34", "worker", 11),
            ("other-or-undisclosed", "45-and-over", "worker", 1),
        ],
    ),
    "R3": ("KH-F3", "KH", True, [("female", "25-34", "worker", 8)]),  # too few respondents
    "R4": ("KH-F4", "KH", False, [("female", "25-34", "worker", 15)]),  # still open
    "R5": ("KH-F5", "KH", True, [("female", "25-34", "worker", 10), ("male", "35-44", "worker", 10)]),
    "R6": ("KH-F6", "KH", True, [("female", "under-25", "worker", 12)]),
    "R7": ("KH-F7", "KH", True, [("male", "45-and-over", "worker", 11)]),
    "R8": ("VN-F8", "VN", True, [("female", "25-34", "worker", 10)]),
}
# Worked out by hand from the counts above: the groups each round's own breakdown can show (a
# group of fewer than 10 is withheld, and so is the next smallest when the withheld alone would
# be the total less the shown). R1: the 9 men withheld, so the 16 women too (25 - 16 = 9).
# R2: 1 other withheld, so the 11 men too; 45-and-over (1) withheld, so under-25 (12) too; the 6
# supervisors withheld, so the 24 workers too.
ROUND_SHOWS = {
    ("R1", "sex"): set(),
    ("R1", "age_band"): set(),
    ("R1", "role"): {"worker"},
    ("R2", "sex"): {"female"},
    ("R2", "age_band"): {"25-34"},
    ("R2", "role"): set(),
    ("R5", "sex"): {"female", "male"},
    ("R5", "age_band"): {"25-34", "35-44"},
    ("R5", "role"): {"worker"},
    ("R6", "sex"): {"female"},
    ("R6", "age_band"): {"under-25"},
    ("R6", "role"): {"worker"},
    ("R7", "sex"): {"male"},
    ("R7", "age_band"): {"45-and-over"},
    ("R7", "role"): {"worker"},
    ("R8", "sex"): {"female"},
    ("R8", "age_band"): {"25-34"},
    ("R8", "role"): {"worker"},
}
DIMENSIONS = {"sex": "bySex", "age_band": "byAgeBand", "role": "byRole"}


def respondents(seed: int = 13) -> list[Respondent]:
    rng = random.Random(seed)
    everyone = []
    for round_id, (factory_id, _, _, groups) in ROUNDS.items():
        position = 0
        for sex, age_band, role, count in groups:
            for _ in range(count):
                answers: dict[str, Any] = {
                    "feels-safe": rng.randint(1, 5),
                    "paid-on-time": rng.choice(["yes", "yes", "no", "not-sure"]),
                    "overtime-hours": round(rng.uniform(0, 20), 1),
                }
                # Comments: everyone in R1, R5 and R6; 5 in R2 (too few for R2 to count on it).
                if round_id in ("R1", "R5", "R6") or (round_id == "R2" and position < 5):
                    answers["comments"] = SECRET_COMMENT
                everyone.append(Respondent(round_id, factory_id, sex, age_band, role, answers))
                position += 1
    return everyone


PEOPLE = respondents()


# --- what the answers must be, worked out here from the raw responses --------------------------


def figures(question: se.Question, people: list[Respondent]) -> dict[str, Any]:
    values = [p.answers[question.id] for p in people]
    n = len(values)
    distribution = []
    if question.type is se.QuestionType.CHOICE:
        distribution = [(o, values.count(o)) for o in question.options]
    elif question.type is se.QuestionType.SCALE:
        distribution = [(str(k), values.count(k)) for k in range(1, (question.scale_max or 0) + 1)]
    numeric = question.type in (se.QuestionType.SCALE, se.QuestionType.NUMBER)
    return {
        "respondents": n,
        "withheld": False,
        "distribution": [{"answer": a, "respondents": c, "share": round(c / n, 2)} for a, c in distribution],
        "mean": round(statistics.fmean(values), 2) if numeric else None,
        "median": round(statistics.median(values), 2) if numeric else None,
    }


def counted_rounds(question: se.Question, round_ids: list[str]) -> list[str]:
    """Closed rounds where at least 10 answered the question."""
    return [
        r
        for r in round_ids
        if ROUNDS[r][2] and sum(1 for p in PEOPLE if p.round_id == r and question.id in p.answers) >= 10
    ]


def answered(question: se.Question, round_ids: list[str]) -> list[Respondent]:
    return [p for p in PEOPLE if p.round_id in round_ids and question.id in p.answers]


def expected_total(question: se.Question, round_ids: list[str]) -> dict[str, Any] | None:
    counted = counted_rounds(question, round_ids)
    return figures(question, answered(question, counted)) if counted else None


def expected_group(question: se.Question, round_ids: list[str], dimension: str, group: str) -> dict[str, Any] | None:
    """A group's figures over the rounds whose own breakdown shows it; None if none does."""
    showing = [r for r in counted_rounds(question, round_ids) if group in ROUND_SHOWS[(r, dimension)]]
    people = [p for p in answered(question, showing) if getattr(p, dimension) == group]
    return figures(question, people) if people else None


# --- the events ----------------------------------------------------------------------------------


async def publish_surveys(read_side: ReadSide) -> None:
    published = se.QuestionnairePublished(
        questionnaire_id="worker-wellbeing",
        kind=se.SurveyKind.WORKER,
        title="Worker well-being",
        version=1,
        questions=QUESTIONS,
    )
    await read_side.publish(published, "questionnaire-worker-wellbeing")
    for round_id, (factory_id, country, closed, _) in ROUNDS.items():
        stream = f"survey-round-{round_id}"
        opened = se.SurveyRoundOpened(
            round_id=round_id,
            factory_id=factory_id,
            country=country,
            questionnaire_id="worker-wellbeing",
            questionnaire_version=1,
            kind=se.SurveyKind.WORKER,
            questions=QUESTIONS,
            opened_on=dt.date(2026, 5, 4),
        )
        envelopes = [read_side.envelope(opened, stream)]
        mine = [p for p in PEOPLE if p.round_id == round_id]
        for number, person in enumerate(mine):
            event = se.WorkerSurveyResponseRecorded(
                round_id=round_id,
                factory_id=factory_id,
                response_id=f"{round_id}-{number:04d}-{random.Random(number).getrandbits(64):x}",
                sex=Sex(person.sex),
                age_band=se.AgeBand(person.age_band),
                role=Role(person.role),
                answers=tuple(se.Answer(question_id=q, value=v) for q, v in person.answers.items()),
            )
            envelopes.append(read_side.envelope(event, stream))
        if closed:
            event = se.SurveyRoundClosed(
                round_id=round_id, factory_id=factory_id, closed_on=dt.date(2026, 5, 8), responses=len(mine)
            )
            envelopes.append(read_side.envelope(event, stream))
        await read_side.send(*envelopes)


CELL = "respondents withheld withheldReason distribution { answer respondents share } mean median"
RESULTS = f"""{{
  workerSurveyResults(questionnaireId: "worker-wellbeing", version: 1, REACH) {{
    questionnaireId version title country factoryId roundId roundsCounted roundsStillOpen
    roundsWithTooFewRespondents respondents
    questions {{ questionId text type total {{ {CELL} }}
      bySex {{ group figures {{ {CELL} }} }} byAgeBand {{ group figures {{ {CELL} }} }}
      byRole {{ group figures {{ {CELL} }} }} }} }} }}"""


def results_query(**reach: str) -> str:
    return RESULTS.replace("REACH", ", ".join(f"{k}: {json.dumps(v)}" for k, v in reach.items()))


async def results(read_side: ReadSide, headers: dict[str, str], **reach: str) -> dict[str, Any]:
    return await read_side.graphql(results_query(**reach), headers)


async def projected(read_side: ReadSide) -> None:
    def done(data: dict[str, Any]) -> bool:
        found = data["workerSurveyResults"]
        return found is not None and (found["roundsCounted"], found["roundsStillOpen"]) == (5, 1)

    await read_side.until(results_query(country="KH"), PROGRAMME, done, "the survey rounds projected")

    def vietnam(data: dict[str, Any]) -> bool:
        return data["workerSurveyResults"] is not None and data["workerSurveyResults"]["roundsCounted"] == 1

    await read_side.until(results_query(country="VN"), PROGRAMME, vietnam, "VN projected")


def strip(cell: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cell.items() if k != "withheldReason"}


def check_level(answer: dict[str, Any], round_ids: list[str], groups_shown: str = "all") -> None:
    """Every question's total and breakdowns against the raw responses of `round_ids`.

    groups_shown "all": every group some round can show is shown (the programme and a factory,
    whose level adds no rule); "none": every group withheld (KH's government: no group of the
    country stands on 5 factories and leaves 5 or more in the rest)."""
    for question, found in zip(QUESTIONS, answer["questions"], strict=True):
        assert found["questionId"] == question.id and found["text"] == question.text
        total = expected_total(question, round_ids)
        factories = {ROUNDS[r][0] for r in counted_rounds(question, round_ids)}
        if total is None or (groups_shown == "none" and len(factories) < 5):
            assert found["total"]["withheld"] and found["total"]["respondents"] is None, question.id
            continue
        assert strip(found["total"]) == total, question.id
        for dimension, field in DIMENSIONS.items():
            present = sorted({getattr(p, dimension) for p in answered(question, counted_rounds(question, round_ids))})
            assert [g["group"] for g in found[field]] == present, (question.id, dimension)
            for group in found[field]:
                expected = expected_group(question, round_ids, dimension, group["group"])
                if expected is None or groups_shown == "none":
                    assert group["figures"]["withheld"] and group["figures"]["respondents"] is None
                    assert group["figures"]["distribution"] == [] and group["figures"]["mean"] is None
                else:
                    assert strip(group["figures"]) == expected, (question.id, dimension, group["group"])


KH_ROUNDS = [r for r, (_, country, _, _) in ROUNDS.items() if country == "KH"]


async def test_worker_survey_results_per_question_by_country_factory_and_round(read_side: ReadSide) -> None:
    await publish_surveys(read_side)
    await projected(read_side)
    country = (await results(read_side, PROGRAMME, country="KH"))["data"]["workerSurveyResults"]
    assert (country["roundsCounted"], country["roundsStillOpen"], country["roundsWithTooFewRespondents"]) == (5, 1, 1)
    assert country["respondents"] == 25 + 30 + 20 + 12 + 11
    check_level(country, KH_ROUNDS)
    # Worked out by hand as well, for the sex breakdown of the country: women of R2, R5 and R6;
    # men of R5 and R7; R1 (its 9 men) and R2's men and the one other counted in the total only.
    safe = country["questions"][0]
    assert safe["total"]["respondents"] == 98
    assert [(g["group"], g["figures"]["respondents"]) for g in safe["bySex"]] == [
        ("female", 18 + 10 + 12),
        ("male", 10 + 11),
        ("other-or-undisclosed", None),
    ]
    # The text question: a count, never an answer; R2's 5 comments are too few to count.
    comments = country["questions"][3]
    assert comments["total"]["respondents"] == 25 + 20 + 12 and comments["total"]["distribution"] == []
    for factory_id, round_ids in [("KH-F1", ["R1"]), ("KH-F2", ["R2"]), ("KH-F3", ["R3"]), ("KH-F4", ["R4"])]:
        factory = (await results(read_side, PROGRAMME, factoryId=factory_id))["data"]["workerSurveyResults"]
        check_level(factory, round_ids)
        by_round = (await results(read_side, PROGRAMME, roundId=round_ids[0]))["data"]["workerSurveyResults"]
        check_level(by_round, round_ids)
        assert by_round["roundId"] == round_ids[0]
    # A factory reads its own, as the programme does.
    own = (await results(read_side, bearer(Audience.FACTORY, "KH-F2"), factoryId="KH-F2"))["data"]
    assert own == (await results(read_side, PROGRAMME, factoryId="KH-F2"))["data"]
    # KH's government: the country only, each figure on 5 factories or more.
    government = (await results(read_side, bearer(Audience.GOVERNMENT, "KH"), country="KH"))["data"]
    check_level(government["workerSurveyResults"], KH_ROUNDS, groups_shown="none")
    assert government["workerSurveyResults"]["questions"][0]["total"]["respondents"] == 98  # 5 factories
    reason = government["workerSurveyResults"]["questions"][3]["total"]["withheldReason"]
    assert reason == "fewer than 5 factories"  # comments count in R1, R5 and R6 only
    vietnam = (await results(read_side, bearer(Audience.GOVERNMENT, "VN"), country="VN"))["data"]
    assert all(q["total"]["withheld"] for q in vietnam["workerSurveyResults"]["questions"])  # one factory
    text = json.dumps([country, government, vietnam, own])
    assert SECRET_COMMENT not in text and "R1-0000" not in text


async def test_each_caller_reads_only_its_own_survey_results(read_side: ReadSide) -> None:
    await publish_surveys(read_side)
    await projected(read_side)
    f1, brand = bearer(Audience.FACTORY, "KH-F1"), bearer(Audience.BRAND, "BR-0001")
    kh, vn = bearer(Audience.GOVERNMENT, "KH"), bearer(Audience.GOVERNMENT, "VN")
    for headers, reach in [
        (f1, {"factoryId": "KH-F2"}),
        (f1, {"country": "KH"}),
        (brand, {"country": "KH"}),
        (brand, {"factoryId": "KH-F1"}),
        (brand, {"roundId": "R1"}),
        (kh, {"factoryId": "KH-F1"}),
        (kh, {"roundId": "R1"}),
        (vn, {"country": "KH"}),
    ]:
        answer = await results(read_side, headers, **reach)
        assert answer["data"] == {"workerSurveyResults": None}, reach
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", reach
    # Another factory's round does not exist for a factory: as a missing one.
    for round_id in ("R2", "no-such-round"):
        assert (await results(read_side, f1, roundId=round_id))["data"] == {"workerSurveyResults": None}
    two = await results(read_side, PROGRAMME, country="KH", factoryId="KH-F1")
    assert two["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def remainder(total: dict[str, Any], groups: list[dict[str, Any]]) -> int:
    return int(total["respondents"]) - sum(g["figures"]["respondents"] or 0 for g in groups)


def distribution(cell: dict[str, Any]) -> dict[str, int]:
    return {d["answer"]: d["respondents"] for d in cell["distribution"]}


async def test_a_group_of_9_is_withheld_for_everyone_and_no_difference_reveals_it(read_side: ReadSide) -> None:
    await publish_surveys(read_side)
    await projected(read_side)
    nine = [p for p in PEOPLE if p.round_id == "R1" and p.sex == "male"]
    assert len(nine) == 9
    nine_safe = {str(k): [p.answers["feels-safe"] for p in nine].count(k) for k in range(1, 6)}
    readings = {
        "programme, country": await results(read_side, PROGRAMME, country="KH"),
        "programme, factory": await results(read_side, PROGRAMME, factoryId="KH-F1"),
        "programme, round": await results(read_side, PROGRAMME, roundId="R1"),
        "the factory itself": await results(read_side, bearer(Audience.FACTORY, "KH-F1"), factoryId="KH-F1"),
        "the factory's round": await results(read_side, bearer(Audience.FACTORY, "KH-F1"), roundId="R1"),
        "government": await results(read_side, bearer(Audience.GOVERNMENT, "KH"), country="KH"),
    }
    cells: list[dict[str, int]] = []  # every distribution anyone can read, and every remainder
    for who, reading in readings.items():
        found = reading["data"]["workerSurveyResults"]
        for question in found["questions"]:
            total = question["total"]
            if total["withheld"]:
                continue
            assert total["respondents"] >= 10, who
            for field in DIMENSIONS.values():
                shown = [g for g in question[field] if not g["figures"]["withheld"]]
                for group in shown:
                    assert group["figures"]["respondents"] >= 10, (who, field)
                # What the total leaves besides the shown groups: none, or 10 and more.
                left = remainder(total, shown)
                assert left == 0 or left >= 10, (who, question["questionId"], field, left)
                if question["questionId"] == "feels-safe":
                    rest = distribution(total)
                    for group in shown:
                        rest = {k: v - distribution(group["figures"])[k] for k, v in rest.items()}
                    cells += [rest, *(distribution(g["figures"]) for g in shown)]
            if question["questionId"] == "feels-safe":
                cells.append(distribution(total))
        # In Angkor's own figures, the men (the 9) and so the women (25 - 16 = 9) are withheld.
        if "country" not in who and who != "government":
            sexes = {g["group"]: g["figures"] for g in found["questions"][0]["bySex"]}
            assert sexes["male"]["withheld"] and sexes["female"]["withheld"], who
    # Nothing read, nor any difference of two things read, is the 9 men's answers.
    assert nine_safe not in cells
    for one in cells:
        for other in cells:
            assert {k: one[k] - other[k] for k in nine_safe} != nine_safe
    # The country's men are R5's and R7's only: the 9 of R1 are not in them, so the country less
    # the other factories gives nothing of them either.
    country = readings["programme, country"]["data"]["workerSurveyResults"]
    men = next(g for g in country["questions"][0]["bySex"] if g["group"] == "male")
    others = [p for p in PEOPLE if p.round_id in ("R5", "R7") and p.sex == "male"]
    assert men["figures"]["respondents"] == len(others) == 21
    assert distribution(men["figures"]) == {
        str(k): [p.answers["feels-safe"] for p in others].count(k) for k in range(1, 6)
    }


# --- manager surveys: impact ---------------------------------------------------------------------


def year(y: int, **figures: Any) -> se.BusinessFigures:
    return se.BusinessFigures(period_start=dt.date(y, 1, 1), period_end=dt.date(y, 12, 31), **figures)


# Per factory, its manager rounds in the order they were opened: (closed?, figures, correction or None).
USD = {"currency": "USD"}
MANAGER_ROUNDS: dict[str, list[tuple[bool, se.BusinessFigures, se.BusinessFigures | None]]] = {
    "KH-F1": [
        (True, year(2024, sales=1_000_000, **USD, production_capacity=100_000, employment=2400), None),
        (True, year(2025, sales=1_200_000, **USD, production_capacity=110_000, employment=2300), None),
    ],
    "KH-F2": [
        (True, year(2023, sales=2_000_000, **USD, production_capacity=50_000, employment=800), None),
        (True, year(2024, sales=1_800_000, **USD, production_capacity=50_000, employment=850), None),
        (True, year(2025, sales=2_500_000, **USD, production_capacity=50_000, employment=900), None),
    ],
    "KH-F3": [(True, year(2025, sales=300_000, **USD, production_capacity=8_000, employment=150), None)],
    "KH-F4": [
        (True, year(2024, sales=900_000, **USD, production_capacity=30_000, employment=1000), None),
        (True, year(2025, sales=3_700_000_000, currency="KHR", employment=1100), None),
    ],
    "KH-F5": [
        (True, year(2024, sales=500_000, **USD, production_capacity=20_000, employment=300), None),
        (
            True,
            year(2025, sales=600_000, **USD, production_capacity=30_000, employment=340),
            year(2025, sales=600_000, **USD, production_capacity=30_000, employment=350),
        ),
    ],
    "KH-F6": [
        (True, year(2024, sales=400_000, **USD, production_capacity=15_000, employment=500), None),
        (False, year(2025, sales=450_000, **USD, production_capacity=16_000, employment=520), None),
    ],
    "KH-F7": [(False, year(2025, sales=100_000, **USD, production_capacity=5_000, employment=90), None)],
    "KH-F8": [
        (True, year(2024, sales=0, **USD, production_capacity=10_000, employment=100), None),
        (True, year(2025, sales=100, **USD, production_capacity=9_000, employment=90), None),
    ],
    # Opened later, but reporting the earlier year: the periods decide which is first.
    "KH-F9": [
        (True, year(2025, sales=900_000, **USD, production_capacity=45_000, employment=500), None),
        (True, year(2023, sales=700_000, **USD, production_capacity=40_000, employment=500), None),
    ],
}


async def publish_manager_rounds(read_side: ReadSide) -> None:
    envelopes = []
    for factory_id, factory_rounds in MANAGER_ROUNDS.items():
        for number, (closed, figures_, correction) in enumerate(factory_rounds):
            round_id = f"M-{factory_id}-{number}"
            stream = f"survey-round-{round_id}"
            base = {"round_id": round_id, "factory_id": factory_id}
            events: list[se.SurveyRoundEvent] = [
                se.SurveyRoundOpened(
                    **base,
                    country="KH",
                    questionnaire_id="business",
                    questionnaire_version=1,
                    kind=se.SurveyKind.MANAGER,
                    questions=QUESTIONS[2:3],
                    opened_on=dt.date(2026, 1, 10) + dt.timedelta(days=30 * number),
                )
            ]
            for recorded in (figures_, correction):
                if recorded is not None:
                    events.append(
                        se.ManagerSurveyResponseRecorded(
                            **base, response_id=f"{round_id}-m", figures=recorded, answers=()
                        )
                    )
            if closed:
                events.append(se.SurveyRoundClosed(**base, closed_on=dt.date(2026, 2, 1), responses=1))
            envelopes += [read_side.envelope(e, stream) for e in events]
    await read_side.send(*envelopes)


def expected_impact(measure: str) -> tuple[list[float], dict[str, list[str]]]:
    """Each factory's relative change (latest over first closed round reporting the figure, by
    period; sales a day), and the factories left out by reason: worked out from MANAGER_ROUNDS."""
    changes, left_out = [], {}
    for factory_id, factory_rounds in MANAGER_ROUNDS.items():
        closed = [(c or f) for done, f, c in factory_rounds if done]
        if not closed:
            left_out.setdefault("its manager survey round is still open", []).append(factory_id)
            continue
        if len(closed) == 1:
            left_out.setdefault("only one closed manager survey round", []).append(factory_id)
            continue
        reported = sorted((f for f in closed if getattr(f, measure) is not None), key=lambda f: f.period_end)
        if len(reported) < 2:
            left_out.setdefault("the figure is missing in all but one round", []).append(factory_id)
            continue
        first, latest = reported[0], reported[-1]
        if measure == "sales" and first.currency != latest.currency:
            left_out.setdefault("sales in its first and latest rounds are in different currencies", []).append(
                factory_id
            )
            continue

        def value(f: se.BusinessFigures) -> float:
            days = (f.period_end - f.period_start).days + 1
            return float(getattr(f, measure)) / (days if measure == "sales" else 1)

        if value(first) == 0:
            left_out.setdefault("its first figure is zero: there is no relative change", []).append(factory_id)
            continue
        changes.append((value(latest) - value(first)) / value(first))
    return changes, left_out


IMPACT = "query ($country: String!) { managerSurveyImpact(country: $country) { country %s } }" % " ".join(  # noqa: UP031
    f"{m} {{ measure factories factoriesIncreased shareIncreased medianChange suppressed "
    "leftOut { reason factories factoryIds } }"
    for m in ("sales", "productionCapacity", "employment")
)
FIELDS = {"sales": "sales", "production_capacity": "productionCapacity", "employment": "employment"}


async def test_manager_survey_impact_per_country_with_the_factories_left_out(read_side: ReadSide) -> None:
    await publish_manager_rounds(read_side)

    def done(data: dict[str, Any]) -> bool:
        return data["managerSurveyImpact"]["employment"]["factories"] == 6

    kh = IMPACT.replace("query ($country: String!) ", "").replace("$country", '"KH"')
    answer = await read_side.until(kh, PROGRAMME, done, "the manager rounds projected")
    government = (await read_side.graphql(IMPACT, bearer(Audience.GOVERNMENT, "KH"), {"country": "KH"}))["data"]
    for measure, field in FIELDS.items():
        changes, left_out = expected_impact(measure)
        rose = sum(c > 0 for c in changes)
        found = answer["managerSurveyImpact"][field]
        assert found["measure"] == measure
        assert (found["factories"], found["factoriesIncreased"]) == (len(changes), rose), measure
        assert found["shareIncreased"] == round(rose / len(changes), 2), measure
        assert found["medianChange"] == round(statistics.median(changes), 2), measure
        assert {x["reason"]: x["factoryIds"] for x in found["leftOut"]} == left_out, measure
        assert all(x["factories"] == len(x["factoryIds"]) for x in found["leftOut"])
        # The government: no factory ids; a figure on fewer than 5 factories withheld.
        theirs = government["managerSurveyImpact"][field]
        assert {x["reason"]: x["factories"] for x in theirs["leftOut"]} == {r: len(f) for r, f in left_out.items()}
        assert all(x["factoryIds"] is None for x in theirs["leftOut"])
        if len(changes) < 5:
            assert theirs["suppressed"] and theirs["shareIncreased"] is None and theirs["factories"] is None
        else:
            assert {k: v for k, v in theirs.items() if k != "leftOut"} == {
                k: v for k, v in found.items() if k != "leftOut"
            }
    # As worked out by hand: sales stand on F1, F2, F5, F9 (4: withheld for the government); F5's
    # employment is its correction (350, not 340).
    assert answer["managerSurveyImpact"]["sales"]["factories"] == 4
    assert government["managerSurveyImpact"]["sales"]["suppressed"] is True
    assert government["managerSurveyImpact"]["productionCapacity"]["factories"] == 5
    for headers in (
        bearer(Audience.GOVERNMENT, "VN"),
        bearer(Audience.BRAND, "BR-0001"),
        bearer(Audience.FACTORY, "KH-F1"),
    ):
        refused = await read_side.graphql(IMPACT, headers, {"country": "KH"})
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
