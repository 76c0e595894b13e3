"""Duplicate detection at registration: normalisation, scoring and the verdicts on real-looking pairs."""

import json
from pathlib import Path

import pytest
from factory_registry.matching import (
    Candidate,
    FactoryRecord,
    likely_duplicates,
    normalize_address,
    normalize_name,
)

NEAR_DUPLICATES = json.loads((Path(__file__).parent / "fixtures" / "near_duplicates.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("pair", NEAR_DUPLICATES, ids=[pair["case"] for pair in NEAR_DUPLICATES])
def test_a_near_duplicate_pair_gets_its_verdict(pair: dict) -> None:
    registering, known = pair["registering"], pair["existing"]
    existing = FactoryRecord("known", known["country"], known["name"], known["address"], known.get("local_name"))

    candidates = likely_duplicates(
        registering["name"],
        registering["address"],
        registering["country"],
        [existing],
        local_name=registering.get("local_name"),
    )

    verdict = "duplicate" if [c.factory_id for c in candidates] == ["known"] else "distinct"
    assert verdict == pair["verdict"], candidates or "no candidate"


def test_the_fixtures_hold_both_verdicts_in_most_programme_countries() -> None:
    countries = {pair["registering"]["country"] for pair in NEAR_DUPLICATES}
    verdicts = [pair["verdict"] for pair in NEAR_DUPLICATES]

    assert {"KH", "VN", "ID", "BD", "LK", "ET", "JO", "HT", "NI", "EG", "PK"} <= countries
    assert min(verdicts.count("duplicate"), verdicts.count("distinct")) >= 10


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("Angkor Apparel Co., Ltd.", "angkor apparel"),
        ("ANGKOR APPAREL COMPANY LIMITED", "angkor apparel"),
        ("PT Eratex Djaja Tbk", "eratex djaja"),
        ("P.T. Eratex Djaja", "eratex djaja"),
        ("Công ty TNHH May Việt Tiến", "may viet tien"),
        ("Tổng Công ty Cổ phần May Việt Tiến", "may viet tien"),
        ("Công ty TNHH MTV Đức Thành", "duc thanh"),
        ("Crystal Martin (Ceylon) Pvt Ltd \u2013 Koggala", "crystal martin ceylon koggala"),
        ("Beximco Textiles (Pvt.) Ltd", "beximco textile"),
        ("Hawassa Garments PLC", "hawassa garment"),
        ("Jordan Apparel Industries L.L.C.", "jordan apparel industry"),
        ("Confecciones Textiles, S.A. de C.V.", "confeccione textile"),
        ("Egyptian Garment Company (S.A.E)", "egyptian garment"),
        ("Sinar Jaya Konveksi, CV", "sinar jaya konveksi"),
        ("Viettien Garment Joint Stock Corporation", "viettien garment"),
        ("Int'l Knitwear Mfg & Co.", "international knitwear manufacturing"),
        ("S & H Global S.A.", "s and h global"),
        ("Primark Sourcing GmbH", "primark sourcing"),
        ("Nilan Apparel Sdn Bhd", "nilan apparel"),
    ],
)
def test_a_name_loses_case_accents_punctuation_plurals_and_legal_forms(written: str, normalised: str) -> None:
    assert normalize_name(written) == normalised


def test_a_short_legal_form_inside_a_name_is_part_of_the_name() -> None:
    assert normalize_name("Sa Dec Garment Co.") == "sa dec garment"
    assert normalize_name("Sa Dec Garment S.A.") == "sa dec garment"


def test_a_name_that_is_only_a_legal_form_keeps_it() -> None:
    assert normalize_name("Co., Ltd.") == "co ltd"


def test_words_that_tell_factories_apart_are_kept() -> None:
    assert normalize_name("Hawassa Garments") != normalize_name("Hawassa Textiles")
    assert normalize_name("Angkor Apparel") != normalize_name("Angkor")


