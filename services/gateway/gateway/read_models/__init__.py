"""The gateway's read models: one module each, with its tables, its projection and its queries.

Nothing here knows GraphQL. Every read model is disposable: drop its tables and replay the
topics to rebuild it. A new read model is a new module here, its migration, and a line below.
"""

from gateway.read_models import (
    advisory,
    assessments,
    committees,
    directory,
    history,
    improvement_plans,
    reports,
    surveys,
    training,
)
from gateway.read_models.projection import Projection

PROJECTIONS: list[Projection] = [
    directory.projection,
    reports.projection,
    assessments.projection,
    improvement_plans.projection,
    committees.projection,
    training.projection,
    history.projection,
    advisory.projection,
    surveys.projection,
]
