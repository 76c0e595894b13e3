"""Who may do what with assessments, zero-tolerance issues and research surveys: decided here,
and only here, as FastAPI dependencies that raise `Forbidden` (403) or `NotFound` (404).

Programme staff read every assessment, of every country: the programme's own staff see
everything. What each may change depends on their role, and only in their country team's
factories (a global team's member: every country's):

- an assessor schedules, starts, records findings and submits;
- a quality reviewer returns and approves (never the approval of findings they recorded: four
  eyes) and publishes;
- a country manager does all of that, cancels visits, and acknowledges and escalates
  zero-tolerance issues;
- the administrator does everything, and alone publishes the global questionnaire catalogue;
  a survey round is a country's, opened and closed by its country manager, its responses recorded
  by the field staff (assessors) on the visit.

A factory's own users read their published reports and work their improvement plan. Brands
and governments read published reports through the gateway, never here.

The hidden-resource rule: an id out of the caller's reach answers exactly as a missing one (an
assessment a factory may not see, or another factory's survey round: 404, the same words),
unless the caller's audience may never read that kind of resource at all (brands and
governments, here; a factory, the zero-tolerance desk): then 403 before anything is looked up.
A step the caller's role may not take is a 403 before any lookup too; a step on another
country's factory, which programme staff may read, is a 403 that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from betterwork_events.auth import Audience, CurrentPrincipal, Principal, Role
from betterwork_events.contracts import assessment as ae
from betterwork_events.errors import Forbidden, NotFound
from betterwork_events.factories import KnownFactory, known_factory
from betterwork_events.history import Disclosure
from betterwork_events.store import EventStore
from fastapi import Depends, Request

from assessment import handlers
from assessment.domain import Assessment, Status
from assessment.surveys import SurveyRound

# What a factory may read of its own published assessment's history. An allow list: the quality
# review, the zero-tolerance protocol, draft findings, the planned date and staff names are not
# on it, and neither is anything added to the contracts later.
FACTORY_HISTORY: Disclosure = {
    ae.AssessmentStarted: ("started_on",),
    ae.AssessmentCompleted: ("published_on", "compliance_points", "clusters", "recurring_questions"),
    ae.PublicReportPublished: ("published_on", "non_compliant_public_issues"),
    ae.ImprovementActionAdded: ("action_id", "question_id", "what", "who", "due_on"),
    ae.ImprovementProgressReported: ("action_id", "note", "done"),
    ae.FindingRemediated: ("question_id", "note"),
    ae.RemediationVerified: ("question_id",),
    ae.RemediationRejected: ("question_id", "reason"),
    ae.PublicResponseRecorded: ("response",),
}

ASSESSING = (Role.ASSESSOR, Role.COUNTRY_MANAGER)
REVIEWING = (Role.QUALITY_REVIEWER, Role.COUNTRY_MANAGER)
MANAGING = (Role.COUNTRY_MANAGER,)
EVERY_ROLE = tuple(Role)
GLOBAL = ()  # the administrator alone (who acts as every role)


def store(request: Request) -> EventStore:
    return request.app.state.store


def _may_act(principal: Principal, roles: tuple[Role, ...], what: str) -> None:
    if principal.audience is not Audience.PROGRAMME:
        raise Forbidden(f"only programme staff may {what}")
    if not principal.acts_as(*roles):
        who = " or ".join(str(r) for r in (*roles, Role.ADMINISTRATOR))
        raise Forbidden(f"only a programme {who} may {what}; you are a {principal.role}")


def _may_touch(principal: Principal, country: str, what: str) -> None:
    if not principal.covers(country):
        raise Forbidden(f"it is in {country}: only its country team may {what}; yours is {principal.scope}'s")


class Acting:
    """Programme staff in one of `roles` (checked before any lookup)."""

    def __init__(self, what: str, *roles: Role) -> None:
        self.what, self.roles = what, roles

    def __call__(self, principal: CurrentPrincipal) -> Principal:
        _may_act(principal, self.roles, self.what)
        return principal


class ChangingAssessment:
    """The assessment, if the caller's role may take this step (checked before the lookup) and it is
    of their country team."""

    def __init__(self, acting: Acting) -> None:
        self.acting = acting

    async def __call__(self, assessment_id: str, principal: CurrentPrincipal, request: Request) -> Assessment:
        self.acting(principal)
        assessment = await handlers.load_assessment(store(request), assessment_id)
        _may_touch(principal, assessment.country, self.acting.what)
        return assessment


def reader(principal: CurrentPrincipal) -> Principal:
    """Brands and governments: 403 before any assessment or round is looked up, so that whether it
    exists is not theirs to learn either."""
    if principal.audience not in (Audience.PROGRAMME, Audience.FACTORY):
        raise Forbidden("brands and governments read published reports and surveys through the gateway, not here")
    return principal


Reader = Annotated[Principal, Depends(reader)]


@dataclass(frozen=True)
class Listing:
    """Which assessments a list may show the caller."""

    factory_id: str | None  # None: every factory's
    published_only: bool


def listing(principal: Reader, factory_id: str | None = None) -> Listing:
    """Programme staff: every assessment (of one factory, if asked). A factory: its own published ones."""
    if principal.audience is Audience.PROGRAMME:
        return Listing(factory_id, published_only=False)
    return Listing(principal.scope, published_only=True)


def history_disclosure(principal: Reader) -> Disclosure | None:
    """What the caller reads of a history it may read: programme staff all of it (None)."""
    return None if principal.audience is Audience.PROGRAMME else FACTORY_HISTORY


ReadableListing = Annotated[Listing, Depends(listing)]
HistoryDisclosure = Annotated[Disclosure | None, Depends(history_disclosure)]


async def readable_assessment(assessment_id: str, principal: Reader, request: Request) -> Assessment:
    """Programme staff: any. A factory: its own, once published; any other does not exist for it."""
    assessment = await handlers.load_assessment(store(request), assessment_id)
    if principal.audience is Audience.PROGRAMME or (
        principal.scope == assessment.factory_id and assessment.status is Status.PUBLISHED
    ):
        return assessment
    raise NotFound(f"no assessment {assessment_id}")


async def improvable_assessment(assessment_id: str, principal: Reader, request: Request) -> Assessment:
    """The improvement plan: the factory's own users, or programme staff of its country team."""
    assessment = await readable_assessment(assessment_id, principal, request)
    if principal.audience is Audience.PROGRAMME:
        _may_touch(principal, assessment.country, "work on its improvement plan")
    return assessment


