"""What the gateway admits of a query before it runs: persisted queries, introspection, depth, cost,
and each caller's budget; and the cost reported in every answer's `extensions.cost`.

One `Limits` per app (create_app builds it from the settings and hands it to every request's
Context); the `QueryLimits` extension of the schema applies it.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from betterwork_events.auth import Principal
from graphql import DocumentNode, FieldNode, GraphQLError, ValidationRule, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType

from gateway.graphql import cost
from gateway.graphql.persisted import PersistedQueries
from gateway.settings import Settings

T = TypeVar("T")

Clock = Callable[[], float]


@dataclass
class Bucket:
    available: float
    at: float


class Budgets:
    """Each caller's points: a token bucket of `capacity` that refills by `restore_per_minute`.

    Kept in this process: each replica keeps its own buckets, so behind N replicas a caller may
    spend up to N times its budget. That bounds what one caller can ask of one replica, which is
    what protects the read models; a shared store would be needed for a contract-grade quota."""

    # A bucket that has refilled is the same as none: past this many callers, full ones are dropped.
    MOST_KEPT = 10_000

    def __init__(self, capacity: int, restore_per_minute: int, clock: Clock = time.monotonic) -> None:
        self.capacity = capacity
        self.restore_per_second = restore_per_minute / 60
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}

    def available(self, caller: str) -> float:
        now = self.clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            return float(self.capacity)
        bucket.available = min(self.capacity, bucket.available + (now - bucket.at) * self.restore_per_second)
        bucket.at = now
        return bucket.available

    def take(self, caller: str, points: int) -> bool:
        """Spend `points` if the caller has them; False (and nothing spent) if not."""
        available = self.available(caller)
        if points > available:
            return False
        if caller not in self._buckets and len(self._buckets) >= self.MOST_KEPT:
            self._forget_full()
        self._buckets[caller] = Bucket(available - points, self.clock())
        return True

    def refund(self, caller: str, points: int) -> None:
        available = self.available(caller)
        self._buckets[caller] = Bucket(min(self.capacity, available + points), self.clock())

    def seconds_until(self, caller: str, points: int) -> int:
        return math.ceil(max(0.0, points - self.available(caller)) / self.restore_per_second)

    def status(self, caller: str) -> dict[str, float]:
        """Shopify's throttleStatus: restoreRate is in points a second, as its client libraries expect."""
        return {
            "maximumAvailable": float(self.capacity),
            "currentlyAvailable": math.floor(self.available(caller) * 10) / 10,
            "restoreRate": round(self.restore_per_second, 3),
        }

    def _forget_full(self) -> None:
        for caller in [c for c in self._buckets if self.available(c) >= self.capacity]:
            del self._buckets[caller]


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


class Recent(Generic[T]):
    """What parsing or validation made of each recent query text. The same text gets the same
    document, and the same answer from the same schema and rules; parsing and validating a
    portal's page took the gateway about as long as answering it (graphql-core walks the whole
    document with some thirty rules each time). Bounded in entries and in each text's length."""

    def __init__(self, size: int = 512, longest: int = 20_000) -> None:
        self.size, self.longest = size, longest
        self._made: OrderedDict[str, T] = OrderedDict()

    def get(self, query: str, make: Callable[[], T]) -> T:
        if (made := self._made.get(query)) is not None:
            self._made.move_to_end(query)
            return made
        made = make()
        if len(query) <= self.longest:
            self._made[query] = made
            if len(self._made) > self.size:
                self._made.popitem(last=False)
        return made


@dataclass
class Limits:
    max_cost: int = _default("max_query_cost")
    max_depth: int = _default("max_query_depth")
    budgets: Budgets | None = None  # None: no budget (a script, a unit test)
    introspection: bool = True
    persisted: PersistedQueries = field(default_factory=PersistedQueries)
    parsed: Recent[DocumentNode] = field(default_factory=Recent)
    validated: Recent[list[GraphQLError]] = field(default_factory=Recent)

    @classmethod
    def of(cls, settings: Settings, clock: Clock = time.monotonic) -> Limits:
        return cls(
            max_cost=settings.max_query_cost,
            max_depth=settings.max_query_depth,
            budgets=Budgets(settings.query_budget, settings.query_budget_restore_per_minute, clock),
            introspection=settings.environment != "production",
            persisted=PersistedQueries.from_file(
                settings.persisted_queries_file, only_allowed=settings.persisted_queries_only
            ),
        )


def caller_of(principal: Principal | None) -> str | None:
    """Whose budget a query is charged to: the audience and the id the token names (a brand, a
    country, a factory; for programme staff, the staff member)."""
    if principal is None:
        return None
    return f"{principal.audience}:{principal.scope or principal.subject}"


