"""Keyset pagination of read-model queries: pages in a stable order, cursors that survive inserts.

A cursor is the sort key of the row it points at, so "the next page after this row" stays right
however many rows are inserted before it meanwhile (an OFFSET would skip or repeat rows).
Nothing here knows GraphQL: graphql/relay.py turns a `Page` into a connection.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gateway.read_models.snapshot import Reader

# The most rows one list answers at once, and what it answers when the caller does not say.
MOST_PER_PAGE = 100
DEFAULT_PER_PAGE = 20


class BadPage(ValueError):
    """The caller asked for a page that cannot be given (a bad cursor, a size out of bounds)."""


@dataclass(frozen=True)
class Order:
    """A stable sort: columns whose values together are unique per row, all ascending or all descending."""

    columns: tuple[sa.ColumnElement[Any], ...]
    descending: bool = False

    def clauses(self) -> list[sa.ColumnElement[Any]]:
        return [c.desc() if self.descending else c.asc() for c in self.columns]

    def after(self, key: Sequence[Any]) -> sa.ColumnElement[bool]:
        position = sa.tuple_(*self.columns)
        values = sa.tuple_(*[_bound(v, c) for v, c in zip(key, self.columns, strict=True)])
        return position < values if self.descending else position > values


def _bound(value: Any, column: sa.ColumnElement[Any]) -> sa.BindParameter[Any]:
    """A cursor's value as its column's type: JSON gives dates and times back as ISO text."""
    kind = {sa.Date: dt.date, sa.DateTime: dt.datetime}.get(type(column.type))
    if kind is not None and isinstance(value, str):
        try:
            value = kind.fromisoformat(value)
        except ValueError:
            raise BadPage("the cursor is not one this list gave") from None
    return sa.literal(value, column.type)


@dataclass(frozen=True)
class PageRequest:
    first: int
    after: tuple[Any, ...] | None

    @classmethod
    def of(cls, first: int | None, after: str | None) -> PageRequest:
        size = DEFAULT_PER_PAGE if first is None else first
        if not 0 <= size <= MOST_PER_PAGE:
            raise BadPage(f"first must be between 0 and {MOST_PER_PAGE}, not {size}")
        return cls(size, decode_cursor(after) if after is not None else None)


@dataclass
class Page:
    rows: list[Any]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    count: Callable[[], Awaitable[int]]  # totalCount is a query of its own: run only if asked


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), default=str).encode()).decode()


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise BadPage(f"{cursor[:40]!r} is not a cursor this list gave") from None
    if not isinstance(key, list):
        raise BadPage(f"{cursor[:40]!r} is not a cursor this list gave")
    return tuple(key)


def _key(row: Any, order: Order) -> list[Any]:
    return [row._mapping[c.name] for c in order.columns]


def _check(key: tuple[Any, ...], order: Order) -> tuple[Any, ...]:
    if len(key) != len(order.columns):
        raise BadPage("the cursor is not one this list gave")
    return key


async def page(engine: Reader, query: sa.Select[Any], order: Order, request: PageRequest) -> Page:
    """One page of a top-level list: the rows after the cursor, one more to know if there is a next page."""
    bounded = query
    if request.after is not None:
        bounded = bounded.where(order.after(_check(request.after, order)))
    async with engine.connect() as conn:
        rows = list(await conn.execute(bounded.order_by(*order.clauses()).limit(request.first + 1)))

    async def count() -> int:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)

    shown = rows[: request.first]
    return Page(
        rows=shown,
        cursors=[encode_cursor(_key(r, order)) for r in shown],
        has_next_page=len(rows) > request.first,
        has_previous_page=request.after is not None,
        count=count,
    )


async def pages_per_parent(
    engine: Reader,
    query: sa.Select[Any],
    parent: sa.ColumnElement[Hashable],
    parents: Sequence[Hashable],
    order: Order,
    request: PageRequest,
) -> list[Page]:
    """The same page of a nested list for many parents (a DataLoader's batch) in one query.

    `query` selects the rows of all parents; `parent` is its column naming each row's parent."""
    within = query.where(parent.in_(list(parents))).add_columns(
        sa.func.count().over(partition_by=parent).label("page_total"), parent.label("page_parent")
    )
    inner = within.subquery()
    columns = [inner.c[c.name] for c in order.columns]
    inner_order = Order(tuple(columns), order.descending)
    ranked = sa.select(
        inner,
        sa.func.row_number().over(partition_by=inner.c.page_parent, order_by=inner_order.clauses()).label("page_rank"),
    )
    if request.after is not None:
        ranked = ranked.where(inner_order.after(_check(request.after, order)))
    ranks = ranked.subquery()
    final = (
        sa.select(ranks).where(ranks.c.page_rank <= request.first + 1).order_by(ranks.c.page_parent, ranks.c.page_rank)
    )
    async with engine.connect() as conn:
        rows = list(await conn.execute(final))
    grouped: dict[Hashable, list[Any]] = {p: [] for p in parents}
    totals: dict[Hashable, int] = {}
    for row in rows:
        grouped[row.page_parent].append(row)
        totals[row.page_parent] = row.page_total
    result = []
    for p in parents:
        found = grouped[p]
        shown = found[: request.first]
        result.append(
            Page(
                rows=shown,
                cursors=[encode_cursor(_key(r, inner_order)) for r in shown],
                has_next_page=len(found) > request.first,
                has_previous_page=request.after is not None,
                count=_known(totals.get(p, 0)),
            )
        )
    return result


def _known(value: int) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return value

    return count
