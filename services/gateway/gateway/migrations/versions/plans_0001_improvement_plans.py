"""Improvement plans: the remediation of each published non-compliant finding, the improvement
actions planned for it and the progress reported on them.

Revision ID: plans_0001
Revises: 0004
"""

from alembic import op

revision = "plans_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE plan_findings (
            assessment_id        text NOT NULL,
            question_id          text NOT NULL,
            factory_id           text NOT NULL,
            country              text NOT NULL,
            compliance_point_id  text NOT NULL,
            cluster_id           text NOT NULL,
            published_on         date NOT NULL,
            status               text NOT NULL,
            remediation_note     text,
            remediated_at        timestamptz,
            verified_by          text,
            verified_at          timestamptz,
            rejection_reason     text,
            rejected_at          timestamptz,
            version              integer NOT NULL,
            PRIMARY KEY (assessment_id, question_id)
        )
        """
    )
    op.execute("CREATE INDEX plan_findings_factory_idx ON plan_findings (factory_id, published_on DESC)")
    op.execute("CREATE INDEX plan_findings_country_idx ON plan_findings (country, status)")
    op.execute(
        """
        CREATE TABLE improvement_actions (
            assessment_id  text NOT NULL,
            action_id      text NOT NULL,
            question_id    text NOT NULL,
            what           text NOT NULL,
            who            text NOT NULL,
            due_on         date NOT NULL,
            done           boolean NOT NULL DEFAULT false,
            added_at       timestamptz NOT NULL,
            PRIMARY KEY (assessment_id, action_id)
        )
        """
    )
    op.execute("CREATE INDEX improvement_actions_finding_idx ON improvement_actions (assessment_id, question_id)")
    op.execute("CREATE INDEX improvement_actions_due_idx ON improvement_actions (due_on) WHERE NOT done")
    op.execute(
        """
        CREATE TABLE improvement_progress (
            assessment_id   text NOT NULL,
            stream_version  integer NOT NULL,
            action_id       text NOT NULL,
            note            text NOT NULL,
            done            boolean NOT NULL,
            reported_at     timestamptz NOT NULL,
            PRIMARY KEY (assessment_id, stream_version)
        )
        """
    )
    op.execute("CREATE INDEX improvement_progress_action_idx ON improvement_progress (assessment_id, action_id)")
