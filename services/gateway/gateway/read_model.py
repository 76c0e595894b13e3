"""The gateway's read-model tables. Disposable: drop them and replay the topics to rebuild."""

import sqlalchemy as sa

metadata = sa.MetaData()

factories = sa.Table(
    "factories",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