ReadableAssessment = Annotated[Assessment, Depends(readable_assessment)]
ImprovableAssessment = Annotated[Assessment, Depends(improvable_assessment)]
Scheduler = Annotated[Principal, Depends(Acting("schedule assessments", *ASSESSING))]
DeskReader = Annotated[Principal, Depends(Acting("read the zero-tolerance desk", *EVERY_ROLE))]
ToAssess = Annotated[Assessment, Depends(ChangingAssessment(Acting("assess", *ASSESSING)))]
ToReview = Annotated[Assessment, Depends(ChangingAssessment(Acting("review assessments", *REVIEWING)))]
ToCancel = Annotated[Assessment, Depends(ChangingAssessment(Acting("cancel assessments", *MANAGING)))]
ToVerify = Annotated[Assessment, Depends(ChangingAssessment(Acting("verify remediation", *EVERY_ROLE)))]
ToEscalate = Annotated[
    Assessment, Depends(ChangingAssessment(Acting("acknowledge and escalate zero-tolerance issues", *MANAGING)))
]


async def team_factory(principal: Principal, request: Request, factory_id: str, what: str) -> KnownFactory:
    """The factory, if it is of the caller's country team."""
    factory = await known_factory(store(request).engine, factory_id)
    _may_touch(principal, factory.country, what)
    return factory


# --- research surveys ------------------------------------------------------------------------

CatalogueEditor = Annotated[Principal, Depends(Acting("publish questionnaires (a global catalogue)", *GLOBAL))]
RoundOpener = Annotated[Principal, Depends(Acting("open survey rounds", *MANAGING))]


async def readable_round(round_id: str, principal: Reader, request: Request) -> SurveyRound:
    """Programme staff: any. A factory: its own; another factory's does not exist for it."""
    survey_round = await handlers.load_round(store(request), round_id)
    if principal.audience is Audience.FACTORY and principal.scope != survey_round.factory_id:
        raise NotFound(f"no survey round {round_id}")
    return survey_round


class ChangingRound:
    """The round, if the caller's role may take this step (checked before the lookup) and it is of
    their country team."""

    def __init__(self, acting: Acting) -> None:
        self.acting = acting

    async def __call__(self, round_id: str, principal: CurrentPrincipal, request: Request) -> SurveyRound:
        self.acting(principal)
        survey_round = await handlers.load_round(store(request), round_id)
        _may_touch(principal, survey_round.country, self.acting.what)
        return survey_round


ReadableRound = Annotated[SurveyRound, Depends(readable_round)]
RoundToAnswer = Annotated[SurveyRound, Depends(ChangingRound(Acting("record survey responses", *ASSESSING)))]
RoundToClose = Annotated[SurveyRound, Depends(ChangingRound(Acting("close survey rounds", *MANAGING)))]
