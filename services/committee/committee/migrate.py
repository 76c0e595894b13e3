"""Bring the committee service's database up to date: `python -m committee.migrate [REVISION]`."""

from pathlib import Path

from betterwork_events.migrations import main

from committee.settings import Settings

if __name__ == "__main__":
    main(Path(__file__).parent / "migrations", Settings().database_url)
