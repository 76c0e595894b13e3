"""What each audience can receive, route by route, read from the routes' own response models.

Every route's response model is walked (through lists, unions and nested models) to every field
path it carries, for each audience its models name. A field that reaches anyone but programme
staff must be on the reviewed list below, so a field added to a factory's or the public's model
fails here until someone decides it may be shown; a field added to the programme's model only is
confidential by construction, and the enumeration of confidential fields fails until it is named.
No database: building the app opens no connection.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from assessment.app import create_app
from assessment.policy import FACTORY_HISTORY
from assessment.settings import Settings
from assessment.views import PUBLIC, View
from betterwork_events.auth import Audience
from betterwork_events.contracts import assessment as ae
from betterwork_events.history import Change
from fastapi.routing import APIRoute
from pydantic import BaseModel

PROGRAMME = Audience.PROGRAMME.value
OUTSIDERS = (Audience.FACTORY.value, Audience.BRAND.value, Audience.GOVERNMENT.value, PUBLIC)

# Confidential: only programme staff read them, on any route (the planned date of an unannounced
# visit, staff names, the quality review, the zero-tolerance protocol's record).
CONFIDENTIAL = {
    "planned_date",
    "assessors",
    "review_comments",
    "raised_at",
    "acknowledged_by",
    "acknowledged_at",
    "escalated_by",
    "escalated_to",
    "action_taken",
    "escalated_on",
}

FINDING = ("question_id", "compliance_point_id", "result", "evidence", "remediation", "rejection", "attachments")
ATTACHMENT = ("content_type", "filename", "sha256", "size_bytes")
ACTION = ("id", "question_id", "what", "who", "due_on", "done", "overdue", "progress")
# Reviewed: every field path anyone outside the programme may receive. A new one is added here
# only after deciding that the factory, brands, governments or the public may read it.
REVIEWED = {
    "FactoryAssessmentView": {
        *("audience", "id", "factory_id", "country", "tool_version", "status", "started_on", "published_on"),
        *("public_response", "version", "findings", "improvement_actions"),
        *(f"findings.{f}" for f in FINDING),
        *(f"findings.attachments.{f}" for f in ATTACHMENT),
        *(f"improvement_actions.{f}" for f in ACTION),
    },
    "FactoryAssessmentSummary": {"audience", "id", "factory_id", "status", "published_on", "version"},
    "TransparencyRecord": {
        *("factory_id", "name", "country", "assessment_id", "published_on", "non_compliant_public_issues"),
        *("factory_response", "cycles", "cycles.assessment_id", "cycles.published_on"),
        *("cycles.non_compliant_public_issues", "cycles.factory_response"),
    },
    "TransparencyList": {
        *("factories", "next_cursor", "factories.factory_id", "factories.name", "factories.country"),
        *("factories.latest_published_on", "factories.cycles"),
    },
    "RoundView": {
        *("id", "factory_id", "country", "questionnaire_id", "questionnaire_version", "kind", "status"),
        *("opened_on", "closed_on", "responses", "version", "figures"),
        *(f"figures.{f}" for f in ("currency", "employment", "period_start", "period_end")),
        *("figures.production_capacity", "figures.sales"),
    },
    "QuestionnaireView": {
        *("id", "kind", "versions", "versions.version", "versions.title", "versions.questions"),
        *(f"versions.questions.{f}" for f in ("id", "text", "type", "required", "options")),
        *(f"versions.questions.{f}" for f in ("minimum", "maximum", "scale_max")),
    },
    "ToolView": {
        *("version", "clusters", "clusters.id", "clusters.name", "clusters.kind"),
        *("compliance_points", "compliance_points.id", "compliance_points.cluster_id", "compliance_points.name"),
        *("questions", "questions.id", "questions.compliance_point_id", "questions.text"),
        *("questions.legal_reference", "questions.zero_tolerance", "questions.zero_tolerance_issue"),
    },
}


def members(annotation: Any) -> list[Any]:
    """The types an answer of this annotation can be: through Annotated, unions and lists."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return members(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in members(arg)]
    if origin in (list, tuple, set, frozenset):
        return members(get_args(annotation)[0])
    return [annotation]


