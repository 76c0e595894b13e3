"""The GraphiQL page at GET /graphql, with everything it loads served by the gateway itself.

Strawberry's own page loads React and GraphiQL from a CDN, so it stays blank on a machine
without internet (an on-premise deployment). This one references only the files in `static/`
(npm builds of GraphiQL 3 and React 18, named in README.md here), served under /graphql/ide/.
Like the page, they need no token and hold no secret; every query the page sends needs one,
which the user pastes into the headers template the page opens with.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
from pathlib import Path

from betterwork_events.errors import NotFound
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

PATH = "/graphql/ide"
STATIC = Path(__file__).parent / "static"
JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"

# What the page may load and where it may send queries: the gateway, and nothing else.
# (GraphiQL's stylesheet embeds its fonts as data: URLs; React sets styles through the DOM.)
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; font-src data:; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# An asset's URL carries its fingerprint, so a browser may keep it until the file changes.
FOREVER = "public, max-age=31536000, immutable"

PLACEHOLDER = "<paste a token from make token>"
HEADERS_TEMPLATE = json.dumps({"Authorization": f"Bearer {PLACEHOLDER}"}, indent=2)
NO_TOKEN = (
    "No token yet: replace the placeholder in the Headers pane with a bearer token "
    "(on a development machine, make -s token AUDIENCE=programme), then re-fetch the schema."
)
FIRST_QUERY = """\
# The Better Work gateway.
#
# Every query needs a bearer token: paste yours over
#   <paste a token from make token>
# in the Headers pane below. On a development machine:
#   make -s token AUDIENCE=programme
# Then re-fetch the schema (the arrows on the left, or
# Shift+Ctrl+R) for the docs and autocompletion, and run
# this query with Ctrl+Enter or the run button.
{
  factories(first: 10) {
    totalCount
    nodes {
      factoryId
      name
      country
    }
  }
}
"""


class Asset:
    """A file the page loads, read (and compressed) once; its fingerprint changes with its content."""

    def __init__(self, name: str, media_type: str) -> None:
        self.name = name
        self.media_type = media_type
        self.content = (STATIC / name).read_bytes()
        self.gzipped = gzip.compress(self.content, mtime=0)  # about 50 ms for all of them, once
        self.fingerprint = hashlib.sha256(self.content).hexdigest()[:16]

    def href(self, root_path: str) -> str:
        return f"{root_path}{PATH}/{self.name}?v={self.fingerprint}"


STYLESHEETS = [Asset("graphiql.min.css", CSS), Asset("plugin-explorer.css", CSS), Asset("ide.css", CSS)]
SCRIPTS = [  # in the order they must run: React first, this page's own script last
    Asset("react.production.min.js", JAVASCRIPT),
    Asset("react-dom.production.min.js", JAVASCRIPT),
    Asset("graphiql.min.js", JAVASCRIPT),
    Asset("plugin-explorer.umd.js", JAVASCRIPT),
    Asset("ide.js", JAVASCRIPT),
]
ASSETS = {asset.name: asset for asset in (*STYLESHEETS, *SCRIPTS)}


def page(request: Request) -> HTMLResponse:
    """The GraphiQL page; its assets' paths start from the app's root path (set behind a proxy)."""
    root = request.scope.get("root_path", "")
    stylesheets = "".join(f'\n<link rel="stylesheet" href="{a.href(root)}">' for a in STYLESHEETS)
    scripts = "".join(f'\n<script src="{a.href(root)}"></script>' for a in SCRIPTS)
    dataset = {"headers": HEADERS_TEMPLATE, "placeholder": PLACEHOLDER, "no-token": NO_TOKEN, "query": FIRST_QUERY}
    attributes = " ".join(f'data-{name}="{html.escape(value)}"' for name, value in dataset.items())
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Better Work gateway: GraphiQL</title>
<link rel="icon" href="data:,">{stylesheets}
</head>
<body>
<div id="graphiql" {attributes}>Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript. Without it, POST queries to this address with a bearer token.</noscript>{scripts}
</body>
</html>
"""
    return HTMLResponse(
        body,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


assets = APIRouter()


@assets.get(PATH + "/{name}", include_in_schema=False)
async def asset(name: str, request: Request) -> Response:
    """One of the page's files; only an unchanged fingerprint may be kept for good."""
    found = ASSETS.get(name)
    if found is None:
        raise NotFound("no such file of the GraphQL IDE")
    headers = {
        "Cache-Control": FOREVER if request.query_params.get("v") == found.fingerprint else "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return Response(found.content, media_type=found.media_type, headers=headers)
    return Response(found.gzipped, media_type=found.media_type, headers=headers | {"Content-Encoding": "gzip"})
