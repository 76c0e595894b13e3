"""Bulk exports: a whole list, as the caller may read it, written in the background as JSON Lines.

For integrators that would otherwise page through thousands of requests (Shopify's bulk
operations): a caller starts an export of a kind (`startBulkExport`), polls it (`bulkExport`),
and downloads its lines once it is ready, from the gateway, with the same token.

- Access: who may start one is the policy's (`Scope.exports`); what an export holds is read
  through the starter's Scope, as its queries would be (for a brand, the suppliers the registry
  said shared with it when it started, and the read model agreed). Each line names its factory,
  and a download reads only the lines of factories the caller may read at the time of the
  download: a consent revoked since the export ran takes effect at once there too.
- Ownership: an export is its starter's (audience, scope and subject of the token); anyone
  else, asking for it, finds nothing, exactly as for an id that does not exist.
- Storage: in the gateway's database (`bulk_exports`, `bulk_export_lines`), so any replica
  answers the poll and the download; an export is forgotten `lifetime` after it finished.
- Work: any replica's `Exporter` claims the next pending export (SKIP LOCKED) and writes it a
  keyset page at a time, each page one transaction with the count it has reached. An export
  whose replica died is claimed again once its last page is `stale_after` old, and rewritten.

Nothing here knows GraphQL: the kinds (what rows, in what order, as what lines) are given.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from betterwork_events.auth import Audience, Principal
from betterwork_events.errors import IllegalStep, NotFound
from betterwork_events.resilience import is_transient, own_engine
from fastapi import HTTPException
from fastapi.responses import StreamingResponse
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import policy
from gateway.read_models.pages import Order, PageRequest, decode_cursor, page

log = logging.getLogger(__name__)

# Not a read model: the gateway's own record of the exports it was asked for (never rebuilt).
metadata = sa.MetaData()

bulk_exports = sa.Table(
    "bulk_exports",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("owner_audience", sa.Text, nullable=False),
    sa.Column("owner_scope", sa.Text),
    sa.Column("owner_subject", sa.Text, nullable=False),
    sa.Column("sharing_now", ARRAY(sa.Text), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
)
bulk_export_lines = sa.Table(
    "bulk_export_lines",
    metadata,
    sa.Column("export_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

PENDING, RUNNING, READY, FAILED = "pending", "running", "ready", "failed"
# Unfinished exports one caller may have at once: each is a walk over a whole list.
MOST_UNFINISHED = 3


class NoSuchExport(NotFound):
    """Missing, expired, or someone else's: the three answer alike (404)."""

    def __init__(self, export_id: str) -> None:
        super().__init__(f"you have no bulk export {export_id[:40]!r}")


class NotReady(IllegalStep):
    """Not written yet, or failed (409)."""

    def __init__(self, status: str) -> None:
        super().__init__(
            "the export failed; start a new one" if status == FAILED else "the export is not ready yet; poll bulkExport"
        )


class TooManyExports(policy.AccessDenied):
    pass


@dataclass(frozen=True)
class Kind:
    """What an export of this kind holds: the rows a scope may read, in a keyset order, each as a
    JSON line about one factory."""

    rows: Callable[[policy.Scope], sa.Select[Any]]
    order: Order
    line: Callable[[Any], dict[str, Any]]
    factory_of: Callable[[Any], str]


def _owned_by(scope: policy.Scope) -> sa.ColumnElement[bool]:
    principal = scope.principal
    return sa.and_(
        bulk_exports.c.owner_audience == principal.audience.value,
        bulk_exports.c.owner_scope.is_not_distinct_from(principal.scope),
        bulk_exports.c.owner_subject == principal.subject,
        sa.or_(bulk_exports.c.expires_at.is_(None), bulk_exports.c.expires_at > sa.func.now()),
    )


def _id(export_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(export_id)
    except ValueError:
        raise NoSuchExport(export_id) from None


async def start(engine: AsyncEngine, scope: policy.Scope, kind: str) -> Any:
    """A new pending export of `kind`, owned by the caller; an Exporter picks it up."""
    scope.exports()
    principal = scope.principal
    async with engine.begin() as conn:
        # One caller's starts one at a time, so that two at once cannot both pass the count.
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"bw-exports:{principal.actor}"))))
        unfinished = await conn.scalar(
            sa.select(sa.func.count()).where(_owned_by(scope), bulk_exports.c.status.in_([PENDING, RUNNING]))
        )
        if (unfinished or 0) >= MOST_UNFINISHED:
            raise TooManyExports(
                f"you have {MOST_UNFINISHED} exports still running; wait for one to finish before starting another"
            )
        created = await conn.execute(
            bulk_exports.insert()
            .values(
                id=uuid.uuid4(),
                kind=kind,
                owner_audience=principal.audience.value,
                owner_scope=principal.scope,
                owner_subject=principal.subject,
                sharing_now=sorted(scope.sharing_now),
                status=PENDING,
                row_count=0,
                created_at=sa.func.now(),
            )
            .returning(*bulk_exports.c)
        )
        return created.one()


async def find(engine: AsyncEngine, scope: policy.Scope, export_id: str) -> Any | None:
    """The caller's export, or None (missing, expired, or not the caller's)."""
    scope.exports()
    try:
        wanted = _id(export_id)
    except NoSuchExport:
        return None
    async with engine.connect() as conn:
        found = await conn.execute(sa.select(bulk_exports).where(bulk_exports.c.id == wanted, _owned_by(scope)))
        return found.first()


