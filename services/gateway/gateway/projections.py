"""Projections: events from the services' topics into the gateway's read models."""

from __future__ import annotations

from betterwork_events.contracts import assessment as ae
from betterwork_events.contracts import factory_registry as fr
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_model import assessment_reports, brands, consents, factories, finding_remediation, supplier_links

ENROLLMENT = {
    fr.FactoryEnrollmentApplied: "applied",
    fr.FactoryEnrolled: "enrolled",
    fr.FactoryEnrollmentSuspended: "suspended",
    fr.FactoryEnrollmentReinstated: "enrolled",
    fr.FactoryWithdrawn: "withdrawn",
    fr.FactoryClosed: "closed",
}


def _profile_columns(profile: fr.FactoryProfile) -> dict[str, object]:
    workforce = profile.workforce
    return {
        "name": profile.name,
        "local_name": profile.local_name,
        "country": profile.country,
        "address": profile.address,
        "sector": profile.sector.value,
        "workers_total": workforce.total if workforce else None,
        "workers_women": workforce.women if workforce else None,
        "workers_men": workforce.men if workforce else None,
    }


class FactoryDirectory:
    """Factories, brands, who supplies whom and who consents to share reports."""

    handles = frozenset(
        c.event_type
        for c in (
            *ENROLLMENT,
            fr.FactoryRegistered,
            fr.FactoryProfileUpdated,
            fr.FactoryMerged,
            fr.FactoryDuplicateAbsorbed,
            fr.BrandLinked,
            fr.BrandUnlinked,
            fr.ReportSharingConsentGranted,
            fr.ReportSharingConsentRevoked,
            fr.BrandRegistered,
            fr.BrandPartnershipChanged,
        )
    )

    def __init__(self, name: str = "gateway.factory-directory") -> None:
        self.name = name

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None:
        contract = event.contract()
        match contract:
            case fr.FactoryRegistered(factory_id=factory_id, profile=profile):
                await conn.execute(
                    insert(factories)
                    .values(
                        id=factory_id, **_profile_columns(profile), version=event.streamversion, updated_at=event.time
                    )
                    .on_conflict_do_nothing()
                )
            case fr.FactoryProfileUpdated(factory_id=factory_id, profile=profile):
                await self._update(conn, event, factory_id, **_profile_columns(profile))
            case fr.FactoryMerged(factory_id=factory_id, surviving_factory_id=survivor):
                await self._update(conn, event, factory_id, merged_into=survivor)
                await conn.execute(
                    factories.update().where(factories.c.merged_into == factory_id).values(merged_into=survivor)
                )
            case fr.FactoryDuplicateAbsorbed(factory_id=factory_id, brand_links=links, consenting_brands=consenting):
                for brand_id, since in links.items():
                    await conn.execute(
                        insert(supplier_links)
                        .values(factory_id=factory_id, brand_id=brand_id, since=since)
                        .on_conflict_do_nothing()
                    )
                for brand_id in consenting:
                    await conn.execute(
                        insert(consents).values(factory_id=factory_id, brand_id=brand_id).on_conflict_do_nothing()
                    )
                await self._update(conn, event, factory_id)
            case fr.BrandLinked(factory_id=factory_id, brand_id=brand_id, since=since):
                await conn.execute(
                    insert(supplier_links)
                    .values(factory_id=factory_id, brand_id=brand_id, since=since)
                    .on_conflict_do_nothing()
                )
            case fr.BrandUnlinked(factory_id=factory_id, brand_id=brand_id):
                await conn.execute(
                    supplier_links.delete().where(
                        supplier_links.c.factory_id == factory_id, supplier_links.c.brand_id == brand_id
                    )
                )
            case fr.ReportSharingConsentGranted(factory_id=factory_id, brand_id=brand_id):
                await conn.execute(
                    insert(consents).values(factory_id=factory_id, brand_id=brand_id).on_conflict_do_nothing()
                )
            case fr.ReportSharingConsentRevoked(factory_id=factory_id, brand_id=brand_id):
                await conn.execute(
                    consents.delete().where(consents.c.factory_id == factory_id, consents.c.brand_id == brand_id)
                )
            case fr.BrandRegistered(brand_id=brand_id, name=name, partnership=partnership):
                await conn.execute(
                    insert(brands)
                    .values(id=brand_id, name=name, partnership=partnership.value)
                    .on_conflict_do_nothing()
                )
            case fr.BrandPartnershipChanged(brand_id=brand_id, partnership=partnership):
                await conn.execute(brands.update().where(brands.c.id == brand_id).values(partnership=partnership.value))
            case _ if type(contract) in ENROLLMENT:
                await self._update(conn, event, event.factoryid or "", enrollment=ENROLLMENT[type(contract)])

    @staticmethod
    async def _update(conn: AsyncConnection, event: Envelope, factory_id: str, **values: object) -> None:
        # A factory's events arrive in order (one partition per factory); the version guard keeps
        # a redelivered older event from undoing a newer one.
        await conn.execute(
            factories.update()
            .where(factories.c.id == factory_id, factories.c.version < event.streamversion)
            .values(**values, version=event.streamversion, updated_at=event.time)
        )


class AssessmentReports:
    """Published reports and how their findings are remedied. Nothing before publication."""

    handles = frozenset(
        c.event_type
        for c in (ae.AssessmentCompleted, ae.FindingRemediated, ae.RemediationVerified, ae.RemediationRejected)
    )

    def __init__(self, name: str = "gateway.assessment-reports") -> None:
        self.name = name

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None:
        match event.contract():
            case ae.AssessmentCompleted() as completed:
                await conn.execute(
                    insert(assessment_reports)
                    .values(
                        id=completed.assessment_id,
                        factory_id=completed.factory_id,
                        country=completed.country,
                        tool_version=completed.tool_version,
                        published_on=completed.published_on,
                        compliance_points=[p.model_dump(mode="json") for p in completed.compliance_points],
                        clusters=[c.model_dump(mode="json") for c in completed.clusters],
                        recurring=list(completed.recurring_questions),
                    )
                    .on_conflict_do_nothing()
                )
            case ae.FindingRemediated(assessment_id=assessment_id, question_id=question_id):
                await self._remediation(conn, assessment_id, question_id, "remediated")
            case ae.RemediationVerified(assessment_id=assessment_id, question_id=question_id):
                await self._remediation(conn, assessment_id, question_id, "verified")
            case ae.RemediationRejected(assessment_id=assessment_id, question_id=question_id):
                await self._remediation(conn, assessment_id, question_id, "open")

    @staticmethod
    async def _remediation(conn: AsyncConnection, assessment_id: str, question_id: str, status: str) -> None:
        statement = insert(finding_remediation).values(
            assessment_id=assessment_id, question_id=question_id, status=status
        )
        await conn.execute(
            statement.on_conflict_do_update(index_elements=["assessment_id", "question_id"], set_={"status": status})
        )
