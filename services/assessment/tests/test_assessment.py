"""The assessment rulebook, without I/O."""

from __future__ import annotations

import datetime as dt

import pytest
from assessment.domain import Assessment, NewFinding, Remediation, Status
from assessment.tool import tool
from betterwork_events.contracts.assessment import (
    FindingRecorded,
    PublicReportPublished,
    Result,
    ZeroToleranceIssueRaised,
)
from betterwork_events.errors import IllegalStep, InvalidRequest, NotFound

TOOL = tool("global-1").for_country("KH")
MONDAY, TUESDAY = dt.date(2026, 3, 2), dt.date(2026, 3, 3)
LATER = dt.date(2027, 12, 31)  # a day after every publication below
ASSESSORS = ("assessor-sokha", "assessor-dara")


def question(issue: str | None = None, cluster: str | None = None, zero_tolerance: bool = False):
    for q in TOOL.questions:
        point = TOOL.compliance_point(q.compliance_point_id)
        if issue is not None and q.zero_tolerance_issue != issue:
            continue
        if cluster is not None and point.cluster_id != cluster:
            continue
        if q.zero_tolerance != zero_tolerance:
            continue
        return q
    raise LookupError("no such question in the tool")


def run(assessment: Assessment, events: list) -> Assessment:
    for event in events:
        assessment.apply(event)
    return assessment


def scheduled() -> Assessment:
    return Assessment.rebuild(
        "a-1", Assessment.schedule("a-1", "KH-2026-0042-5", "KH", True, TUESDAY, ASSESSORS, TOOL, today=MONDAY)
    )


def in_progress() -> Assessment:
    assessment = scheduled()
    return run(assessment, assessment.start(TUESDAY, today=TUESDAY))


def answer_all(
    assessment: Assessment, non_compliant: set[str] = frozenset(), not_applicable: set[str] = frozenset()
) -> Assessment:
    for q in TOOL.questions:
        result = (
            Result.NON_COMPLIANT
            if q.id in non_compliant
            else Result.NOT_APPLICABLE
            if q.id in not_applicable
            else Result.COMPLIANT
        )
        run(assessment, assessment.record_finding(TOOL, q.id, result, "checked payroll and interviewed workers", ()))
    return assessment


def approved(non_compliant: set[str]) -> Assessment:
    assessment = answer_all(in_progress(), non_compliant)
    run(assessment, assessment.submit(TOOL))
    return run(assessment, assessment.approve("reviewer-vanna"))


def published(non_compliant: set[str]) -> Assessment:
    assessment = approved(non_compliant)
    return run(assessment, assessment.publish(TOOL, dt.date(2026, 4, 1), None, frozenset(), today=LATER))


def test_only_an_enrolled_factory_is_assessed_and_not_in_the_past() -> None:
    with pytest.raises(IllegalStep, match="not enrolled"):
        Assessment.schedule("a-1", "KH-2026-0042-5", "KH", False, TUESDAY, ASSESSORS, TOOL, today=MONDAY)
    with pytest.raises(IllegalStep, match="has passed"):
        Assessment.schedule("a-1", "KH-2026-0042-5", "KH", True, MONDAY, ASSESSORS, TOOL, today=TUESDAY)


def test_the_assessment_keeps_the_tool_version_it_was_scheduled_with() -> None:
    assert scheduled().tool_version == TOOL.version


def test_findings_are_recorded_only_on_site_and_amended_until_submission() -> None:
    q = TOOL.questions[0]
    with pytest.raises(IllegalStep, match="cannot record a finding: the assessment is scheduled"):
        scheduled().record_finding(TOOL, q.id, Result.COMPLIANT, "", ())
    assessment = in_progress()
    run(assessment, assessment.record_finding(TOOL, q.id, Result.COMPLIANT, "", ()))
    run(assessment, assessment.record_finding(TOOL, q.id, Result.NON_COMPLIANT, "payslips show deductions", ()))
    assert assessment.findings[q.id].result is Result.NON_COMPLIANT


def test_an_unknown_question_is_refused() -> None:
    with pytest.raises((KeyError, LookupError, IllegalStep)):
        in_progress().record_finding(TOOL, "no-such-question", Result.COMPLIANT, "", ())


def test_a_zero_tolerance_finding_raises_its_issue_at_once_and_only_once() -> None:
    child_labour = question(issue="child-labour", zero_tolerance=True)
    assessment = in_progress()

    events = assessment.record_finding(
        TOOL, child_labour.id, Result.NON_COMPLIANT, "a 13-year-old on the sewing line", ()
    )
    run(assessment, events)

    assert [type(e) for e in events] == [FindingRecorded, ZeroToleranceIssueRaised]
    assert events[1].issue == "child-labour" and events[1].question_id == child_labour.id
    again = assessment.record_finding(TOOL, child_labour.id, Result.NON_COMPLIANT, "confirmed by records", ())
    assert [type(e) for e in again] == [FindingRecorded]
    ordinary = question(cluster=TOOL.compliance_point(TOOL.questions[0].compliance_point_id).cluster_id)
    assert [type(e) for e in assessment.record_finding(TOOL, ordinary.id, Result.NON_COMPLIANT, "", ())] == [
        FindingRecorded
    ]


