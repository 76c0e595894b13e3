"""Factories and brands as the programme knows them: plain Python, events in, events out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from betterwork_events.contracts.factory_registry import (
    BrandKind,
    BrandLinked,
    BrandPartnershipChanged,
    BrandRegistered,
    BrandUnlinked,
    EnrollmentStatus,
    FactoryAlias,
    FactoryClosed,
    FactoryDuplicateAbsorbed,
    FactoryEnrolled,
    FactoryEnrollmentApplied,
    FactoryEnrollmentReinstated,
    FactoryEnrollmentSuspended,
    FactoryMerged,
    FactoryProfile,
    FactoryProfileUpdated,
    FactoryRegistered,
    FactoryWithdrawn,
    PartnershipStatus,
    ReportSharingConsentGranted,
    ReportSharingConsentRevoked,
    ServicePackage,
)
from betterwork_events.countries import COUNTRY_PROGRAMMES
from betterwork_events.errors import IllegalStep

FactoryEvent: TypeAlias = (
    FactoryRegistered
    | FactoryProfileUpdated
    | FactoryEnrollmentApplied
    | FactoryEnrolled
    | FactoryEnrollmentSuspended
    | FactoryEnrollmentReinstated
    | FactoryWithdrawn
    | FactoryClosed
    | FactoryMerged
    | FactoryDuplicateAbsorbed
    | BrandLinked
    | BrandUnlinked
    | ReportSharingConsentGranted
    | ReportSharingConsentRevoked
)
BrandEvent: TypeAlias = BrandRegistered | BrandPartnershipChanged


def factory_stream(factory_id: str) -> str:
    return f"factory-{factory_id}"


def brand_stream(brand_id: str) -> str:
    return f"brand-{brand_id}"


# Fields of the profile that identify the factory: changing them is a merge, not an update.
FIXED_FIELDS = frozenset({"country"})
# Where an enrollment may go from each status (None: never applied).
ENROLLMENT_STEPS: dict[str, set[EnrollmentStatus | None]] = {
    "apply": {None, EnrollmentStatus.WITHDRAWN},
    "enroll": {EnrollmentStatus.APPLIED},
    "suspend": {EnrollmentStatus.ENROLLED},
    "reinstate": {EnrollmentStatus.SUSPENDED},
    "withdraw": {EnrollmentStatus.APPLIED, EnrollmentStatus.ENROLLED, EnrollmentStatus.SUSPENDED},
    "close": {
        None,
        EnrollmentStatus.APPLIED,
        EnrollmentStatus.ENROLLED,
        EnrollmentStatus.SUSPENDED,
        EnrollmentStatus.WITHDRAWN,
    },
}


@dataclass
class Factory:
    id: str
    profile: FactoryProfile | None = None
    enrollment: EnrollmentStatus | None = None
    service_package: ServicePackage | None = None
    enrolled_on: dt.date | None = None
    merged_into: str | None = None
    brand_links: dict[str, dt.date] = field(default_factory=dict)  # brand id → linked since
    ended_links: dict[str, dt.date] = field(default_factory=dict)  # brand id → until, of its last ended link
    consenting_brands: set[str] = field(default_factory=set)
    aliases: list[FactoryAlias] = field(default_factory=list)  # merged records and former names, oldest first
    version: int = 0

    # --- commands ----------------------------------------------------------------------------

    @staticmethod
    def register(factory_id: str, profile: FactoryProfile) -> list[FactoryEvent]:
        if profile.country not in COUNTRY_PROGRAMMES:
            raise IllegalStep(f"there is no country programme in {profile.country}")
        _check_workforce(profile)
        return [FactoryRegistered(factory_id=factory_id, profile=profile)]

    def update_profile(self, changes: dict[str, Any]) -> list[FactoryEvent]:
        current = self._active_profile()
        fixed = FIXED_FIELDS & changes.keys()
        if fixed:
            raise IllegalStep(f"{', '.join(sorted(fixed))} cannot change; register the factory anew and merge")
        updated = FactoryProfile.model_validate(current.model_dump() | changes)
        changed = tuple(
            name for name in FactoryProfile.model_fields if getattr(updated, name) != getattr(current, name)
        )
        if not changed:
            raise IllegalStep("the update changes nothing")
        _check_workforce(updated)
        return [FactoryProfileUpdated(factory_id=self.id, profile=updated, changed=changed)]

    def apply_for_enrollment(self) -> list[FactoryEvent]:
        profile = self._active_profile()
        self._step("apply")
        return [FactoryEnrollmentApplied(factory_id=self.id, country=profile.country)]

    def enroll(self, service_package: ServicePackage, enrolled_on: dt.date) -> list[FactoryEvent]:
        profile = self._active_profile()
        self._step("enroll")
        return [
            FactoryEnrolled(
                factory_id=self.id, country=profile.country, service_package=service_package, enrolled_on=enrolled_on
            )
        ]

    def suspend(self, reason: str) -> list[FactoryEvent]:
        self._active_profile()
        self._step("suspend")
        return [FactoryEnrollmentSuspended(factory_id=self.id, reason=reason)]

    def reinstate(self, reason: str) -> list[FactoryEvent]:
        self._active_profile()
        self._step("reinstate")
        return [FactoryEnrollmentReinstated(factory_id=self.id, reason=reason)]

    def withdraw(self, reason: str) -> list[FactoryEvent]:
        self._active_profile()
        self._step("withdraw")
        return [FactoryWithdrawn(factory_id=self.id, reason=reason)]

    def close(self, reason: str) -> list[FactoryEvent]:
        self._active_profile()
        self._step("close")
        return [FactoryClosed(factory_id=self.id, reason=reason)]

    def link_brand(self, brand: Brand, since: dt.date) -> list[FactoryEvent]:
        self._active_profile()
        if brand.id in self.brand_links:
            raise IllegalStep(f"{brand.name} is already linked to this factory since {self.brand_links[brand.id]}")
        return [BrandLinked(factory_id=self.id, brand_id=brand.id, since=since)]

    def unlink_brand(self, brand_id: str, until: dt.date) -> list[FactoryEvent]:
        self._active_profile()
        since = self.brand_links.get(brand_id)
        if since is None:
            raise IllegalStep(f"brand {brand_id} is not linked to this factory")
        if until < since:
            raise IllegalStep(f"the link cannot end ({until}) before it began ({since})")
        return [BrandUnlinked(factory_id=self.id, brand_id=brand_id, until=until)]

    def grant_consent(self, brand: Brand) -> list[FactoryEvent]:
        """Only to a buyer the programme has linked: a consent to any other brand would share
        reports with whoever asked for them, and lie dormant until a link made it real."""
        self._active_profile()
        if brand.id not in self.brand_links:
            raise IllegalStep(f"{brand.name} is not linked to this factory as a buyer: the programme links it first")
        if brand.id in self.consenting_brands:
            raise IllegalStep(f"{brand.name} may already read this factory's reports")
        return [ReportSharingConsentGranted(factory_id=self.id, brand_id=brand.id)]

    def revoke_consent(self, brand_id: str) -> list[FactoryEvent]:
        self._active_profile()
        if brand_id not in self.consenting_brands:
            raise IllegalStep(f"brand {brand_id} has no consent to revoke")
        return [ReportSharingConsentRevoked(factory_id=self.id, brand_id=brand_id)]

    def merge_into(self, survivor: Factory, reason: str) -> tuple[list[FactoryEvent], list[FactoryEvent]]:
        """Merge this duplicate record into `survivor`: events for this stream, and for the survivor's."""
        duplicate_profile, survivor_profile = self._active_profile(), survivor._active_profile()
        if survivor.id == self.id:
            raise IllegalStep("a factory cannot be merged into itself")
        if duplicate_profile.country != survivor_profile.country:
            raise IllegalStep("factories in different countries are not duplicates")
        # A link the survivor's record ended on or after the duplicate's link began is the newer
        # fact: the brand stopped buying, and a merge must not make it the factory's buyer again.
        links = {
            brand: since
            for brand, since in self.brand_links.items()
            if brand not in survivor.brand_links and survivor.ended_links.get(brand, dt.date.min) < since
        }
        # Consent is not carried over: the survivor's users may have revoked it on their record,
        # and a merge must never share reports they chose not to share. They grant it again.
        consents: tuple[str, ...] = ()
        aliases = (FactoryAlias(factory_id=self.id, name=duplicate_profile.name), *self.aliases)
        return (
            [FactoryMerged(factory_id=self.id, surviving_factory_id=survivor.id, reason=reason)],
            [
                FactoryDuplicateAbsorbed(
                    factory_id=survivor.id,
                    merged_factory_id=self.id,
                    brand_links=links,
                    consenting_brands=consents,
                    aliases=aliases,
                )
            ],
        )

    # --- state ---------------------------------------------------------------------------------

    def may_share_reports_with(self, brand_id: str) -> bool:
        return brand_id in self.brand_links and brand_id in self.consenting_brands

    def apply(self, event: FactoryEvent) -> None:
        match event:
            case FactoryRegistered() | FactoryProfileUpdated():
                if self.profile is not None and self.profile.name != event.profile.name:
                    self.aliases.append(FactoryAlias(factory_id=self.id, name=self.profile.name))
                self.profile = event.profile
            case FactoryEnrollmentApplied():
                self.enrollment = EnrollmentStatus.APPLIED
            case FactoryEnrolled():
                self.enrollment = EnrollmentStatus.ENROLLED
                self.service_package, self.enrolled_on = event.service_package, event.enrolled_on
            case FactoryEnrollmentSuspended():
                self.enrollment = EnrollmentStatus.SUSPENDED
            case FactoryEnrollmentReinstated():
                self.enrollment = EnrollmentStatus.ENROLLED
            case FactoryWithdrawn():
                self.enrollment = EnrollmentStatus.WITHDRAWN
            case FactoryClosed():
                self.enrollment = EnrollmentStatus.CLOSED
            case FactoryMerged():
                self.merged_into = event.surviving_factory_id
            case FactoryDuplicateAbsorbed():
                self.aliases.extend(event.aliases or (FactoryAlias(factory_id=event.merged_factory_id),))
                self.brand_links.update(event.brand_links)
                self.consenting_brands.update(event.consenting_brands)
            case BrandLinked():
                self.brand_links[event.brand_id] = event.since
            case BrandUnlinked():
                self.brand_links.pop(event.brand_id, None)
                self.ended_links[event.brand_id] = event.until
            case ReportSharingConsentGranted():
                self.consenting_brands.add(event.brand_id)
            case ReportSharingConsentRevoked():
                self.consenting_brands.discard(event.brand_id)
        self.version += 1

    @classmethod
    def rebuild(cls, factory_id: str, events: list[FactoryEvent]) -> Factory:
        factory = cls(id=factory_id)
        for event in events:
            factory.apply(event)
        return factory

    def _active_profile(self) -> FactoryProfile:
        if self.profile is None:
            raise IllegalStep(f"factory {self.id} is not registered")
        if self.merged_into is not None:
            raise FactoryWasMerged(self.id, self.merged_into)
        if self.enrollment is EnrollmentStatus.CLOSED:
            raise IllegalStep(f"factory {self.id} is closed")
        return self.profile

    def _step(self, step: str) -> None:
        if self.enrollment not in ENROLLMENT_STEPS[step]:
            now = self.enrollment.value if self.enrollment else "not enrolled"
            raise IllegalStep(f"cannot {step} a factory that is {now}")