def test_local_scripts_keep_their_vowel_signs_while_arabic_vowel_marks_are_optional() -> None:
    assert normalize_name("ក្រុមហ៊ុន ហុងវ៉ា") == "ហុងវ៉ា"
    assert normalize_name("আমান গ্রাফিক্স লিমিটেড") == "আমান গ্রাফিক্স"
    assert normalize_name("شَرِكَة الكلاسيكية") == normalize_name("شركة الكلاسيكية") == "الكلاسيكية"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Street No. 5", "St 5"),
        ("Nat. Road No. 4, Phnom Penh", "National Rd 4, Phnom Penh, Cambodia"),
        ("Plot No. 05, DEPZ", "Plot 5, Dhaka Export Processing Zone"),
        ("Blvd Toussaint Louverture", "Boulevard Toussaint-Louverture"),
        ("07 Lê Minh Xuân, Phường 7, Quận Tân Bình", "7 Le Minh Xuan, Phuong 7, Quan Tan Binh"),
        ("Lô C2, KCN Đồng Văn II", "Lot C2, Khu Cong Nghiep Dong Van II"),
        ("Jl. Raya Soreang Km. 5, Kab. Bandung", "Jalan Raya Soreang KM 5, Kabupaten Bandung"),
        ("Zona Franca Las Mercedes, Carretera Norte", "Zona Franca Las Mercedes, Carretera Norte, Nicaragua"),
        ("Industrial Zone A1, 10th of Ramadan City", "Industrial Zone A1 10th Ramadan City"),
    ],
)
def test_addresses_written_differently_normalise_alike(one: str, other: str) -> None:
    assert normalize_address(one) == normalize_address(other)


def test_a_decimal_kilometre_is_not_read_as_initials() -> None:
    assert normalize_address("Km 6.5 Carretera a Masaya") == "km 6 5 highway a masaya"


def test_nord_est_is_a_direction_not_an_estate() -> None:
    assert normalize_address("Caracol, Nord-Est") == "caracol nord est"


# A Cambodian registration and the factories of Phnom Penh the registry already holds.
ANGKOR = FactoryRecord("KH-0731", "KH", "Angkor Apparel Co., Ltd.", "National Road 4, Sangkat Kantouk, Phnom Penh")
ANGKOR_TYPO = FactoryRecord("KH-0488", "KH", "Angkor Aparel Co Ltd", "Nat. Rd 4, Kantouk, Phnom Penh")
ANGKOR_MOVED = FactoryRecord("KH-0012", "KH", "Angkor Apparel Ltd", "Phum Chrey Kaong, Kandal Stung, Kandal")
ANGKOR_KNITTING = FactoryRecord(
    "KH-0950", "KH", "Angkor Knitting Co., Ltd.", "National Road 4, Sangkat Kantouk, Phnom Penh"
)
BAYON = FactoryRecord("KH-1044", "KH", "Bayon Footwear Co., Ltd.", "National Road 4, Sangkat Kantouk, Phnom Penh")
ANGKOR_IN_VIET_NAM = FactoryRecord("VN-0301", "VN", "Angkor Apparel Co., Ltd.", "National Road 4, Kantouk, Phnom Penh")
PHNOM_PENH = [BAYON, ANGKOR_MOVED, ANGKOR_IN_VIET_NAM, ANGKOR_TYPO, ANGKOR_KNITTING, ANGKOR]


def register_angkor(**options: object) -> list[Candidate]:
    return likely_duplicates(
        "ANGKOR APPAREL COMPANY LIMITED",
        "National Road No. 4, Kantouk, Khan Posenchey, Phnom Penh",
        "KH",
        PHNOM_PENH,
        **options,  # type: ignore[arg-type]
    )


def test_candidates_come_best_first_with_their_reasons() -> None:
    candidates = register_angkor()

    assert [c.factory_id for c in candidates] == ["KH-0731", "KH-0488", "KH-0012"]
    assert candidates[0].score > candidates[1].score > candidates[2].score
    assert candidates[0].reasons[0] == "same name after normalising"
    assert candidates[0].reasons[1].startswith("address ") and candidates[0].reasons[1].endswith("% similar")
    assert candidates[1].reasons[0].startswith("name ") and candidates[1].reasons[0].endswith("% similar")
    assert (candidates[0].name, candidates[0].address) == (ANGKOR.name, ANGKOR.address)


def test_the_same_name_elsewhere_in_the_country_is_still_asked_about() -> None:
    moved = next(c for c in register_angkor() if c.factory_id == "KH-0012")

    assert 0.85 <= moved.score < 0.95
    assert moved.reasons[0] == "same name after normalising"


def test_scores_are_between_0_and_1_and_rounded_to_hundredths() -> None:
    for candidate in register_angkor(threshold=0.0):
        assert 0.0 <= candidate.score <= 1.0
        assert candidate.score == round(candidate.score, 2)


def test_only_factories_of_the_same_country_are_compared() -> None:
    candidates = register_angkor(threshold=0.0, limit=10)

    assert "VN-0301" not in {c.factory_id for c in candidates}
    assert len(candidates) == 5


