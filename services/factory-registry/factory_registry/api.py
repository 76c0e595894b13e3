"""REST commands of the factory registry. Routes validate, authorize, call a handler: no more."""

from __future__ import annotations

from typing import Annotated

from betterwork_events.auth import Audience, CurrentPrincipal, Principal, forbidden
from betterwork_events.errors import InvalidRequest
from betterwork_events.store import EventStore
from betterwork_events.web import command_context
from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from factory_registry import handlers
from factory_registry.domain import Factory

router = APIRouter(tags=["factories"])

Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. KH", examples=["KH"])]


class RegisterFactoryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=300, examples=["Angkor Apparel Co., Ltd."])
    country: Country
    address: str = Field(min_length=1, max_length=1000, examples=["National Road 4, Kambol, Phnom Penh"])


class UpdateFactoryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=300)
    address: str | None = Field(default=None, min_length=1, max_length=1000)


class FactoryView(BaseModel):
    id: str
    name: str
    country: str
    address: str
    version: int

    @classmethod
    def of(cls, factory: Factory) -> FactoryView:
        return cls(
            id=factory.id, name=factory.name, country=factory.country, address=factory.address, version=factory.version
        )


def store(request: Request) -> EventStore:
    return request.app.state.store


def etag(factory: Factory) -> str:
    return f'"{factory.version}"'


def require_programme(principal: Principal) -> None:
    if principal.audience is not Audience.PROGRAMME:
        raise forbidden("only programme staff may register factories")


def may_read(principal: Principal, factory_id: str) -> bool:
    return principal.audience is Audience.PROGRAMME or (
        principal.audience is Audience.FACTORY and principal.scope == factory_id
    )


@router.post("/factories", status_code=status.HTTP_201_CREATED, response_model=FactoryView)
async def register_factory(
    body: RegisterFactoryRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="Retrying with the same key returns the first result")
    ] = None,
) -> FactoryView:
    """Register a factory with the programme (programme staff only)."""
    require_programme(principal)
    command = handlers.RegisterFactory(body.name, body.country, body.address, idempotency_key)
    factory = await handlers.register_factory(command, store(request), command_context(principal, request))
    response.headers["Location"] = f"/factories/{factory.id}"
    response.headers["ETag"] = etag(factory)
    return FactoryView.of(factory)


@router.get("/factories/{factory_id}", response_model=FactoryView)
async def get_factory(
    factory_id: str, principal: CurrentPrincipal, request: Request, response: Response
) -> FactoryView:
    """A factory's current profile; its ETag is the version to send back in If-Match."""
    if not may_read(principal, factory_id):
        raise forbidden("you may read only your own factory")
    factory = await handlers.load_factory(store(request), factory_id)
    response.headers["ETag"] = etag(factory)
    return FactoryView.of(factory)


@router.patch("/factories/{factory_id}", response_model=FactoryView)
async def update_factory(
    factory_id: str,
    body: UpdateFactoryRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: Annotated[str, Header(description="The ETag (version) of the profile you read", examples=['"1"'])],
) -> FactoryView:
    """Change a factory's name or address, as of the version you read (409 if it changed since)."""
    if not may_read(principal, factory_id):
        raise forbidden("you may change only your own factory")
    try:
        expected_version = int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise InvalidRequest('If-Match must be the ETag of the factory, e.g. "3"') from None
    command = handlers.UpdateFactoryProfile(factory_id, expected_version, body.name, body.address)
    factory = await handlers.update_factory_profile(command, store(request), command_context(principal, request))
    response.headers["ETag"] = etag(factory)
    return FactoryView.of(factory)
