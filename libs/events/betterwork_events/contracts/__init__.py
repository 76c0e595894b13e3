"""Every public event contract, by the service that publishes it.

Importing this package registers them all in `betterwork_events.catalogue.catalogue`.
"""

from betterwork_events.contracts import committee, factory_registry

__all__ = ["committee", "factory_registry"]
