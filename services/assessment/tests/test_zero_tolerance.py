"""The zero-tolerance protocol, without I/O: open until acknowledged, closed by the escalation's record."""

from __future__ import annotations

import datetime as dt

import pytest
from assessment.domain import Assessment, NewFinding
from assessment.tool import tool
from assessment.zero_tolerance import ACKNOWLEDGE_WITHIN, CaseStatus, ZeroToleranceCase
from betterwork_events.contracts.assessment import Result, ZeroToleranceIssueAcknowledged
from betterwork_events.errors import IllegalStep, NotFound

TOOL = tool("global-1").for_country("KH")
RAISED = dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 5)
CHILD = next(q.id for q in TOOL.questions if q.zero_tolerance_issue == "child-labour")
WAGES = next(q.id for q in TOOL.questions if q.compliance_point_id.startswith("compensation.") and not q.zero_tolerance)


def in_progress() -> Assessment:
    scheduled = Assessment.schedule(
        "a-1", "KH-2026-0042-5", "KH", True, RAISED.date(), ("assessor-sokha",), TOOL, RAISED.date()
    )
    assessment = Assessment.rebuild("a-1", scheduled)
    for event in assessment.start(RAISED.date(), today=RAISED.date()):
        assessment.apply(event)
    return assessment


def with_child_labour() -> tuple[Assessment, str]:
    assessment = in_progress()
    findings = [NewFinding(CHILD, Result.NON_COMPLIANT, "a 13-year-old trimming threads", ())]
    for event in assessment.record_findings(TOOL, findings):
        assessment.apply(event)
    return assessment, CHILD


def case() -> ZeroToleranceCase:
    assessment, child = with_child_labour()
    return ZeroToleranceCase.of(assessment, child, RAISED, [])


def test_only_a_raised_issue_has_a_case() -> None:
    assessment, child = with_child_labour()
    with pytest.raises(NotFound, match="raised no zero-tolerance issue"):
        ZeroToleranceCase.of(assessment, WAGES, RAISED, [])
    with pytest.raises(NotFound):
        ZeroToleranceCase.of(in_progress(), child, None, [])


def test_an_issue_is_open_and_overdue_until_a_manager_acknowledges_it() -> None:
    issue = case()
    assert issue.status is CaseStatus.OPEN
    assert not issue.overdue(RAISED + ACKNOWLEDGE_WITHIN)
    assert issue.overdue(RAISED + ACKNOWLEDGE_WITHIN + dt.timedelta(seconds=1))
    [acknowledged] = issue.acknowledge("manager-chan", RAISED + dt.timedelta(hours=2))
    assert isinstance(acknowledged, ZeroToleranceIssueAcknowledged)
    assert (acknowledged.factory_id, acknowledged.question_id) == (issue.factory_id, issue.question_id)
    issue.apply(acknowledged)
    assert issue.status is CaseStatus.ACKNOWLEDGED and issue.acknowledged_by == "manager-chan"
    assert not issue.overdue(RAISED + 10 * ACKNOWLEDGE_WITHIN)  # taken charge of, however long ago
    with pytest.raises(IllegalStep, match="already acknowledged by manager-chan"):
        issue.acknowledge("manager-dara", RAISED + dt.timedelta(hours=3))


def test_the_escalation_is_recorded_once_after_the_acknowledgement() -> None:
    issue = case()
    with pytest.raises(IllegalStep, match="acknowledge the zero-tolerance issue before"):
        issue.escalate("manager-chan", "Ministry of Labour", "referred", TODAY, TODAY)
    for event in issue.acknowledge("manager-chan", RAISED + dt.timedelta(hours=2)):
        issue.apply(event)
    with pytest.raises(IllegalStep, match="in the future"):
        issue.escalate("manager-chan", "Ministry of Labour", "referred", TODAY + dt.timedelta(days=1), TODAY)
    with pytest.raises(IllegalStep, match="before the acknowledgement"):
        issue.escalate("manager-chan", "Ministry of Labour", "referred", RAISED.date() - dt.timedelta(days=1), TODAY)
    for event in issue.escalate(
        "manager-chan", "Ministry of Labour", "child removed to a remediation programme", TODAY, TODAY
    ):
        issue.apply(event)
    assert issue.status is CaseStatus.ESCALATED
    assert (issue.escalated_to, issue.action_taken, issue.escalated_on, issue.version) == (
        "Ministry of Labour",
        "child removed to a remediation programme",
        TODAY,
        2,
    )
    with pytest.raises(IllegalStep, match="already escalated to Ministry of Labour"):
        issue.escalate("manager-chan", "Someone else", "again", TODAY, TODAY)
