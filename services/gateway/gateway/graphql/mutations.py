"""Mutations: the commands partner systems send through the gateway.

Each is forwarded to the service that owns it, with the caller's own token (commands.py); the
service decides, and its refusal comes back in its own words. Fields whose shape a service
defines in depth (a factory's profile, a meeting's agenda) are passed as that service's JSON,
as its OpenAPI document describes them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from gateway.commands import Accepted, path
from gateway.graphql.context import Context

Info = strawberry.Info[Context, None]

IDEMPOTENCY = "Sending the same key again returns the first outcome and changes nothing"
EXPECTED_VERSION = "The version you read (as If-Match): CONFLICT if it changed since"
# The registry requires it on every change of a factory: no change is made over one its sender has not seen.
READ_VERSION = "The factory's version you read (as If-Match, required): CONFLICT if it changed since"


@strawberry.type(description="A command the owning service accepted")
class CommandOutcome:
    id: str | None = strawberry.field(description="The resource created or changed, as the service names it")
    version: int | None = strawberry.field(description="Its version now: send it as the next expectedVersion")
    consistency_token: str | None = strawberry.field(
        description="Send it with a query (header Consistency-Token, or extensions.consistency) "
        "to read this write: the query waits until the read models show it"
    )

    @classmethod
    def of(cls, accepted: Accepted) -> CommandOutcome:
        return cls(id=accepted.id, version=accepted.version, consistency_token=accepted.consistency_token)


async def send(info: Info, service: str, method: str, route: str, **options: Any) -> CommandOutcome:
    context = info.context
    assert context.services is not None  # every POST's context has them (app.py)
    return CommandOutcome.of(await context.services.command(service, method, route, context.token, **options))


@strawberry.input
class RegisterFactoryInput:
    profile: JSON = strawberry.field(description="The factory's profile, as the registry's POST /factories takes it")
    confirmed_new: bool = strawberry.field(
        default=False, description="Register even though the registry found likely duplicates"
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input
class UpdateFactoryInput:
    factory_id: str
    changes: JSON = strawberry.field(description="The profile fields to change, as the registry's PATCH takes them")
    expected_version: int = strawberry.field(description=READ_VERSION)


@strawberry.input
class LinkBrandInput:
    factory_id: str
    brand_id: str
    since: dt.date
    expected_version: int = strawberry.field(description=READ_VERSION)


@strawberry.input
class ConsentInput:
    factory_id: str
    brand_id: str
    expected_version: int = strawberry.field(description=READ_VERSION)


@strawberry.input
class ScheduleAssessmentInput:
    factory_id: str
    planned_date: dt.date = strawberry.field(description="Confidential: never shown to the factory or brands")
    assessors: list[str]
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input
class ImprovementProgressInput:
    assessment_id: str
    action_id: str
    note: str
    done: bool = False


@strawberry.input
class RemediationInput:
    assessment_id: str
    question_id: str
    note: str


@strawberry.input
class FindingInput:
    assessment_id: str
    question_id: str


@strawberry.input
class RejectRemediationInput:
    assessment_id: str
    question_id: str
    reason: str


@strawberry.input
class CommitteeMeetingInput:
    committee_id: str
    held_on: dt.date
    attendees: list[str] = strawberry.field(description="The member ids present")
    agenda: list[JSON] = strawberry.field(
        description="The topics, as the committee service's meeting request takes them"
    )
    minutes: str
    decisions: list[str] = strawberry.field(default_factory=list)
    guests: list[str] = strawberry.field(default_factory=list)
    action_items: list[JSON] = strawberry.field(default_factory=list, description="As the committee service takes them")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input
class ActionItemInput:
    committee_id: str
    meeting_id: str
    description: str
    owner: str = strawberry.field(description="The member id responsible")
    due_on: dt.date
    references: list[JSON] = strawberry.field(
        default_factory=list, description="Findings or compliance points it is about"
    )
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input
class TrainingAttendanceInput:
    session_id: str
    day: dt.date
    present: list[str] = strawberry.field(description="Every participant present that day; the rest were absent")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


REGISTRY, ASSESSMENT, COMMITTEE, TRAINING = "factory-registry", "assessment", "committee", "training"


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Register a factory (programme staff)")
    async def register_factory(self, info: Info, input: RegisterFactoryInput) -> CommandOutcome:
        body = {**_object(input.profile), "confirmed_new": input.confirmed_new}
        return await send(info, REGISTRY, "POST", "/factories", body=body, idempotency_key=input.idempotency_key)

    @strawberry.mutation(description="Change a factory's profile (programme staff or the factory's own users)")
    async def update_factory(self, info: Info, input: UpdateFactoryInput) -> CommandOutcome:
        route = path("/factories/{}", input.factory_id)
        return await send(
            info, REGISTRY, "PATCH", route, body=_object(input.changes), expected_version=input.expected_version
        )

    @strawberry.mutation(description="Record that a brand buys from the factory (programme staff)")
    async def link_brand(self, info: Info, input: LinkBrandInput) -> CommandOutcome:
        route = path("/factories/{}/brands", input.factory_id)
        body = {"brand_id": input.brand_id, "since": input.since.isoformat()}
        return await send(info, REGISTRY, "POST", route, body=body, expected_version=input.expected_version)

    @strawberry.mutation(description="Let a brand read the factory's assessment reports (the factory's own users)")
    async def grant_consent(self, info: Info, input: ConsentInput) -> CommandOutcome:
        route = path("/factories/{}/consents/{}", input.factory_id, input.brand_id)
        return await send(info, REGISTRY, "PUT", route, expected_version=input.expected_version)

    @strawberry.mutation(description="Stop sharing the factory's reports with a brand, from now on")
    async def revoke_consent(self, info: Info, input: ConsentInput) -> CommandOutcome:
        route = path("/factories/{}/consents/{}", input.factory_id, input.brand_id)
        return await send(info, REGISTRY, "DELETE", route, expected_version=input.expected_version)

    @strawberry.mutation(description="Schedule an unannounced assessment of an enrolled factory (programme staff)")
    async def schedule_assessment(self, info: Info, input: ScheduleAssessmentInput) -> CommandOutcome:
        body = {
            "factory_id": input.factory_id,
            "planned_date": input.planned_date.isoformat(),
            "assessors": input.assessors,
        }
        return await send(info, ASSESSMENT, "POST", "/assessments", body=body, idempotency_key=input.idempotency_key)

    @strawberry.mutation(description="Report progress on an improvement action (the factory's own users)")
    async def report_improvement_progress(self, info: Info, input: ImprovementProgressInput) -> CommandOutcome:
        route = path("/assessments/{}/actions/{}/progress", input.assessment_id, input.action_id)
        return await send(info, ASSESSMENT, "POST", route, body={"note": input.note, "done": input.done})

    @strawberry.mutation(description="Say a non-compliance is put right (the factory's own users)")
    async def report_remediation(self, info: Info, input: RemediationInput) -> CommandOutcome:
        route = path("/assessments/{}/findings/{}/remediated", input.assessment_id, input.question_id)
        return await send(info, ASSESSMENT, "POST", route, body={"note": input.note})

    @strawberry.mutation(description="Confirm a remediation the factory reported (programme staff)")
    async def verify_remediation(self, info: Info, input: FindingInput) -> CommandOutcome:
        route = path("/assessments/{}/findings/{}/verify", input.assessment_id, input.question_id)
        return await send(info, ASSESSMENT, "POST", route)

    @strawberry.mutation(description="Refuse a remediation the factory reported, saying why (programme staff)")
    async def reject_remediation(self, info: Info, input: RejectRemediationInput) -> CommandOutcome:
        route = path("/assessments/{}/findings/{}/reject", input.assessment_id, input.question_id)
        return await send(info, ASSESSMENT, "POST", route, body={"reason": input.reason})

    @strawberry.mutation(description="Record a committee meeting held, with the action items it raised")
    async def record_committee_meeting(self, info: Info, input: CommitteeMeetingInput) -> CommandOutcome:
        body = {
            "held_on": input.held_on.isoformat(),
            "attendees": input.attendees,
            "agenda": input.agenda,
            "minutes": input.minutes,
            "decisions": input.decisions,
            "guests": input.guests,
            "action_items": input.action_items,
        }
        return await send(
            info,
            COMMITTEE,
            "POST",
            path("/committees/{}/meetings", input.committee_id),
            body=body,
            expected_version=input.expected_version,
            idempotency_key=input.idempotency_key,
        )

    @strawberry.mutation(description="Raise an action item at a committee meeting")
    async def raise_committee_action_item(self, info: Info, input: ActionItemInput) -> CommandOutcome:
        body = {
            "description": input.description,
            "owner": input.owner,
            "due_on": input.due_on.isoformat(),
            "references": input.references,
        }
        return await send(
            info,
            COMMITTEE,
            "POST",
            path("/committees/{}/meetings/{}/action-items", input.committee_id, input.meeting_id),
            body=body,
            expected_version=input.expected_version,
            idempotency_key=input.idempotency_key,
        )

    @strawberry.mutation(description="Record who was present on one day of a training session, once it is over")
    async def record_training_attendance(self, info: Info, input: TrainingAttendanceInput) -> CommandOutcome:
        route = path("/sessions/{}/attendance/{}", input.session_id, input.day.isoformat())
        return await send(
            info, TRAINING, "PUT", route, body={"present": input.present}, expected_version=input.expected_version
        )


def _object(value: Any) -> dict[str, Any]:
    """A JSON input that must be an object: anything else is the caller's mistake, said before sending."""
    if not isinstance(value, dict):
        raise GraphQLError("expected a JSON object", extensions={"code": "BAD_USER_INPUT"})
    return value
