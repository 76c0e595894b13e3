"""REST commands of the factory registry. Routes validate, authorize, call a handler: no more.

Who may do what is decided in policy.py (each route names its rule as a dependency). Every change
of an existing factory or brand requires If-Match with the ETag the caller read (428 without it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from betterwork_events.auth import CurrentPrincipal, Principal, TokenFirstRoute
from betterwork_events.contracts.factory_registry import (
    BrandKind,
    Contact,
    CountryCode,
    EnrollmentStatus,
    FactoryAlias,
    FactoryProfile,
    GeoPoint,
    Ownership,
    PartnershipStatus,
    RegistrationNumber,
    Sector,
    ServicePackage,
    Workforce,
)
from betterwork_events.countries import COUNTRY_PROGRAMMES, CountryProgramme
from betterwork_events.errors import InvalidRequest
from betterwork_events.history import Change
from betterwork_events.store import EventStore
from betterwork_events.web import Command, IdempotencyKey, Problem, ReadVersion, command_context
from fastapi import APIRouter, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from factory_registry import handlers, importer, policy
from factory_registry.domain import Brand, Factory, FactoryEvent

router = APIRouter(route_class=TokenFirstRoute)

Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Decision = Callable[[Factory], list[FactoryEvent]]
# What every change of an existing factory or brand answers without If-Match (ReadVersion).
IF_MATCH_REQUIRED: dict[int | str, dict[str, Any]] = {
    428: {
        "model": Problem,
        "description": "If-Match is missing: a record is changed only by who read its latest version",
    }
}


class RegisterFactoryRequest(FactoryProfile):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    confirmed_new: bool = Field(
        default=False, description="Register even though likely duplicates exist (after checking the candidates)"
    )

    def profile(self) -> FactoryProfile:
        return FactoryProfile.model_validate(self.model_dump(exclude={"confirmed_new"}))


class UpdateProfileRequest(Command):
    """The fields to change; fields left out stay as they are (country cannot change)."""

    name: str | None = Field(default=None, min_length=1, max_length=300)
    local_name: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, min_length=1, max_length=1000)
    location: GeoPoint | None = None
    sector: Sector | None = None
    products: tuple[str, ...] | None = None
    workforce: Workforce | None = None
    ownership: Ownership | None = None
    registration_numbers: tuple[RegistrationNumber, ...] | None = None
    contacts: tuple[Contact, ...] | None = None


class EnrollRequest(Command):
    service_package: ServicePackage
    enrolled_on: dt.date


class ReasonRequest(Command):
    reason: Reason


class LinkBrandRequest(Command):
    brand_id: str = Field(pattern=r"^BR-\d{4,}$", examples=["BR-0001"])
    since: dt.date


class MergeRequest(Command):
    into: str = Field(description="The id of the factory record that survives")
    reason: Reason


class FactoryView(BaseModel):
    id: str
    profile: FactoryProfile
    enrollment: EnrollmentStatus | None
    service_package: ServicePackage | None
    enrolled_on: dt.date | None
    brand_links: dict[str, dt.date] = Field(description="brand id → supplier since")
    consenting_brands: list[str] = Field(description="brands the factory lets read its assessment reports")
    aliases: list[FactoryAlias] = Field(description="records merged into this one and former names, oldest first")
    version: int

    @classmethod
    def of(cls, factory: Factory) -> FactoryView:
        assert factory.profile is not None
        return cls(
            id=factory.id,
            profile=factory.profile,
            enrollment=factory.enrollment,
            service_package=factory.service_package,
            enrolled_on=factory.enrolled_on,
            brand_links=factory.brand_links,
            consenting_brands=sorted(factory.consenting_brands),
            aliases=factory.aliases,
            version=factory.version,
        )


class CandidateView(BaseModel):
    factory_id: str
    name: str
    address: str
    score: float
    reasons: list[str]


class DuplicatesView(BaseModel):
    detail: str
    candidates: list[CandidateView]


class RegisterBrandRequest(Command):
    name: str = Field(min_length=1, max_length=300, examples=["Northwind Outfitters"])
    kind: BrandKind
    partnership: PartnershipStatus
    headquarters_country: CountryCode | None = None


class PartnershipRequest(Command):
    partnership: PartnershipStatus


class BrandView(BaseModel):
    id: str
    name: str
    kind: BrandKind
    partnership: PartnershipStatus
    version: int

    @classmethod
    def of(cls, brand: Brand) -> BrandView:
        return cls(id=brand.id, name=brand.name, kind=brand.kind, partnership=brand.partnership, version=brand.version)


class ReportSharingView(BaseModel):
    brand_id: str
    factory_ids: list[str] = Field(description="Its suppliers that share their assessment reports with it now")


# --- helpers ----------------------------------------------------------------------------------


def store(request: Request) -> EventStore:
    return request.app.state.store


def factory_response(factory: Factory, response: Response) -> FactoryView:
    response.headers["ETag"] = f'"{factory.version}"'
    return FactoryView.of(factory)


async def change(
    request: Request, response: Response, principal: Principal, factory_id: str, version: int, decide: Decision
) -> FactoryView:
    context = command_context(principal, request)
    return factory_response(
        await handlers.change_factory(store(request), factory_id, version, decide, context), response
    )


# --- factories --------------------------------------------------------------------------------

DUPLICATES: dict[int | str, dict[str, Any]] = {
    409: {"model": DuplicatesView, "description": "Likely duplicates, or an illegal step"}
}


@router.post(
    "/factories",
    status_code=status.HTTP_201_CREATED,
    response_model=FactoryView,
    tags=["factories"],
    responses=DUPLICATES,
)
async def register_factory(
    body: RegisterFactoryRequest,
    principal: policy.Registrar,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> FactoryView:
    """Register a factory. It gets a permanent programme id like `KH-2026-0042-5`.

    Likely duplicates in the same country answer 409 with the candidates and their scores;
    send `confirmed_new: true` to register it anyway. A registration number already registered
    in the country answers 409 naming its factory, confirmed or not."""
    policy.may_register_in(principal, {body.country})
    command = handlers.RegisterFactory(body.profile(), body.confirmed_new, idempotency_key)
    factory = await handlers.register_factory(command, store(request), command_context(principal, request))
    response.headers["Location"] = f"/factories/{factory.id}"
    return factory_response(factory, response)


@router.get("/factories/{factory_id}", response_model=FactoryView, tags=["factories"])
async def get_factory(factory_id: str, resolved: policy.ReadableFactory, request: Request, response: Response) -> Any:
    """A factory as it is now. A merged record's id redirects (308) to the factory it was merged into."""
    if resolved != factory_id:
        return RedirectResponse(f"/factories/{resolved}", status_code=status.HTTP_308_PERMANENT_REDIRECT)
    return factory_response(await handlers.load_factory(store(request), factory_id), response)


