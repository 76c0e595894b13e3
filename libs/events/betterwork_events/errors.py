"""Errors the domain raises; the web layer maps each to one HTTP status (see web.py)."""


class IllegalStep(Exception):
    """The command breaks a rule of the domain in the aggregate's current state (HTTP 409)."""


class NotFound(LookupError):
    """The thing the command names does not exist (HTTP 404)."""


class Forbidden(PermissionError):
    """The caller may not do this, whatever the resource's state (HTTP 403)."""


class InvalidRequest(ValueError):
    """The request is malformed in a way the schema cannot say (HTTP 422)."""


class PreconditionRequired(Exception):
    """A change of an existing resource came without If-Match: which version it was read at (HTTP 428)."""


class IdempotencyKeyReused(IllegalStep):
    """The caller sent an Idempotency-Key it already used, with a different request (HTTP 409)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request")
