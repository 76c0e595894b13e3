"""The assessment tool as shipped: its structure, its zero-tolerance questions, Cambodia's overlay, immutability."""

import re

import pytest
from assessment.tool import (
    GLOBAL_VERSION,
    RELEASED_VERSIONS,
    AssessmentTool,
    Cluster,
    ClusterKind,
    CompliancePoint,
    Question,
    ZeroToleranceIssue,
    content_hash,
    global_tool,
    shipped_versions,
    tool,
)
from betterwork_events.errors import NotFound

GLOBAL = global_tool()
CAMBODIA = GLOBAL.for_country("KH")

COMPLIANCE_POINTS = {
    "child-labour": [
        "Child Labourers",
        "Unconditional Worst Forms",
        "Hazardous Work and Other Worst Forms",
        "Documentation and Protection of Young Workers",
    ],
    "discrimination": ["Race and Origin", "Religion and Political Opinion", "Gender", "Other Grounds"],
    "forced-labour": ["Coercion", "Bonded Labour", "Forced Labour and Overtime", "Prison Labour"],
    "freedom-of-association": [
        "Union Operations",
        "Freedom to Associate",
        "Collective Bargaining",
        "Strikes",
        "Interference and Discrimination",
    ],
    "compensation": [
        "Minimum Wages",
        "Overtime Wages",
        "Premium Pay",
        "Method of Payment",
        "Wage Information, Use and Deduction",
        "Paid Leave",
        "Social Security and Other Benefits",
    ],
    "contracts-and-hr": [
        "Employment Contracts",
        "Contracting Procedures",
        "Termination",
        "Dialogue, Discipline and Disputes",
    ],
    "osh": [
        "OSH Management Systems",
        "Chemicals and Hazardous Substances",
        "Worker Protection",
        "Working Environment",
        "Health Services and First Aid",
        "Welfare Facilities",
        "Worker Accommodation",
        "Emergency Preparedness",
    ],
    "working-time": ["Regular Hours", "Overtime", "Leave"],
}

# Where each zero-tolerance issue may be raised, by cluster.
ZERO_TOLERANCE_CLUSTERS = {
    ZeroToleranceIssue.CHILD_LABOUR: {"child-labour"},
    ZeroToleranceIssue.FORCED_LABOUR: {"forced-labour"},
    ZeroToleranceIssue.ABUSE_OR_HARASSMENT: {"discrimination", "contracts-and-hr"},
    ZeroToleranceIssue.IMMINENT_DANGER: {"osh"},
}

KH_ADDED = {
    "freedom-of-association.union-operations.KH-01",
    "compensation.premium-pay.KH-01",
    "compensation.premium-pay.KH-02",
    "compensation.premium-pay.KH-03",
    "compensation.social-security.KH-01",
    "contracts-and-hr.dialogue-discipline-and-disputes.KH-01",
}


def cluster_of(assessment_tool: AssessmentTool, question: Question) -> str:
    return assessment_tool.compliance_point(question.compliance_point_id).cluster_id


def test_the_global_tool_has_eight_clusters_four_core_labour_standards_and_four_working_conditions() -> None:
    assert GLOBAL.version == GLOBAL_VERSION == "global-1"
    assert [c.id for c in GLOBAL.clusters] == list(COMPLIANCE_POINTS)
    kinds = [c.kind for c in GLOBAL.clusters]
    assert kinds.count(ClusterKind.CORE_LABOUR_STANDARDS) == 4
    assert kinds.count(ClusterKind.WORKING_CONDITIONS) == 4
    assert GLOBAL.cluster("freedom-of-association").name == "Freedom of Association and Collective Bargaining"
    assert GLOBAL.cluster("osh").kind is ClusterKind.WORKING_CONDITIONS


@pytest.mark.parametrize("cluster_id", list(COMPLIANCE_POINTS))
def test_each_cluster_has_the_compliance_points_of_the_compliance_assessment_tool(cluster_id: str) -> None:
    assert [p.name for p in GLOBAL.compliance_points_of(cluster_id)] == COMPLIANCE_POINTS[cluster_id]


def test_compliance_point_ids_read_cluster_dot_point() -> None:
    assert GLOBAL.compliance_point("compensation.minimum-wages").name == "Minimum Wages"
    for point in GLOBAL.compliance_points:
        assert re.fullmatch(rf"{point.cluster_id}\.[a-z]+(-[a-z]+)*", point.id)


def test_there_are_at_least_240_questions_and_every_compliance_point_has_two_or_more() -> None:
    assert len(GLOBAL.questions) >= 240
    for point in GLOBAL.compliance_points:
        assert len(GLOBAL.questions_of(point.id)) >= 2, point.id


