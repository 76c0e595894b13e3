"""Advisory services: plans per factory and cycle, their priorities, visits and commitments.

Revision ID: advisory_0001
Revises: 0004
"""

from alembic import op

revision = "advisory_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE advisory_plans (
            id               text PRIMARY KEY,
            factory_id       text NOT NULL,
            country          text NOT NULL,
            cycle            integer NOT NULL,
            starts_on        date NOT NULL,
            ends_on          date NOT NULL,
            service_package  text NOT NULL,
            visits_included  integer NOT NULL,
            visits_promised  integer NOT NULL,
            advisor          text NOT NULL,
            version          integer NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX advisory_plans_factory_idx ON advisory_plans (factory_id, starts_on DESC)")
    op.execute("CREATE INDEX advisory_plans_country_idx ON advisory_plans (country, starts_on DESC)")
    op.execute(
        """
        CREATE TABLE advisory_priorities (
            plan_id      text NOT NULL,
            priority_id  text NOT NULL,
            number       integer NOT NULL,
            topic        text NOT NULL,
            cluster      text NOT NULL,
            description  text NOT NULL,
            links        json NOT NULL,
            PRIMARY KEY (plan_id, priority_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE advisory_visits (
            plan_id                  text NOT NULL,
            visit_id                 text NOT NULL,
            number                   integer NOT NULL,
            status                   text NOT NULL,
            planned_on               date NOT NULL,
            planned_for              date NOT NULL,
            remote                   boolean NOT NULL,
            planned_topics           json NOT NULL,
            held_on                  date,
            advisor                  text,
            management_participants  integer,
            union_participants       integer,
            committee_participants   json,
            topics_worked            json NOT NULL,
            notes                    text,
            called_off_on            date,
            called_off_reason        text,
            confirmed_on             date,
            confirmation_comment     text,
            comments                 json NOT NULL,
            PRIMARY KEY (plan_id, visit_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE advisory_commitments (
            plan_id        text NOT NULL,
            commitment_id  text NOT NULL,
            number         integer NOT NULL,
            visit_id       text NOT NULL,
            description    text NOT NULL,
            topic          text NOT NULL,
            priority_id    text,
            due_on         date NOT NULL,
            status         text NOT NULL,
            follow_ups     json NOT NULL,
            PRIMARY KEY (plan_id, commitment_id)
        )
        """
    )
