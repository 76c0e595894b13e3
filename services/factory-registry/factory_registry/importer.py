"""Bulk import of a factory list from CSV, one row per factory: all rows or none.

Every row is checked first (its fields, then likely duplicates among the country's factories
and the rows above it); only if every row can be created are they all registered, in one
transaction. The report gives each row's outcome: created, duplicate candidate, or invalid with
the reason.

    python -m factory_registry.importer factories.csv [--dry-run]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import io
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from betterwork_events.contracts.factory_registry import FactoryProfile
from betterwork_events.errors import IllegalStep, InvalidRequest
from betterwork_events.store import CommandContext, EventStore
from pydantic import ValidationError

from factory_registry import directory, programme_id
from factory_registry.domain import Factory, factory_stream
from factory_registry.handlers import RegistrationNumberTaken, append, refuse_taken_registration_numbers
from factory_registry.matching import Candidate, FactoryRecord, likely_duplicates

COLUMNS = {
    "name": "legal name (required)",
    "local_name": "name in the local script",
    "country": "ISO 3166-1 alpha-2 code (required)",
    "address": "(required)",
    "latitude": "decimal degrees",
    "longitude": "decimal degrees",
    "sector": "garment, footwear or travel-goods",
    "products": "separated by ';'",
    "workers_total": "",
    "workers_women": "",
    "workers_men": "",
    "workers_migrant": "",
    "parent_group": "",
    "registration_authority": "",
    "registration_number": "",
    "contact_name": "",
    "contact_role": "",
    "contact_email": "",
    "contact_phone": "",
    "confirmed_new": "'yes' to register despite likely duplicates",
}
REQUIRED = ("name", "country", "address")


@dataclass
class RowOutcome:
    row: int  # 1 = the first row after the header
    outcome: str  # created | would-create | duplicate-candidate | invalid
    name: str
    factory_id: str | None = None
    reason: str | None = None
    candidates: list[Candidate] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: list[RowOutcome]
    imported: bool

    @property
    def problems(self) -> list[RowOutcome]:
        return [r for r in self.rows if r.outcome in ("invalid", "duplicate-candidate")]

    def as_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "rows": [
                {
                    "row": r.row,
                    "outcome": r.outcome,
                    "name": r.name,
                    "factory_id": r.factory_id,
                    "reason": r.reason,
                    "candidates": [c.__dict__ | {"reasons": list(c.reasons)} for c in r.candidates],
                }
                for r in self.rows
            ],
        }


class ImportRejected(IllegalStep):
    def __init__(self, report: ImportReport) -> None:
        problems = report.problems
        super().__init__(
            f"nothing was imported: {len(problems)} of {len(report.rows)} rows cannot be created as they are"
        )
        self.report = report


def read_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        fieldnames = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in fieldnames]
        if missing:
            raise IllegalStep(f"the CSV header lacks the column(s) {', '.join(missing)}")
        unknown = [c for c in fieldnames if c not in COLUMNS]
        if unknown:
            raise IllegalStep(f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}")
        return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except csv.Error as error:  # e.g. a field longer than the csv module's limit
        raise InvalidRequest(f"the CSV cannot be read, line {reader.line_num}: {error}") from None


def profile_of(row: dict[str, str]) -> FactoryProfile:
    """The row as a profile; raises ValueError naming the column that is wrong."""

    def number(column: str) -> int | None:
        value = row.get(column, "")
        if not value:
            return None
        try:
            return int(value.replace(",", ""))
        except ValueError:
            raise ValueError(f"{column}: {value!r} is not a whole number") from None

    fields: dict[str, Any] = {
        "name": row.get("name"),
        "local_name": row.get("local_name") or None,
        "country": row.get("country", "").upper(),
        "address": row.get("address"),
        "sector": row.get("sector") or "garment",
        "products": tuple(p.strip() for p in row.get("products", "").split(";") if p.strip()),
    }
    if row.get("latitude") or row.get("longitude"):
        fields["location"] = {"latitude": row.get("latitude"), "longitude": row.get("longitude")}
    total = number("workers_total")
    if total is not None:
        fields["workforce"] = {
            "total": total,
            "women": number("workers_women") or 0,
            "men": number("workers_men") or 0,
            "migrant": number("workers_migrant") or 0,
        }
    if row.get("parent_group"):
        fields["ownership"] = {"parent_group": row["parent_group"]}
    if row.get("registration_number"):
        fields["registration_numbers"] = [
            {"authority": row.get("registration_authority") or "unknown", "number": row["registration_number"]}
        ]
    if row.get("contact_name"):
        fields["contacts"] = [
            {
                "name": row["contact_name"],
                "role": row.get("contact_role") or "contact",
                "email": row.get("contact_email") or None,
                "phone": row.get("contact_phone") or None,
            }
        ]
    try:
        return FactoryProfile.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        column = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{column}: {first['msg']}") from None


async def import_factories(
    rows: list[dict[str, str]],
    store: EventStore,
    context: CommandContext,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every row, then create them all, or none (raising ImportRejected with the report)."""
    outcomes: list[RowOutcome] = []
    accepted: list[tuple[RowOutcome, FactoryProfile]] = []
    year = dt.datetime.now(dt.UTC).year
    async with store.engine.begin() as conn:
        earlier_rows: dict[str, list[FactoryRecord]] = {}
        for number, row in enumerate(rows, start=1):
            if progress:
                progress(1)
            outcome = RowOutcome(row=number, outcome="invalid", name=row.get("name", ""))
            outcomes.append(outcome)
            try:
                profile = profile_of(row)
                Factory.register("check", profile)
            except (ValueError, IllegalStep) as error:
                outcome.reason = str(error)
                continue
            try:
                await refuse_taken_registration_numbers(conn, profile)
            except RegistrationNumberTaken as taken:  # whatever confirmed_new says
                outcome.outcome, outcome.candidates, outcome.reason = (
                    "duplicate-candidate",
                    taken.candidates,
                    str(taken),
                )
                continue
            registered = await directory.possible_duplicates(conn, profile.country, profile.name, profile.local_name)
            # Matching is CPU work growing with the file's rows: off the event loop, or the whole registry waits.
            candidates = await asyncio.to_thread(
                likely_duplicates,
                profile.name,
                profile.address,
                profile.country,
                registered + earlier_rows.get(profile.country, []),
                local_name=profile.local_name,
            )
            if candidates and row.get("confirmed_new", "").lower() not in ("yes", "true", "1"):
                outcome.outcome, outcome.candidates = "duplicate-candidate", candidates
                outcome.reason = (
                    "looks like a registered factory or an earlier row; set confirmed_new to yes if it is not"
                )
            else:
                outcome.outcome = "would-create"
                accepted.append((outcome, profile))
            # Later rows are compared with this one too: a file can repeat a factory.
            earlier_rows.setdefault(profile.country, []).append(
                FactoryRecord(f"row {number}", profile.country, profile.name, profile.address, profile.local_name)
            )
        report = ImportReport(outcomes, imported=False)
        if report.problems:
            raise ImportRejected(report)
        if dry_run:
            return report
        for outcome, profile in accepted:
            factory_id = programme_id.programme_id(
                profile.country, year, await directory.next_factory_number(conn, profile.country, year)
            )
            await append(store, conn, factory_stream(factory_id), Factory.register(factory_id, profile), 0, context)
            outcome.outcome, outcome.factory_id = "created", factory_id
    return ImportReport(outcomes, imported=True)


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m factory_registry.importer",
        description="Import factories from a CSV file into the registry: every row, or none.",
        epilog="Columns: " + ", ".join(f"{name} {hint}".strip() for name, hint in COLUMNS.items()),
    )
    parser.add_argument("csv_file", type=argparse.FileType(encoding="utf-8-sig"), help="the factory list, UTF-8")
    parser.add_argument("--dry-run", action="store_true", help="check every row, create nothing")
    parser.add_argument("--actor", default="programme:importer", help="who the events are recorded as caused by")
    args = parser.parse_args(list(argv) if argv is not None else None)
    rows = read_csv(args.csv_file.read())
    sys.exit(asyncio.run(_run(rows, args.dry_run, args.actor)))


async def _run(rows: list[dict[str, str]], dry_run: bool, actor: str) -> int:
    from betterwork_events.web import create_engine
    from tqdm import tqdm

    from factory_registry.settings import Settings

    engine = create_engine(Settings())
    store = EventStore(engine, source="/betterwork/factory-registry")
    try:
        with tqdm(total=len(rows), unit="row", desc="checking") as bar:
            report = await import_factories(
                rows, store, CommandContext(actor=actor), dry_run=dry_run, progress=bar.update
            )
    except ImportRejected as rejected:
        report = rejected.report
    finally:
        await store.close()
        await engine.dispose()
    for row in report.rows:
        where = row.factory_id or (", ".join(f"{c.factory_id} ({c.score})" for c in row.candidates)) or ""
        print(f"row {row.row:>5}  {row.outcome:<20} {row.name[:40]:<40} {where} {row.reason or ''}".rstrip())
    if report.problems:
        print(f"\nnothing imported: {len(report.problems)} row(s) to fix", file=sys.stderr)
        return 1
    print(f"\n{'checked' if dry_run else 'imported'} {len(report.rows)} factories")
    return 0


if __name__ == "__main__":
    main()
