"""Worker-management committees (PICCs): their members, elections, meetings and action items.

Revision ID: committees_0001
Revises: 0004
"""

from alembic import op

revision = "committees_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE committees (
            id                  text PRIMARY KEY,
            factory_id          text NOT NULL,
            country             text NOT NULL,
            established_on      date NOT NULL,
            dissolved_on        date,
            dissolution_reason  text,
            version             integer NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX committees_factory_idx ON committees (factory_id, established_on DESC)")
    op.execute("CREATE INDEX committees_country_idx ON committees (country, established_on DESC)")
    op.execute(
        """
        CREATE TABLE committee_members (
            committee_id     text NOT NULL,
            member_id        text NOT NULL,
            employee_number  text NOT NULL,
            name             text NOT NULL,
            sex              text NOT NULL,
            job_title        text,
            side             text NOT NULL,
            office           text NOT NULL,
            term_starts_on   date NOT NULL,
            term_ends_on     date,
            election_id      text,
            left_on          date,
            PRIMARY KEY (committee_id, member_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE committee_elections (
            committee_id       text NOT NULL,
            election_id        text NOT NULL,
            held_on            date NOT NULL,
            seats              integer NOT NULL,
            candidates         integer NOT NULL,
            women_candidates   integer NOT NULL,
            votes_cast         integer NOT NULL,
            elected            integer NOT NULL,
            women_elected      integer NOT NULL,
            PRIMARY KEY (committee_id, election_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE committee_meetings (
            committee_id  text NOT NULL,
            meeting_id    text NOT NULL,
            held_on       date NOT NULL,
            attendees     integer NOT NULL,
            guests        integer NOT NULL,
            agenda        json NOT NULL,
            minutes       text NOT NULL,
            decisions     json NOT NULL,
            PRIMARY KEY (committee_id, meeting_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE committee_action_items (
            committee_id    text NOT NULL,
            action_item_id  text NOT NULL,
            meeting_id      text NOT NULL,
            description     text NOT NULL,
            owner           text NOT NULL,
            due_on          date NOT NULL,
            status          text NOT NULL,
            closed_on       date,
            outcome         text,
            PRIMARY KEY (committee_id, action_item_id)
        )
        """
    )
