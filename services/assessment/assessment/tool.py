"""The compliance assessment tool: the clusters, compliance points and questions an assessment answers.

Pure reference data, shipped in the package (``assessment/tools/*.json``) and read with
importlib.resources; nothing else here does I/O.

Versions. Each file in ``assessment/tools/`` is one tool version: ``global-1.json`` is the global
tool, whose legal references cite international labour standards. An assessment records the
version it was made with (``"global-1"``, ``"KH-global-1"``) and is always read against that
version, so publishing a new version never changes a finished assessment. That only holds if a
released file never changes: ``RELEASED_VERSIONS`` records each file's content hash, and a test
fails if a released file is edited in place. To change the tool, add a new file (``global-2``,
``KH-global-2``) and record its hash.

Country overlays. ``<CC>-<base>.json`` (``KH-global-1.json``) adapts a base version to one
country: ``replace`` rewrites a base question's text and/or legal reference with national law,
and ``add`` appends national questions to a base compliance point. It cannot remove questions,
move them or change whether they are zero tolerance. ``tool("KH-global-1")`` is ``global-1``
with Cambodia's overlay applied; ``global_tool().for_country("KH")`` is the same tool, and a
country without an overlay gets the global tool unchanged.

Ids. A cluster id is a kebab-case word (``compensation``); a compliance point id is
``<cluster>.<point>`` (``compensation.minimum-wages``); a question id is
``<compliance point>.<NN>`` (``compensation.minimum-wages.01``), numbered from 01 within its
compliance point. A question a country overlay adds is ``<compliance point>.<CC>-<NN>``
(``compensation.premium-pay.KH-01``), so it can never collide with a later global question.
Ids are stable: a question keeps its id in every version for as long as its meaning is
unchanged, and a number is never reused for a different question, so findings can be compared
across assessments made with different versions.

Every question is phrased so that "yes" means compliant ("Does the employer pay at least the
minimum wage for ordinary hours of work?"). A zero-tolerance question names the issue a
non-compliant answer raises under the zero-tolerance protocol.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from betterwork_events.errors import NotFound

GLOBAL_VERSION = "global-1"

# sha256 of each released version's canonical JSON (see content_hash). Never change an entry:
# a released version's content is frozen; new content needs a new version file and a new entry.
RELEASED_VERSIONS: dict[str, str] = {
    "global-1": "16086c52cdd5a170ff0f5ce7f0f5697e96ddb7e27ddcaeae9add352862f8ff01",
    "KH-global-1": "77fb50deea577561d7124b0a7d743d0583850230ea576431132a5344c22c282a",
}


class ClusterKind(StrEnum):
    CORE_LABOUR_STANDARDS = "core-labour-standards"
    WORKING_CONDITIONS = "working-conditions"


class ZeroToleranceIssue(StrEnum):
    CHILD_LABOUR = "child-labour"
    FORCED_LABOUR = "forced-labour"
    ABUSE_OR_HARASSMENT = "abuse-or-harassment"
    IMMINENT_DANGER = "imminent-danger"


@dataclass(frozen=True)
class Cluster:
    id: str
    name: str
    kind: ClusterKind


@dataclass(frozen=True)
class CompliancePoint:
    id: str
    cluster_id: str
    name: str


@dataclass(frozen=True)
class Question:
    id: str
    compliance_point_id: str
    text: str
    legal_reference: str
    zero_tolerance: bool = False
    zero_tolerance_issue: ZeroToleranceIssue | None = None

    def __post_init__(self) -> None:
        if self.zero_tolerance != (self.zero_tolerance_issue is not None):
            raise ValueError(
                f"question {self.id}: a zero-tolerance question names its issue, and no other question does"
            )


@dataclass(frozen=True)
class AssessmentTool:
    version: str
    clusters: tuple[Cluster, ...]
    compliance_points: tuple[CompliancePoint, ...]
    questions: tuple[Question, ...]
    country: str | None = None  # ISO 3166-1 alpha-2 of a country's version ("KH"); None for the global tool
    _clusters: dict[str, Cluster] = field(init=False, repr=False, compare=False)
    _compliance_points: dict[str, CompliancePoint] = field(init=False, repr=False, compare=False)
    _questions: dict[str, Question] = field(init=False, repr=False, compare=False)
    _questions_of: dict[str, tuple[Question, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        clusters = _unique("cluster", self.clusters)
        points = _unique("compliance point", self.compliance_points)
        questions = _unique("question", self.questions)
        for point in self.compliance_points:
            if point.cluster_id not in clusters:
                raise ValueError(f"compliance point {point.id} names unknown cluster {point.cluster_id}")
            if not point.id.startswith(f"{point.cluster_id}."):
                raise ValueError(f"compliance point {point.id} does not start with its cluster's id")
        for question in self.questions:
            if question.compliance_point_id not in points:
                raise ValueError(
                    f"question {question.id} names unknown compliance point {question.compliance_point_id}"
                )
            if not question.id.startswith(f"{question.compliance_point_id}."):
                raise ValueError(f"question {question.id} does not start with its compliance point's id")
        object.__setattr__(self, "_clusters", clusters)
        object.__setattr__(self, "_compliance_points", points)
        object.__setattr__(self, "_questions", questions)
        object.__setattr__(
            self,
            "_questions_of",
            {p.id: tuple(q for q in self.questions if q.compliance_point_id == p.id) for p in self.compliance_points},
        )

    def question(self, question_id: str) -> Question:
        try:
            return self._questions[question_id]
        except KeyError:
            raise NotFound(f"question {question_id!r} is not in assessment tool {self.version}") from None

    def compliance_point(self, compliance_point_id: str) -> CompliancePoint:
        try:
            return self._compliance_points[compliance_point_id]
        except KeyError:
            raise NotFound(
                f"compliance point {compliance_point_id!r} is not in assessment tool {self.version}"
            ) from None

    def cluster(self, cluster_id: str) -> Cluster:
        try:
            return self._clusters[cluster_id]
        except KeyError:
            raise NotFound(f"cluster {cluster_id!r} is not in assessment tool {self.version}") from None

    def questions_of(self, compliance_point_id: str) -> tuple[Question, ...]:
        return self._questions_of[self.compliance_point(compliance_point_id).id]

    def compliance_points_of(self, cluster_id: str) -> tuple[CompliancePoint, ...]:
        cluster = self.cluster(cluster_id)
        return tuple(p for p in self.compliance_points if p.cluster_id == cluster.id)

    def for_country(self, country: str) -> AssessmentTool:
        """This tool with `country`'s overlay applied, or this tool unchanged if it has none."""
        if len(country) != 2 or not (country.isascii() and country.isalpha() and country.isupper()):
            raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code such as 'KH'")
        if self.country == country:
            return self
        if self.country is not None:
            raise ValueError(f"{self.version} is already {self.country}'s tool; start from the global tool")
        overlay = f"{country}-{self.version}"
        return tool(overlay) if overlay in shipped_versions() else self