def field_paths(annotation: Any, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for model in members(annotation):
        if isinstance(model, type) and issubclass(model, BaseModel):
            fields = {name: f.annotation for name, f in model.model_fields.items()}
        elif dataclasses.is_dataclass(model):
            fields = {f.name: f.type for f in dataclasses.fields(model) if f.init and not f.name.startswith("_")}
        else:
            continue
        for name, inner in fields.items():
            paths |= {prefix + name, *field_paths(inner, f"{prefix}{name}.")}
    return paths


def routes() -> Iterator[APIRoute]:
    app = create_app(Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", environment="development"))

    def walk(found: list[Any]) -> Iterator[APIRoute]:
        for route in found:
            if hasattr(route, "original_router"):  # an included router
                yield from walk(route.original_router.routes)
            elif isinstance(route, APIRoute) and route.tags not in (["operations"], []):
                yield route

    return walk(app.routes)


def received() -> dict[tuple[str, str], dict[str, set[str]]]:
    """(method and path, audience) -> model name -> the field paths that audience can receive there."""
    answers: dict[tuple[str, str], dict[str, set[str]]] = {}
    for route in routes():
        for model in members(route.response_model):
            if model is Change:
                continue  # the history: what it discloses is FACTORY_HISTORY's (tested below)
            assert isinstance(model, type) and issubclass(model, View), (
                f"{route.path} answers {model}: give it a response model (views.View) naming its audiences"
            )
            for audience in model.audiences:
                for method in route.methods:
                    key = (f"{method} {route.path}", audience)
                    answers.setdefault(key, {})[model.__name__] = field_paths(model)
    return answers


def test_every_route_answers_with_models_that_name_their_audiences() -> None:
    answers = received()
    assert ("GET /assessments/{assessment_id}", Audience.FACTORY.value) in answers
    assert ("GET /transparency", PUBLIC) in answers
    assert {a for _, a in answers} == {PROGRAMME, *OUTSIDERS}


def test_no_audience_outside_the_programme_receives_a_field_nobody_reviewed_for_it() -> None:
    unreviewed = [
        f"{route} as {audience}: {model}.{path}"
        for (route, audience), models in received().items()
        if audience != PROGRAMME
        for model, paths in models.items()
        for path in sorted(paths - REVIEWED.get(model, set()))
    ]
    assert unreviewed == []


def test_confidential_fields_reach_programme_staff_alone_route_by_route() -> None:
    answers = received()
    leaks = [
        f"{route} as {audience}: {model}.{path}"
        for (route, audience), models in answers.items()
        if audience != PROGRAMME
        for model, paths in models.items()
        for path in paths
        if path.rsplit(".", 1)[-1] in CONFIDENTIAL
    ]
    assert leaks == []
    # The enumeration is whole: every field programme staff receive that no outsider does is named
    # confidential above (a new one fails here until it is).
    seen_by_programme = {
        p.rsplit(".", 1)[-1]
        for (_, a), models in answers.items()
        if a == PROGRAMME
        for p in set().union(*models.values())
    }
    seen_outside = {
        p.rsplit(".", 1)[-1]
        for (_, a), models in answers.items()
        if a != PROGRAMME
        for p in set().union(*models.values())
    }
    assert seen_by_programme - seen_outside == CONFIDENTIAL
    # The planned date is on the programme's answers of every assessment route, and nobody else's.
    planned = {route for (route, a), models in answers.items() for paths in models.values() if "planned_date" in paths}
    assert "GET /assessments/{assessment_id}" in planned and "GET /assessments" in planned
    assert all(a == PROGRAMME for (_, a), models in answers.items() for m in models.values() if "planned_date" in m)


def test_a_factory_reads_no_confidential_field_of_its_assessment_history() -> None:
    confidential_events = {ae.AssessmentScheduled, ae.AssessmentReturned, ae.AssessmentApproved, ae.FindingRecorded}
    confidential_events |= {ae.ZeroToleranceIssueRaised, ae.ZeroToleranceIssueAcknowledged}
    confidential_events |= {ae.ZeroToleranceIssueEscalated, ae.AssessmentCancelled}
    assert not confidential_events & set(FACTORY_HISTORY)
    for contract, disclosed in FACTORY_HISTORY.items():
        assert not callable(disclosed)
        assert set(disclosed) <= set(contract.model_fields), contract
        assert not set(disclosed) & (CONFIDENTIAL | {"reviewer", "verified_by"}), contract
