"""Consistency at the edge: every answer reads one snapshot of the read models
(read_models/snapshot.py), and a query presenting consistency tokens runs only once the read
models show those writes (gateway/consistency.py), or answers CONSISTENCY_TIMEOUT."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from gateway.consistency import BadToken
from gateway.graphql.context import Context
from gateway.read_models.snapshot import Snapshot

HEADER = "consistency-token"
EXTENSION = "consistency"  # in the request body's `extensions`: a token or a list of tokens


class OneSnapshot(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            context = self.execution_context.context
            if isinstance(context, Context) and isinstance(context.reads, Snapshot):
                await context.reads.close()


class ReadYourWrites(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.consistency is not None:
            error = await _wait(context, self.execution_context.operation_extensions)
            if error is not None:
                self.execution_context.result = ExecutionResult(data=None, errors=[error])
        yield


async def _wait(context: Context, extensions: dict[str, object] | None) -> GraphQLError | None:
    assert context.consistency is not None
    presented = [context.request.headers.get(HEADER, "")] if context.request is not None else []
    extra = (extensions or {}).get(EXTENSION)
    if isinstance(extra, str):
        presented.append(extra)
    elif isinstance(extra, list) and all(isinstance(token, str) for token in extra):
        presented += extra
    elif extra is not None:
        return GraphQLError(
            "extensions.consistency must be a token or a list of tokens", extensions={"code": "BAD_USER_INPUT"}
        )
    try:
        tokens = context.consistency.tokens(presented)
    except BadToken as error:
        return GraphQLError(str(error), extensions={"code": "BAD_USER_INPUT"})
    if not tokens:
        return None
    late = await context.consistency.wait(tokens)
    if not late:
        return None
    return GraphQLError(
        f"the read models did not show {', '.join(map(str, late))} within {context.consistency.wait_seconds:g}s; "
        "nothing was read: try again shortly",
        extensions={"code": "CONSISTENCY_TIMEOUT", "tokens": [str(t) for t in late]},
    )
