"""The rules of research surveys, without I/O: questionnaire versions, rounds, and responses
checked against their questionnaire."""

import datetime as dt

import pytest
from assessment.surveys import (
    Questionnaire,
    Respondent,
    RoundStatus,
    SurveyRound,
    checked_answers,
    new_response_id,
)
from betterwork_events.contracts.surveys import (
    AgeBand,
    BusinessFigures,
    ManagerSurveyResponseRecorded,
    Question,
    QuestionType,
    SurveyKind,
    SurveyRoundClosed,
    WorkerSurveyResponseRecorded,
)
from betterwork_events.contracts.training import Role, Sex
from betterwork_events.errors import IllegalStep, InvalidRequest, NotFound
from pydantic import ValidationError

TODAY = dt.date(2026, 11, 16)
QUESTIONS = (
    Question(id="feels-safe", text="I feel safe at work", type=QuestionType.SCALE, scale_max=5),
    Question(
        id="paid-on-time", text="Were you paid on time last month?", type=QuestionType.CHOICE, options=("yes", "no")
    ),
    Question(id="overtime-hours", text="Overtime hours last week", type=QuestionType.NUMBER, minimum=0, maximum=60),
    Question(id="comments", text="Anything else?", type=QuestionType.TEXT, required=False),
)
SOKHA = Respondent(Sex.FEMALE, AgeBand.FROM_25_TO_34, Role.WORKER)
GOOD = {"feels-safe": 4, "paid-on-time": "yes", "overtime-hours": 6.5}


def wellbeing(*more_versions: tuple[Question, ...]) -> Questionnaire:
    questionnaire = Questionnaire("worker-wellbeing")
    for questions in (QUESTIONS, *more_versions):
        for event in questionnaire.publish(SurveyKind.WORKER, "Worker well-being", questions):
            questionnaire.apply(event)
    return questionnaire


def opened(kind: SurveyKind = SurveyKind.WORKER) -> SurveyRound:
    questionnaire = wellbeing() if kind is SurveyKind.WORKER else Questionnaire("business")
    if kind is SurveyKind.MANAGER:
        for event in questionnaire.publish(kind, "Business", QUESTIONS[:1]):
            questionnaire.apply(event)
    events = SurveyRound.open("R-1", "KH-2026-0042-5", "KH", True, questionnaire, 1, TODAY, TODAY)
    return SurveyRound.rebuild("R-1", events)


def test_each_publication_is_the_next_version_and_earlier_versions_stay_as_they_were() -> None:
    fewer = QUESTIONS[:2]
    questionnaire = wellbeing(fewer)
    assert sorted(questionnaire.versions) == [1, 2]
    assert questionnaire.published(1).questions == QUESTIONS
    assert questionnaire.published(2).questions == fewer
    with pytest.raises(NotFound, match="no version 3"):
        questionnaire.published(3)


def test_a_worker_survey_stays_a_worker_survey() -> None:
    with pytest.raises(IllegalStep, match="is a worker survey"):
        wellbeing().publish(SurveyKind.MANAGER, "Business", QUESTIONS)


