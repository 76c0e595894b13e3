"""The gateway's read-model tables. Disposable: drop them and replay the topics to rebuild."""

import sqlalchemy as sa

metadata = sa.MetaData()

factories = sa.Table(
    "factories",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("local_name", sa.Text),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("sector", sa.Text, nullable=False),
    sa.Column("enrollment", sa.Text),
    sa.Column("workers_total", sa.Integer),
    sa.Column("workers_women", sa.Integer),
    sa.Column("workers_men", sa.Integer),
    sa.Column("merged_into", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

brands = sa.Table(
    "brands",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("partnership", sa.Text, nullable=False),
)

supplier_links = sa.Table(
    "supplier_links",
    metadata,
    sa.Column("factory_id", sa.Text, primary_key=True),
    sa.Column("brand_id", sa.Text, primary_key=True),
    sa.Column("since", sa.Date, nullable=False),
)

consents = sa.Table(
    "report_sharing_consents",
    metadata,
    sa.Column("factory_id", sa.Text, primary_key=True),
    sa.Column("brand_id", sa.Text, primary_key=True),
)

assessment_reports = sa.Table(
    "assessment_reports",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("tool_version", sa.Text, nullable=False),
    sa.Column("published_on", sa.Date, nullable=False),
    sa.Column("compliance_points", sa.JSON, nullable=False),
    sa.Column("clusters", sa.JSON, nullable=False),
    sa.Column("recurring", sa.JSON, nullable=False),
)

finding_remediation = sa.Table(
    "finding_remediation",
    metadata,
    sa.Column("assessment_id", sa.Text, primary_key=True),
    sa.Column("question_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
)