@pytest.mark.parametrize("assessment_tool", [GLOBAL, CAMBODIA], ids=lambda t: t.version)
def test_every_question_is_a_yes_no_question_with_a_legal_reference_in_an_existing_compliance_point(
    assessment_tool: AssessmentTool,
) -> None:
    for question in assessment_tool.questions:
        assert question.text.strip() and question.text.endswith("?"), question.id
        assert question.legal_reference.strip(), question.id
        assert assessment_tool.compliance_point(question.compliance_point_id)
        assert question in assessment_tool.questions_of(question.compliance_point_id)


def test_the_global_tool_cites_international_labour_standards() -> None:
    for question in GLOBAL.questions:
        assert re.match(r"ILO [CRP]\d{3}", question.legal_reference), question.id


@pytest.mark.parametrize("assessment_tool", [GLOBAL, CAMBODIA], ids=lambda t: t.version)
def test_ids_are_unique_and_questions_are_numbered_within_their_compliance_point(
    assessment_tool: AssessmentTool,
) -> None:
    ids = [c.id for c in assessment_tool.clusters]
    ids += [p.id for p in assessment_tool.compliance_points]
    ids += [q.id for q in assessment_tool.questions]
    assert len(ids) == len(set(ids))
    for question in assessment_tool.questions:
        assert re.fullmatch(rf"{re.escape(question.compliance_point_id)}\.([A-Z]{{2}}-)?\d{{2}}", question.id)
    assert GLOBAL.question("compensation.minimum-wages.01").text == (
        "Does the employer pay at least the minimum wage for ordinary hours of work?"
    )


def test_there_are_zero_tolerance_questions_for_each_issue_and_only_in_the_expected_clusters() -> None:
    for issue, clusters in ZERO_TOLERANCE_CLUSTERS.items():
        raised_in = {cluster_of(GLOBAL, q) for q in GLOBAL.questions if q.zero_tolerance_issue is issue}
        assert raised_in, f"no question raises {issue}"
        assert raised_in <= clusters, f"{issue} raised in {raised_in - clusters}"
    for question in GLOBAL.questions:
        assert question.zero_tolerance == (question.zero_tolerance_issue is not None)


def test_the_protocols_core_cases_are_zero_tolerance() -> None:
    def issue(question_id: str) -> ZeroToleranceIssue | None:
        return GLOBAL.question(question_id).zero_tolerance_issue

    assert issue("child-labour.child-labourers.01") is ZeroToleranceIssue.CHILD_LABOUR
    assert {q.zero_tolerance_issue for q in GLOBAL.questions_of("child-labour.unconditional-worst-forms")} == {
        ZeroToleranceIssue.CHILD_LABOUR
    }
    assert {q.zero_tolerance_issue for q in GLOBAL.questions_of("forced-labour.prison-labour")} == {
        ZeroToleranceIssue.FORCED_LABOUR
    }
    assert issue("forced-labour.bonded-labour.01") is ZeroToleranceIssue.FORCED_LABOUR
    assert issue("forced-labour.coercion.01") is ZeroToleranceIssue.FORCED_LABOUR
    assert issue("discrimination.gender.08") is ZeroToleranceIssue.ABUSE_OR_HARASSMENT
    assert issue("contracts-and-hr.dialogue-discipline-and-disputes.03") is ZeroToleranceIssue.ABUSE_OR_HARASSMENT
    assert issue("osh.emergency-preparedness.01") is ZeroToleranceIssue.IMMINENT_DANGER  # exits locked
    assert issue("osh.emergency-preparedness.02") is ZeroToleranceIssue.IMMINENT_DANGER  # exits blocked
    # Record-keeping about young workers is important but not a zero-tolerance matter.
    assert not any(q.zero_tolerance for q in GLOBAL.questions_of("child-labour.young-workers"))
    assert not any(q.zero_tolerance for q in GLOBAL.questions_of("compensation.minimum-wages"))


def test_cambodias_tool_is_the_global_tool_with_its_overlay() -> None:
    assert CAMBODIA.version == "KH-global-1"
    assert CAMBODIA.country == "KH"
    assert tool("KH-global-1") == CAMBODIA
    assert CAMBODIA.clusters == GLOBAL.clusters
    assert CAMBODIA.compliance_points == GLOBAL.compliance_points
    assert CAMBODIA.for_country("KH") is CAMBODIA
    assert set(shipped_versions()) >= {"global-1", "KH-global-1"}


def test_the_cambodian_overlay_adds_national_questions_at_the_end_of_their_compliance_points() -> None:
    global_ids = {q.id for q in GLOBAL.questions}
    assert {q.id for q in CAMBODIA.questions} - global_ids == KH_ADDED
    assert global_ids <= {q.id for q in CAMBODIA.questions}
    premium_pay = [q.id for q in CAMBODIA.questions_of("compensation.premium-pay")]
    assert premium_pay[-3:] == [
        "compensation.premium-pay.KH-01",
        "compensation.premium-pay.KH-02",
        "compensation.premium-pay.KH-03",
    ]
    assert "attendance bonus" in CAMBODIA.question("compensation.premium-pay.KH-01").text
    assert "Arbitration Council" in CAMBODIA.question("contracts-and-hr.dialogue-discipline-and-disputes.KH-01").text
    with pytest.raises(NotFound):
        GLOBAL.question("compensation.premium-pay.KH-01")


