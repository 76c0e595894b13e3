"""What the rebuild command relies on: each read model declares the tables it writes."""

from gateway.read_models import PROJECTIONS
from gateway.read_models.projection import metadata


def test_every_table_belongs_to_exactly_one_read_model() -> None:
    owned = [table.name for projection in PROJECTIONS for table in projection.tables]
    assert sorted(owned) == sorted(metadata.tables)  # none forgotten by a rebuild, none rebuilt twice
