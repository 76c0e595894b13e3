"""What each caller may read through the gateway, decided in the query itself.

Every read of the read models goes through these functions, so a brand can only ever reach its
consenting suppliers and a government only aggregates, whatever the GraphQL query asks for.
The brand feeds (brand_feeds.py) decide who receives an event with the same rule,
`brand_reads_factory`, as the GraphQL queries of brands.
"""

from __future__ import annotations

import sqlalchemy as sa
from betterwork_events import brand_feed
from betterwork_events.auth import Audience, Principal
from betterwork_events.catalogue import EventContract

from gateway.read_model import consents, factories, supplier_links

# Aggregates over fewer factories than this are withheld: with two or three factories in a
# cell, a "country statistic" identifies the factories.
SMALLEST_CELL = 5
# Worker counts in aggregates are rounded to 10**this (to the hundred).
WORKERS_ROUNDED_TO_DIGITS = 2


class AccessDenied(Exception):
    pass


def readable_factories(
    principal: Principal | None, sharing_now: frozenset[str] = frozenset()
) -> sa.ColumnElement[bool]:
    """The factories whose individual records this caller may read.

    For a brand, `sharing_now` is what the registry says shares reports with it at this moment:
    the read model may not have caught up with a revocation yet, and both must agree."""
    if principal is None:
        raise AccessDenied("a bearer token is required")
    match principal.audience:
        case Audience.PROGRAMME:
            return sa.true()
        case Audience.FACTORY:
            return factories.c.id == principal.scope
        case Audience.BRAND:
            return sa.and_(
                brand_reads_factory(principal.scope, factories.c.id), factories.c.id.in_(sorted(sharing_now))
            )
        case Audience.GOVERNMENT:
            raise AccessDenied("government users see country aggregates only, not individual factories")
    raise AccessDenied(f"unknown audience {principal.audience}")


def brand_reads_factory(
    brand_id: str | sa.ColumnElement[str] | None, factory_id: str | sa.ColumnElement[str]
) -> sa.ColumnElement[bool]:
    """THE rule for brands: a brand reads a factory's reports while it is linked to the factory as a
    buyer AND the factory consents to share its reports with it, both as of this read."""
    links, granted = supplier_links.alias("brand_link"), consents.alias("brand_consent")
    linked = sa.exists().where(links.c.factory_id == factory_id, links.c.brand_id == brand_id)
    consenting = sa.exists().where(granted.c.factory_id == factory_id, granted.c.brand_id == brand_id)
    return sa.and_(linked, consenting)


def brands_reading_factory(factory_id: str) -> sa.Select[str]:
    """The brands that may read this factory's reports now."""
    return (
        sa.select(supplier_links.c.brand_id)
        .where(supplier_links.c.factory_id == factory_id, brand_reads_factory(supplier_links.c.brand_id, factory_id))
        .order_by(supplier_links.c.brand_id)
    )


def brand_feed_recipients(event: EventContract) -> sa.Select[str]:
    """The brands whose feed carries this event, as of this read.

    Published assessment data goes to the brands that may read the factory's reports; a brand's
    link to a factory, and the factory's consent, only to that brand. Any other event (before a
    report is published, planned dates, findings, reviews, other brands' business) to nobody.
    """
    if isinstance(event, brand_feed.ASSESSMENT_CONTRACTS):
        return brands_reading_factory(event.factory_id)
    if isinstance(event, brand_feed.RELATIONSHIP_CONTRACTS):
        return sa.select(sa.literal(event.brand_id, sa.Text).label("brand_id"))
    return sa.select(sa.literal(None, sa.Text).label("brand_id")).where(sa.false())


def readable_country_aggregates(principal: Principal | None, country: str) -> None:
    """Country aggregates: the programme everywhere, a government for its own country."""
    if principal is None:
        raise AccessDenied("a bearer token is required")
    if principal.audience is Audience.PROGRAMME:
        return
    if principal.audience is Audience.GOVERNMENT and principal.scope == country:
        return
    if principal.audience is Audience.GOVERNMENT:
        raise AccessDenied(f"government users of {principal.scope} see only {principal.scope}'s aggregates")
    raise AccessDenied("country aggregates are for the programme and governments")
