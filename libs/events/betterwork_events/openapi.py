"""The OpenAPI documents of the services' REST command APIs, exported for partners who call them.

    python -m betterwork_events.openapi --out libs/events/docs/openapi           # regenerate
    python -m betterwork_events.openapi --out libs/events/docs/openapi --check   # exit 1 if out of date

Building an app opens no connection (the database engine is lazy), so this needs no running
infrastructure.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence

from betterwork_events.docs import run, to_json

# Service name -> the module with its create_app(settings).
SERVICE_APPS = {
    "factory-registry": "factory_registry.app",
    "assessment": "assessment.app",
    "committee": "committee.app",
    "training": "training.app",
}

OWNED = ("*.openapi.json",)


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its package is not installed
        return False


def generated_files() -> dict[str, str]:
    """`<service>.openapi.json` for every service whose app module exists yet.

    A module that exists but fails to import is an error, not a service to skip.
    """
    # The apps are built only to read their routes; they verify no token and serve nothing.
    os.environ.setdefault("BW_ENVIRONMENT", "development")
    files = {}
    for service, module in SERVICE_APPS.items():
        if not _exists(module):
            continue
        app = importlib.import_module(module).create_app()
        files[f"{service}.openapi.json"] = to_json(app.openapi())
    return files


def main(argv: Sequence[str] | None = None) -> int:
    return run(
        argv,
        prog="betterwork_events.openapi",
        description="Write the OpenAPI document of every service's REST API (<service>.openapi.json) "
        "from its create_app().",
        generate=generated_files,
        owned=OWNED,
    )


if __name__ == "__main__":
    sys.exit(main())
