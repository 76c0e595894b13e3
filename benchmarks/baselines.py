"""The hand-written baselines the system benchmark (system.py) measures the services against, each
served by uvicorn like the services are:

  bare_insert   a FastAPI route doing one INSERT of the request's JSON, nothing else: no token, no
                event store, no relay. What a command costs at the least on this server.
  portal_pages  FastAPI routes answering, as JSON from the gateway's own read-model tables in plain
                queries, what the GraphQL queries of the same pages could cost at the least:
                /factory-page, the programme's factory page (50 factories, their newest assessments,
                their findings); /brand-dashboard?brand=…, a brand's consenting suppliers'
                non-compliance by country and cluster beside each country's.

    uvicorn --factory benchmarks.baselines:bare_insert      (BW_DATABASE_URL: any empty database)
    uvicorn --factory benchmarks.baselines:portal_pages     (BW_DATABASE_URL: a gateway database)
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from betterwork_events.settings import CommonSettings
from betterwork_events.web import create_engine
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

PAGE_FACTORIES = 50
PAGE_ASSESSMENTS = 5
PAGE_FINDINGS = 100


def _engine() -> Any:
    return create_engine(CommonSettings(database_url=os.environ["BW_DATABASE_URL"]))  # the services' pool


def bare_insert() -> FastAPI:
    engine = _engine()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bare_rows (id bigserial PRIMARY KEY, data json)"))
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/rows", status_code=201)
    async def insert(request: Request) -> dict[str, int]:
        body = (await request.body()).decode()
        async with engine.begin() as conn:
            row_id = (
                await conn.execute(sa.text("INSERT INTO bare_rows (data) VALUES (:data) RETURNING id"), {"data": body})
            ).scalar_one()
        return {"id": row_id}

    return app


# Per country and cluster, over each factory's latest published report: the brand's consenting
# suppliers' figures and their countries' (what gateway/read_models/compliance.cluster_totals
# computes twice for the GraphQL dashboard).
BRAND_DASHBOARD = """
WITH suppliers AS (
    SELECT l.factory_id FROM supplier_links l
    JOIN report_sharing_consents c ON c.factory_id = l.factory_id AND c.brand_id = l.brand_id
    WHERE l.brand_id = :brand
), latest AS (
    SELECT DISTINCT ON (factory_id) factory_id, country, clusters FROM assessment_reports
    ORDER BY factory_id, published_on DESC, id DESC
), cells AS (
    SELECT l.country, l.factory_id, l.factory_id IN (SELECT factory_id FROM suppliers) AS own,
           e.value ->> 'cluster_id' AS cluster_id,
           (e.value ->> 'compliance_points_assessed')::int AS assessed,
           (e.value ->> 'compliance_points_non_compliant')::int AS non_compliant
    FROM latest l, jsonb_array_elements(l.clusters::jsonb) e
    WHERE l.country IN (SELECT country FROM latest WHERE factory_id IN (SELECT factory_id FROM suppliers))
)
SELECT country, cluster_id,
       count(DISTINCT factory_id) FILTER (WHERE own) AS own_factories,
       sum(assessed) FILTER (WHERE own) AS own_assessed, sum(non_compliant) FILTER (WHERE own) AS own_nc,
       count(DISTINCT factory_id) AS factories, sum(assessed) AS assessed, sum(non_compliant) AS nc
FROM cells WHERE assessed > 0 GROUP BY country, cluster_id
HAVING count(*) FILTER (WHERE own) > 0 ORDER BY country, cluster_id
"""


def portal_pages() -> FastAPI:
    engine = _engine()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/factory-page")
    async def page() -> JSONResponse:
        async with engine.connect() as conn:
            factories = (
                await conn.execute(
                    sa.text(
                        "SELECT id, name, country FROM factories WHERE merged_into IS NULL ORDER BY name, id LIMIT :n"
                    ),
                    {"n": PAGE_FACTORIES},
                )
            ).all()
            ids = [f.id for f in factories]
            assessments = (
                await conn.execute(
                    sa.text(
                        "SELECT id, factory_id, status FROM (SELECT id, factory_id, status, row_number() OVER "
                        "(PARTITION BY factory_id ORDER BY scheduled_at DESC, id DESC) AS n FROM assessments "
                        "WHERE factory_id = ANY(:ids)) a WHERE n <= :n"
                    ),
                    {"ids": ids, "n": PAGE_ASSESSMENTS},
                )
            ).all()
            findings = (
                await conn.execute(
                    sa.text(
                        "SELECT assessment_id, question_id, compliance_point_id, result FROM (SELECT *, row_number() "
                        "OVER (PARTITION BY assessment_id ORDER BY question_id) AS n FROM findings "
                        "WHERE assessment_id = ANY(:ids)) f WHERE n <= :n"
                    ),
                    {"ids": [a.id for a in assessments], "n": PAGE_FINDINGS},
                )
            ).all()
        by_assessment: dict[str, list[dict[str, str]]] = defaultdict(list)
        for f in findings:
            by_assessment[f.assessment_id].append(
                {"questionId": f.question_id, "compliancePointId": f.compliance_point_id, "result": f.result}
            )
        by_factory: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for a in assessments:
            by_factory[a.factory_id].append(
                {"assessmentId": a.id, "status": a.status, "findings": {"nodes": by_assessment[a.id]}}
            )
        nodes = [
            {"factoryId": f.id, "name": f.name, "country": f.country, "assessments": {"nodes": by_factory[f.id]}}
            for f in factories
        ]
        return JSONResponse({"data": {"factories": {"nodes": nodes}}})

    @app.get("/brand-dashboard")
    async def dashboard(brand: str) -> JSONResponse:
        async with engine.connect() as conn:
            cells = (await conn.execute(sa.text(BRAND_DASHBOARD), {"brand": brand})).all()
        by_country: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in cells:
            by_country[c.country].append(
                {
                    "clusterId": c.cluster_id,
                    "suppliers": {"nonComplianceRate": c.own_nc / c.own_assessed, "factories": c.own_factories},
                    "country": {"nonComplianceRate": c.nc / c.assessed, "factories": c.factories, "suppressed": False},
                }
            )
        countries = [{"country": country, "clusters": clusters} for country, clusters in by_country.items()]
        return JSONResponse({"data": {"brandDashboard": {"countries": countries}}})

    return app
