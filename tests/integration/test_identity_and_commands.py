"""Production identity (an OIDC issuer's JWKS over HTTP) and the commands' --help."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from betterwork_events.auth import Audience, InvalidToken, Principal, TokenVerifier
from betterwork_events.settings import CommonSettings
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from tests.support import serve

ROOT = Path(__file__).resolve().parents[2]


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signed(key: rsa.RSAPrivateKey, kid: str, **claims: object) -> str:
    now = int(time.time())
    body = {
        "sub": "inspector-7",
        "iss": "https://id.betterwork.example",
        "aud": "betterwork",
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode(body | claims, key, algorithm="RS256", headers={"kid": kid})


async def test_tokens_are_verified_against_the_issuers_published_keys() -> None:
    key, stranger = rsa_key(), rsa_key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {
        "kid": "2026-11",
        "use": "sig",
        "alg": "RS256",
    }
    issuer = FastAPI()

    @issuer.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, object]:
        return {"keys": [jwk]}

    async with serve(issuer) as url:
        settings = CommonSettings(
            database_url="unused",
            jwt_secret=None,
            jwt_jwks_url=f"{url}/.well-known/jwks.json",
            jwt_issuer="https://id.betterwork.example",
        )
        verifier = TokenVerifier(settings)

        def verify(token: str) -> Principal:
            return verifier.verify(token)

        government = await asyncio.to_thread(verify, signed(key, "2026-11", bw_audience="government", bw_scope="KH"))
        assert government == Principal("inspector-7", Audience.GOVERNMENT, "KH")
        with pytest.raises(InvalidToken):
            await asyncio.to_thread(verify, signed(stranger, "2026-11", bw_audience="programme"))
        with pytest.raises(InvalidToken):
            await asyncio.to_thread(verify, signed(key, "2026-11", bw_audience="programme", iss="https://evil.example"))
        # A development token (shared secret) means nothing once an issuer is configured.
        dev = jwt.encode(
            {
                "sub": "x",
                "iss": settings.jwt_issuer,
                "aud": "betterwork",
                "exp": int(time.time()) + 60,
                "bw_audience": "programme",
            },
            "development-only-signing-key-change-me-0123456789",
            algorithm="HS256",
        )
        with pytest.raises(InvalidToken):
            await asyncio.to_thread(verify, dev)


COMMANDS = [
    ["deploy/local/stack.py"],
    ["deploy/local/demo.py"],
    ["libs/events/benchmarks/event_store.py"],
    ["-m", "betterwork_events.auth"],
    ["-m", "betterwork_events.docs"],
    ["-m", "betterwork_events.openapi"],
    ["-m", "factory_registry.importer"],
    ["-m", "factory_registry.migrate"],
    ["-m", "assessment.migrate"],
    ["-m", "committee.migrate"],
    ["-m", "training.migrate"],
    ["-m", "gateway.migrate"],
    ["-m", "gateway.sdl"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[-1])
def test_every_command_explains_itself_with_help(command: list[str]) -> None:
    result = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
