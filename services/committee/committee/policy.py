"""Who may do what with committees and advisory plans: decided here, and only here, as FastAPI
dependencies that raise `Forbidden` (403) or `NotFound` (404) (mapped once, in web.py).

- Country managers establish and dissolve committees and record their elections and
  appointments, and sign off advisory plans (agreeing one, the visits it promises, its advisor).
- Assessors (and country managers) support a committee's meetings and action items and run
  advisory visits: priorities, planning, recording, cancelling. Every programme role reads.
- A country team's staff (a programme token scoped to a country) touch only their country's
  factories (403 for another's); the global programme's every one. Administrators do everything.
- A factory's own users record their committee's meetings and action items, read their committee
  and their advisory plans, and confirm or comment on the record of a visit (their voice, which
  programme staff cannot give for them).
- Brands and governments neither write nor read here, and a caller whose audience or role may
  never do a thing is refused (403) before anything is looked up. Otherwise a committee, plan or
  factory out of the caller's reach answers exactly as one that does not exist (404, same body).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from betterwork_events.auth import Audience, CurrentPrincipal, Principal, Role
from betterwork_events.errors import Forbidden, NotFound
from betterwork_events.factories import unknown_factory
from fastapi import Depends, Request

from committee.directory import Entry, Kind
from committee.handlers import Service

ALL_STAFF = (Role.ASSESSOR, Role.QUALITY_REVIEWER, Role.COUNTRY_MANAGER)


def service(request: Request) -> Service:
    return request.app.state.committees


Committees = Annotated[Service, Depends(service)]


@dataclass(frozen=True)
class Rule:
    what: str  # "record elections": for the 403's words
    staff: tuple[Role, ...] = ()  # the programme roles who may (an administrator always may)
    factory: bool = False  # whether the factory's own users may, for their own factory

    def before_lookup(self, principal: Principal) -> None:
        """403 for a caller whose audience or role may never do this, whatever the resource."""
        if principal.audience is Audience.PROGRAMME:
            allowed = bool(self.staff) and principal.acts_as(*self.staff)
        else:
            allowed = principal.audience is Audience.FACTORY and self.factory
        if not allowed:
            raise Forbidden(f"only {self._who()} may {self.what}")

    def _who(self) -> str:
        staff = f"programme staff ({' or '.join(self.staff)})" if self.staff else ""
        factory = "the factory's own users" if self.factory else ""
        return " and ".join(who for who in (staff, factory) if who)

    def within_reach(self, principal: Principal, factory_id: str, country: str, missing: NotFound) -> None:
        if principal.audience is Audience.PROGRAMME and not principal.covers(country):
            raise Forbidden(f"the {principal.scope} country team may not {self.what} of factories in {country}")
        if principal.audience is Audience.FACTORY and principal.scope != factory_id:
            raise missing


READ = Rule("read committees and advisory plans", ALL_STAFF, factory=True)
MANAGE = Rule("manage committees (establish, elect, appoint, dissolve)", (Role.COUNTRY_MANAGER,))
MEETINGS = Rule("record a committee's meetings and action items", (Role.ASSESSOR, Role.COUNTRY_MANAGER), factory=True)
ADVISE = Rule("run advisory visits", (Role.ASSESSOR, Role.COUNTRY_MANAGER))
SIGN_OFF = Rule("sign off advisory plans", (Role.COUNTRY_MANAGER,))
FACTORY_VOICE = Rule("answer for the factory on the record of its advisory visits", factory=True)


def _located(kind: Kind, what: str, rule: Rule) -> Callable[[str, Principal, Service], Awaitable[Entry]]:
    async def located(aggregate_id: str, principal: Principal, committees: Service) -> Entry:
        rule.before_lookup(principal)
        missing = NotFound(f"no {what} {aggregate_id}")
        entry = await committees.directory.entry(aggregate_id, kind)
        if entry is None:
            raise missing
        rule.within_reach(principal, entry.factory_id, entry.country, missing)
        return entry

    return located


def committee(rule: Rule) -> Callable[..., Awaitable[Entry]]:
    locate = _located(Kind.COMMITTEE, "committee", rule)

    async def dependency(committee_id: str, principal: CurrentPrincipal, committees: Committees) -> Entry:
        return await locate(committee_id, principal, committees)

    return dependency


def plan(rule: Rule) -> Callable[..., Awaitable[Entry]]:
    locate = _located(Kind.ADVISORY_PLAN, "advisory plan", rule)

    async def dependency(plan_id: str, principal: CurrentPrincipal, committees: Committees) -> Entry:
        return await locate(plan_id, principal, committees)

    return dependency


async def may_work_with(rule: Rule, principal: Principal, committees: Service, factory_id: str) -> str:
    """The factory a command or read names, once the caller may reach it: its id."""
    rule.before_lookup(principal)
    missing = unknown_factory(factory_id)
    if principal.audience is Audience.FACTORY and principal.scope != factory_id:
        raise missing
    if principal.audience is Audience.PROGRAMME and principal.scope is not None:
        factory = await committees.factories(factory_id)
        rule.within_reach(principal, factory.id, factory.country, missing)
    return factory_id


async def readable_factory(factory_id: str, principal: CurrentPrincipal, committees: Committees) -> str:
    return await may_work_with(READ, principal, committees, factory_id)


ReadableCommittee = Annotated[Entry, Depends(committee(READ))]
ManagedCommittee = Annotated[Entry, Depends(committee(MANAGE))]
MeetingsOf = Annotated[Entry, Depends(committee(MEETINGS))]
ReadablePlan = Annotated[Entry, Depends(plan(READ))]
AdvisedPlan = Annotated[Entry, Depends(plan(ADVISE))]
SignedOffPlan = Annotated[Entry, Depends(plan(SIGN_OFF))]
AnsweredPlan = Annotated[Entry, Depends(plan(FACTORY_VOICE))]
ReadableFactory = Annotated[str, Depends(readable_factory)]
