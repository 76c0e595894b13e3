"""Assessments through their lifecycle, their findings, and zero-tolerance alerts.

Unlike the published reports (0003), these tables keep what comes before publication, planned
dates of unannounced visits included: every query of them takes its conditions from the
caller's scope (gateway.policy.Scope.assessment).

Revision ID: assessments_0001
Revises: 0004
"""

from alembic import op

revision = "assessments_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE assessments (
            id                      text PRIMARY KEY,
            factory_id              text NOT NULL,
            country                 text NOT NULL,
            tool_version            text NOT NULL,
            status                  text NOT NULL,
            planned_date            date NOT NULL,
            assessors               jsonb NOT NULL,
            scheduled_at            timestamptz NOT NULL,
            started_on              date,
            submitted_at            timestamptz,
            approved_at             timestamptz,
            reviewer                text,
            review_comments         jsonb NOT NULL,
            published_on            date,
            previous_assessment_id  text,
            version                 integer NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX assessments_factory_idx ON assessments (factory_id, scheduled_at, id)")
    op.execute("CREATE INDEX assessments_scheduled_idx ON assessments (scheduled_at DESC, id DESC)")
    op.execute(
        """
        CREATE TABLE findings (
            assessment_id        text NOT NULL,
            question_id          text NOT NULL,
            factory_id           text NOT NULL,
            compliance_point_id  text NOT NULL,
            cluster_id           text NOT NULL,
            result               text NOT NULL,
            evidence             text NOT NULL,
            attachments          jsonb NOT NULL,
            recurring            boolean,
            version              integer NOT NULL,
            PRIMARY KEY (assessment_id, question_id)
        )
        """
    )
    op.execute("CREATE INDEX findings_compliance_point_idx ON findings (compliance_point_id, result)")
    op.execute("CREATE INDEX findings_cluster_idx ON findings (cluster_id, result)")
    # status: 'open' until the acknowledgement and escalation events exist to move an alert on.
    op.execute(
        """
        CREATE TABLE zero_tolerance_alerts (
            assessment_id  text NOT NULL,
            question_id    text NOT NULL,
            factory_id     text NOT NULL,
            issue          text NOT NULL,
            raised_at      timestamptz NOT NULL,
            status         text NOT NULL,
            PRIMARY KEY (assessment_id, question_id)
        )
        """
    )
    op.execute("CREATE INDEX zero_tolerance_alerts_waiting_idx ON zero_tolerance_alerts (status, raised_at)")
