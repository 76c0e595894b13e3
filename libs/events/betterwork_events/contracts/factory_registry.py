"""Events on `factory-registry.events`: the programme's source of truth about who is who."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from betterwork_events.catalogue import EventContract, contract

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code")]
Name = Annotated[str, Field(min_length=1, max_length=300)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sector(StrEnum):
    GARMENT = "garment"
    FOOTWEAR = "footwear"
    TRAVEL_GOODS = "travel-goods"


class GeoPoint(Part):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


# Far more than any garment or footwear site employs; the bound keeps every figure within the
# 32-bit integers of the read models, so one absurd profile cannot stall their projections.
MOST_WORKERS = 1_000_000


class Workforce(Part):
    total: int = Field(ge=0, le=MOST_WORKERS, description="All workers employed at the site")
    women: int = Field(ge=0, le=MOST_WORKERS)
    men: int = Field(ge=0, le=MOST_WORKERS)
    migrant: int = Field(
        default=0, ge=0, le=MOST_WORKERS, description="Workers who migrated (domestically or abroad) for the job"
    )


class Ownership(Part):
    parent_group: str | None = Field(default=None, max_length=300)
    ownership_country: CountryCode | None = Field(default=None, description="Where the owners are based")


class RegistrationNumber(Part):
    authority: str = Field(min_length=1, max_length=200, examples=["Ministry of Commerce"])
    number: str = Field(min_length=1, max_length=100)


class Contact(Part):
    name: Name
    role: str = Field(min_length=1, max_length=200, examples=["HR manager"])
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=50)


class FactoryProfile(Part):
    """Everything the programme records about a factory site."""

    name: Name = Field(description="Legal name, in Latin script")
    local_name: str | None = Field(default=None, max_length=300, description="Name in the local script")
    country: CountryCode
    address: str = Field(min_length=1, max_length=1000)
    location: GeoPoint | None = None
    sector: Sector = Sector.GARMENT
    products: tuple[str, ...] = Field(default=(), max_length=50, examples=[["t-shirts", "knitwear"]])
    workforce: Workforce | None = None
    ownership: Ownership | None = None
    registration_numbers: tuple[RegistrationNumber, ...] = ()
    contacts: tuple[Contact, ...] = ()


class EnrollmentStatus(StrEnum):
    APPLIED = "applied"
    ENROLLED = "enrolled"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class ServicePackage(StrEnum):
    CORE = "core"  # assessment, advisory and training
    ASSESSMENT_ONLY = "assessment-only"


class FactoryRegistryEvent(EventContract):
    topic_service = "factory-registry"
    factory_id: str = Field(description="The factory's permanent programme id, e.g. KH-2026-0042-5")


@contract("org.betterwork.factory.registered.v1")
class FactoryRegistered(FactoryRegistryEvent):
    """Programme staff registered a factory."""

    profile: FactoryProfile


@contract("org.betterwork.factory.profile-updated.v1")
class FactoryProfileUpdated(FactoryRegistryEvent):
    """A factory's profile changed: the whole profile as it is now, and which fields changed."""

    profile: FactoryProfile
    changed: tuple[str, ...] = Field(min_length=1)


@contract("org.betterwork.factory.enrollment-applied.v1")
class FactoryEnrollmentApplied(FactoryRegistryEvent):
    country: CountryCode = Field(description="The country programme applied to")


@contract("org.betterwork.factory.enrolled.v1")
class FactoryEnrolled(FactoryRegistryEvent):
    """The factory is enrolled: from now on it can be assessed."""

    country: CountryCode
    service_package: ServicePackage
    enrolled_on: dt.date


@contract("org.betterwork.factory.enrollment-suspended.v1")
class FactoryEnrollmentSuspended(FactoryRegistryEvent):
    reason: Reason


@contract("org.betterwork.factory.enrollment-reinstated.v1")
class FactoryEnrollmentReinstated(FactoryRegistryEvent):
    reason: Reason


@contract("org.betterwork.factory.withdrawn.v1")
class FactoryWithdrawn(FactoryRegistryEvent):
    """The factory left the programme."""

    reason: Reason


@contract("org.betterwork.factory.closed.v1")
class FactoryClosed(FactoryRegistryEvent):
    """The factory stopped operating."""

    reason: Reason


@contract("org.betterwork.factory.merged.v1")
class FactoryMerged(FactoryRegistryEvent):
    """This record was a duplicate of `surviving_factory_id`; its id now resolves to that one for ever."""

    surviving_factory_id: str
    reason: Reason


class FactoryAlias(Part):
    """Another id or name the factory was known by: a record merged into it, or a former name."""

    factory_id: str
    name: str | None = Field(default=None, description="None for records merged before aliases were kept")


@contract("org.betterwork.factory.duplicate-absorbed.v1")
class FactoryDuplicateAbsorbed(FactoryRegistryEvent):
    """The duplicate record `merged_factory_id` was merged into this factory, with its brand links and consents."""

    merged_factory_id: str
    brand_links: dict[str, dt.date] = Field(description="brand id → linked since, taken over from the duplicate")
    consenting_brands: tuple[str, ...]
    aliases: tuple[FactoryAlias, ...] = Field(
        default=(),
        description="The duplicate's id and name, and the aliases it had itself: the survivor is known by them too",
    )


@contract("org.betterwork.factory.brand-linked.v1")
class BrandLinked(FactoryRegistryEvent):
    """The brand buys from the factory (a supplier link)."""

    brand_id: str
    since: dt.date


@contract("org.betterwork.factory.brand-unlinked.v1")
class BrandUnlinked(FactoryRegistryEvent):
    brand_id: str
    until: dt.date


@contract("org.betterwork.factory.report-sharing-consent-granted.v1")
class ReportSharingConsentGranted(FactoryRegistryEvent):
    """The factory lets the brand read its assessment reports (while the brand is linked)."""

    brand_id: str


@contract("org.betterwork.factory.report-sharing-consent-revoked.v1")
class ReportSharingConsentRevoked(FactoryRegistryEvent):
    """From now on the brand reads nothing more of the factory's assessments."""

    brand_id: str


class BrandKind(StrEnum):
    BUYER = "buyer"
    RETAILER = "retailer"


class PartnershipStatus(StrEnum):
    PARTNER = "partner"
    NON_PARTNER = "non-partner"
    FORMER_PARTNER = "former-partner"


class BrandEvent(EventContract):
    topic_service = "factory-registry"
    brand_id: str


@contract("org.betterwork.brand.registered.v1")
class BrandRegistered(BrandEvent):
    name: Name
    kind: BrandKind
    headquarters_country: CountryCode | None = None
    partnership: PartnershipStatus


@contract("org.betterwork.brand.partnership-changed.v1")
class BrandPartnershipChanged(BrandEvent):
    partnership: PartnershipStatus
