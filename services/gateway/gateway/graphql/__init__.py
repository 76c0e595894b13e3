"""GraphQL types and resolvers, one module per area; resolvers ask policy (through the context)
for the caller's scope and call the read models' queries."""