async def lines(
    engine: AsyncEngine, scope: policy.Scope, export_id: str, page_size: int = 1000
) -> AsyncIterator[bytes]:
    """The caller's ready export as JSON Lines, of the factories the caller may read now.

    Raises NoSuchExport or NotReady before the first line, so the answer's status can say so."""
    export = await find(engine, scope, export_id)
    if export is None:
        raise NoSuchExport(export_id)
    if export.status != READY:
        raise NotReady(export.status)
    readable = scope.factory(bulk_export_lines.c.factory_id)

    async def stream() -> AsyncIterator[bytes]:
        after = -1
        while True:
            async with engine.connect() as conn:
                rows = list(
                    await conn.execute(
                        sa.select(bulk_export_lines.c.line, bulk_export_lines.c.body)
                        .where(bulk_export_lines.c.export_id == export.id, bulk_export_lines.c.line > after, readable)
                        .order_by(bulk_export_lines.c.line)
                        .limit(page_size)
                    )
                )
            if not rows:
                return
            yield "".join(f"{row.body}\n" for row in rows).encode()
            after = rows[-1].line

    return stream()


async def download(engine: AsyncEngine, scope: policy.Scope, export_id: str) -> StreamingResponse:
    """The HTTP answer of a download: the lines, or why not (401 and 503 come before, with the scope)."""
    try:
        stream = await lines(engine, scope, export_id)
    except policy.AccessDenied as error:
        raise HTTPException(403, str(error)) from None
    disposition = {"Content-Disposition": f'attachment; filename="bulk-export-{_id(export_id)}.jsonl"'}
    return StreamingResponse(stream, media_type="application/jsonl", headers=disposition)


class Exporter:
    """Writes pending exports, one at a time, and forgets expired ones (a background task)."""

    def __init__(
        self,
        engine: AsyncEngine,
        kinds: Mapping[str, Kind],
        *,
        lifetime: dt.timedelta,
        page_size: int = 500,
        poll_seconds: float = 0.5,
        stale_after: dt.timedelta = dt.timedelta(minutes=2),
    ) -> None:
        self.engine = engine
        self.kinds = kinds
        self.lifetime = lifetime
        self.page_size = page_size
        self.poll_seconds = poll_seconds
        self.stale_after = stale_after

    async def run(self) -> None:
        db = own_engine(self.engine, "bw-exports")  # never waits behind the API's requests, nor they behind it
        try:
            while True:
                claimed = await self._claim(db)
                if claimed is None:
                    await self._forget_expired(db)
                    await asyncio.sleep(self.poll_seconds)
                    continue
                await self._write(db, claimed)
        finally:
            await db.dispose()

    async def _claim(self, db: AsyncEngine) -> Any | None:
        waiting = (
            sa.select(bulk_exports.c.id)
            .where(
                sa.or_(
                    bulk_exports.c.status == PENDING,
                    sa.and_(
                        bulk_exports.c.status == RUNNING,
                        bulk_exports.c.claimed_at < sa.func.now() - sa.literal(self.stale_after),
                    ),
                )
            )
            .order_by(bulk_exports.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with db.begin() as conn:
            claimed = await conn.execute(
                bulk_exports.update()
                .where(bulk_exports.c.id == waiting)
                .values(status=RUNNING, claimed_at=sa.func.now(), row_count=0)
                .returning(*bulk_exports.c)
            )
            export = claimed.first()
            if export is not None:  # claimed again after its replica died: written anew
                await conn.execute(bulk_export_lines.delete().where(bulk_export_lines.c.export_id == export.id))
            return export

    async def _write(self, db: AsyncEngine, export: Any) -> None:
        try:
            kind = self.kinds[export.kind]
            scope = policy.Scope(
                Principal(export.owner_subject, Audience(export.owner_audience), export.owner_scope),
                frozenset(export.sharing_now),
            )
            query = kind.rows(scope)
            request = PageRequest(self.page_size, None)
            written = 0
            while True:
                found = await page(db, query, kind.order, request)
                async with db.begin() as conn:
                    if found.rows:
                        await conn.execute(
                            bulk_export_lines.insert(),
                            [
                                {
                                    "export_id": export.id,
                                    "line": written + n,
                                    "factory_id": kind.factory_of(row),
                                    "body": json.dumps(kind.line(row), ensure_ascii=False, separators=(",", ":")),
                                }
                                for n, row in enumerate(found.rows)
                            ],
                        )
                    written += len(found.rows)
                    done = not found.has_next_page
                    await conn.execute(
                        bulk_exports.update()
                        .where(bulk_exports.c.id == export.id)
                        .values(
                            row_count=written,
                            claimed_at=sa.func.now(),
                            **({"status": READY, **self._finished()} if done else {}),
                        )
                    )
                if done:
                    return
                request = PageRequest(self.page_size, decode_cursor(found.cursors[-1]))
        except Exception as error:
            if is_transient(error):
                raise  # the database, not the export: claimed again once stale, by this replica or another
            log.exception("bulk export %s failed", export.id)
            async with db.begin() as conn:
                await conn.execute(
                    bulk_exports.update()
                    .where(bulk_exports.c.id == export.id)
                    .values(status=FAILED, **self._finished())
                )

    def _finished(self) -> dict[str, Any]:
        return {"completed_at": sa.func.now(), "expires_at": sa.func.now() + sa.literal(self.lifetime)}

    async def _forget_expired(self, db: AsyncEngine) -> None:
        async with db.begin() as conn:
            expired = await conn.execute(
                bulk_exports.delete().where(bulk_exports.c.expires_at <= sa.func.now()).returning(bulk_exports.c.id)
            )
            if expired.first() is not None:  # their lines go with them (ON DELETE CASCADE)
                log.info("forgot expired bulk exports")
