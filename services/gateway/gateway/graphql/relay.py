"""Relay cursor connections and the Node interface, the way GitHub's and Shopify's APIs do them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from gateway.read_models import pages
from gateway.read_models.pages import Page

T = TypeVar("T")

FIRST = strawberry.argument(
    description=f"How many to return, at most {pages.MOST_PER_PAGE} (default {pages.DEFAULT_PER_PAGE})"
)
AFTER = strawberry.argument(description="The endCursor of the previous page")


@strawberry.interface(description="An object with an opaque global id, to be found again with `node(id:)`")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque and global: not the programme's id of the record")


@strawberry.type(description="Where a page stands in its list")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list, in a stable order")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The nodes of the page, without their cursors")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many there are in the whole list, across all pages")
    async def total_count(self) -> int:
        return await self._count()


def connection(page: Page, node: Callable[[Any], T]) -> Connection[T]:
    edges = [Edge(cursor=c, node=node(row)) for row, c in zip(page.rows, page.cursors, strict=True)]
    info = PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=page.cursors[0] if page.cursors else None,
        end_cursor=page.cursors[-1] if page.cursors else None,
    )
    return Connection(edges=edges, page_info=info, _count=page.count)


# --- global ids ---------------------------------------------------------------------------------


def global_id(type_name: str, record_id: str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{record_id}".encode()).decode())


def from_global_id(value: str) -> tuple[str, str] | None:
    """(type name, record id), or None if `value` is not a global id this API gave."""
    try:
        decoded = base64.urlsafe_b64decode(value.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, record_id = decoded.partition(":")
    if not sep or not type_name.isidentifier() or not record_id:
        return None
    return type_name, record_id
