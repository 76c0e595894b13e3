"""What a query may cost, computed from its parsed, validated document before anything runs.

The model is Shopify's "calculated query cost" (GitHub's node limit counts the same way): a point
for each object the answer can hold.

- A scalar or enum field costs nothing; `__typename` and introspection fields cost nothing.
- An object field costs 1 plus what is selected in it.
- A connection costs 1, plus 1 for `pageInfo`, plus its page size (`first`, or the default page
  size) times what each item costs: 1 for each of `edges` and `nodes` and what they select. A
  connection in a connection multiplies: 20 factories with 5 assessments each are 100 assessments.
- A plain list (a factory's committee members, a country's clusters, ...) is not paged: it is
  counted as `PLAIN_LIST` items, the most such lists hold in practice.
- A fragment costs the same wherever it is spread: it is costed once (memoised) and added at each
  spread, so costing a query is linear in its text even when fragments spread each other tenfold.
- Every branch of an abstract type (`... on Factory`, `... on Brand`) is added: an upper bound.
- Each mutation costs `MUTATION` more than what its answer selects, as Shopify's do: a command
  is work for a service, whatever it answers.

The actual cost, counted once the answer is known, is the number of objects it holds; it is less
than the requested cost when pages are not full. Nothing here does I/O: it is a function of the
schema, the document and the variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    is_composite_type,
    is_interface_type,
    is_object_type,
)
from graphql.utilities import type_from_ast

from gateway.read_models.pages import DEFAULT_PER_PAGE, MOST_PER_PAGE

# How many items a list that is not a connection is counted for: a country's clusters, a
# committee's members, a meeting's agenda hold a handful to a few dozen.
PLAIN_LIST = 10
MUTATION = 10


class PageTooLarge(ValueError):
    """A connection asked for more items a page than any list gives (refused before anything runs)."""

    def __init__(self, field: str, first: int) -> None:
        super().__init__(f"{field}: first must be between 0 and {MOST_PER_PAGE}, not {first}")
        self.field = field
        self.first = first


@dataclass(frozen=True)
class Estimate:
    """What one selection set costs: `fixed` points whatever the page size of the connection it
    belongs to, `per_item` points for each item of that page, and how many fields deep it goes."""

    fixed: int = 0
    per_item: int = 0
    depth: int = 0

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.fixed + other.fixed, self.per_item + other.per_item, max(self.depth, other.depth))


@dataclass(frozen=True)
class QueryCost:
    cost: int
    depth: int


def is_connection(named: GraphQLNamedType) -> bool:
    return is_object_type(named) and {"edges", "pageInfo"} <= set(named.fields)


def _unwrap(kind: GraphQLOutputType) -> tuple[GraphQLNamedType, bool]:
    """The named type under the wrappers, and whether it is a list."""
    listed = False
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        listed = listed or isinstance(kind, GraphQLList)
        kind = kind.of_type
    return kind, listed


def requested_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> QueryCost:
    """The most the operation can cost, and its depth. The document must have passed validation.

    Raises PageTooLarge for a connection asked for a page over the maximum."""
    variables = variables or {}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next(o for o in operations if operation_name is None or (o.name and o.name.value == operation_name))
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    defaults = {
        v.variable.name.value: int(v.default_value.value)
        for v in operation.variable_definitions or ()
        if isinstance(v.default_value, IntValueNode)
    }
    costed: dict[str, Estimate] = {}

    def page_size(node: FieldNode) -> int:
        first = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
        if isinstance(first, IntValueNode):
            size = int(first.value)
        elif isinstance(first, VariableNode):
            given = variables.get(first.name.value, defaults.get(first.name.value))
            size = given if isinstance(given, int) and not isinstance(given, bool) else DEFAULT_PER_PAGE
        else:
            size = DEFAULT_PER_PAGE
        if not 0 <= size <= MOST_PER_PAGE:
            raise PageTooLarge(node.name.value, size)
        return size

    def fragment(name: str) -> Estimate:
        if name not in costed:
            definition = fragments[name]
            on = type_from_ast(schema, definition.type_condition)
            costed[name] = selections(definition.selection_set, on)  # type: ignore[arg-type]
        return costed[name]

    def field(node: FieldNode, parent: GraphQLCompositeType) -> Estimate:
        name = node.name.value
        if name.startswith("__") or not (is_object_type(parent) or is_interface_type(parent)):
            return Estimate()  # introspection and __typename: answered from memory
        named, listed = _unwrap(parent.fields[name].type)
        if not is_composite_type(named):
            return Estimate(depth=1)
        inner = selections(node.selection_set, named)
        depth = 1 + inner.depth
        if listed and is_connection(parent):  # edges and nodes: once per item of the page
            return Estimate(per_item=1 + inner.fixed, depth=depth)
        if is_connection(named):
            return Estimate(fixed=1 + inner.fixed + page_size(node) * inner.per_item, depth=depth)
        return Estimate(fixed=(1 + inner.fixed) * (PLAIN_LIST if listed else 1), depth=depth)

    def selections(selection_set: SelectionSetNode | None, parent: GraphQLCompositeType) -> Estimate:
        total = Estimate()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += field(selection, parent)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                on = type_from_ast(schema, selection.type_condition) if selection.type_condition else parent
                total += selections(selection.selection_set, on)  # type: ignore[arg-type]
        return total

    root = schema.get_root_type(operation.operation)
    assert isinstance(root, GraphQLObjectType)
    estimate = selections(operation.selection_set, root)
    commands = sum(
        isinstance(s, FieldNode) and not s.name.value.startswith("__") for s in operation.selection_set.selections
    )
    if operation.operation is not OperationType.MUTATION:
        commands = 0
    return QueryCost(cost=estimate.fixed + MUTATION * commands, depth=estimate.depth)


def actual_cost(data: Mapping[str, Any] | None) -> int:
    """The objects an answer's `data` holds (the root itself is not one): what the query cost once it ran."""

    def objects(value: object) -> int:
        if isinstance(value, dict):
            return 1 + sum(objects(v) for v in value.values())
        if isinstance(value, list):
            return sum(objects(v) for v in value)
        return 0

    return sum(objects(value) for value in (data or {}).values())
