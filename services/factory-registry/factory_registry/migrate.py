"""Bring the factory registry's database up to date: `python -m factory_registry.migrate [REVISION]`."""

from pathlib import Path

from betterwork_events.migrations import main

from factory_registry.settings import Settings

if __name__ == "__main__":
    main(Path(__file__).parent / "migrations", Settings().database_url)
