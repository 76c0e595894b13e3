"""Training sessions, the factories each trains, their participants and the register of each day.

A session can train several factories' people, so which factories it trains is a table of its
own (training_session_factories): every query of a factory's sessions and of its people goes
through it or through the participant's own factory.

Revision ID: training_0001
Revises: 0004
"""

from alembic import op

revision = "training_0001"
down_revision = "0004"
branch_labels = None
depends_on = None

HEADCOUNT = """
            attended_total          integer,
            attended_female         integer,
            attended_male           integer,
            attended_other          integer,
            attended_worker         integer,
            attended_supervisor     integer,
            attended_manager        integer,
            attended_women_leaders  integer"""


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE training_sessions (
            id                   text PRIMARY KEY,
            country              text NOT NULL,
            course_code          text NOT NULL,
            course_title         text NOT NULL,
            catalogue_version    text NOT NULL,
            course_hours         double precision NOT NULL,
            days                 date[] NOT NULL,
            first_day            date NOT NULL,
            last_day             date NOT NULL,
            venue                text NOT NULL,
            trainer              text NOT NULL,
            status               text NOT NULL,
            cancellation_reason  text,
            delivered_hours      double precision,
            registered           integer,
            completed            integer,
            participant_hours    double precision,{HEADCOUNT},
            version              integer NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX training_sessions_order_idx ON training_sessions (first_day DESC, id DESC)")
    op.execute("CREATE INDEX training_sessions_delivered_idx ON training_sessions (country, status, last_day)")
    op.execute(
        f"""
        CREATE TABLE training_session_factories (
            session_id         text NOT NULL,
            factory_id         text NOT NULL,
            registered         integer,
            participant_hours  double precision,{HEADCOUNT},
            PRIMARY KEY (session_id, factory_id)
        )
        """
    )
    op.execute("CREATE INDEX training_session_factories_factory_idx ON training_session_factories (factory_id)")
    op.execute(
        """
        CREATE TABLE training_participants (
            session_id      text NOT NULL,
            participant_id  text NOT NULL,
            factory_id      text NOT NULL,
            role            text NOT NULL,
            sex             text NOT NULL,
            name            text,
            pre_score       integer,
            post_score      integer,
            rating          integer,
            comment         text,
            PRIMARY KEY (session_id, participant_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE training_attendance (
            session_id  text NOT NULL,
            day         date NOT NULL,
            present     text[] NOT NULL,
            version     integer NOT NULL,
            PRIMARY KEY (session_id, day)
        )
        """
    )