def test_a_whole_section_is_recorded_at_once_all_or_none() -> None:
    child_labour = question(issue="child-labour", zero_tolerance=True)
    ordinary = TOOL.questions[-1]
    assessment = in_progress()

    events = assessment.record_findings(
        TOOL,
        [
            NewFinding(child_labour.id, Result.NON_COMPLIANT, "a 13-year-old on the sewing line"),
            NewFinding(ordinary.id, Result.COMPLIANT),
        ],
    )
    run(assessment, events)

    assert [type(e) for e in events] == [FindingRecorded, ZeroToleranceIssueRaised, FindingRecorded]
    assert assessment.findings[ordinary.id].result is Result.COMPLIANT
    # Raised once per question, whether the finding came alone or with others.
    again = assessment.record_findings(TOOL, [NewFinding(child_labour.id, Result.NON_COMPLIANT, "confirmed")])
    assert [type(e) for e in again] == [FindingRecorded]
    with pytest.raises(InvalidRequest, match=f"question {ordinary.id} is named more than once"):
        assessment.record_findings(TOOL, [NewFinding(ordinary.id, Result.COMPLIANT)] * 2)
    with pytest.raises(NotFound):
        assessment.record_findings(
            TOOL, [NewFinding(ordinary.id, Result.COMPLIANT), NewFinding("no-such-question", Result.COMPLIANT)]
        )
    with pytest.raises(IllegalStep, match="the assessment is scheduled"):
        scheduled().record_findings(TOOL, [NewFinding(ordinary.id, Result.COMPLIANT)])


def test_submission_needs_a_finding_for_every_question() -> None:
    assessment = in_progress()
    run(assessment, assessment.record_finding(TOOL, TOOL.questions[0].id, Result.COMPLIANT, "", ()))
    with pytest.raises(IllegalStep, match=f"{len(TOOL.questions) - 1} questions have no finding yet"):
        assessment.submit(TOOL)


def test_review_returns_for_changes_or_approves_but_not_by_an_assessor() -> None:
    assessment = answer_all(in_progress())
    run(assessment, assessment.submit(TOOL))
    with pytest.raises(IllegalStep, match="second person"):
        assessment.approve("assessor-sokha")
    run(assessment, assessment.return_for_changes("evidence for overtime is thin"))
    assert assessment.status is Status.IN_PROGRESS
    run(assessment, assessment.submit(TOOL))
    run(assessment, assessment.approve("reviewer-vanna"))
    assert assessment.status is Status.APPROVED


def test_whoever_recorded_a_finding_never_approves_it_whatever_their_team() -> None:
    assessment = answer_all(in_progress())
    wage = question(cluster="compensation")
    # The country manager (not one of the assessors) amends a finding: the event's actor says so.
    for event in assessment.record_finding(TOOL, wage.id, Result.NON_COMPLIANT, "payslips of line 14", ()):
        assessment.apply(event, actor="programme:KH:manager-vanna")
    run(assessment, assessment.submit(TOOL))
    with pytest.raises(IllegalStep, match="you recorded findings of this assessment"):
        assessment.approve("manager-vanna")
    run(assessment, assessment.approve("reviewer-chenda"))
    assert assessment.status is Status.APPROVED


def test_nothing_changes_after_publication() -> None:
    assessment = published(set())
    with pytest.raises(IllegalStep, match="the assessment is published"):
        assessment.record_finding(TOOL, TOOL.questions[0].id, Result.NON_COMPLIANT, "", ())


def test_the_summary_marks_a_compliance_point_non_compliant_if_any_question_is() -> None:
    wage = question(cluster="compensation")
    point = TOOL.compliance_point(wage.compliance_point_id)
    [completed] = approved({wage.id}).publish(TOOL, dt.date(2026, 4, 1), None, frozenset(), today=LATER)

    by_point = {p.compliance_point_id: p for p in completed.compliance_points}
    assert by_point[point.id].non_compliant and by_point[point.id].non_compliant_questions == (wage.id,)
    assert sum(p.non_compliant for p in completed.compliance_points) == 1
    compensation = next(c for c in completed.clusters if c.cluster_id == point.cluster_id)
    assert compensation.compliance_points_non_compliant == 1
    assert compensation.non_compliance_rate == round(1 / compensation.compliance_points_assessed, 4)
    assert all(c.non_compliance_rate == 0 for c in completed.clusters if c.cluster_id != point.cluster_id)