class FactoryWasMerged(IllegalStep):
    def __init__(self, factory_id: str, surviving_factory_id: str) -> None:
        super().__init__(f"factory {factory_id} was merged into {surviving_factory_id}; use {surviving_factory_id}")
        self.surviving_factory_id = surviving_factory_id


def _check_workforce(profile: FactoryProfile) -> None:
    workforce = profile.workforce
    if workforce is None:
        return
    if workforce.women + workforce.men > workforce.total:
        raise IllegalStep(
            f"workforce: {workforce.women} women and {workforce.men} men exceed the total of {workforce.total}"
        )
    if workforce.migrant > workforce.total:
        raise IllegalStep(f"workforce: {workforce.migrant} migrant workers exceed the total of {workforce.total}")


@dataclass
class Brand:
    id: str
    name: str = ""
    kind: BrandKind = BrandKind.BUYER
    partnership: PartnershipStatus = PartnershipStatus.NON_PARTNER
    version: int = 0

    @staticmethod
    def register(
        brand_id: str, name: str, kind: BrandKind, partnership: PartnershipStatus, headquarters_country: str | None
    ) -> list[BrandEvent]:
        return [
            BrandRegistered(
                brand_id=brand_id,
                name=name,
                kind=kind,
                partnership=partnership,
                headquarters_country=headquarters_country,
            )
        ]

    def change_partnership(self, partnership: PartnershipStatus) -> list[BrandEvent]:
        if partnership == self.partnership:
            raise IllegalStep(f"{self.name} is already {partnership}")
        return [BrandPartnershipChanged(brand_id=self.id, partnership=partnership)]

    def apply(self, event: BrandEvent) -> None:
        match event:
            case BrandRegistered():
                self.name, self.kind, self.partnership = event.name, event.kind, event.partnership
            case BrandPartnershipChanged():
                self.partnership = event.partnership
        self.version += 1

    @classmethod
    def rebuild(cls, brand_id: str, events: list[BrandEvent]) -> Brand:
        brand = cls(id=brand_id)
        for event in events:
            brand.apply(event)
        return brand
