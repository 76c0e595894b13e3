"""Who may do what in the factory registry: decided here, and only here, as FastAPI dependencies.

Programme staff read every factory and brand. They register and update the factories of the
countries their team covers (any role); a country manager of the country decides its enrollment,
merges its duplicate records, links its suppliers and revokes a consent; the global brand
catalogue is the administrators'. A factory's own users read their record and history, update
their profile and decide which linked brands read their reports. A brand reads its own record and
which suppliers share with it. Governments read country aggregates through the gateway, not here.

What a hidden resource answers: an id the caller may not read answers exactly as a missing one
(404, the same body), unless the caller's audience may never read that kind of resource at all:
then 403 before anything is looked up, so whether it exists is not theirs to learn either. A
country team's 403 for another country's factory says why: programme staff read every factory,
so its existence hides nothing.
"""

from __future__ import annotations

from typing import Annotated

from betterwork_events.auth import Audience, CurrentPrincipal, Principal, Role
from betterwork_events.errors import Forbidden, NotFound
from fastapi import Depends, Request

from factory_registry import directory, handlers


def _missing_factory(factory_id: str) -> NotFound:
    return NotFound(f"no factory {factory_id}")  # what handlers.load_factory says of a missing one


def _own_factory(principal: Principal, factory_id: str) -> bool:
    return principal.audience is Audience.FACTORY and principal.scope == factory_id


def _reaches_factories(principal: Principal) -> None:
    if principal.audience not in (Audience.PROGRAMME, Audience.FACTORY):
        raise Forbidden("only programme staff and a factory's own users read or change factory records here")


async def _country_of(request: Request, factory_id: str) -> str:
    async with request.app.state.store.engine.connect() as conn:
        country = await directory.country_of(conn, factory_id)
    if country is None:
        raise _missing_factory(factory_id)
    return country


def _covers(principal: Principal, country: str, what: str) -> None:
    if not principal.covers(country):
        raise Forbidden(f"the {principal.scope} country team may not {what} in {country}")


async def readable_factory(factory_id: str, principal: CurrentPrincipal, request: Request) -> str:
    """The id `factory_id` is read as: itself, or the factory it was merged into."""
    _reaches_factories(principal)
    resolved = await handlers.resolve_factory_id(request.app.state.store, factory_id)
    if principal.audience is Audience.FACTORY and principal.scope != resolved:
        raise _missing_factory(factory_id)
    return resolved


ReadableFactory = Annotated[str, Depends(readable_factory)]


def may_register_in(principal: Principal, countries: set[str]) -> None:
    """Registering factories (one by one or imported): a team covering each of their countries."""
    for country in sorted(countries):
        _covers(principal, country, "register factories")


def registrar(principal: CurrentPrincipal) -> Principal:
    """Before the body's countries are known: programme staff only."""
    if principal.audience is not Audience.PROGRAMME:
        raise Forbidden("only programme staff may register factories")
    return principal


Registrar = Annotated[Principal, Depends(registrar)]


async def profile_editor(factory_id: str, principal: CurrentPrincipal, request: Request) -> Principal:
    """Updating a profile: programme staff of a team covering its country, or the factory's own users."""
    _reaches_factories(principal)
    if principal.audience is Audience.FACTORY:
        if not _own_factory(principal, factory_id):
            raise _missing_factory(factory_id)
        return principal
    _covers(principal, await _country_of(request, factory_id), "update factories")
    return principal


ProfileEditor = Annotated[Principal, Depends(profile_editor)]


async def country_manager(factory_id: str, principal: CurrentPrincipal, request: Request) -> Principal:
    """Enrollment decisions, merges and supplier links: a country manager of the factory's country.
    Refused by role before the factory is looked up; by country after (it exists for all staff).
    A merge's surviving record is of the same country, or the domain refuses the merge."""
    if principal.audience is not Audience.PROGRAMME:
        raise Forbidden("only programme staff (a country manager) may decide enrollment, merges and supplier links")
    if not principal.acts_as(Role.COUNTRY_MANAGER):
        raise Forbidden(
            f"programme staff in the role {principal.role} may not decide enrollment, merges or supplier links"
        )
    _covers(principal, await _country_of(request, factory_id), "decide on factories")
    return principal


CountryManager = Annotated[Principal, Depends(country_manager)]


async def consenting_factory(factory_id: str, principal: CurrentPrincipal) -> Principal:
    """Granting consent: the factory's own decision to share, its users' only."""
    if principal.audience is not Audience.FACTORY:
        raise Forbidden("only the factory's own users may consent to share its reports")
    if not _own_factory(principal, factory_id):
        raise _missing_factory(factory_id)
    return principal


ConsentingFactory = Annotated[Principal, Depends(consenting_factory)]


async def consent_revoker(factory_id: str, principal: CurrentPrincipal, request: Request) -> Principal:
    """Revoking consent (which only narrows access): the factory's own users, or its country manager."""
    if principal.audience is Audience.FACTORY:
        if not _own_factory(principal, factory_id):
            raise _missing_factory(factory_id)
        return principal
    return await country_manager(factory_id, principal, request)


ConsentRevoker = Annotated[Principal, Depends(consent_revoker)]


def brand_reader(brand_id: str, principal: CurrentPrincipal) -> Principal:
    """A brand's record and report sharing: programme staff, or the brand itself (another brand's
    id is missing to it)."""
    if principal.audience is Audience.BRAND:
        if principal.scope != brand_id:
            raise NotFound(f"no brand {brand_id}")  # what handlers.load_brand says of a missing one
        return principal
    if principal.audience is not Audience.PROGRAMME:
        raise Forbidden("only programme staff and the brand itself read a brand's record")
    return principal


BrandReader = Annotated[Principal, Depends(brand_reader)]


def administrator(principal: CurrentPrincipal) -> Principal:
    """The brand catalogue is global: the programme's administrators keep it."""
    if not principal.acts_as():
        raise Forbidden("only a programme administrator may register brands or change their partnership")
    return principal


Administrator = Annotated[Principal, Depends(administrator)]
