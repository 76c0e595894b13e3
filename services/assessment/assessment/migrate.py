"""Bring the assessment service's database up to date: `python -m assessment.migrate [REVISION]`."""

from pathlib import Path

from betterwork_events.migrations import main

from assessment.settings import Settings

if __name__ == "__main__":
    main(Path(__file__).parent / "migrations", Settings().database_url)
