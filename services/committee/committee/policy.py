"""Who may do what with committees and advisory plans: decided here, and only here.

Programme staff establish committees and manage them entirely, and run advisory services: plans,
visits, commitments and their follow-up. A factory's own users record their committee's meetings
and action items, read their committee and their advisory plans and visits, and confirm or
comment on the record of a visit (their voice, which programme staff cannot give for them).
Brands and governments neither write nor read here: they are refused before anything is looked
up (governments see country aggregates, and brands what consenting suppliers share, through the
gateway).
"""

from __future__ import annotations

from betterwork_events.auth import Audience, Principal, forbidden


def _own_factory(principal: Principal, factory_id: str) -> bool:
    return principal.audience is Audience.FACTORY and principal.scope == factory_id


def may_reach(principal: Principal, what: str = "its committee") -> None:
    """Brands and governments: 403 before any committee or plan is looked up, so that whether it
    exists is not theirs to learn either."""
    if principal.audience not in (Audience.PROGRAMME, Audience.FACTORY):
        raise forbidden(f"only programme staff and the factory's own users may read or record {what}")


def may_manage(principal: Principal, what: str) -> None:
    """Establish, elect, appoint, replace, dissolve; plan, hold and follow up advisory visits:
    programme staff only."""
    if principal.audience is not Audience.PROGRAMME:
        raise forbidden(f"only programme staff may {what}")


def may_record_meetings(principal: Principal, factory_id: str, what: str) -> None:
    """Meetings and action items: programme staff, or the factory's own users for its own committee."""
    if principal.audience is Audience.PROGRAMME or _own_factory(principal, factory_id):
        return
    raise forbidden(f"only programme staff and the factory's own users may {what}")


def may_read(principal: Principal, factory_id: str, what: str = "its committee") -> None:
    if principal.audience is Audience.PROGRAMME or _own_factory(principal, factory_id):
        return
    raise forbidden(f"only programme staff and the factory's own users may read {what}")


def may_answer_for(principal: Principal, factory_id: str, what: str) -> None:
    """The factory's word on a visit's record: its own users only."""
    if not _own_factory(principal, factory_id):
        raise forbidden(f"only the factory's own users may {what}")
