"""The GraphiQL page at GET /graphql loads nothing from outside the gateway (it must work offline)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from gateway.app import create_app
from gateway.ide import PLACEHOLDER
from gateway.settings import Settings

APP = create_app(Settings())  # nothing here starts its lifespan: no database, no Kafka


class Page(HTMLParser):
    """What a browser would fetch for the page: its scripts, its stylesheets, every other URL in it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.inline_scripts = 0
        self.stylesheets: list[str] = []
        self.urls: list[str] = []
        self.root: dict[str, str] = {}
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.urls += [attributes[name] for name in ("src", "href", "action", "srcset", "poster") if name in attributes]
        if tag == "script":
            if "src" in attributes:
                self.scripts.append(attributes["src"])
            else:
                self.inline_scripts += 1
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"])
        if attributes.get("id") == "graphiql":
            self.root = attributes


async def get(path: str, root_path: str = "", **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=APP, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        return await client.get(path, headers=headers)


async def graphiql() -> Page:
    response = await get("/graphql", accept="text/html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text)


async def test_the_page_loads_only_the_gateways_own_files() -> None:
    page = await graphiql()
    assert page.scripts and page.stylesheets
    assert page.inline_scripts == 0, "the Content-Security-Policy allows no inline script"
    for url in page.urls:
        parts = urlsplit(url)
        if parts.scheme == "data":  # the empty favicon
            continue
        assert not parts.scheme and not parts.netloc, f"{url} is not the gateway's"
        assert parts.path.startswith("/graphql/ide/"), url


async def test_nothing_in_the_page_names_another_host() -> None:
    response = await get("/graphql", accept="text/html")
    assert "://" not in response.text


@pytest.mark.parametrize("kind", ["scripts", "stylesheets"])
async def test_every_file_the_page_loads_is_served_with_its_type_and_kept_for_good(kind: str) -> None:
    media_type = {"scripts": "text/javascript", "stylesheets": "text/css"}[kind]
    for url in getattr(await graphiql(), kind):
        response = await get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].split(";")[0] == media_type, url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable", url
        assert response.headers["content-encoding"] == "gzip"  # httpx asked for it, and decoded it
        assert len(response.content) > 100, url


async def test_the_vendored_builds_are_all_there() -> None:
    page = await graphiql()
    sizes = {urlsplit(url).path.rsplit("/", 1)[1]: len((await get(url)).content) for url in page.scripts}
    assert list(sizes)[:4] == [  # React before GraphiQL, GraphiQL before its plugin
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "plugin-explorer.umd.js",
    ]
    assert sizes["graphiql.min.js"] > 500_000 and sizes["react-dom.production.min.js"] > 100_000


async def test_a_file_asked_for_without_its_fingerprint_is_not_kept() -> None:
    response = await get("/graphql/ide/graphiql.min.js", **{"accept-encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("name", ["app.py", "..%2Fapp.py", "LICENSE.react", "README.md", "static"])
async def test_nothing_but_the_pages_files_is_served(name: str) -> None:
    assert (await get(f"/graphql/ide/{name}")).status_code == 404


async def test_the_page_opens_with_a_headers_template_for_a_bearer_token() -> None:
    page = await graphiql()
    assert json.loads(page.root["data-headers"]) == {"Authorization": f"Bearer {PLACEHOLDER}"}
    assert page.root["data-placeholder"] == PLACEHOLDER
    assert "make -s token AUDIENCE=programme" in page.root["data-query"]
    script = (await get(next(url for url in page.scripts if "/ide.js?" in url))).text
    assert 'defaultEditorToolsVisibility: "headers"' in script  # the headers pane is open
    assert "window.sessionStorage" in script  # a pasted token goes when the browser tab does


async def test_the_page_may_load_and_call_the_gateway_only() -> None:
    response = await get("/graphql", accept="text/html")
    policy = dict(
        directive.strip().split(" ", 1) for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


async def test_behind_a_proxy_the_files_are_found_under_its_prefix() -> None:
    response = await get("/gateway/graphql", root_path="/gateway", accept="text/html")
    page = Page(response.text)
    assert all(url.startswith("/gateway/graphql/ide/") for url in page.scripts + page.stylesheets)