@router.get("/factories/{factory_id}/history", response_model=list[Change], tags=["factories"])
async def factory_history(factory_id: str, _: policy.ReadableFactory, request: Request) -> list[Change]:
    """Every change to the factory's record, oldest first, with who made it and when."""
    return await handlers.factory_history(store(request), factory_id)


@router.patch("/factories/{factory_id}", response_model=FactoryView, tags=["factories"], responses=IF_MATCH_REQUIRED)
async def update_profile(
    factory_id: str,
    body: UpdateProfileRequest,
    principal: policy.ProfileEditor,
    version: ReadVersion,
    request: Request,
    response: Response,
) -> FactoryView:
    """Change the factory's profile (programme staff of its country, or the factory's own users)."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidRequest("name at least one field to change")
    return await change(request, response, principal, factory_id, version, lambda f: f.update_profile(changes))


@router.post(
    "/factories/{factory_id}/enrollment/apply",
    response_model=FactoryView,
    tags=["enrollment"],
    responses=IF_MATCH_REQUIRED,
)
async def apply_for_enrollment(
    factory_id: str, principal: policy.CountryManager, version: ReadVersion, request: Request, response: Response
) -> FactoryView:
    """Record that the factory applied to its country programme."""
    return await change(request, response, principal, factory_id, version, lambda f: f.apply_for_enrollment())


@router.post(
    "/factories/{factory_id}/enrollment/enroll",
    response_model=FactoryView,
    tags=["enrollment"],
    responses=IF_MATCH_REQUIRED,
)
async def enroll(
    factory_id: str,
    body: EnrollRequest,
    principal: policy.CountryManager,
    version: ReadVersion,
    request: Request,
    response: Response,
) -> FactoryView:
    """Enroll an applicant factory with its service package; only enrolled factories are assessed."""
    return await change(
        request, response, principal, factory_id, version, lambda f: f.enroll(body.service_package, body.enrolled_on)
    )


def _enrollment_step(step: str, summary: str) -> None:
    async def route(
        factory_id: str,
        body: ReasonRequest,
        principal: policy.CountryManager,
        version: ReadVersion,
        request: Request,
        response: Response,
    ) -> FactoryView:
        return await change(request, response, principal, factory_id, version, lambda f: getattr(f, step)(body.reason))

    route.__name__ = step
    router.add_api_route(
        f"/factories/{{factory_id}}/enrollment/{step}",
        route,
        methods=["POST"],
        response_model=FactoryView,
        tags=["enrollment"],
        summary=summary,
        responses=IF_MATCH_REQUIRED,
    )


_enrollment_step("suspend", "Suspend an enrolled factory, with the reason")
_enrollment_step("reinstate", "Reinstate a suspended factory, with the reason")
_enrollment_step("withdraw", "Record that the factory left the programme, with the reason")
_enrollment_step("close", "Record that the factory stopped operating, with the reason")


@router.post(
    "/factories/{factory_id}/brands", response_model=FactoryView, tags=["suppliers"], responses=IF_MATCH_REQUIRED
)
async def link_brand(
    factory_id: str,
    body: LinkBrandRequest,
    principal: policy.CountryManager,
    version: ReadVersion,
    request: Request,
    response: Response,
) -> FactoryView:
    """Record that a brand buys from the factory."""
    brand = await handlers.load_brand(store(request), body.brand_id)
    return await change(request, response, principal, factory_id, version, lambda f: f.link_brand(brand, body.since))


@router.delete(
    "/factories/{factory_id}/brands/{brand_id}",
    response_model=FactoryView,
    tags=["suppliers"],
    responses=IF_MATCH_REQUIRED,
)
async def unlink_brand(
    factory_id: str,
    brand_id: str,
    until: dt.date,
    principal: policy.CountryManager,
    version: ReadVersion,
    request: Request,
    response: Response,
) -> FactoryView:
    """Record that a brand stopped buying from the factory (on `until`)."""
    return await change(request, response, principal, factory_id, version, lambda f: f.unlink_brand(brand_id, until))


@router.put(
    "/factories/{factory_id}/consents/{brand_id}",
    response_model=FactoryView,
    tags=["consent"],
    responses=IF_MATCH_REQUIRED,
)
async def grant_consent(
    factory_id: str,
    brand_id: str,
    principal: policy.ConsentingFactory,
    version: ReadVersion,
    request: Request,
    response: Response,
) -> FactoryView:
    """The factory lets the brand read its assessment reports (while the brand is linked as a buyer).

    Only the factory's own users grant consent: it is the factory's decision to share. Programme
    staff may revoke one (which only narrows access), never grant it."""
    brand = await handlers.load_brand(store(request), brand_id)
    return await change(request, response, principal, factory_id, version, lambda f: f.grant_consent(brand))


@router.delete(
    "/factories/{factory_id}/consents/{brand_id}",
    response_model=FactoryView,
    tags=["consent"],
    responses=IF_MATCH_REQUIRED,
)
async def revoke_consent(
    factory_id: str,
    brand_id: str,
    principal: policy.ConsentRevoker,
    version: ReadVersion,
    request: Request,
    response: Response,
) -> FactoryView:
    """The brand may read nothing more of the factory's assessments, from now on."""
    return await change(request, response, principal, factory_id, version, lambda f: f.revoke_consent(brand_id))


