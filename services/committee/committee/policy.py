"""Who may do what with committees: decided here, and only here.

Programme staff establish committees and manage them entirely. A factory's own users record
their committee's meetings and action items, and read their committee. Brands and governments
neither write nor read here (governments see country aggregates through the gateway).
"""

from __future__ import annotations

from betterwork_events.auth import Audience, Principal, forbidden


def _own_factory(principal: Principal, factory_id: str) -> bool:
    return principal.audience is Audience.FACTORY and principal.scope == factory_id


def may_reach_committees(principal: Principal) -> None:
    """Brands and governments: 403 before any committee is looked up, so that whether it exists is
    not theirs to learn either."""
    if principal.audience not in (Audience.PROGRAMME, Audience.FACTORY):
        raise forbidden("only programme staff and the factory's own users may read or record its committee")


def may_manage(principal: Principal, what: str) -> None:
    """Establish, elect, appoint, replace, dissolve: programme staff only."""
    if principal.audience is not Audience.PROGRAMME:
        raise forbidden(f"only programme staff may {what}")


def may_record_meetings(principal: Principal, factory_id: str, what: str) -> None:
    """Meetings and action items: programme staff, or the factory's own users for its own committee."""
    if principal.audience is Audience.PROGRAMME or _own_factory(principal, factory_id):
        return
    raise forbidden(f"only programme staff and the factory's own users may {what}")


def may_read(principal: Principal, factory_id: str) -> None:
    if principal.audience is Audience.PROGRAMME or _own_factory(principal, factory_id):
        return
    raise forbidden("only programme staff and the factory's own users may read its committee")