def test_a_questionnaire_names_each_question_once() -> None:
    with pytest.raises(InvalidRequest, match="feels-safe named more than once"):
        Questionnaire("q").publish(SurveyKind.WORKER, "Twice", (QUESTIONS[0], QUESTIONS[0]))


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ({"type": "scale"}, "scale_max"),
        ({"type": "choice", "options": ["yes"]}, "at least two options"),
        ({"type": "choice", "options": ["yes", "yes"]}, "options must differ"),
        ({"type": "text", "options": ["a", "b"]}, "only a choice question has options"),
        ({"type": "scale", "scale_max": 5, "minimum": 1}, "only a number question"),
        ({"type": "number", "minimum": 5, "maximum": 1}, "minimum is above its maximum"),
    ],
)
def test_a_question_is_consistent_with_its_type(question: dict[str, object], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        Question.model_validate({"id": "q1", "text": "?"} | question)


def test_answers_are_checked_against_the_questionnaire_and_every_mistake_named() -> None:
    version = wellbeing().published(1)
    assert [a.value for a in checked_answers(version, GOOD)] == [4, "yes", 6.5]
    wrong = {"feels-safe": 6, "paid-on-time": "sometimes", "overtime-hours": 61, "favourite-colour": "red"}
    with pytest.raises(InvalidRequest) as refused:
        checked_answers(version, wrong)
    message = str(refused.value)
    for why in (
        "favourite-colour: no such question",
        "feels-safe: a whole number from 1 to 5, not 6",
        "paid-on-time: one of yes, no, not 'sometimes'",
        "overtime-hours: at most 60, not 61",
    ):
        assert why in message
    with pytest.raises(InvalidRequest, match="paid-on-time: required"):
        checked_answers(version, {"feels-safe": 3, "overtime-hours": 1})
    with pytest.raises(InvalidRequest, match="feels-safe: a whole number"):
        checked_answers(version, GOOD | {"feels-safe": 3.5})
    with pytest.raises(InvalidRequest, match="overtime-hours: a number"):
        checked_answers(version, GOOD | {"overtime-hours": "six"})
    with pytest.raises(InvalidRequest, match="comments: text"):
        checked_answers(version, GOOD | {"comments": 3})


def test_a_worker_response_carries_sex_age_band_role_and_answers_only() -> None:
    survey_round = opened()
    version = wellbeing().published(1)
    [event] = survey_round.record_worker_response(version, new_response_id(), SOKHA, GOOD)
    assert isinstance(event, WorkerSurveyResponseRecorded)
    assert set(type(event).model_fields) == {
        *("round_id", "factory_id", "response_id", "sex", "age_band", "role", "answers")
    }
    assert (event.sex, event.age_band, event.role) == (Sex.FEMALE, AgeBand.FROM_25_TO_34, Role.WORKER)


def test_response_ids_are_random() -> None:
    ids = {new_response_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 32 for i in ids)


def test_responses_only_while_the_round_is_open_and_of_its_kind() -> None:
    survey_round = opened()
    version = wellbeing().published(1)
    for event in survey_round.record_worker_response(version, new_response_id(), SOKHA, GOOD):
        survey_round.apply(event)
    figures = BusinessFigures(period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 12, 31), employment=2400)
    with pytest.raises(IllegalStep, match="not a manager survey round"):
        survey_round.record_manager_response(version, new_response_id(), figures, GOOD)
    [closed] = survey_round.close(TODAY)
    assert isinstance(closed, SurveyRoundClosed) and closed.responses == 1
    survey_round.apply(closed)
    assert survey_round.status is RoundStatus.CLOSED
    with pytest.raises(IllegalStep, match="closed: no more responses"):
        survey_round.record_worker_response(version, new_response_id(), SOKHA, GOOD)
    with pytest.raises(IllegalStep, match="already closed"):
        survey_round.close(TODAY)


def test_a_round_opens_in_an_enrolled_factory_on_a_published_version_not_ahead_of_time() -> None:
    questionnaire = wellbeing()
    with pytest.raises(IllegalStep, match="not enrolled"):
        SurveyRound.open("R-2", "KH-1", "KH", False, questionnaire, 1, TODAY, TODAY)
    with pytest.raises(NotFound, match="no version 2"):
        SurveyRound.open("R-2", "KH-1", "KH", True, questionnaire, 2, TODAY, TODAY)
    with pytest.raises(IllegalStep, match="ahead"):
        SurveyRound.open("R-2", "KH-1", "KH", True, questionnaire, 1, TODAY + dt.timedelta(days=1), TODAY)


def test_a_manager_round_carries_the_business_figures_and_a_correction_replaces_them() -> None:
    survey_round = opened(SurveyKind.MANAGER)
    version = Questionnaire.rebuild(
        "business",
        [e for e in Questionnaire("business").publish(SurveyKind.MANAGER, "Business", QUESTIONS[:1])],
    ).published(1)
    with pytest.raises(IllegalStep, match="once the management's response is recorded"):
        survey_round.close(TODAY)
    period = {"period_start": dt.date(2025, 1, 1), "period_end": dt.date(2025, 12, 31)}
    first = BusinessFigures(**period, sales=12_500_000, currency="USD", production_capacity=180_000, employment=2400)
    corrected = first.model_copy(update={"employment": 2450})
    for figures in (first, corrected):
        [event] = survey_round.record_manager_response(version, new_response_id(), figures, {"feels-safe": 4})
        assert isinstance(event, ManagerSurveyResponseRecorded) and event.figures == figures
        survey_round.apply(event)
    assert survey_round.figures == corrected and survey_round.responses == 1
    later = BusinessFigures(period_start=TODAY + dt.timedelta(days=1), period_end=TODAY + dt.timedelta(days=2))
    with pytest.raises(IllegalStep, match="starts after the round opened"):
        survey_round.record_manager_response(version, new_response_id(), later, {"feels-safe": 4})


def test_business_figures_are_consistent() -> None:
    with pytest.raises(ValidationError, match="ends before it starts"):
        BusinessFigures(period_start=dt.date(2025, 12, 31), period_end=dt.date(2025, 1, 1))
    with pytest.raises(ValidationError, match="sales and their currency go together"):
        BusinessFigures(period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 12, 31), sales=10.0)
