"""Bulk exports in GraphQL: start one, poll it, then download its JSON Lines (gateway/exports.py).

Each line is one node of the list as its GraphQL type shows it (its own fields, without the
nested lists), so an integrator parses a line as it would parse the node of a page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
import strawberry
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from gateway import exports
from gateway.graphql.context import Context
from gateway.graphql.factories import BY_NAME, Factory
from gateway.graphql.reports import AssessmentReport
from gateway.read_models import directory, reports
from gateway.read_models.directory import factories
from gateway.read_models.pages import Order

Info = strawberry.Info[Context, None]


@strawberry.enum(description="What a bulk export holds; each line is read through your scope, as a query would be")
class BulkExportKind(enum.Enum):
    SUPPLIER_REPORTS = strawberry.enum_value(
        "supplier-reports",
        description="The published assessment reports you may read, with their findings (non-compliant questions "
        "per compliance point) and remediation: for a brand, those of its consenting suppliers",
    )
    FACTORIES = strawberry.enum_value("factories", description="The factories you may read")


@strawberry.enum(description="Where a bulk export stands")
class BulkExportStatus(enum.Enum):
    PENDING = exports.PENDING
    RUNNING = exports.RUNNING
    READY = exports.READY
    FAILED = exports.FAILED


def _plain(value: Any) -> Any:
    """A GraphQL object as JSON: its own fields by their GraphQL names, without those that resolve."""
    definition = get_object_definition(value) if dataclasses.is_dataclass(value) else None
    if definition is not None:
        return {
            f.graphql_name or to_camel_case(f.python_name): _plain(getattr(value, f.python_name))
            for f in definition.fields
            if f.base_resolver is None
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.name
    return value


def _report(row: Any) -> dict[str, Any]:
    return {"factoryId": row.factory_id, **_plain(AssessmentReport.of(row))}


KINDS: dict[str, exports.Kind] = {
    BulkExportKind.SUPPLIER_REPORTS.name: exports.Kind(
        rows=reports.readable_reports,
        order=Order((reports.assessment_reports.c.factory_id, reports.assessment_reports.c.id)),
        line=_report,
        factory_of=lambda row: str(row.factory_id),
    ),
    BulkExportKind.FACTORIES.name: exports.Kind(
        rows=lambda scope: sa.select(factories).where(scope.factories(), directory.current_factories()),
        order=BY_NAME,
        line=lambda row: _plain(Factory.of(row)),
        factory_of=lambda row: str(row.id),
    ),
}


@strawberry.type(description="A bulk export you started: poll it until READY, then download `url` with your token")
class BulkExport:
    id: strawberry.ID
    kind: BulkExportKind
    status: BulkExportStatus
    row_count: int = strawberry.field(description="Lines written so far (all of them once READY)")
    created_at: dt.datetime
    completed_at: dt.datetime | None
    expires_at: dt.datetime | None = strawberry.field(description="When it is forgotten, once finished")
    url: str | None = strawberry.field(
        description="Once READY: where to GET its JSON Lines, with the same bearer token; the lines of factories "
        "you may no longer read are left out"
    )

    @classmethod
    def of(cls, row: Any, info: Info) -> BulkExport:
        request = info.context.request
        base = str(request.base_url).rstrip("/") if request is not None else ""
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=BulkExportKind[row.kind],
            status=BulkExportStatus(row.status),
            row_count=row.row_count,
            created_at=row.created_at,
            completed_at=row.completed_at,
            expires_at=row.expires_at,
            url=f"{base}/bulk-exports/{row.id}.jsonl" if row.status == exports.READY else None,
        )


@strawberry.type
class Query:
    @strawberry.field(description="A bulk export you started; null if it is not yours, expired, or never was")
    async def bulk_export(self, info: Info, id: strawberry.ID) -> BulkExport | None:
        found = await exports.find(info.context.engine, info.context.scope, str(id))
        return BulkExport.of(found, info) if found is not None else None


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Start an export of a whole list as JSON Lines, written in the background (programme and brands)"
    )
    async def start_bulk_export(self, info: Info, kind: BulkExportKind) -> BulkExport:
        return BulkExport.of(await exports.start(info.context.engine, info.context.scope, kind.name), info)
