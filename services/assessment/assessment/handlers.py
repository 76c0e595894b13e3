"""Command handlers: load the assessment, ask the domain, append at the version read.

Each append and the directory row it changes commit in one transaction.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from typing import cast

from betterwork_events import history
from betterwork_events.contracts.assessment import AssessmentScheduled, ZeroToleranceIssueRaised
from betterwork_events.contracts.surveys import Question, QuestionnairePublished, SurveyKind
from betterwork_events.countries import today_in
from betterwork_events.errors import IdempotencyKeyReused, InvalidRequest, NotFound
from betterwork_events.factories import KnownFactory
from betterwork_events.history import Change, Disclosure
from betterwork_events.store import CommandContext, EventStore, StreamNotFound, VersionConflict

from assessment import directory
from assessment.domain import Assessment, AssessmentEvent, assessment_stream
from assessment.public_reporting import publicly_reported
from assessment.surveys import (
    Questionnaire,
    QuestionnaireVersion,
    SurveyRound,
    SurveyRoundEvent,
    questionnaire_stream,
    round_stream,
)
from assessment.tool import AssessmentTool, tool
from assessment.views import PublicCycle, PublicFactory, TransparencyList, TransparencyRecord
from assessment.zero_tolerance import ZeroToleranceCase, ZeroToleranceEvent, zero_tolerance_stream

IDEMPOTENCY_NAMESPACE = uuid.UUID("0c0f3d6e-7a0b-4f43-93a4-6cf0a7b3c0de")


def tool_of(assessment: Assessment) -> AssessmentTool:
    """The tool the assessment was scheduled with: later versions never change it."""
    return tool(assessment.tool_version)


async def assessment_history(store: EventStore, assessment_id: str, disclosure: Disclosure | None) -> list[Change]:
    """Every change to the assessment, oldest first; only what `disclosure` names, if given."""
    try:
        envelopes = await store.load(assessment_stream(assessment_id))
    except StreamNotFound:
        raise NotFound(f"no assessment {assessment_id}") from None
    return history.whole(envelopes) if disclosure is None else history.disclosed(envelopes, disclosure)


async def load_assessment(store: EventStore, assessment_id: str) -> Assessment:
    try:
        envelopes = await store.load(assessment_stream(assessment_id))
    except StreamNotFound:
        raise NotFound(f"no assessment {assessment_id}") from None
    assessment = Assessment(id=assessment_id)
    for envelope in envelopes:
        assessment.apply(cast(AssessmentEvent, envelope.contract()), envelope.actor)
    return assessment


async def schedule_assessment(
    store: EventStore,
    factory: KnownFactory,
    planned_date: dt.date,
    assessors: tuple[str, ...],
    context: CommandContext,
    idempotency_key: str | None = None,
) -> Assessment:
    event_id = (
        uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{context.actor}|schedule|{idempotency_key}") if idempotency_key else None
    )
    country_tool = tool("global-1").for_country(factory.country)
    assessment_id = str(uuid.uuid4())
    async with store.claim(event_id) as conn:
        if event_id and (earlier := await store.stream_of(event_id)):
            scheduled = await load_assessment(store, earlier.removeprefix("assessment-"))
            first = cast(AssessmentScheduled, (await store.load(earlier))[0].contract())
            if (first.factory_id, first.planned_date, first.assessors) != (
                factory.id,
                planned_date,
                tuple(dict.fromkeys(assessors)),
            ):
                raise IdempotencyKeyReused(idempotency_key or "")
            return scheduled
        events = Assessment.schedule(
            assessment_id,
            factory.id,
            factory.country,
            factory.enrolled,
            planned_date,
            assessors,
            country_tool,
            today_in(factory.country),
            await directory.open_for(conn, factory.id),
        )
        appended = await store.append(
            assessment_stream(assessment_id),
            events,
            0,
            context=context,
            connection=conn,
            event_ids=[event_id] if event_id else None,
        )
        await directory.record(conn, events, appended.version)
    return Assessment.rebuild(assessment_id, events)


async def change_assessment(
    store: EventStore,
    assessment_id: str,
    expected_version: int | None,
    decide: Callable[[Assessment], list[AssessmentEvent]],
    context: CommandContext,
    read: Assessment | None = None,
) -> Assessment:
    """`read`: the assessment as the caller already loaded it (to authorize), so it is not loaded
    twice; the append still fails if it changed since."""
    assessment = read if read is not None else await load_assessment(store, assessment_id)
    if expected_version is not None and expected_version != assessment.version:
        raise VersionConflict(assessment_stream(assessment_id), expected_version, assessment.version)
    events = decide(assessment)
    async with store.engine.begin() as conn:
        appended = await store.append(
            assessment_stream(assessment_id), events, assessment.version, context=context, connection=conn
        )
        await directory.record(conn, events, appended.version)
    for event in events:
        assessment.apply(event, context.actor)
    return assessment


async def publish_assessment(
    store: EventStore, assessment: Assessment, on: dt.date, context: CommandContext
) -> Assessment:
    async with store.engine.connect() as conn:
        previous_id = await directory.previous_published(conn, assessment.factory_id, other_than=assessment.id)
    previous = await load_assessment(store, previous_id) if previous_id else None
    reported = publicly_reported(assessment.country)
    return await change_assessment(
        store,
        assessment.id,
        assessment.version,
        lambda a: a.publish(tool_of(a), on, previous, reported, today_in(a.country)),
        context,
        assessment,
    )


async def list_assessments(store: EventStore, factory_id: str | None, published_only: bool) -> list[dict[str, object]]:
    async with store.engine.connect() as conn:
        return await directory.list_for(conn, factory_id, published_only)


async def transparency_record(store: EventStore, factory_id: str) -> TransparencyRecord:
    """The factory's public record: every published cycle's public issues and its response to it."""
    async with store.engine.connect() as conn:
        factory, cycles = await directory.public_factory(conn, factory_id)
    if factory is None or not cycles:
        raise NotFound(f"factory {factory_id} has no public transparency record")
    published = [await load_assessment(store, assessment_id) for assessment_id in cycles]
    public = [
        PublicCycle(
            assessment_id=a.id,
            published_on=a.published_on,
            non_compliant_public_issues=list(a.public_issues),
            factory_response=a.public_response,
        )
        for a in published
        if a.published_on is not None  # every public cycle is: the directory lists published ones only
    ]
    latest = public[0]
    return TransparencyRecord(
        factory_id=factory_id, name=factory.name, country=factory.country, **latest.model_dump(), cycles=public
    )


async def transparency_list(
    store: EventStore, name: str | None, country: str | None, cursor: str | None, limit: int
) -> TransparencyList:
    """A page of the factories with a public record, by name; the cursor continues where one ended."""
    async with store.engine.connect() as conn:
        rows = await directory.public_factories(conn, name, country, page_after(cursor), limit + 1)
    page = [PublicFactory.model_validate(row) for row in rows]
    more = len(page) > limit
    page = page[:limit]
    return TransparencyList(factories=page, next_cursor=cursor_after(page[-1]) if more else None)


def cursor_after(factory: PublicFactory) -> str:
    return base64.urlsafe_b64encode(json.dumps([factory.name, factory.factory_id]).encode()).decode()


def page_after(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    try:
        name, factory_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(name, str) and isinstance(factory_id, str):
            return name, factory_id
    except (ValueError, TypeError):
        pass
    raise InvalidRequest("cursor: not one this list gave; pass the next_cursor of the page before")


async def zero_tolerance_case(store: EventStore, assessment_id: str, question_id: str) -> ZeroToleranceCase:
    """Where the zero-tolerance issue the assessment raised on `question_id` stands."""
    try:
        envelopes = await store.load(assessment_stream(assessment_id))
    except StreamNotFound:
        raise NotFound(f"no assessment {assessment_id}") from None
    events = [cast(AssessmentEvent, e.contract()) for e in envelopes]
    raised_at = next(
        (
            e.time
            for e, c in zip(envelopes, events, strict=True)
            if isinstance(c, ZeroToleranceIssueRaised) and c.question_id == question_id
        ),
        None,
    )
    try:
        steps = [
            cast(ZeroToleranceEvent, e.contract())
            for e in await store.load(zero_tolerance_stream(assessment_id, question_id))
        ]
    except StreamNotFound:
        steps = []
    return ZeroToleranceCase.of(Assessment.rebuild(assessment_id, events), question_id, raised_at, steps)


async def zero_tolerance_cases(store: EventStore, assessment_id: str) -> list[ZeroToleranceCase]:
    assessment = await load_assessment(store, assessment_id)
    return [await zero_tolerance_case(store, assessment_id, q) for q in sorted(assessment.zero_tolerance_raised)]


async def change_zero_tolerance_case(
    store: EventStore,
    assessment_id: str,
    question_id: str,
    expected_version: int | None,
    decide: Callable[[ZeroToleranceCase], list[ZeroToleranceEvent]],
    context: CommandContext,
) -> ZeroToleranceCase:
    case = await zero_tolerance_case(store, assessment_id, question_id)
    if expected_version is not None and expected_version != case.version:
        raise VersionConflict(zero_tolerance_stream(assessment_id, question_id), expected_version, case.version)
    events = decide(case)
    await store.append(zero_tolerance_stream(assessment_id, question_id), events, case.version, context=context)
    for event in events:
        case.apply(event)
    return case


# --- research surveys ----------------------------------------------------------------------


async def load_questionnaire(store: EventStore, questionnaire_id: str, must_exist: bool = True) -> Questionnaire:
    try:
        envelopes = await store.load(questionnaire_stream(questionnaire_id))
    except StreamNotFound:
        if must_exist:
            raise NotFound(f"no questionnaire {questionnaire_id}") from None
        return Questionnaire(questionnaire_id)
    return Questionnaire.rebuild(questionnaire_id, [cast(QuestionnairePublished, e.contract()) for e in envelopes])


async def publish_questionnaire(
    store: EventStore,
    questionnaire_id: str,
    kind: SurveyKind,
    title: str,
    questions: Sequence[Question],
    context: CommandContext,
) -> Questionnaire:
    """The questionnaire's next version (its first, if it is new); a concurrent publication of the
    same questionnaire makes this one fail (409), never two versions with one number."""
    questionnaire = await load_questionnaire(store, questionnaire_id, must_exist=False)
    events = questionnaire.publish(kind, title, questions)
    await store.append(questionnaire_stream(questionnaire_id), events, questionnaire.version, context=context)
    for event in events:
        questionnaire.apply(event)
    return questionnaire


async def load_round(store: EventStore, round_id: str) -> SurveyRound:
    try:
        envelopes = await store.load(round_stream(round_id))
    except StreamNotFound:
        raise NotFound(f"no survey round {round_id}") from None
    return SurveyRound.rebuild(round_id, [cast(SurveyRoundEvent, e.contract()) for e in envelopes])


async def open_round(
    store: EventStore,
    factory: KnownFactory,
    questionnaire_id: str,
    version: int,
    opened_on: dt.date,
    context: CommandContext,
    idempotency_key: str | None = None,
) -> SurveyRound:
    """Open a round; a retry with the same Idempotency-Key answers the round it opened."""
    event_id = (
        uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{context.actor}|open round|{idempotency_key}") if idempotency_key else None
    )
    if event_id and (earlier := await store.stream_of(event_id)):
        return await load_round(store, earlier.removeprefix("survey-round-"))
    questionnaire = await load_questionnaire(store, questionnaire_id)
    round_id = uuid.uuid4().hex[:16]
    events = SurveyRound.open(
        round_id,
        factory.id,
        factory.country,
        factory.enrolled,
        questionnaire,
        version,
        opened_on,
        today_in(factory.country),
    )
    appended = await store.append(
        round_stream(round_id), events, 0, context=context, event_ids=[event_id] if event_id else None
    )
    if appended.duplicate:  # a concurrent retry got there first
        return await load_round(store, appended.stream_id.removeprefix("survey-round-"))
    return SurveyRound.rebuild(round_id, events)


# Field staff record responses on several tablets at once: a response that lost the race to
# another is decided again on the round as it now is, a few times, before the caller hears 409.
RESPONSE_ATTEMPTS = 5


async def change_round(
    store: EventStore,
    round_id: str,
    decide: Callable[[SurveyRound, QuestionnaireVersion], list[SurveyRoundEvent]],
    context: CommandContext,
    idempotency_key: str | None = None,
) -> SurveyRound:
    """Load the round and its questionnaire version, decide, append at the version read. A retry
    with the same Idempotency-Key records nothing twice (a worker's response counted twice would
    be a second worker)."""
    event_id = (
        uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{context.actor}|round {round_id}|{idempotency_key}")
        if idempotency_key
        else None
    )
    if event_id and await store.stream_of(event_id):
        return await load_round(store, round_id)  # recorded before: nothing to do
    for attempt in range(RESPONSE_ATTEMPTS):
        survey_round = await load_round(store, round_id)
        questionnaire = await load_questionnaire(store, survey_round.questionnaire_id)
        events = decide(survey_round, questionnaire.published(survey_round.questionnaire_version))
        try:
            appended = await store.append(
                round_stream(round_id),
                events,
                survey_round.version,
                context=context,
                event_ids=[event_id] if event_id and len(events) == 1 else None,
            )
        except VersionConflict:
            if attempt == RESPONSE_ATTEMPTS - 1:
                raise
            continue
        if appended.duplicate:
            return await load_round(store, round_id)
        for event in events:
            survey_round.apply(event)
        return survey_round
    raise AssertionError("unreachable")