@router.post(
    "/factories/{factory_id}/merge", response_model=FactoryView, tags=["factories"], responses=IF_MATCH_REQUIRED
)
async def merge(
    factory_id: str,
    body: MergeRequest,
    principal: policy.CountryManager,
    version: ReadVersion,
    request: Request,
    response: Response,
) -> FactoryView:
    """Merge this duplicate record (If-Match: its ETag) into another; its id then resolves to the survivor for ever."""
    context = command_context(principal, request)
    survivor = await handlers.merge_factories(store(request), factory_id, version, body.into, body.reason, context)
    return factory_response(survivor, response)


@router.post(
    "/factories/imports",
    status_code=status.HTTP_201_CREATED,
    tags=["factories"],
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
    responses={422: {"description": "Nothing was imported; the report says which rows to fix and why"}},
    summary="Import a factory list from CSV: every row, or none",
    description="One row per factory, UTF-8, with a header row. Columns: "
    + ", ".join(f"`{name}` {hint}".strip() for name, hint in importer.COLUMNS.items())
    + ". The report gives each row's outcome: created, duplicate candidate, or invalid with the reason.",
)
async def import_factories(principal: policy.Registrar, request: Request, dry_run: bool = False) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("text/csv"):
        raise InvalidRequest("send the factory list as text/csv")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("the CSV must be UTF-8") from None
    rows = importer.read_csv(text)
    policy.may_register_in(principal, {row.get("country", "").strip().upper() for row in rows})
    report = await importer.import_factories(rows, store(request), command_context(principal, request), dry_run=dry_run)
    return report.as_json()