class NoIntrospection(ValidationRule):
    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                GraphQLError(
                    "introspection is off in production; the schema is published as SDL with the gateway's source",
                    node,
                    extensions={"code": "INTROSPECTION_DISABLED"},
                )
            )


def _error(message: str, code: str, **more: object) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **more})


class QueryLimits(SchemaExtension):
    """Resolves a persisted query, refuses what is over a limit before it runs, charges the
    caller's budget with the requested cost and refunds what the answer did not use (Shopify's
    way), and reports all of it in `extensions.cost`."""

    requested: int | None = None
    actual: int | None = None

    def _limits(self) -> tuple[Limits, str | None]:
        context = self.execution_context.context
        if context is None:  # schema.execute in a script or a unit test: the defaults, no budget
            return Limits(), None
        return context.limits, caller_of(context.principal)

    def on_operation(self) -> Iterator[None]:
        limits, _ = self._limits()
        ctx = self.execution_context
        self._persisted = limits.persisted.resolve(ctx.query, ctx.operation_extensions)
        ctx.query = self._persisted.query
        yield

    def on_parse(self) -> Iterator[None]:
        ctx, (limits, _) = self.execution_context, self._limits()
        query = ctx.query
        if query:
            # A query that does not parse is left to strawberry, which answers it as a syntax error.
            with contextlib.suppress(GraphQLError):
                ctx.graphql_document = limits.parsed.get(query, lambda: parse(query, **ctx.parse_options))
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        limits, caller = self._limits()
        assert ctx.graphql_document is not None
        rules = ctx.validation_rules + (() if limits.introspection else (NoIntrospection,))
        document = ctx.graphql_document
        if ctx.query:
            errors = list(
                limits.validated.get(ctx.query, lambda: validate_document(ctx.schema._schema, document, rules))
            )
        else:
            errors = validate_document(ctx.schema._schema, document, rules)
        if not errors:
            errors = self._admit(limits, caller)
        if not errors and self._persisted.learn and ctx.query:
            limits.persisted.learn(self._persisted.learn, ctx.query)
        ctx.pre_execution_errors = errors  # validation is done: strawberry does not run it again
        yield

    def _admit(self, limits: Limits, caller: str | None) -> list[GraphQLError]:
        ctx = self.execution_context
        assert ctx.graphql_document is not None
        try:
            query = cost.requested_cost(ctx.schema._schema, ctx.graphql_document, ctx.operation_name, ctx.variables)
        except cost.PageTooLarge as error:
            return [_error(str(error), "BAD_USER_INPUT", argument="first", maximum=cost.MOST_PER_PAGE)]
        self.requested = query.cost
        if query.depth > limits.max_depth:
            return [
                _error(
                    f"the query is {query.depth} fields deep, more than the {limits.max_depth} allowed",
                    "MAX_DEPTH_EXCEEDED",
                    depth=query.depth,
                    maximumDepth=limits.max_depth,
                )
            ]
        if query.cost > limits.max_cost:
            return [
                _error(
                    f"the query could cost {query.cost} points, more than the {limits.max_cost} one query may; "
                    "ask for smaller pages (first) or fewer nested lists",
                    "MAX_COST_EXCEEDED",
                    cost=query.cost,
                    maximumCost=limits.max_cost,
                )
            ]
        if limits.budgets is not None and caller is not None and not limits.budgets.take(caller, query.cost):
            wait = limits.budgets.seconds_until(caller, query.cost)
            return [
                _error(
                    f"throttled: the query costs {query.cost} points and your budget has "
                    f"{limits.budgets.available(caller):.0f} left; try again in {wait} s",
                    "THROTTLED",
                    cost=query.cost,
                    retryAfterSeconds=wait,
                )
            ]
        return []

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if self.requested is None or result is None:
            return
        if self.execution_context.operation_type is OperationType.MUTATION:
            self.actual = self.requested  # a command's work is done whatever it answers
        else:
            self.actual = min(self.requested, cost.actual_cost(result.data))
        limits, caller = self._limits()
        if limits.budgets is not None and caller is not None:
            limits.budgets.refund(caller, self.requested - self.actual)

    def get_results(self) -> dict[str, Any]:
        limits, caller = self._limits()
        budgets = limits.budgets
        return {
            "cost": {
                "requestedQueryCost": self.requested,
                "actualQueryCost": self.actual,  # null: nothing ran (refused), nothing charged
                "throttleStatus": budgets.status(caller) if budgets is not None and caller is not None else None,
            }
        }
