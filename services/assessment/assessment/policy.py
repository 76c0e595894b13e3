"""What a factory may read of its own published assessment's history. Programme staff read it
whole; brands and governments read published reports through the gateway, not here.

An allow list: the quality review, the zero-tolerance protocol, draft findings, the planned date
and staff names are not on it, and neither is anything added to the contracts later.
"""

from __future__ import annotations

from betterwork_events.contracts import assessment as ae
from betterwork_events.history import Disclosure

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
