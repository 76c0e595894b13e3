"""Every public event contract, by the service that publishes it.

Importing this package registers them all in `betterwork_events.catalogue.catalogue`.
"""

from betterwork_events.contracts import advisory, assessment, committee, factory_registry, surveys, training

__all__ = ["advisory", "assessment", "committee", "factory_registry", "surveys", "training"]
