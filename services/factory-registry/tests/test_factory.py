"""The registry's rules, without I/O: factories, enrollment, suppliers, consent, merges."""

import datetime as dt

import pytest
from betterwork_events.contracts.factory_registry import (
    BrandKind,
    FactoryEnrolled,
    FactoryMerged,
    FactoryProfile,
    FactoryRegistered,
    PartnershipStatus,
    ServicePackage,
    Workforce,
)
from betterwork_events.errors import IllegalStep
from factory_registry.domain import Brand, Factory, FactoryWasMerged

ANGKOR = FactoryProfile(
    name="Angkor Apparel Co., Ltd.",
    local_name="អង្គរ អាប៉ារ៉ែល",
    country="KH",
    address="National Road 4, Kambol, Phnom Penh",
    products=("t-shirts", "knitwear"),
    workforce=Workforce(total=2400, women=1980, men=420, migrant=35),
)
MONDAY = dt.date(2026, 3, 2)


def factory(profile: FactoryProfile = ANGKOR, factory_id: str = "KH-2026-0042-5") -> Factory:
    return Factory.rebuild(factory_id, Factory.register(factory_id, profile))


def run(f: Factory, events: list) -> Factory:
    for event in events:
        f.apply(event)
    return f


def brand(brand_id: str = "BR-0001", name: str = "Northwind Outfitters") -> Brand:
    return Brand.rebuild(brand_id, Brand.register(brand_id, name, BrandKind.RETAILER, PartnershipStatus.PARTNER, "US"))


def enrolled() -> Factory:
    f = factory()
    run(f, f.apply_for_enrollment())
    return run(f, f.enroll(ServicePackage.CORE, MONDAY))


def test_registering_records_the_whole_profile() -> None:
    assert Factory.register("KH-2026-0042-5", ANGKOR) == [
        FactoryRegistered(factory_id="KH-2026-0042-5", profile=ANGKOR)
    ]


def test_a_factory_outside_every_country_programme_cannot_be_registered() -> None:
    with pytest.raises(IllegalStep, match="no country programme in FR"):
        Factory.register("FR-2026-0001-1", ANGKOR.model_copy(update={"country": "FR"}))


def test_a_workforce_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(IllegalStep, match="exceed the total"):
        Factory.register("KH-1", ANGKOR.model_copy(update={"workforce": Workforce(total=100, women=90, men=20)}))


def test_an_update_records_the_new_profile_and_what_changed() -> None:
    [event] = factory().update_profile({"address": "Kambol, Phnom Penh", "name": ANGKOR.name})

    assert event.changed == ("address",)
    assert event.profile.address == "Kambol, Phnom Penh" and event.profile.name == ANGKOR.name


def test_an_update_that_changes_nothing_or_moves_the_country_is_refused() -> None:
    with pytest.raises(IllegalStep, match="changes nothing"):
        factory().update_profile({"name": ANGKOR.name})
    with pytest.raises(IllegalStep, match="country cannot change"):
        factory().update_profile({"country": "VN"})


def test_enrollment_goes_applied_enrolled_suspended_reinstated_withdrawn() -> None:
    f = enrolled()
    assert (f.enrollment, f.service_package, f.enrolled_on) == ("enrolled", ServicePackage.CORE, MONDAY)
    run(f, f.suspend("unpaid fees"))
    assert f.enrollment == "suspended"
    run(f, f.reinstate("fees paid"))
    assert f.enrollment == "enrolled"
    run(f, f.withdraw("the factory left the programme"))
    assert f.enrollment == "withdrawn"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (lambda f: f.enroll(ServicePackage.CORE, MONDAY), "cannot enroll a factory that is not enrolled"),
        (lambda f: f.suspend("x"), "cannot suspend a factory that is not enrolled"),
        (lambda f: f.reinstate("x"), "cannot reinstate"),
        (lambda f: f.withdraw("x"), "cannot withdraw"),
    ],
)
def test_enrollment_steps_out_of_order_are_refused(step, message) -> None:
    with pytest.raises(IllegalStep, match=message):
        step(factory())


def test_an_enrolled_factory_cannot_apply_or_enroll_again() -> None:
    with pytest.raises(IllegalStep, match="cannot apply a factory that is enrolled"):
        enrolled().apply_for_enrollment()
    with pytest.raises(IllegalStep, match="cannot enroll a factory that is enrolled"):
        enrolled().enroll(ServicePackage.CORE, MONDAY)


def test_a_closed_factory_accepts_no_more_changes() -> None:
    f = enrolled()
    run(f, f.close("the factory shut down"))
    with pytest.raises(IllegalStep, match="is closed"):
        f.update_profile({"address": "elsewhere"})


def test_reports_are_shared_only_while_linked_and_consenting() -> None:
    f, northwind = enrolled(), brand()
    assert not f.may_share_reports_with("BR-0001")
    with pytest.raises(IllegalStep, match="Northwind Outfitters is not linked to this factory as a buyer"):
        f.grant_consent(northwind)
    run(f, f.link_brand(northwind, MONDAY))
    assert not f.may_share_reports_with("BR-0001")  # linked, but no consent yet
    run(f, f.grant_consent(northwind))
    assert f.may_share_reports_with("BR-0001")
    run(f, f.revoke_consent("BR-0001"))
    assert not f.may_share_reports_with("BR-0001")
    run(f, f.grant_consent(northwind))
    run(f, f.unlink_brand("BR-0001", dt.date(2026, 9, 30)))
    assert not f.may_share_reports_with("BR-0001")  # consenting, but no longer a buyer
    with pytest.raises(IllegalStep, match="not linked"):
        f.grant_consent(brand("BR-0002", "Southwind"))


