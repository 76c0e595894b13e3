"""What each caller may read through the gateway, decided in the query itself.

Every read of the read models goes through these functions, so a brand can only ever reach its
consenting suppliers and a government only aggregates, whatever the GraphQL query asks for.
"""

from __future__ import annotations

import sqlalchemy as sa
from betterwork_events.auth import Audience, Principal

from gateway.read_model import consents, factories, supplier_links

# Aggregates over fewer factories than this are withheld: with two or three factories in a
# cell, a "country statistic" identifies the factories.
SMALLEST_CELL = 5


class AccessDenied(Exception):
    pass


def readable_factories(principal: Principal | None) -> sa.ColumnElement[bool]:
    """The factories whose individual records this caller may read."""
    if principal is None:
        raise AccessDenied("a bearer token is required")
    match principal.audience:
        case Audience.PROGRAMME:
            return sa.true()
        case Audience.FACTORY:
            return factories.c.id == principal.scope
        case Audience.BRAND:
            # Linked as a buyer AND consenting to share reports, both as of this read.
            linked = sa.exists().where(
                supplier_links.c.factory_id == factories.c.id, supplier_links.c.brand_id == principal.scope
            )
            consenting = sa.exists().where(
                consents.c.factory_id == factories.c.id, consents.c.brand_id == principal.scope
            )
            return sa.and_(linked, consenting)
        case Audience.GOVERNMENT:
            raise AccessDenied("government users see country aggregates only, not individual factories")
    raise AccessDenied(f"unknown audience {principal.audience}")


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
