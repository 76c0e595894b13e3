"""Who is calling: bearer JWTs carrying the caller's audience, the same in every service.

Development tokens are signed with a shared secret (`make token`); production verifies tokens
from an OIDC issuer against its JWKS. Claims: `sub` (the user), `bw_audience` (programme, brand,
government or factory) and `bw_scope` (the brand id, the country, or the factory id).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from betterwork_events.settings import DEVELOPMENT_JWT_SECRET, CommonSettings


class Audience(StrEnum):
    PROGRAMME = "programme"
    BRAND = "brand"
    GOVERNMENT = "government"
    FACTORY = "factory"


SCOPED = {Audience.BRAND, Audience.GOVERNMENT, Audience.FACTORY}


class Role(StrEnum):
    """What a member of programme staff does: in a token, `bw_role`."""

    ASSESSOR = "assessor"  # assesses factories and records findings; advises; trains
    QUALITY_REVIEWER = "quality-reviewer"  # reviews and approves what assessors wrote
    COUNTRY_MANAGER = "country-manager"  # runs a country programme: all of the above, and escalations
    ADMINISTRATOR = "administrator"  # the global programme: every step, every country


@dataclass(frozen=True)
class Principal:
    subject: str
    audience: Audience
    scope: str | None = None  # brand id, country (ISO 3166 alpha-2) or factory id
    role: Role | None = None  # programme staff only

    @property
    def actor(self) -> str:
        """How the caller is recorded on the events it causes."""
        return f"{self.audience}:{self.scope}:{self.subject}" if self.scope else f"{self.audience}:{self.subject}"

    def acts_as(self, *roles: Role) -> bool:
        """Programme staff in one of these roles; an administrator acts as every role."""
        return self.audience is Audience.PROGRAMME and (self.role is Role.ADMINISTRATOR or self.role in roles)

    def covers(self, country: str) -> bool:
        """Programme staff whose team works in this country: a country team's own, the global
        programme's (no scope) every one."""
        return self.audience is Audience.PROGRAMME and self.scope in (None, country)


class InvalidToken(Exception):
    pass


class TokenVerifier:
    """Verifies bearer tokens; refuses to exist where it could not tell a forged token from a real one."""

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        if self._jwks is None and not settings.jwt_secret:
            raise ValueError(
                "no way to verify tokens: set BW_JWT_JWKS_URL to the identity provider's keys "
                "(or BW_JWT_SECRET), or BW_ENVIRONMENT=development for the development key"
            )
        if (
            self._jwks is None
            and settings.jwt_secret == DEVELOPMENT_JWT_SECRET
            and settings.environment != "development"
        ):
            raise ValueError(
                "the development signing key is public (anyone can mint tokens with it), so it is only "
                "accepted with BW_ENVIRONMENT=development"
            )

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256", "ES256", "EdDSA"]
            else:
                key, algorithms = self.settings.jwt_secret or "", ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        try:
            audience = Audience(str(claims.get("bw_audience")))
        except ValueError:
            raise InvalidToken("bw_audience must be one of " + ", ".join(a.value for a in Audience)) from None
        scope = claims.get("bw_scope")
        if audience in SCOPED and not scope:
            raise InvalidToken(f"a {audience} token needs bw_scope")
        role = None
        if audience is Audience.PROGRAMME:
            try:
                role = Role(str(claims.get("bw_role")))
            except ValueError:
                raise InvalidToken(
                    "a programme token needs bw_role, one of " + ", ".join(r.value for r in Role)
                ) from None
        return Principal(subject=str(claims["sub"]), audience=audience, scope=scope, role=role)


def mint(
    settings: CommonSettings,
    audience: Audience,
    scope: str | None = None,
    subject: str = "dev-user",
    ttl: int = 8 * 3600,
    role: Role = Role.ADMINISTRATOR,
) -> str:
    """A development token. Production tokens come from the identity provider. `role` is for
    programme staff only."""
    if not settings.jwt_secret:
        raise ValueError("minting needs a jwt_secret (development only)")
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl,
        "bw_audience": str(audience),
    }
    if scope:
        claims["bw_scope"] = scope
    if audience is Audience.PROGRAMME:
        claims["bw_role"] = str(role)
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


_bearer = HTTPBearer(auto_error=False, description="A JWT from the identity provider (development: `make token`)")


def authenticated(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    if credentials is None:
        raise token_required()
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(credentials.credentials)
    except InvalidToken as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"invalid token: {error}",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


CurrentPrincipal = Annotated[Principal, Depends(authenticated)]


def token_required() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "a bearer token is required", {"WWW-Authenticate": "Bearer"})


def bearer_token(request: HTTPConnection) -> str | None:
    """The token of an `Authorization: Bearer …` header, if the request has one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


class TokenFirstRoute(APIRoute):
    """A route that needs a caller answers a request without a bearer token with 401 before it reads
    the body: FastAPI parses the body first, so a malformed one would get a 422 describing the route's
    schema to anyone. (`APIRouter(route_class=TokenFirstRoute)`.)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not _needs_a_caller(self.dependant):
            return handler

        async def token_first(request: Request) -> Response:
            if bearer_token(request) is None:
                raise token_required()
            return await handler(request)

        return token_first


def _needs_a_caller(dependant: Dependant) -> bool:
    return dependant.call is authenticated or any(_needs_a_caller(d) for d in dependant.dependencies)


def forbidden(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, reason)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="bw-token",
        description="Mint a development JWT to call the APIs as one audience (signed with BW_JWT_SECRET).",
    )
    parser.add_argument("audience", choices=[a.value for a in Audience])
    parser.add_argument(
        "scope",
        nargs="?",
        help="brand id, country code (e.g. KH; for programme staff, their country team) or factory id",
    )
    parser.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default=Role.ADMINISTRATOR.value,
        help="programme staff's role (default: administrator)",
    )
    parser.add_argument("--subject", default="dev-user", help="the user id (sub claim)")
    parser.add_argument("--hours", type=int, default=8, help="how long the token is valid")
    args = parser.parse_args()
    audience = Audience(args.audience)
    if audience in SCOPED and not args.scope:
        parser.error(
            f"a {audience} token needs a scope: the "
            + {"brand": "brand id", "government": "country code", "factory": "factory id"}[audience]
        )
    settings = CommonSettings(database_url="unused", environment="development")
    print(mint(settings, audience, args.scope, args.subject, args.hours * 3600, Role(args.role)))


if __name__ == "__main__":
    main()
