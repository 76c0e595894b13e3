"""Tokens and principals, without I/O."""

from __future__ import annotations

import jwt
import pytest
from betterwork_events.auth import Audience, InvalidToken, Principal, Role, TokenVerifier, mint
from betterwork_events.settings import DEVELOPMENT_JWT_SECRET, CommonSettings

SETTINGS = CommonSettings(database_url="unused")
verifier = TokenVerifier(SETTINGS)


def test_a_minted_token_names_the_caller_and_its_audience() -> None:
    principal = verifier.verify(mint(SETTINGS, Audience.BRAND, "BR-0042", subject="buyer-ana"))

    assert principal == Principal(subject="buyer-ana", audience=Audience.BRAND, scope="BR-0042")
    assert principal.actor == "brand:BR-0042:buyer-ana"


def test_programme_staff_carry_their_role_and_country_team() -> None:
    principal = verifier.verify(mint(SETTINGS, Audience.PROGRAMME, "KH", subject="sokha", role=Role.ASSESSOR))

    assert principal == Principal("sokha", Audience.PROGRAMME, "KH", Role.ASSESSOR)
    assert principal.acts_as(Role.ASSESSOR, Role.COUNTRY_MANAGER)
    assert not principal.acts_as(Role.QUALITY_REVIEWER)
    assert principal.covers("KH") and not principal.covers("VN")


def test_the_global_programme_administrator_acts_as_every_role_in_every_country() -> None:
    principal = verifier.verify(mint(SETTINGS, Audience.PROGRAMME))

    assert principal.role is Role.ADMINISTRATOR
    assert all(principal.acts_as(role) for role in Role)
    assert principal.covers("KH") and principal.covers("VN")


def test_only_programme_staff_act_in_a_role() -> None:
    factory = verifier.verify(mint(SETTINGS, Audience.FACTORY, "KH-2026-0042-5"))

    assert factory.role is None
    assert not factory.acts_as(*Role)
    assert not factory.covers("KH")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"bw_audience": "auditor"}, "bw_audience"),
        ({"bw_audience": "brand"}, "bw_scope"),
        ({"bw_role": None}, "bw_role"),
        ({"bw_role": "superuser"}, "bw_role"),
        ({"aud": "someone-else"}, "(?i)audience"),
        ({"iss": "somewhere-else"}, "issuer"),
        ({"exp": 1}, "expired"),
    ],
)
def test_tokens_that_do_not_hold_up_are_refused(claims: dict, reason: str) -> None:
    good = jwt.decode(mint(SETTINGS, Audience.PROGRAMME), options={"verify_signature": False})
    token = jwt.encode(good | claims, SETTINGS.jwt_secret, algorithm="HS256")

    with pytest.raises(InvalidToken, match=reason):
        verifier.verify(token)


def test_a_token_signed_with_another_key_is_refused() -> None:
    other = CommonSettings(database_url="unused", jwt_secret="another-secret-of-sufficient-length-0123456789")
    with pytest.raises(InvalidToken, match="Signature"):
        verifier.verify(mint(other, Audience.PROGRAMME))


def test_an_unsigned_token_is_refused() -> None:
    claims = jwt.decode(mint(SETTINGS, Audience.PROGRAMME), options={"verify_signature": False})
    with pytest.raises(InvalidToken):
        verifier.verify(jwt.encode(claims, None, algorithm="none"))


def test_outside_development_the_public_development_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BW_ENVIRONMENT", raising=False)  # a deployment that says nothing
    with pytest.raises(ValueError, match="no way to verify tokens"):
        TokenVerifier(CommonSettings(database_url="unused"))
    with pytest.raises(ValueError, match="development signing key is public"):
        TokenVerifier(CommonSettings(database_url="unused", jwt_secret=DEVELOPMENT_JWT_SECRET))

    TokenVerifier(CommonSettings(database_url="unused", jwt_jwks_url="https://login.example.org/certs"))
    own_secret = TokenVerifier(
        CommonSettings(database_url="unused", jwt_secret="a-secret-of-their-own-0123456789-abcdef")
    )
    with pytest.raises(InvalidToken):  # a token minted with the development key means nothing there
        own_secret.verify(mint(SETTINGS, Audience.PROGRAMME))


def test_development_verifies_tokens_signed_with_the_development_key() -> None:
    development = CommonSettings(database_url="unused", environment="development")

    assert development.jwt_secret == DEVELOPMENT_JWT_SECRET
    assert TokenVerifier(development).verify(mint(SETTINGS, Audience.PROGRAMME)).audience == Audience.PROGRAMME
