"""Persisted queries: a client sends a query's SHA-256 hash instead of its text.

The protocol is Apollo's automatic persisted queries: `extensions.persistedQuery` =
`{"version": 1, "sha256Hash": "<hex>"}`. A hash the gateway does not know is answered with the
error PersistedQueryNotFound (code PERSISTED_QUERY_NOT_FOUND); the client sends the text with the
hash once, the gateway checks the hash, and from then on the hash alone will do (GET or POST).

With BW_PERSISTED_QUERIES_ONLY the gateway answers only the queries of an allow list (the
portals' own, `portal-queries.json`, made by `python -m gateway.graphql.persisted`), by hash or
as text; any other query is refused (PERSISTED_QUERY_NOT_ALLOWED) and none is learnt.

Learnt queries are kept in this process (each replica learns its own; a client whose hash a
replica does not know just sends the text again), at most `MOST_LEARNT`, the least recently used
forgotten first.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError

MOST_LEARNT = 5_000
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _refusal(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


@dataclass(frozen=True)
class Resolved:
    query: str | None
    learn: str | None = None  # the hash to remember the query by once it has passed validation


class PersistedQueries:
    def __init__(self, allowed: Mapping[str, str] | None = None, *, only_allowed: bool = False) -> None:
        self.allowed = dict(allowed or {})
        self.only_allowed = only_allowed
        self._learnt: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_file(cls, path: Path, *, only_allowed: bool) -> PersistedQueries:
        allowed = json.loads(path.read_text()) if only_allowed else {}
        return cls(allowed, only_allowed=only_allowed)

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> Resolved:
        """The text to run for a request; raises GraphQLError for one refused."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if query is not None and self.only_allowed and sha256(query) not in self.allowed:
                raise self._not_allowed()
            return Resolved(query)
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise _refusal(
                "extensions.persistedQuery must be {version: 1, sha256Hash}", "PERSISTED_QUERY_NOT_SUPPORTED"
            )
        given = persisted.get("sha256Hash")
        if not isinstance(given, str) or not _SHA256.fullmatch(given):
            raise _refusal("persistedQuery.sha256Hash must be 64 lowercase hex digits", "BAD_USER_INPUT")
        if query is not None:
            if sha256(query) != given:
                raise _refusal("provided sha does not match query", "BAD_USER_INPUT")
            if self.only_allowed and given not in self.allowed:
                raise self._not_allowed()
            return Resolved(query, learn=None if given in self.allowed else given)
        if given in self.allowed:
            return Resolved(self.allowed[given])
        if self.only_allowed:
            raise self._not_allowed()
        if given not in self._learnt:
            raise _refusal("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        self._learnt.move_to_end(given)
        return Resolved(self._learnt[given])

    def learn(self, hash_: str, query: str) -> None:
        self._learnt[hash_] = query
        self._learnt.move_to_end(hash_)
        while len(self._learnt) > MOST_LEARNT:
            self._learnt.popitem(last=False)

    @staticmethod
    def _not_allowed() -> GraphQLError:
        return _refusal(
            "this gateway answers only the portals' registered queries (BW_PERSISTED_QUERIES_ONLY): "
            "send one of those, by its sha256Hash or its exact text",
            "PERSISTED_QUERY_NOT_ALLOWED",
        )


# --- the allow list -----------------------------------------------------------------------------


def queries_in(text: str) -> list[str]:
    """The GraphQL blocks of a Markdown file (```graphql ... ```), or the whole of a .graphql file."""
    blocks = re.findall(r"```graphql\n(.*?)```", text, re.S)
    return blocks or [text]


def allow_list(sources: list[Path]) -> dict[str, str]:
    return {sha256(q): q for source in sources for q in queries_in(source.read_text())}


def main(argv: list[str] | None = None) -> None:
    from gateway.settings import PORTAL_QUERIES

    parser = argparse.ArgumentParser(
        prog="python -m gateway.graphql.persisted",
        description="Write the allow list of the portals' queries (sha256 of the exact text -> text) that "
        "BW_PERSISTED_QUERIES_ONLY admits. Portals send each query as written here, or its hash.",
    )
    parser.add_argument(
        "sources",
        nargs="+",
        type=Path,
        help="Markdown files (their ```graphql blocks are taken) or .graphql files (one query each)",
    )
    parser.add_argument(
        "--out", type=Path, default=PORTAL_QUERIES, help=f"where to write it (default {PORTAL_QUERIES})"
    )
    args = parser.parse_args(argv)
    queries = allow_list(args.sources)
    args.out.write_text(json.dumps(queries, indent=2, sort_keys=True) + "\n")
    print(f"{len(queries)} queries written to {args.out}")


if __name__ == "__main__":
    main()
