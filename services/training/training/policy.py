"""Who may do what with training sessions: the one place it is decided.

Programme staff manage sessions and read them all. A factory's users read the sessions their
factory takes part in, and of a session shared with other factories only their own people and
numbers. Brands and governments read training through the gateway, not here.
"""

from __future__ import annotations

from betterwork_events.auth import Audience, Principal, forbidden

from training.domain import Participant, TrainingSession

EVERY_FACTORY = None


def may_manage_training(principal: Principal, what: str) -> None:
    if principal.audience is not Audience.PROGRAMME:
        raise forbidden(f"only programme staff may {what}")


def readable_factories(principal: Principal) -> frozenset[str] | None:
    """The factories whose sessions the caller may read; None for every factory."""
    if principal.audience is Audience.PROGRAMME:
        return EVERY_FACTORY
    if principal.audience is Audience.FACTORY and principal.scope:
        return frozenset({principal.scope})
    raise forbidden("only programme staff and the users of a session's factories read training sessions")


def may_read(principal: Principal, session: TrainingSession) -> bool:
    readable = readable_factories(principal)
    return readable is EVERY_FACTORY or bool(readable & set(session.factory_ids))


def sees_factory(principal: Principal, factory_id: str) -> bool:
    readable = readable_factories(principal)
    return readable is EVERY_FACTORY or factory_id in readable


def visible_participants(principal: Principal, session: TrainingSession) -> list[Participant]:
    return [p for p in session.participants.values() if sees_factory(principal, p.factory_id)]


def sees_whole_session(principal: Principal) -> bool:
    """Whether totals over every factory may be shown: from them one factory could work out another's."""
    return readable_factories(principal) is EVERY_FACTORY
