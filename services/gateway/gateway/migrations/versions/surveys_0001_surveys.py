"""Research surveys: questionnaire versions, rounds, what aggregates need of each worker's answers
(never a free-text answer), and the manager surveys' business figures.

Revision ID: surveys_0001
Revises: 0004
"""

from alembic import op

revision = "surveys_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE survey_questionnaires (
            questionnaire_id  text NOT NULL,
            version           integer NOT NULL,
            kind              text NOT NULL,
            title             text NOT NULL,
            questions         jsonb NOT NULL,
            PRIMARY KEY (questionnaire_id, version)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE survey_rounds (
            id                     text PRIMARY KEY,
            factory_id             text NOT NULL,
            country                text NOT NULL,
            questionnaire_id       text NOT NULL,
            questionnaire_version  integer NOT NULL,
            kind                   text NOT NULL,
            question_types         jsonb NOT NULL,
            opened_on              date NOT NULL,
            closed_on              date,
            responses              integer,
            version                integer NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX survey_rounds_questionnaire_idx ON survey_rounds (questionnaire_id, questionnaire_version)"
    )
    op.execute("CREATE INDEX survey_rounds_country_idx ON survey_rounds (country, kind)")
    op.execute(
        """
        CREATE TABLE survey_worker_answers (
            response_id  text NOT NULL,
            question_id  text NOT NULL,
            round_id     text NOT NULL,
            sex          text NOT NULL,
            age_band     text NOT NULL,
            role         text NOT NULL,
            number       double precision,
            choice       text,
            PRIMARY KEY (response_id, question_id)
        )
        """
    )
    op.execute("CREATE INDEX survey_worker_answers_round_idx ON survey_worker_answers (round_id)")
    op.execute(
        """
        CREATE TABLE survey_manager_figures (
            round_id             text PRIMARY KEY,
            period_start         date NOT NULL,
            period_end           date NOT NULL,
            sales                double precision,
            currency             text,
            production_capacity  bigint,
            employment           integer,
            version              integer NOT NULL
        )
        """
    )
