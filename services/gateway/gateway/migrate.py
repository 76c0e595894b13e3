"""Bring the gateway's read-model database up to date: `python -m gateway.migrate [REVISION]`."""

from pathlib import Path

from betterwork_events.migrations import main

from gateway.settings import Settings

if __name__ == "__main__":
    main(Path(__file__).parent / "migrations", Settings().database_url)