# --- brands -----------------------------------------------------------------------------------


@router.post("/brands", status_code=status.HTTP_201_CREATED, response_model=BrandView, tags=["brands"])
async def register_brand(
    body: RegisterBrandRequest,
    principal: policy.Administrator,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> BrandView:
    """Register a brand (buyer or retailer) with its partnership status."""
    command = handlers.RegisterBrand(body.name, body.kind, body.partnership, body.headquarters_country, idempotency_key)
    brand = await handlers.register_brand(command, store(request), command_context(principal, request))
    response.headers["Location"] = f"/brands/{brand.id}"
    return BrandView.of(brand)


@router.get("/brands/{brand_id}", response_model=BrandView, tags=["brands"])
async def get_brand(brand_id: str, _: policy.BrandReader, request: Request) -> BrandView:
    return BrandView.of(await handlers.load_brand(store(request), brand_id))


@router.get("/brands/{brand_id}/report-sharing", response_model=ReportSharingView, tags=["brands"])
async def report_sharing(brand_id: str, _: policy.BrandReader, request: Request) -> ReportSharingView:
    """The factories whose reports the brand may read now: its suppliers that consent, as of the last
    committed change. The gateway checks every read of a brand against it, so a revoked consent
    takes effect at once, not when the gateway's read model catches up."""
    factory_ids = await handlers.factories_sharing_reports_with(store(request), brand_id)
    return ReportSharingView(brand_id=brand_id, factory_ids=factory_ids)


@router.post("/brands/{brand_id}/partnership", response_model=BrandView, tags=["brands"], responses=IF_MATCH_REQUIRED)
async def change_partnership(
    brand_id: str,
    body: PartnershipRequest,
    principal: policy.Administrator,
    version: ReadVersion,
    request: Request,
    response: Response,
) -> BrandView:
    brand = await handlers.change_brand_partnership(
        store(request), brand_id, version, body.partnership, command_context(principal, request)
    )
    response.headers["ETag"] = f'"{brand.version}"'
    return BrandView.of(brand)


# --- countries --------------------------------------------------------------------------------


class CountryView(BaseModel):
    code: str
    country: str
    programme: str
    runs_committees: bool
    public_reporting: bool
    languages: list[str]
    timezone: str

    @classmethod
    def of(cls, p: CountryProgramme) -> CountryView:
        return cls(**{**p.__dict__, "languages": list(p.languages)})


@router.get("/countries", response_model=list[CountryView], tags=["countries"])
async def countries(principal: CurrentPrincipal) -> list[CountryView]:
    """The country programmes and their settings."""
    return [CountryView.of(p) for p in COUNTRY_PROGRAMMES.values()]


@router.get("/countries/{code}", response_model=CountryView, tags=["countries"])
async def country(code: str, principal: CurrentPrincipal) -> CountryView:
    programme = COUNTRY_PROGRAMMES.get(code.upper())
    if programme is None:
        raise handlers.NotFound(f"there is no country programme in {code}")
    return CountryView.of(programme)