def test_compliance_points_with_only_not_applicable_questions_are_not_counted() -> None:
    accommodation = [q for q in TOOL.questions if q.compliance_point_id == "osh.accommodation"]
    assert accommodation, "the tool has a Worker Accommodation compliance point"
    assessment = answer_all(in_progress(), not_applicable={q.id for q in accommodation})
    points, _ = assessment.summary(TOOL)
    assert accommodation[0].compliance_point_id not in {p.compliance_point_id for p in points}


def test_the_next_assessment_shows_which_findings_recurred() -> None:
    wage, hours = question(cluster="compensation"), question(cluster="working-time")
    first = published({wage.id, hours.id})
    [completed] = approved({wage.id}).publish(TOOL, dt.date(2027, 4, 1), first, frozenset(), today=LATER)

    assert completed.recurring_questions == (wage.id,)
    assert completed.previous_assessment_id == first.id


def test_publication_produces_the_public_record_of_publicly_reported_issues() -> None:
    wage = question(cluster="compensation")
    public = frozenset({wage.compliance_point_id})
    assessment = approved({wage.id})

    events = assessment.publish(TOOL, dt.date(2026, 4, 1), None, public, today=LATER)

    [record] = [e for e in events if isinstance(e, PublicReportPublished)]
    assert record.non_compliant_public_issues == (wage.compliance_point_id,)
    assert not [
        e
        for e in assessment.publish(TOOL, dt.date(2026, 4, 1), None, frozenset(), today=LATER)
        if isinstance(e, PublicReportPublished)
    ]


def test_the_improvement_plan_runs_from_action_to_verified_remediation() -> None:
    wage = question(cluster="compensation")
    assessment = published({wage.id})
    run(
        assessment,
        assessment.add_improvement_action("act-1", wage.id, "pay the arrears", "HR manager", dt.date(2026, 5, 1)),
    )
    assert [a.id for a in assessment.overdue_actions(dt.date(2026, 5, 2))] == ["act-1"]
    assert assessment.overdue_actions(dt.date(2026, 4, 30)) == []

    run(assessment, assessment.report_progress("act-1", "arrears paid for March", done=True))
    assert assessment.overdue_actions(dt.date(2026, 5, 2)) == []
    run(assessment, assessment.mark_remediated(wage.id, "all arrears paid"))
    run(assessment, assessment.reject_remediation(wage.id, "April payslips still short"))
    assert assessment.findings[wage.id].remediation is Remediation.OPEN
    run(assessment, assessment.mark_remediated(wage.id, "April corrected"))
    run(assessment, assessment.verify_remediation(wage.id, "advisor-kim"))
    assert assessment.findings[wage.id].remediation is Remediation.VERIFIED


def test_improvement_steps_need_a_published_non_compliant_finding() -> None:
    wage = question(cluster="compensation")
    compliant = TOOL.questions[-1]
    with pytest.raises(IllegalStep, match="cannot work on the improvement plan"):
        in_progress().add_improvement_action("x", wage.id, "pay", "HR", MONDAY)
    assessment = published({wage.id})
    with pytest.raises(IllegalStep, match="no non-compliant finding"):
        assessment.mark_remediated(compliant.id, "nothing to do")
    with pytest.raises(IllegalStep, match="not marked remediated"):
        assessment.verify_remediation(wage.id, "advisor-kim")


def test_every_publicly_reported_issue_is_a_compliance_point_of_the_tool() -> None:
    from assessment.public_reporting import CRITICAL_ISSUES

    assert {p.id for p in TOOL.compliance_points} >= CRITICAL_ISSUES


def test_a_visit_may_be_cancelled_before_or_during_it_but_not_once_in_review() -> None:
    assert [type(e).__name__ for e in scheduled().cancel("the factory moved")] == ["AssessmentCancelled"]
    assert [type(e).__name__ for e in in_progress().cancel("the gates were shut to the assessors")] == [
        "AssessmentCancelled"
    ]
    submitted = answer_all(in_progress())
    submitted = run(submitted, submitted.submit(TOOL))
    with pytest.raises(IllegalStep, match="cannot cancel: the assessment is submitted"):
        submitted.cancel("too late")


def test_dates_in_the_future_are_refused() -> None:
    with pytest.raises(IllegalStep, match="start date 2026-03-04 is in the future"):
        scheduled().start(dt.date(2026, 3, 4), today=TUESDAY)
    with pytest.raises(IllegalStep, match="publication date 2027-04-01 is in the future"):
        approved(set()).publish(TOOL, dt.date(2027, 4, 1), None, frozenset(), today=dt.date(2027, 3, 31))
    with pytest.raises(IllegalStep, match="before the visit started"):
        approved(set()).publish(TOOL, MONDAY, None, frozenset(), today=LATER)


def test_one_open_assessment_per_factory() -> None:
    with pytest.raises(IllegalStep, match=r"already has an open assessment \(a-0\)"):
        Assessment.schedule(
            "a-1", "KH-2026-0042-5", "KH", True, TUESDAY, ASSESSORS, TOOL, MONDAY, open_assessment="a-0"
        )
