"""What each caller may read through the gateway, decided in the query itself.

Every read of the read models goes through these functions, so a brand can only ever reach its
consenting suppliers and a government only aggregates, whatever the GraphQL query asks for.
"""

from __future__ import annotations

import sqlalchemy as sa
from betterwork_events.auth import Audience, Principal

from gateway.read_model import factories


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
            # A brand reads only suppliers that are linked to it AND consent to share; supplier
            # links and consent are not projected yet, so no factory qualifies.
            return sa.false()
        case Audience.GOVERNMENT:
            raise AccessDenied("government users see country aggregates only, not individual factories")
    raise AccessDenied(f"unknown audience {principal.audience}")
