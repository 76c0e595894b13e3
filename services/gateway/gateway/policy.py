"""What each caller may read through the gateway: the one place access is decided.

Every resolver asks for the caller's `Scope` and every read-model query takes its conditions
from it, so a brand can only ever reach its consenting suppliers, a factory its own records and
a government only aggregates, whatever the GraphQL query asks for. The brand feeds
(brand_feeds.py) decide who receives an event with the same rule, `brand_reads_factory`.

The audiences, in short:
- programme staff read everything, including what is not yet published, planned dates of
  unannounced visits, zero-tolerance alerts and staff names;
- a factory reads its own records, published ones only where an assessment is concerned: an
  unannounced visit does not exist for it until its report is published;
- a brand reads the published records of suppliers that are linked to it and consent now
  (the read model AND the registry, asked on each request), never staff names;
- a government reads aggregates of its own country, with cells of fewer than SMALLEST_CELL
  factories withheld (`withheld`), never an individual factory.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from betterwork_events import brand_feed
from betterwork_events.auth import Audience, Principal
from betterwork_events.catalogue import EventContract

from gateway.read_models.directory import consents, factories, supplier_links
from gateway.read_models.history import Visibility

# Aggregates over fewer factories than this are withheld: with two or three factories in a
# cell, a "country statistic" identifies the factories.
SMALLEST_CELL = 5
# Worker counts in aggregates are rounded to 10**this (to the hundred), shares to the hundredth,
# so that the difference of two readings does not give one factory's figures away.
WORKERS_ROUNDED_TO_DIGITS = 2
SHARES_ROUNDED_TO_DIGITS = 2
# Participants in training aggregates are rounded to the ten, for the same reason.
PARTICIPANTS_ROUNDED_TO_DIGITS = 1
# Compliance points behind an aggregate are rounded to the ten: exact, they would turn a rounded
# share back into an exact count of non-compliant points, and two readings into one factory's.
COMPLIANCE_POINTS_ROUNDED_TO_DIGITS = 1


# Worker survey figures stand on at least this many respondents, for every audience, programme
# staff included: nobody reads what a handful of workers answered (read_models/surveys.py says how
# no two figures difference into a smaller group).
SMALLEST_SURVEY_GROUP = 10

Cell = TypeVar("Cell", bound=Hashable)


class AccessDenied(Exception):
    pass


def withheld(factory_count: int) -> bool:
    """THE suppression rule: is an aggregate over this many factories too small to show?"""
    return factory_count < SMALLEST_CELL


def rounded_workers(workers: int) -> int:
    return int(round(workers, -WORKERS_ROUNDED_TO_DIGITS))


def rounded_share(share: float) -> float:
    return round(share, SHARES_ROUNDED_TO_DIGITS)


def rounded_participants(participants: int) -> int:
    return int(round(participants, -PARTICIPANTS_ROUNDED_TO_DIGITS))


def withheld_cells(factory_counts: Mapping[Cell, int]) -> set[Cell]:
    """The cells of a breakdown shown with its total that must be withheld: those too small
    (`withheld`) and, if every one withheld is small, the next smallest too: otherwise the total
    minus the others would give the small ones away, one alone or several together."""
    small = {cell for cell, count in factory_counts.items() if withheld(count)}
    if small and len(factory_counts) > len(small):
        small.add(min((count, str(cell), cell) for cell, count in factory_counts.items() if cell not in small)[2])
    return small


# A cell of a compliance breakdown: (cluster, compliance point); (None, None) is the whole, (cluster,
# None) a cluster.
BreakdownCell = tuple[str | None, str | None]


def withheld_breakdown(factory_counts: Mapping[BreakdownCell, int]) -> set[BreakdownCell]:
    """The cells of a whole -> clusters -> compliance points breakdown to withhold: all of it if the
    whole is small; the clusters as `withheld_cells` (shown with the whole); within each cluster
    shown, its points as `withheld_cells`; every point of a cluster withheld."""
    if withheld(factory_counts.get((None, None), 0)):
        return set(factory_counts)
    clusters = {cell: n for cell, n in factory_counts.items() if cell[0] is not None and cell[1] is None}
    hidden = withheld_cells(clusters)
    for cluster in clusters:
        points = {cell: n for cell, n in factory_counts.items() if cell[0] == cluster[0] and cell[1] is not None}
        hidden |= set(points) if cluster in hidden else withheld_cells(points)
    return hidden


def withheld_beside(
    factory_counts: Mapping[BreakdownCell, int], own: Mapping[BreakdownCell, int]
) -> set[BreakdownCell]:
    """The cells of a country's breakdown to withhold from a brand that reads its own suppliers'
    beside it: those `withheld_breakdown` withholds, and those it withholds of the country's other
    factories (the country less the brand's), which the brand could work out by difference."""
    others = {cell: n - own.get(cell, 0) for cell, n in factory_counts.items() if n > own.get(cell, 0)}
    return withheld_breakdown(factory_counts) | (withheld_breakdown(others) if others else set())


def thresholds_shown(factories_by_length: Mapping[int, int], whole_withheld: bool = False) -> set[int]:
    """Of the nested cells "factories that took part at least N years" (N = 0, 1, 2, ...), given
    how many factories took part exactly each number of years, those a government may read.

    Each is over at least SMALLEST_CELL factories, and any two shown differ by none or at least
    SMALLEST_CELL factories, so that no two readings can be differenced to give a few factories
    away: going up from 0, a threshold is shown only once the factories it leaves out since the
    last one shown are enough (or none). `whole_withheld`: the cell at 0 is withheld elsewhere
    (a compliance dashboard's cell of the same factories): then 0 is not shown, and nothing
    within fewer than SMALLEST_CELL factories of it."""
    shown: set[int] = set()
    remaining = sum(factories_by_length.values())
    dropped_since_reference, reference_shown = 0, not whole_withheld
    for years in range(max(factories_by_length, default=-1) + 2):
        if withheld(remaining):
            break
        if years == 0:
            if reference_shown:
                shown.add(0)
        elif not withheld(dropped_since_reference) or (dropped_since_reference == 0 and reference_shown):
            shown.add(years)
            dropped_since_reference, reference_shown = 0, True
        leaving = factories_by_length.get(years, 0)
        remaining -= leaving
        dropped_since_reference += leaving
    return shown


def rounded_compliance_points(points: int) -> int:
    return int(round(points, -COMPLIANCE_POINTS_ROUNDED_TO_DIGITS))


@dataclass(frozen=True)
class Scope:
    """One caller's reach, as SQL conditions for the queries of every read model.

    For a brand, `sharing_now` is what the registry says shares reports with it at this moment:
    the read model may not have caught up with a revocation yet, and both must agree."""

    principal: Principal
    sharing_now: frozenset[str] = frozenset()

    @property
    def audience(self) -> Audience:
        return self.principal.audience

    @property
    def is_programme(self) -> bool:
        return self.audience is Audience.PROGRAMME

    def factory(self, factory_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """May this caller read the individual records of the factory whose id is `factory_id`?"""
        match self.audience:
            case Audience.PROGRAMME:
                return sa.true()
            case Audience.FACTORY:
                return factory_id == self.principal.scope
            case Audience.BRAND:
                return sa.and_(
                    factory_id.in_(sorted(self.sharing_now)), brand_reads_factory(self.principal.scope, factory_id)
                )
        raise AccessDenied("government users see country aggregates only, not individual factories")

    def trains(self, factory_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """May this caller read the training sessions and participants of this factory? As the
        training service decides: the programme all, a factory its own people (of a session shared
        with other factories, its own only). A brand none: a factory's consent shares its
        assessment reports, not its people. A government aggregates only."""
        if self.audience is Audience.BRAND:
            raise AccessDenied(
                "brands read no training sessions: a factory's consent shares its reports, not its people"
            )
        return self.factory(factory_id)

    @property
    def sees_whole_training_session(self) -> bool:
        """Totals over all the factories of a session (and so, less its own, the others'): programme staff."""
        return self.is_programme

    @property
    def sees_feedback_comments(self) -> bool:
        """What participants wrote of a course: programme staff only, so that no factory can read
        (and answer for) what its own workers wrote."""
        return self.is_programme

    def factories(self) -> sa.ColumnElement[bool]:
        """The rows of the factory directory this caller may read."""
        return self.factory(factories.c.id)

    def brand(self, brand_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """May this caller read the brand whose id is `brand_id`: programme staff every brand, a brand
        itself, a factory the brands it supplies; governments none."""
        match self.audience:
            case Audience.PROGRAMME:
                return sa.true()
            case Audience.BRAND:
                return brand_id == self.principal.scope
            case Audience.FACTORY:
                links = supplier_links.alias("supplied_brand")
                return sa.exists().where(links.c.brand_id == brand_id, links.c.factory_id == self.principal.scope)
        raise AccessDenied("government users see country aggregates only, not brands")

    @property
    def sees_unpublished(self) -> bool:
        """Assessments before publication (and so the planned date of a visit to come), findings
        under review and zero-tolerance issues before the report: programme staff only."""
        return self.is_programme

    def assessment(
        self, factory_id: sa.ColumnElement[str], published: sa.ColumnElement[bool]
    ) -> sa.ColumnElement[bool]:
        """May this caller read an assessment (and its findings) of this factory? Programme staff
        any; everyone else only a published one of a factory they may read: before publication it
        does not exist for them, as in the assessment service (404, never 403)."""
        readable = self.factory(factory_id)
        return readable if self.sees_unpublished else sa.and_(readable, published)

    @property
    def sees_evidence(self) -> bool:
        """The evidence behind findings (assessors' notes, which can name workers, and the files
        attached): programme staff, and a factory in its own published reports, as the assessment
        service shows them. Brands read a published report's results, never its evidence: the
        service answers them nothing and their feed carries only the report's summary."""
        return self.audience in (Audience.PROGRAMME, Audience.FACTORY)

    @property
    def sees_quality_review(self) -> bool:
        """An assessment's quality review (when it was submitted and approved, the reviewers'
        comments): programme staff only, as in the assessment service."""
        return self.is_programme

    def zero_tolerance_alerts(self) -> sa.ColumnElement[bool]:
        """The zero-tolerance alert desk (open alerts and how long they have waited): programme staff only."""
        if not self.is_programme:
            raise AccessDenied("zero-tolerance alerts are for programme staff only")
        return sa.true()

    @property
    def sees_staff_names(self) -> bool:
        """Assessors, reviewers, trainers, owners of improvement actions: programme staff only."""
        return self.is_programme

    @property
    def sees_plan_details(self) -> bool:
        """Who owns an improvement action, the notes of its progress reports and of a remediation,
        the reason a remediation was rejected: free text that can name people. Programme staff and
        the factory that wrote them or is answered by them (`factory()` confines a factory to its
        own plans); never brands, which see what is planned, by when, and whether it is done."""
        return self.audience in (Audience.PROGRAMME, Audience.FACTORY)

    def history(self, visibility: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """Which entries of a factory's timeline this caller reads, by their visibility class (on top
        of `factory`, which says whose timeline): programme staff all; the factory its own record,
        plans, committee and trainings and its published reports; a brand published reports and
        remediation only. Scheduling, visits before their report, findings, reviews and
        zero-tolerance alerts stay the programme's."""
        match self.audience:
            case Audience.PROGRAMME:
                classes = tuple(Visibility)
            case Audience.FACTORY:
                classes = (Visibility.FACTORY, Visibility.BRAND)
            case Audience.BRAND:
                classes = (Visibility.BRAND,)
            case _:
                raise AccessDenied("government users see country aggregates only, not individual factories")
        return visibility.in_([c.value for c in classes])

    def brand_suppliers(
        self, brand_id: str | None, factory_id: sa.ColumnElement[str]
    ) -> tuple[str, sa.ColumnElement[bool]]:
        """Whose suppliers a brand's aggregates are about, and the SQL condition for them: a brand
        its own consenting suppliers (as `factory` decides, the registry confirming), the programme
        any brand's (it must say which). Nobody else."""
        if self.audience is Audience.BRAND and brand_id in (None, self.principal.scope):
            return str(self.principal.scope), self.factory(factory_id)
        if self.is_programme and brand_id is not None:
            return brand_id, brand_reads_factory(brand_id, factory_id)
        if self.audience is Audience.BRAND:
            raise AccessDenied("a brand reads its own aggregates only")
        if self.is_programme:
            raise AccessDenied("programme staff say which brand's aggregates they read (brandId)")
        raise AccessDenied("brand aggregates are for the brand itself and the programme")

    def committee(self, factory_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """May this caller read the committee (PICC) of the factory whose id is `factory_id`: its
        members' names (factory workers' personal data), its minutes, its action items, its health?

        Programme staff every committee, a factory's own users their own, as the committee service
        decides. Brands are refused before any lookup, as the committee service refuses them: a
        factory's consent is to share its assessment reports, not its committee, and a report's
        social-dialogue compliance points already tell a brand what it may know. Governments read
        committees only as country aggregates (`country_aggregates`)."""
        if self.audience is Audience.BRAND:
            raise AccessDenied("brands do not read factories' committees")
        return self.factory(factory_id)

    def advisory(self, factory_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """May this caller know of the advisory plans of the factory whose id is `factory_id`?

        Programme staff every plan, a factory its own (`factory`). A brand those of a supplier
        linked to it that consents now, as `factory` decides, but only that the supplier is in
        advisory, for which cycle and period, and its priorities by cluster: the rest is
        `sees_advisory_details`. Governments read advisory services only as country aggregates
        (`country_aggregates`): refused here."""
        return self.factory(factory_id)

    @property
    def sees_advisory_details(self) -> bool:
        """A plan in full: its advisor (the staff name the factory works with), its service package
        and visits promised, its priorities' descriptions and links, its visits (dates, notes,
        participants counted, topics worked), its commitments and their follow-ups, the factory's
        confirmations and comments. Programme staff, and the factory of its own plans (`advisory`
        confines it to them), as the committee service shows them; never brands: they name
        people and record what the factory said in confidence (contracts/advisory.py)."""
        return self.audience in (Audience.PROGRAMME, Audience.FACTORY)

    def exports(self) -> None:
        """May this caller start, poll and download bulk exports (gateway/exports.py)? Programme staff
        and brands, for their integrations; what an export holds is read through this same scope.
        Not a government (aggregates only), nor a factory (its own records page through quickly)."""
        if self.audience not in (Audience.PROGRAMME, Audience.BRAND):
            raise AccessDenied("bulk exports are for the programme and brands")

    @property
    def sees_small_cells(self) -> bool:
        """Aggregates over fewer than SMALLEST_CELL factories, exact and unrounded: programme staff
        only, who read each factory's report anyway."""
        return self.is_programme

    def compliance_dashboard(
        self, country: str, brand_id: str | None, factory_id: sa.ColumnElement[str], over_periods: bool
    ) -> tuple[str, sa.ColumnElement[bool]] | None:
        """Who may read a country's compliance dashboard, and whose supply base it compares (the brand
        and the SQL condition on its suppliers' reports), if any: the programme any country, with any
        brand's suppliers if it says which; a brand its own consenting suppliers against their
        country; a government its own country.

        Over periods (one cycle, one year, a trend) the country's cells are the programme's only:
        a cycle's or a year's reports and each factory's latest differ by as little as one factory's
        report, and no rounding hides one compliance point, so two such readings could be
        differenced. A government is refused them; a brand reads its own suppliers' only
        (`sees_country_over_periods`)."""
        if self.audience is Audience.BRAND or (self.is_programme and brand_id is not None):
            return self.brand_suppliers(brand_id, factory_id)
        self.country_aggregates(country)
        if over_periods and not self.is_programme:
            raise AccessDenied(
                "a government reads each factory's latest report in aggregate, not by cycle or year: "
                "two periods' cells can differ by a single factory's report"
            )
        return None

    @property
    def sees_country_over_periods(self) -> bool:
        """A country's compliance by cycle or year (see `compliance_dashboard`): programme staff only."""
        return self.is_programme

    def impact(self, country: str) -> None:
        """The impact figures of a country (first against latest report, compliance by years in the
        programme): as its aggregates (`country_aggregates`). Not brands: a brand's suppliers are too
        few to stand for a claim, and their reports are the brand's to read one by one."""
        self.country_aggregates(country)

    def country_aggregates(self, country: str) -> None:
        """Country aggregates: the programme everywhere, a government for its own country."""
        if self.is_programme:
            return
        if self.audience is Audience.GOVERNMENT and self.principal.scope == country:
            return
        if self.audience is Audience.GOVERNMENT:
            raise AccessDenied(
                f"government users of {self.principal.scope} see only {self.principal.scope}'s aggregates"
            )
        raise AccessDenied("country aggregates are for the programme and governments")

    def survey_results(self, country: str | None, factory_id: str | None) -> int:
        """May this caller read worker survey aggregates of a country (`factory_id` None) or of one
        factory (of its rounds)? The answer is the fewest factories each figure must stand on
        (besides SMALLEST_SURVEY_GROUP respondents, for everyone).

        Programme staff any; a government its own country's, as for every aggregate, each figure
        over at least SMALLEST_CELL factories; a factory its own (never its country's: with a
        handful of factories surveyed, the country less its own would be its neighbours'). Brands
        none: a factory's consent shares its assessment reports, not what its workers say of it."""
        if self.audience is Audience.BRAND:
            raise AccessDenied("brands do not read research surveys: a factory's consent shares its reports only")
        if factory_id is None:
            if country is None:
                raise AccessDenied("name a country, a factory or a round")
            if self.audience is Audience.FACTORY:
                raise AccessDenied("a factory reads its own survey results only (factoryId)")
            self.country_aggregates(country)
            return SMALLEST_CELL if self.audience is Audience.GOVERNMENT else 1
        if self.is_programme or (self.audience is Audience.FACTORY and factory_id == self.principal.scope):
            return 1
        if self.audience is Audience.GOVERNMENT:
            raise AccessDenied("government users see country aggregates only, not individual factories")
        raise AccessDenied("a factory reads its own survey results only")

    def survey_round_results(self) -> None:
        """One round's results are one factory's: programme staff and factories may ask (whose round
        it is, `survey_results` decides once it is found); brands and governments are refused first."""
        if self.audience not in (Audience.PROGRAMME, Audience.FACTORY):
            raise AccessDenied("one round's results are for the programme and the factory itself")

    def manager_survey_impact(self, country: str) -> int:
        """The change in factories' business figures between their first and latest manager
        surveys, a country's: the programme's, and the country's government's with each figure over
        at least SMALLEST_CELL factories (the fewest returned). A factory's sales are its own
        business, not for brands or other factories."""
        if self.audience in (Audience.BRAND, Audience.FACTORY):
            raise AccessDenied("manager survey figures are for the programme and governments, in aggregate")
        self.country_aggregates(country)
        return SMALLEST_CELL if self.audience is Audience.GOVERNMENT else 1

    @property
    def sees_factories_left_out(self) -> bool:
        """Which factories an aggregate left out (by id): programme staff; others read how many, and why."""
        return self.is_programme


def scope_of(principal: Principal | None, sharing_now: frozenset[str] = frozenset()) -> Scope:
    if principal is None:
        raise AccessDenied("a bearer token is required")
    return Scope(principal, sharing_now)


def brand_reads_factory(
    brand_id: str | sa.ColumnElement[str] | None, factory_id: str | sa.ColumnElement[str]
) -> sa.ColumnElement[bool]:
    """THE rule for brands: a brand reads a factory's reports while it is linked to the factory as a
    buyer AND the factory consents to share its reports with it, both as of this read."""
    links, granted = supplier_links.alias("brand_link"), consents.alias("brand_consent")
    linked = sa.exists().where(links.c.factory_id == factory_id, links.c.brand_id == brand_id)
    consenting = sa.exists().where(granted.c.factory_id == factory_id, granted.c.brand_id == brand_id)
    return sa.and_(linked, consenting)


def brands_reading_factory(factory_id: str) -> sa.Select[Any]:
    """The brands that may read this factory's reports now."""
    return (
        sa.select(supplier_links.c.brand_id)
        .where(supplier_links.c.factory_id == factory_id, brand_reads_factory(supplier_links.c.brand_id, factory_id))
        .order_by(supplier_links.c.brand_id)
    )


def brand_feed_recipients(event: EventContract) -> sa.Select[Any]:
    """The brands whose feed carries this event, as of this read.

    Published assessment data goes to the brands that may read the factory's reports; a brand's
    link to a factory, and the factory's consent, only to that brand. Any other event (before a
    report is published, planned dates, findings, reviews, other brands' business) to nobody.
    """
    if isinstance(event, brand_feed.ASSESSMENT_CONTRACTS):
        return brands_reading_factory(event.factory_id)
    if isinstance(event, brand_feed.RELATIONSHIP_CONTRACTS):
        return sa.select(sa.literal(event.brand_id, sa.Text).label("brand_id"))
    return sa.select(sa.literal(None, sa.Text).label("brand_id")).where(sa.false())
