"""The GraphQL schema that portals and partner systems query: every area's fields, and the limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules, MaskErrors, MaxTokensLimiter, SchemaExtension
from strawberry.tools import merge_types

from gateway import policy
from gateway.graphql import (
    advisory,
    aggregates,
    assessments,
    brands,
    committees,
    dashboards,
    exports,
    factories,
    impact,
    improvement_plans,
    mutations,
    subscriptions,
    surveys,
    training,
)
from gateway.graphql.arguments import BadArgument
from gateway.graphql.consistency import OneSnapshot, ReadYourWrites
from gateway.graphql.context import Context
from gateway.graphql.limits import QueryLimits
from gateway.graphql.relay import Node, from_global_id
from gateway.read_models.pages import BadPage

Info = strawberry.Info[Context, None]

# How `node(id:)` finds each type with a global id: the same reads, and so the same policy, as
# the type's own root field.
NODES: dict[str, Callable[[Info, str], Awaitable[Node | None]]] = {
    "Factory": factories.factory,
    "Brand": brands.brand,
    "TrainingSession": training.session,
    "ImprovementAction": improvement_plans.improvement_action,
    "Committee": committees.committee,
    "Assessment": assessments.assessment,
    "AdvisoryPlan": advisory.advisory_plan,
}


@strawberry.type
class Nodes:
    @strawberry.field(description="Any object by its global id; null if it does not exist or is not yours to read")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        found = from_global_id(id)
        if found is None or found[0] not in NODES:
            return None
        return await NODES[found[0]](info, found[1])


Query = merge_types(
    "Query",
    (
        factories.Query,
        brands.Query,
        assessments.Query,
        improvement_plans.Query,
        committees.Query,
        training.Query,
        aggregates.Query,
        dashboards.Query,
        impact.Query,
        advisory.Query,
        surveys.Query,
        exports.Query,
        Nodes,
    ),
)
Mutation = merge_types("Mutation", (mutations.Mutation, exports.Mutation))

# Errors the caller may read: the policy's refusals, a page that cannot be given, and mistakes in
# the query itself (which have no original error). Anything else is masked.
CODES: dict[type[Exception], str] = {
    policy.AccessDenied: "FORBIDDEN",
    BadPage: "BAD_USER_INPUT",
    BadArgument: "BAD_USER_INPUT",
}


def _internal(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, (GraphQLError, *CODES))


class ErrorCodes(SchemaExtension):
    """Each error the caller may read says what kind it is in `extensions.code`."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        _code(getattr(result, "errors", None) or [])

    def on_stream_result(self, result: Any) -> Iterator[None]:  # each result a subscription sends
        _code(getattr(result, "errors", None) or [])
        yield


def _code(errors: list[GraphQLError]) -> None:
    for error in errors:
        code = next((c for kind, c in CODES.items() if isinstance(error.original_error, kind)), None)
        if code is not None:
            error.extensions = {**(error.extensions or {}), "code": code}


NUL_REFUSED = "strings in a query may not contain the NUL character (\\u0000)"


class NoNulCharacters(ValidationRule):
    """A NUL in a string literal would reach PostgreSQL, which refuses it: say so before that."""

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError(NUL_REFUSED, node, extensions={"code": "BAD_USER_INPUT"}))


# The most fields a query may select once its fragments are spread out: far above a portal's
# page (a factory page of 50 factories with nested lists selects a few hundred), far below what
# fragments spreading each other tenfold reach in a few hundred bytes. Each alias of a field is a
# database query of its own: a portal needs a handful.
MOST_FIELDS = 5_000
MOST_ALIASES = 50


class QuerySize(ValidationRule):
    """How big a query is as executed, fields and aliases, each fragment counted once (memoised),
    refused before anything runs. (Counting each spread again, as strawberry's alias limiter does,
    is itself exponential: fragments spreading the next ten times, seven deep, took seconds.)"""

    def enter_document(self, node: DocumentNode, *_: object) -> None:
        fragments = {d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)}
        sizes: dict[str, tuple[int, int]] = {}

        def size(selections: SelectionSetNode | None, seen: frozenset[str]) -> tuple[int, int]:
            fields = aliases = 0
            for selection in selections.selections if selections else ():
                if isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in seen or name not in fragments:
                        continue  # a cycle or an unknown fragment: other rules refuse those
                    if name not in sizes:
                        sizes[name] = size(fragments[name].selection_set, seen | {name})
                    more_fields, more_aliases = sizes[name]
                elif isinstance(selection, FieldNode | InlineFragmentNode):
                    more_fields, more_aliases = size(selection.selection_set, seen)
                    if isinstance(selection, FieldNode):
                        more_fields += 1
                        more_aliases += selection.alias is not None
                else:
                    continue
                fields, aliases = fields + more_fields, aliases + more_aliases
                if fields > MOST_FIELDS or aliases > MOST_ALIASES:
                    break  # already too big: no need to count the rest
            return fields, aliases

        for definition in node.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            fields, aliases = size(definition.selection_set, frozenset())
            if fields > MOST_FIELDS:
                message = f"the query selects more than {MOST_FIELDS} fields once its fragments are spread out"
            elif aliases > MOST_ALIASES:
                message = f"the query has more than {MOST_ALIASES} aliases"
            else:
                continue
            self.report_error(GraphQLError(message, definition, extensions={"code": "BAD_USER_INPUT"}))


def _edge_rules() -> AddValidationRules:
    return AddValidationRules([NoNulCharacters, QuerySize])


def _masking() -> MaskErrors:
    return MaskErrors(should_mask_error=_internal, error_message="the query could not be answered")


# Every token is parsed: a bound far above what a portal or a partner's query needs, far below
# what would tie up the gateway.
MOST_TOKENS = 5_000


def _few_tokens() -> MaxTokensLimiter:
    return MaxTokensLimiter(max_token_count=MOST_TOKENS)


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=subscriptions.Subscription,
    types=[
        factories.Factory,
        brands.Brand,
        assessments.Assessment,
        training.TrainingSession,
        improvement_plans.ImprovementAction,
        committees.Committee,
        advisory.AdvisoryPlan,
    ],
    # QueryLimits runs validation itself (with the rules the others add) and then costs the query.
    extensions=[ErrorCodes, _masking, _few_tokens, _edge_rules, QueryLimits, ReadYourWrites, OneSnapshot],
)