def global_tool() -> AssessmentTool:
    return tool(GLOBAL_VERSION)


@cache
def tool(version: str) -> AssessmentTool:
    """Any shipped version: a global one ("global-1") or a country's ("KH-global-1")."""
    document = _document(version)
    if "base" in document:
        return _apply_overlay(tool(document["base"]), document)
    return _global(document)


@cache
def shipped_versions() -> tuple[str, ...]:
    return tuple(sorted(f.name.removesuffix(".json") for f in _tools_dir().iterdir() if f.name.endswith(".json")))


def content_hash(version: str) -> str:
    """sha256 of the version file's canonical JSON: blind to whitespace and key order, not to content."""
    canonical = json.dumps(_document(version), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _tools_dir() -> Traversable:
    return files("assessment") / "tools"


def _document(version: str) -> dict[str, Any]:
    # Only shipped versions reach the file system: a version comes from a URL, of any length.
    if version not in shipped_versions():
        raise NotFound(f"no assessment tool version {version[:100]!r}; shipped: {', '.join(shipped_versions())}")
    path = _tools_dir() / f"{version}.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if document.get("version") != version:
        raise ValueError(f"{version}.json declares version {document.get('version')!r}")
    return document


def _global(document: dict[str, Any]) -> AssessmentTool:
    clusters: list[Cluster] = []
    points: list[CompliancePoint] = []
    questions: list[Question] = []
    for c in document["clusters"]:
        clusters.append(Cluster(id=c["id"], name=c["name"], kind=ClusterKind(c["kind"])))
        for p in c["compliance_points"]:
            points.append(CompliancePoint(id=p["id"], cluster_id=c["id"], name=p["name"]))
            questions.extend(_question(q, p["id"]) for q in p["questions"])
    return AssessmentTool(document["version"], tuple(clusters), tuple(points), tuple(questions))


def _apply_overlay(base: AssessmentTool, overlay: dict[str, Any]) -> AssessmentTool:
    version, country = overlay["version"], overlay["country"]
    if version != f"{country}-{base.version}":
        raise ValueError(f"overlay {version} for {country} on {base.version} must be named {country}-{base.version}")
    replacements: dict[str, dict[str, str]] = overlay.get("replace", {})
    for question_id, changes in replacements.items():
        base.question(question_id)
        if not changes or set(changes) - {"text", "legal_reference"}:
            raise ValueError(f"{version} may replace only the text and legal reference of {question_id}")
    by_point: dict[str, list[Question]] = {p.id: [] for p in base.compliance_points}
    for question in base.questions:
        changes = replacements.get(question.id, {})
        by_point[question.compliance_point_id].append(
            replace(
                question,
                text=changes.get("text", question.text),
                legal_reference=changes.get("legal_reference", question.legal_reference),
            )
        )
    for added in overlay.get("add", []):
        point_id = added["compliance_point_id"]
        if point_id not in by_point:
            raise ValueError(f"{version} adds {added['id']} to unknown compliance point {point_id}")
        if not added["id"].startswith(f"{point_id}.{country}-"):
            raise ValueError(f"{version} adds {added['id']}, which is not numbered {point_id}.{country}-NN")
        by_point[point_id].append(_question(added, point_id))
    questions = tuple(q for p in base.compliance_points for q in by_point[p.id])
    return AssessmentTool(version, base.clusters, base.compliance_points, questions, country=country)


def _question(q: dict[str, Any], compliance_point_id: str) -> Question:
    issue = q.get("zero_tolerance_issue")
    return Question(
        id=q["id"],
        compliance_point_id=compliance_point_id,
        text=q["text"],
        legal_reference=q["legal_reference"],
        zero_tolerance=issue is not None,
        zero_tolerance_issue=ZeroToleranceIssue(issue) if issue is not None else None,
    )


def _unique(kind: str, items: tuple[Any, ...]) -> dict[str, Any]:
    index: dict[str, Any] = {}
    for item in items:
        if item.id in index:
            raise ValueError(f"{kind} id {item.id} appears twice")
        index[item.id] = item
    return index