def test_the_country_code_is_compared_without_regard_to_case_or_spaces() -> None:
    candidates = likely_duplicates("Angkor Apparel", ANGKOR.address, " kh ", [ANGKOR])

    assert [c.factory_id for c in candidates] == ["KH-0731"]


def test_the_limit_keeps_the_best() -> None:
    assert [c.factory_id for c in register_angkor(limit=1)] == ["KH-0731"]
    assert register_angkor(limit=0) == []


def test_the_threshold_is_compared_with_the_score_as_reported() -> None:
    scores = {c.factory_id: c.score for c in register_angkor(threshold=0.0, limit=10)}
    typo = scores["KH-0488"]

    assert "KH-0488" in {c.factory_id for c in register_angkor(threshold=typo)}
    assert "KH-0488" not in {c.factory_id for c in register_angkor(threshold=typo + 0.01)}
    assert all(c.score >= 0.9 for c in register_angkor(threshold=0.9))


def test_a_lower_threshold_lets_weaker_candidates_in_but_never_other_countries() -> None:
    default = {c.factory_id for c in register_angkor()}
    loose = {c.factory_id for c in register_angkor(threshold=0.3, limit=10)}

    assert default < loose
    assert "KH-0950" in loose and "KH-0950" not in default


def test_equal_scores_are_ordered_by_factory_id() -> None:
    twins = [
        FactoryRecord("KH-0200", "KH", "Angkor Apparel Ltd", "Phnom Penh"),
        FactoryRecord("KH-0100", "KH", "Angkor Apparel Co., Ltd.", "Phnom Penh"),
    ]

    candidates = likely_duplicates("Angkor Apparel", "Phnom Penh", "KH", twins)

    assert [c.factory_id for c in candidates] == ["KH-0100", "KH-0200"]
    assert candidates[0].score == candidates[1].score == 1.0


def test_existing_factories_may_come_as_a_one_pass_iterable() -> None:
    candidates = likely_duplicates("Angkor Apparel", ANGKOR.address, "KH", (r for r in PHNOM_PENH))

    assert candidates[0].factory_id == "KH-0731"


def test_no_factories_no_candidates() -> None:
    assert likely_duplicates("Angkor Apparel", "Phnom Penh", "KH", []) == []


HOA_LOI = FactoryRecord(
    "VN-0420",
    "VN",
    "Hoa Loi Garment Co., Ltd",
    "Lot B4, Tan Tao Industrial Park, Binh Tan, HCMC",
    "Công ty TNHH May Hòa Lợi",
)


def test_the_same_local_name_is_strong_evidence_despite_another_transliteration() -> None:
    candidates = likely_duplicates(
        "Hwa Loy Apparel", "Tan Tao IP, Ho Chi Minh City", "VN", [HOA_LOI], local_name="Cong ty TNHH May Hoa Loi"
    )

    assert [c.factory_id for c in candidates] == ["VN-0420"]
    assert candidates[0].score >= 0.9
    assert candidates[0].reasons[0] == "same local-script name"


def test_without_the_local_name_the_other_transliteration_is_not_a_candidate() -> None:
    assert likely_duplicates("Hwa Loy Apparel", "Tan Tao IP, Ho Chi Minh City", "VN", [HOA_LOI]) == []


def test_a_different_local_name_does_not_count_against_a_matching_latin_name() -> None:
    candidates = likely_duplicates(
        "Hoa Loi Garment", HOA_LOI.address, "VN", [HOA_LOI], local_name="Công ty Cổ phần Hòa Lợi"
    )

    assert [c.factory_id for c in candidates] == ["VN-0420"]
    assert "same local-script name" not in candidates[0].reasons


def test_old_indonesian_spelling_is_folded_only_in_indonesia() -> None:
    djaja = FactoryRecord("ID-0077", "ID", "PT Eratex Djaja Tbk", "Jl. Soekarno Hatta No. 23, Probolinggo")
    in_malaysia = FactoryRecord("MY-0077", "MY", "Eratex Djaja Sdn Bhd", "Jalan Soekarno Hatta 23, Johor Bahru")

    assert likely_duplicates("Eratex Jaya", "Jl. Sukarno Hatta 23, Probolinggo", "ID", [djaja])[0].reasons[0] == (
        "same name after normalising"
    )
    elsewhere = likely_duplicates(
        "Eratex Jaya", "Jalan Sukarno Hatta 23, Johor Bahru", "MY", [in_malaysia], threshold=0
    )
    assert elsewhere[0].reasons[0].startswith("name ")