def test_the_cambodian_overlay_replaces_text_and_legal_references_with_national_law() -> None:
    minimum_wage = CAMBODIA.question("compensation.minimum-wages.01")
    assert "Cambodian Labour Law 1997 Art. 104" in minimum_wage.legal_reference
    assert "textile, garment and footwear" in minimum_wage.text
    assert CAMBODIA.question("child-labour.child-labourers.01").legal_reference == "Cambodian Labour Law 1997 Art. 177"
    assert "15 years" in CAMBODIA.question("child-labour.child-labourers.01").text
    assert CAMBODIA.question("working-time.regular-hours.01").legal_reference == "Cambodian Labour Law 1997 Art. 137"
    assert "150%" in CAMBODIA.question("compensation.overtime-wages.02").text
    assert "90 days" in CAMBODIA.question("working-time.leave.04").text
    # Only the reference changes where the international wording already fits.
    harassment = CAMBODIA.question("discrimination.gender.07")
    assert harassment.text == GLOBAL.question("discrimination.gender.07").text
    assert harassment.legal_reference == "Cambodian Labour Law 1997 Art. 172"
    # The global tool itself is untouched.
    assert GLOBAL.question("compensation.minimum-wages.01").legal_reference == "ILO C131 Art. 2"


def test_an_overlay_never_moves_a_question_or_changes_whether_it_is_zero_tolerance() -> None:
    changed = 0
    for question in GLOBAL.questions:
        national = CAMBODIA.question(question.id)
        assert national.compliance_point_id == question.compliance_point_id
        assert national.zero_tolerance_issue is question.zero_tolerance_issue
        changed += national != question
    assert changed >= 20
    assert CAMBODIA.question("child-labour.child-labourers.01").zero_tolerance_issue is ZeroToleranceIssue.CHILD_LABOUR


def test_a_country_without_an_overlay_gets_the_global_tool_unchanged() -> None:
    assert GLOBAL.for_country("BD") is GLOBAL
    assert GLOBAL.for_country("VN") is GLOBAL


def test_country_codes_are_iso_alpha_2_and_a_countrys_tool_is_not_overlaid_again() -> None:
    with pytest.raises(ValueError, match="ISO 3166-1"):
        GLOBAL.for_country("kh")
    with pytest.raises(ValueError, match="already KH's tool"):
        CAMBODIA.for_country("BD")


def test_unknown_ids_and_versions_give_a_clear_not_found() -> None:
    with pytest.raises(
        NotFound, match=r"question 'compensation\.minimum-wages\.99' is not in assessment tool global-1"
    ):
        GLOBAL.question("compensation.minimum-wages.99")
    with pytest.raises(LookupError, match=r"compliance point 'compensation\.living-wage'"):
        GLOBAL.questions_of("compensation.living-wage")
    with pytest.raises(NotFound, match=r"cluster 'environment'"):
        GLOBAL.cluster("environment")
    with pytest.raises(NotFound, match=r"no assessment tool version 'global-9'; shipped: .*global-1"):
        tool("global-9")


def test_released_versions_are_immutable() -> None:
    """A finished assessment is read against the version it was made with, so a released file must never change.

    If this fails because you edited a released file: revert it and publish the change as a new
    version file (e.g. global-2.json, KH-global-2.json) with its hash added to RELEASED_VERSIONS.
    """
    assert set(shipped_versions()) == set(RELEASED_VERSIONS), "every shipped version needs a recorded hash"
    for version, recorded in RELEASED_VERSIONS.items():
        assert content_hash(version) == recorded, f"released tool version {version} was edited in place"


def test_a_tool_rejects_questions_outside_its_compliance_points() -> None:
    cluster = Cluster("compensation", "Compensation", ClusterKind.WORKING_CONDITIONS)
    point = CompliancePoint("compensation.minimum-wages", "compensation", "Minimum Wages")
    stray = Question("compensation.overtime-wages.01", "compensation.overtime-wages", "Is overtime paid?", "ILO C001")
    with pytest.raises(ValueError, match="unknown compliance point"):
        AssessmentTool("draft", (cluster,), (point,), (stray,))


def test_a_zero_tolerance_question_names_its_issue() -> None:
    with pytest.raises(ValueError, match="names its issue"):
        Question("osh.emergency-preparedness.01", "osh.emergency-preparedness", "Exits unlocked?", "ILO C155", True)