def test_linking_twice_unlinking_a_stranger_and_ending_before_beginning_are_refused() -> None:
    f, northwind = enrolled(), brand()
    run(f, f.link_brand(northwind, MONDAY))
    with pytest.raises(IllegalStep, match="already linked"):
        f.link_brand(northwind, MONDAY)
    with pytest.raises(IllegalStep, match="not linked"):
        f.unlink_brand("BR-0099", MONDAY)
    with pytest.raises(IllegalStep, match="before it began"):
        f.unlink_brand("BR-0001", dt.date(2026, 1, 1))
    with pytest.raises(IllegalStep, match="no consent to revoke"):
        f.revoke_consent("BR-0001")


def test_merging_moves_links_but_not_consent_to_the_survivor_and_retires_the_duplicate() -> None:
    survivor = enrolled()
    duplicate = factory(ANGKOR.model_copy(update={"name": "ANGKOR APPAREL COMPANY LIMITED"}), "KH-2026-0043-3")
    run(duplicate, duplicate.link_brand(brand(), MONDAY))
    run(duplicate, duplicate.grant_consent(brand()))

    merged, absorbed = duplicate.merge_into(survivor, "same site registered twice")
    run(duplicate, merged)
    run(survivor, absorbed)

    assert merged == [
        FactoryMerged(
            factory_id="KH-2026-0043-3", surviving_factory_id="KH-2026-0042-5", reason="same site registered twice"
        )
    ]
    assert "BR-0001" in survivor.brand_links
    assert not survivor.may_share_reports_with("BR-0001")  # the survivor's users decide that anew
    with pytest.raises(FactoryWasMerged, match="merged into KH-2026-0042-5"):
        duplicate.update_profile({"address": "elsewhere"})


def test_a_merge_does_not_relink_a_brand_the_survivor_stopped_supplying_since() -> None:
    survivor, earlier, later = enrolled(), dt.date(2025, 6, 1), dt.date(2026, 4, 1)
    northwind, harbour = brand(), brand("BR-0002", "Harbour & Pine")
    for b in (northwind, harbour):
        run(survivor, survivor.link_brand(b, earlier))
        run(survivor, survivor.unlink_brand(b.id, MONDAY))
    duplicate = factory(ANGKOR.model_copy(update={"name": "ANGKOR APPAREL COMPANY LIMITED"}), "KH-2026-0043-3")
    run(duplicate, duplicate.link_brand(northwind, earlier))  # recorded before the survivor's link ended: stale
    run(duplicate, duplicate.link_brand(harbour, later))  # began after it ended: the brand buys again

    _, absorbed = duplicate.merge_into(survivor, "same site registered twice")
    run(survivor, absorbed)

    assert set(survivor.brand_links) == {"BR-0002"}


def test_factories_in_different_countries_are_not_merged() -> None:
    vietnam = factory(ANGKOR.model_copy(update={"country": "VN"}), "VN-2026-0001-4")
    with pytest.raises(IllegalStep, match="different countries"):
        vietnam.merge_into(enrolled(), "mistake")


def test_a_brand_changes_partnership_but_not_to_what_it_is() -> None:
    northwind = brand()
    [event] = northwind.change_partnership(PartnershipStatus.FORMER_PARTNER)
    northwind.apply(event)
    assert northwind.partnership == PartnershipStatus.FORMER_PARTNER
    with pytest.raises(IllegalStep, match="already former-partner"):
        northwind.change_partnership(PartnershipStatus.FORMER_PARTNER)


def test_enrolled_event_names_the_country_programme() -> None:
    f = factory()
    run(f, f.apply_for_enrollment())
    [event] = f.enroll(ServicePackage.ASSESSMENT_ONLY, MONDAY)
    assert event == FactoryEnrolled(
        factory_id=f.id, country="KH", service_package=ServicePackage.ASSESSMENT_ONLY, enrolled_on=MONDAY
    )


def test_a_factory_keeps_the_ids_and_names_it_was_known_by() -> None:
    survivor = enrolled()
    older = factory(ANGKOR.model_copy(update={"name": "Angkor Garment Factory"}), "KH-2026-0040-1")
    duplicate = factory(ANGKOR.model_copy(update={"name": "ANGKOR APPAREL COMPANY LIMITED"}), "KH-2026-0043-3")
    # A duplicate that had absorbed a duplicate of its own passes both on.
    run(older, (merged := older.merge_into(duplicate, "registered twice"))[0])
    run(duplicate, merged[1])
    run(survivor, survivor.update_profile({"name": "Angkor Apparel Co."}))
    run(duplicate, (again := duplicate.merge_into(survivor, "same site registered twice"))[0])
    run(survivor, again[1])

    assert [(a.factory_id, a.name) for a in survivor.aliases] == [
        ("KH-2026-0042-5", ANGKOR.name),  # its own former name
        ("KH-2026-0043-3", "ANGKOR APPAREL COMPANY LIMITED"),
        ("KH-2026-0040-1", "Angkor Garment Factory"),
    ]
