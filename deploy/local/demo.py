"""Demo data: a small, realistic Better Work programme, loaded through the services' own REST commands.

Four country programmes (Cambodia, Vietnam, Bangladesh, Jordan), garment and footwear factories
with their workforce by sex, brands with supplier links and mixed report-sharing consent, two or
three unannounced assessments per factory with findings at plausible non-compliance rates,
quality review and publication, improvement plans with remediation in every state, worker-
management committees with elections, meetings and action items, and training sessions
delivered, cancelled and still to come.

Everything is planned first from a fixed seed (on a given day the same seed gives the same
programme: its dates count back from today), then sent to the services with bounded concurrency.
Creating commands carry Idempotency-Keys and every other step is taken only if the state the
service returns shows it is still to do, so a run that was interrupted can simply be started
again (on the same day).

    uv run --frozen python deploy/local/demo.py                      # the default demo
    uv run --frozen python deploy/local/demo.py --factories 1700 --cycles 5   # a benchmark set

`make run` runs it once (see `--marker`); `make reset` clears it with everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from assessment.tool import AssessmentTool, tool
from betterwork_events.auth import Audience, mint
from betterwork_events.countries import today_in
from betterwork_events.settings import CommonSettings
from training.courses import COURSES

T = TypeVar("T")

# What `make run` prints for trying the demo: one place, so the queries follow the GraphQL schema.
# The government query's country is GOVERNMENT_COUNTRY.
GOVERNMENT_COUNTRY = "KH"
TRY_IT: dict[str, str] = {
    "programme": '{ improvementActions(country: "KH", overdue: true, first: 5) '
    "{ totalCount nodes { factory { factoryId name } what dueOn remediationStatus } } }",
    "brand": "{ factories(first: 5) { totalCount nodes { factoryId name country assessments(first: 1) { nodes { cycle "
    "publishedOn findings(result: NON_COMPLIANT, first: 5) { nodes { compliancePointId } } } } } } }",
    "government": '{ countrySummary(country: "KH") { enrolledFactories workers womenShare suppressed } '
    'countryCompliance(country: "KH") { clusters { clusterId factories nonComplianceRate suppressed } } }',
}


@dataclass(frozen=True)
class Urls:
    registry: str = "http://127.0.0.1:8101"
    assessment: str = "http://127.0.0.1:8102"
    committee: str = "http://127.0.0.1:8103"
    training: str = "http://127.0.0.1:8104"
    gateway: str = "http://127.0.0.1:8100"


@dataclass(frozen=True)
class Size:
    factories: int = 32
    cycles: int = 3  # assessments per factory; a quarter of the factories joined later and have one fewer

    @property
    def brands(self) -> int:
        return max(3, min(self.factories // 6, len(BRAND_PREFIXES) * len(BRAND_SUFFIXES)))


class Progress(Protocol):
    """What `load` reports to: a tqdm bar fits."""

    def reset(self, total: int | None = None) -> None: ...

    def update(self, n: float | None = 1) -> bool | None: ...


# --- the programme's figures ------------------------------------------------------------------

# Share of first assessments in which each compliance point is non-compliant, programme-wide.
# Plausible figures in the shape of Better Work's published compliance data (OSH and working time
# highest, child and forced labour rare), not its actual numbers.
NON_COMPLIANCE: dict[str, float] = {
    "child-labour.child-labourers": 0.01,
    "child-labour.unconditional-worst-forms": 0.0,
    "child-labour.hazardous-work": 0.005,
    "child-labour.young-workers": 0.02,
    "discrimination.race-and-origin": 0.03,
    "discrimination.religion-and-political-opinion": 0.01,
    "discrimination.gender": 0.2,
    "discrimination.other-grounds": 0.06,
    "forced-labour.coercion": 0.015,
    "forced-labour.bonded-labour": 0.02,
    "forced-labour.forced-overtime": 0.015,
    "forced-labour.prison-labour": 0.0,
    "freedom-of-association.union-operations": 0.12,
    "freedom-of-association.freedom-to-associate": 0.08,
    "freedom-of-association.collective-bargaining": 0.1,
    "freedom-of-association.strikes": 0.04,
    "freedom-of-association.interference-and-discrimination": 0.14,
    "compensation.minimum-wages": 0.16,
    "compensation.overtime-wages": 0.28,
    "compensation.premium-pay": 0.22,
    "compensation.method-of-payment": 0.1,
    "compensation.wage-information-and-deductions": 0.26,
    "compensation.paid-leave": 0.28,
    "compensation.social-security": 0.34,
    "contracts-and-hr.employment-contracts": 0.32,
    "contracts-and-hr.contracting-procedures": 0.12,
    "contracts-and-hr.termination": 0.16,
    "contracts-and-hr.dialogue-discipline-and-disputes": 0.2,
    "osh.management-systems": 0.76,
    "osh.chemicals": 0.6,
    "osh.worker-protection": 0.68,
    "osh.working-environment": 0.5,
    "osh.health-services": 0.48,
    "osh.welfare-facilities": 0.38,
    "osh.accommodation": 0.3,
    "osh.emergency-preparedness": 0.64,
    "working-time.regular-hours": 0.4,
    "working-time.overtime": 0.6,
    "working-time.leave": 0.2,
}
# How each country's factories differ from the programme-wide figures, by cluster.
COUNTRY_RISK: dict[str, dict[str, float]] = {
    "KH": {"working-time": 1.1, "freedom-of-association": 0.8},
    "VN": {"working-time": 1.3, "freedom-of-association": 1.2, "compensation": 0.9},
    "BD": {"osh": 1.1, "freedom-of-association": 1.4, "discrimination": 0.8},
    # Migrant workers: passports held, recruitment fees, dormitories.
    "JO": {"forced-labour": 2.5, "discrimination": 1.3, "osh": 0.9},
}
# Factories comply better the longer they are in the programme: the factor for the first,
# second, third... assessment.
IMPROVEMENT = (1.0, 0.85, 0.75, 0.68, 0.62)
# Of a non-compliant compliance point, how often one more of its questions fails too.
SECOND_QUESTION, THIRD_QUESTION = 0.3, 0.1
# Where a compliance point has ordinary and zero-tolerance questions (a locked exit is imminent
# danger), how often the failing question is a zero-tolerance one.
ZERO_TOLERANCE_PICK = 0.02


def aimed_non_compliance(country: str, compliance_point_id: str, ordinal: int) -> float:
    """The share of a country's `ordinal`-th assessments (0: the first) the demo makes non-compliant
    on a compliance point, among those that assess it."""
    cluster = compliance_point_id.split(".", 1)[0]
    rate = NON_COMPLIANCE[compliance_point_id] * COUNTRY_RISK.get(country, {}).get(cluster, 1.0)
    return min(0.95, rate * IMPROVEMENT[min(ordinal, len(IMPROVEMENT) - 1)])


# How a non-compliance of the latest report stands, in shares; each state occurs at least once.
LATEST_REMEDIATION = {
    "open": 0.14,
    "action-planned": 0.14,
    "overdue": 0.12,
    "progress-reported": 0.16,
    "remediated": 0.14,
    "verified": 0.2,
    "rejected": 0.1,
}
# Earlier reports: most of what did not recur was verified; what recurred was not put right.
EARLIER_VERIFIED, EARLIER_RECURRING_ACTION = 0.5, 0.25


# --- the countries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    place: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Names:
    """How people are called where the workers come from."""

    women: tuple[str, ...]
    men: tuple[str, ...]
    families: tuple[str, ...]
    family_first: bool = False
    middle: tuple[str, str] | None = None  # (women's, men's), as in Vietnamese names

    def person(self, rng: random.Random, female: bool) -> str:
        given = rng.choice(self.women if female else self.men)
        family = rng.choice(self.families)
        if self.middle:
            given = f"{self.middle[0] if female else self.middle[1]} {given}"
        return f"{family} {given}" if self.family_first else f"{given} {family}"


GARMENT_WORDS = ("Garment", "Apparel", "Knitwear", "Textile", "Fashion", "Sportswear", "Denim", "Knitting")
KHMER = Names(
    women=("Sreymom", "Sophea", "Dara", "Channary", "Sokunthea", "Bopha", "Kalyan", "Leakhena", "Malis", "Phalla",
           "Rachana", "Sreyneang", "Thida", "Vanny", "Sreypov", "Chenda"),
    men=("Rithy", "Sokha", "Vuthy", "Piseth", "Sambath", "Kosal", "Visal", "Chanthou", "Bunthoeun", "Sovann"),
    families=("Sok", "Chan", "Keo", "Heng", "Chea", "Kim", "Ly", "Meas", "Noun", "Phan", "Pich", "Prak", "Seng",
              "Sim", "Som", "Tep", "Touch", "Vann", "Yem", "Hout"),
    family_first=True,
)  # fmt: skip
VIETNAMESE = Names(
    women=("Lan", "Hoa", "Huong", "Mai", "Thu", "Hanh", "Linh", "Trang", "Nga", "Phuong", "Thao", "Yen", "Nhung"),
    men=("Hung", "Dung", "Tuan", "Minh", "Nam", "Quang", "Thanh", "Duc", "Long", "Son", "Hieu"),
    families=("Nguyen", "Tran", "Le", "Pham", "Hoang", "Huynh", "Phan", "Vu", "Vo", "Dang", "Bui", "Do", "Ho",
              "Ngo", "Duong"),
    family_first=True,
    middle=("Thi", "Van"),
)  # fmt: skip
BANGLADESHI = Names(
    women=("Nasrin", "Shirin", "Rokeya", "Fatema", "Salma", "Taslima", "Rumana", "Jesmin", "Moriom", "Sumaiya",
           "Rehana", "Parvin", "Shahnaz", "Laily"),
    men=("Abdul Karim", "Mohammad Rahim", "Shahidul", "Kamrul", "Rafiqul", "Jahangir", "Mizanur", "Anisur",
         "Habibur", "Mahbub", "Delwar"),
    families=("Akter", "Begum", "Khatun", "Islam", "Rahman", "Hossain", "Alam", "Uddin", "Sultana", "Miah"),
)  # fmt: skip
JORDANIAN = Names(
    women=("Rania", "Lina", "Dana", "Hala", "Noor", "Samar", "Reem", "Ruba", "Aseel"),
    men=("Omar", "Khaled", "Ahmad", "Yousef", "Fadi", "Zaid", "Tariq", "Hamza", "Mahmoud"),
    families=("Haddad", "Khalil", "Nasser", "Al-Zoubi", "Abu Hammour", "Qasem", "Al-Khatib", "Saleh", "Obeidat"),
)
SRI_LANKAN = Names(
    women=("Dilani", "Kumari", "Chamari", "Nadeesha", "Sanduni", "Ishara", "Malani", "Thilini"),
    men=("Kasun", "Nuwan", "Chaminda", "Ruwan", "Sampath"),
    families=("Perera", "Fernando", "Silva", "Jayasinghe", "Bandara", "Wickramasinghe", "Dissanayake"),
)
NEPALI = Names(
    women=("Sita", "Maya", "Gita", "Sarita", "Kamala", "Anita", "Sunita"),
    men=("Ram", "Bikash", "Suman", "Prakash", "Dipak"),
    families=("Gurung", "Tamang", "Rai", "Magar", "Thapa", "Shrestha", "Limbu"),
)


@dataclass(frozen=True)
class Country:
    code: str
    share: float  # of the programme's factories
    stems: tuple[str, ...]  # for factory names
    words: tuple[str, ...]  # what a garment factory's name says it makes
    suffixes: tuple[str, ...]  # legal forms
    sites: tuple[Site, ...]
    address: str  # how a site's address starts, formatted with a number
    median_workers: int
    women: tuple[float, float]  # share of the workforce
    migrants: tuple[float, float]
    workers: tuple[tuple[Names, float], ...]  # where the workers come from
    managers: Names
    owners: tuple[str, ...]  # where factory owners are based
    authority: str
    dormitories: float  # share of factories housing workers (osh.accommodation is assessed there)
    footwear: float
    assessors: tuple[str, ...]  # the country team's user ids
    reviewer: str
    trainers: tuple[str, ...]
    training_room: str
    phone: str  # the country's calling code


COUNTRIES: tuple[Country, ...] = (
    Country(
        "KH",
        0.35,
        ("Angkor", "Mekong", "Tonle Sap", "Bayon", "Apsara", "Silver Lotus", "Kirirom", "Sovanna", "Golden Dragon",
         "Royal Orchid", "Jade River", "Evergreen", "New Star", "Sunrise", "Kampot", "Chak Angre", "Bassac", "Kandal"),
        GARMENT_WORDS,
        ("Co., Ltd.", "Co., Ltd.", "(Cambodia) Co., Ltd."),
        (
            Site("National Road 4, Kambol, Phnom Penh", 11.50, 104.76),
            Site("Veng Sreng Boulevard, Choam Chao, Por Senchey, Phnom Penh", 11.52, 104.85),
            Site("Phnom Penh Special Economic Zone, Dangkao, Phnom Penh", 11.47, 104.79),
            Site("National Road 5, Russey Keo, Phnom Penh", 11.62, 104.90),
            Site("Manhattan Special Economic Zone, Bavet, Svay Rieng", 11.07, 106.13),
            Site("Tai Seng Bavet Special Economic Zone, Bavet, Svay Rieng", 11.08, 106.15),
            Site("Sihanoukville Special Economic Zone, Prey Nob, Preah Sihanouk", 10.67, 103.58),
            Site("National Road 3, Kandal Stueng, Kandal", 11.37, 104.80),
            Site("National Road 6A, Kien Svay, Kandal", 11.50, 105.00),
        ),
        "Building {n}",
        1300,
        (0.78, 0.9),
        (0.3, 0.6),
        ((KHMER, 1.0),),
        KHMER,
        ("CN", "HK", "TW", "KR", "SG", "KH"),
        "Ministry of Commerce",
        0.08,
        0.14,
        ("assessor-kh-sokha", "assessor-kh-dara", "assessor-kh-channary", "assessor-kh-vuthy"),
        "reviewer-kh-vanna",
        ("Pich Sopheap, enterprise advisor", "Meas Bopha, trainer", "Heng Kosal, enterprise advisor"),
        "Better Factories Cambodia training room, Phnom Penh",
        "+855",
    ),
    Country(
        "VN",
        0.3,
        ("Saigon", "Song Hong", "Phu Thinh", "Minh Phat", "Hoa Binh", "Lotus Field", "Dong Nai", "Tan Thanh",
         "Kim Long", "Hai Phong", "Truong Son", "Hung Phat", "Sao Mai", "Phuong Nam", "Bach Dang"),
        GARMENT_WORDS,
        ("Co., Ltd.", "Co., Ltd.", "Joint Stock Company"),
        (
            Site("My Phuoc 2 Industrial Park, Ben Cat, Binh Duong", 11.13, 106.60),
            Site("VSIP 1, Thuan An, Binh Duong", 10.93, 106.70),
            Site("Tan Tao Industrial Park, Binh Tan, Ho Chi Minh City", 10.75, 106.59),
            Site("Nhon Trach 2 Industrial Park, Nhon Trach, Dong Nai", 10.74, 106.90),
            Site("Pho Noi A Industrial Park, Van Lam, Hung Yen", 20.95, 106.05),
            Site("Hoa Khanh Industrial Park, Lien Chieu, Da Nang", 16.07, 108.15),
            Site("Dinh Tram Industrial Park, Viet Yen, Bac Giang", 21.27, 106.10),
            Site("Long Hau Industrial Park, Can Giuoc, Long An", 10.63, 106.73),
        ),
        "Lot C{n}",
        1600,
        (0.72, 0.84),
        (0.2, 0.5),
        ((VIETNAMESE, 1.0),),
        VIETNAMESE,
        ("KR", "TW", "CN", "HK", "VN", "JP"),
        "Department of Planning and Investment",
        0.12,
        0.18,
        ("assessor-vn-lan", "assessor-vn-hung", "assessor-vn-thao", "assessor-vn-quang"),
        "reviewer-vn-phuong",
        ("Nguyen Thi Lan, enterprise advisor", "Tran Van Duc, trainer", "Le Thi Mai, enterprise advisor"),
        "Better Work Vietnam training room, Thu Dau Mot, Binh Duong",
        "+84",
    ),
    Country(
        "BD",
        0.25,
        ("Padma", "Meghna", "Jamuna", "Karnaphuli", "Sonali", "Rupali", "Shapla", "Bengal", "Sundarban", "Titas",
         "Surma", "Buriganga", "Teesta", "Dhanshiri"),
        ("Apparels", "Fashions", "Knit Composite", "Garments", "Knitwear", "Denim", "Sweaters"),
        ("Ltd.", "Ltd.", "Limited"),
        (
            Site("Dhaka Export Processing Zone, Savar, Dhaka", 23.95, 90.27),
            Site("Jamgora, Ashulia, Savar, Dhaka", 23.93, 90.33),
            Site("Konabari, Gazipur", 24.01, 90.33),
            Site("Kashimpur, Gazipur", 24.03, 90.30),
            Site("Tongi Industrial Area, Gazipur", 23.90, 90.40),
            Site("BSCIC Industrial Estate, Fatullah, Narayanganj", 23.64, 90.49),
            Site("Chittagong Export Processing Zone, Patenga, Chattogram", 22.30, 91.80),
            Site("Karnaphuli Export Processing Zone, Chattogram", 22.27, 91.82),
        ),
        "Plot {n}",
        2600,
        (0.52, 0.66),
        (0.1, 0.3),
        ((BANGLADESHI, 1.0),),
        BANGLADESHI,
        ("BD", "BD", "BD", "CN", "KR", "HK"),
        "Registrar of Joint Stock Companies and Firms",
        0.03,
        0.05,
        ("assessor-bd-nasrin", "assessor-bd-kamrul", "assessor-bd-rokeya", "assessor-bd-mahbub"),
        "reviewer-bd-shirin",
        ("Fatema Akter, enterprise advisor", "Shahidul Islam, trainer", "Rehana Sultana, enterprise advisor"),
        "Better Work Bangladesh training room, Uttara, Dhaka",
        "+880",
    ),
    Country(
        "JO",
        0.1,
        ("Al Hassan", "Petra", "Jerash", "Zarqa", "Dead Sea", "Wadi Rum", "Aqaba", "Desert Rose", "Yarmouk",
         "Levant", "Al Tajamouat", "Ajloun"),
        ("Garments", "Apparel Manufacturing", "Textile", "Fashion", "Knitwear"),
        ("Co.", "L.L.C.", "Co. L.L.C."),
        (
            Site("Al Hassan Industrial Estate, Ramtha, Irbid", 32.55, 35.95),
            Site("Al Dulayl Industrial Park, Zarqa", 32.13, 36.27),
            Site("King Abdullah II Industrial Estate, Sahab, Amman", 31.87, 36.00),
            Site("Al Tajamouat Industrial City, Sahab, Amman", 31.86, 36.02),
            Site("Cyber City, Ramtha, Irbid", 32.53, 35.98),
            Site("Al Qastal Industrial Zone, Amman", 31.75, 35.94),
        ),
        "Building {n}",
        1100,
        (0.62, 0.78),
        (0.65, 0.85),
        ((SRI_LANKAN, 0.3), (BANGLADESHI, 0.3), (NEPALI, 0.15), (JORDANIAN, 0.25)),
        JORDANIAN,
        ("JO", "IN", "CN", "AE", "PK"),
        "Ministry of Industry, Trade and Supply",
        0.9,
        0.0,
        ("assessor-jo-rania", "assessor-jo-omar", "assessor-jo-lina", "assessor-jo-fadi"),
        "reviewer-jo-hala",
        ("Rania Haddad, enterprise advisor", "Zaid Obeidat, trainer", "Dilani Perera, enterprise advisor"),
        "Better Work Jordan training room, Irbid",
        "+962",
    ),
)  # fmt: skip
BY_CODE = {c.code: c for c in COUNTRIES}

GARMENT_PRODUCTS = ("t-shirts", "knitwear", "jackets", "trousers", "jeans", "dresses", "sportswear", "underwear",
                    "shirts", "outerwear", "babywear", "swimwear")  # fmt: skip
FOOTWEAR_PRODUCTS = ("sports shoes", "sandals", "boots", "shoe uppers")
BRAND_PREFIXES = ("Northwind", "Lotus", "Harbor & Pine", "Bluefjord", "Meridian", "Alder", "Cobalt", "Saltmarsh",
                  "Juniper", "Kestrel", "Larkspur", "Oakridge", "Pelican", "Quarry Lane", "Redwood", "Sable",
                  "Tidewater", "Umber", "Vantage", "Willow", "Yardley", "Zephyr", "Birchgate", "Copperleaf")  # fmt: skip
BRAND_SUFFIXES = ("Outfitters", "Retail Group", "Apparel", "& Co.", "Sportswear", "Brands", "Clothing", "Stores")
BRAND_HOMES = ("US", "US", "GB", "DE", "SE", "ES", "JP", "NL", "FR", "AU", "CA", "DK")
MANAGEMENT_ROLES = ("HR manager", "compliance manager", "production manager", "administration manager",
                    "welfare officer", "finance manager")  # fmt: skip
WORKER_JOBS = ("sewing operator", "quality inspector", "cutter", "ironing operator", "packer", "line leader",
               "mechanic", "folder", "button-hole operator", "finishing helper")  # fmt: skip

# What assessors write, what factories plan: by cluster, with a few compliance points of their own.
EVIDENCE: dict[str, tuple[str, ...]] = {
    "child-labour": ("Two workers' files have no proof of age; the age verification relies on a copy of an ID card",),
    "discrimination": (
        "Job advertisements on the gate ask for women aged 18 to 25 only",
        "Two pregnant workers were moved to lower-paid work without their consent, according to interviews",
    ),
    "forced-labour": (
        "The passports of 14 migrant workers are kept in the HR office and were not returned on request",
        "Workers interviewed said they cannot refuse overtime on Sundays without a deduction",
    ),
    "freedom-of-association": (
        "Union leaders said management refused them access to the canteen notice board",
        "Two union representatives' fixed-term contracts were not renewed after the union's registration",
    ),
    "compensation": (
        "Payslips of sewing line 14 show overtime paid at the ordinary rate in March and April",
        "Social security contributions were paid for 1,120 of 1,310 workers on the payroll",
        "The payslip does not show the deductions for the canteen and for lateness",
        "Annual leave not taken is not paid out when a worker resigns",
    ),
    "contracts-and-hr": (
        "Fixed-term contracts are renewed every three months for workers employed for over two years",
        "Disciplinary warnings are issued without hearing the worker, according to the HR files",
    ),
    "osh": (
        "Two emergency exits on the second floor were locked during the visit",
        "No material safety data sheets for the solvents used in the printing room",
        "Needle guards missing on 18 of 60 sewing machines inspected",
        "Temperature on the sewing floor reached 35 degrees; no ventilation in the finishing section",
        "The OSH committee has not met for six months and keeps no minutes",
        "Drinking water is provided on one floor of three",
    ),
    "working-time": (
        "Time records show 14-hour days and work on 3 consecutive Sundays in the peak season",
        "Overtime exceeded the legal limit of 2 hours a day for 40% of the workers sampled",
    ),
}
ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "child-labour": (("Verify the age of every worker with an original document and keep a copy on file", "HR manager"),),
    "discrimination": (("Remove age and sex requirements from all job advertisements", "HR manager"),
                       ("Write a maternity protection policy and train the line supervisors on it", "HR manager")),
    "forced-labour": (("Return all passports to the workers and provide lockers for their documents", "HR manager"),
                      ("Make overtime voluntary and record each worker's consent", "production manager")),
    "freedom-of-association": (("Give the union a notice board and a meeting room, and record it in writing",
                                "administration manager"),),
    "compensation": (("Recalculate overtime since January and pay the arrears with the next wage", "finance manager"),
                     ("Register every worker with the social security fund", "HR manager"),
                     ("Show every deduction on the payslip", "finance manager")),
    "contracts-and-hr": (("Convert the contracts of workers employed for over two years to undetermined duration",
                          "HR manager"),
                         ("Hold a hearing before any disciplinary warning and keep its record", "HR manager")),
    "osh": (("Unlock every emergency exit and check them at the start of each shift", "OSH officer"),
            ("Obtain safety data sheets for every chemical and post them where it is used", "OSH officer"),
            ("Fit needle guards on every sewing machine and check them weekly", "maintenance supervisor"),
            ("Install fans and ventilation in the finishing section", "administration manager"),
            ("Reactivate the OSH committee with monthly meetings and minutes", "compliance manager")),
    "working-time": (("Plan production so that overtime stays within the legal limit", "production manager"),
                     ("Give every worker one day off in seven", "production manager")),
}  # fmt: skip
PROGRESS_NOTES = (
    "Half of the work is done; the rest is planned for next month",
    "The policy is written and waits for the general manager's signature",
    "Supervisors of all lines were briefed",
    "Quotations received from two contractors",
)
REMEDIATED_NOTES = (
    "Done: photos and the updated records are attached to the improvement plan",
    "Completed and checked by the compliance manager",
    "The new procedure is in force since the first of the month",
)
REJECTIONS = (
    "The payslips of May still show overtime at the ordinary rate",
    "Workers interviewed on the follow-up visit said nothing has changed",
    "The exits were unlocked, but the stairway is still blocked by fabric rolls",
)
RETURN_COMMENTS = (
    "The overtime finding cites one payroll month only; add the interviews and a second month",
    "Evidence for the emergency exit finding is missing its photos",
    "Please state how many workers were sampled for the contracts finding",
)
CANCELLATIONS = (
    "The factory closed for the national holiday that week",
    "Peak season: the supervisors could not leave the lines",
    "Flooding closed the road to the industrial zone",
)
VISIT_CANCELLATIONS = ("The factory was closed for a public holiday", "The factory is on a planned shutdown that week")
GENERAL_TOPICS = (
    "Quality of the canteen's food",
    "Drinking water on the sewing floor",
    "Production targets during the peak season",
    "Planning annual leave before the holidays",
    "Transport to the factory for the night shift",
    "The new bonus scheme",
    "Childcare for workers' children",
)
FEEDBACK_COMMENTS = (
    "Useful, I will use it on my line",
    "More practical exercises, please",
    "The trainer explained well",
    "Too short for so much content",
)


# --- the plan -----------------------------------------------------------------------------------


@dataclass
class BrandPlan:
    key: str
    name: str
    kind: str
    partnership: str
    headquarters: str


@dataclass
class Link:
    brand: int
    since: dt.date
    consents: bool


@dataclass
class Remediation:
    state: str  # a key of LATEST_REMEDIATION
    what: str = ""
    who: str = ""
    due_on: dt.date | None = None  # no action planned without it
    progress: tuple[str, ...] = ()
    done: bool = False
    remediated: str | None = None
    verdict: str | None = None  # "verified" or "rejected"
    rejection: str | None = None

    @property
    def steps(self) -> int:
        return (
            (self.due_on is not None)
            + len(self.progress)
            + self.done
            + (self.remediated is not None)
            + (self.verdict is not None)
        )


@dataclass
class AssessmentPlan:
    ordinal: int
    assessors: tuple[str, str]
    started_on: dt.date
    published_on: dt.date
    results: dict[str, tuple[str, str]] = field(default_factory=dict)  # question → result, evidence
    returned: str | None = None  # the reviewer's comments, when quality review sent it back once
    remediation: dict[str, Remediation] = field(default_factory=dict)

    def non_compliant(self) -> list[str]:
        return [q for q, (result, _) in self.results.items() if result == "non-compliant"]

    def amended(self) -> tuple[str, tuple[str, str]]:
        """The finding the assessors complete after quality review returned the assessment."""
        return next(
            ((q, r) for q, r in self.results.items() if r[0] == "non-compliant"), next(iter(self.results.items()))
        )

    @property
    def steps(self) -> int:
        review = 3 if self.returned else 0  # submit, return, amend
        return 6 + review + sum(r.steps for r in self.remediation.values())  # schedule … publish


@dataclass
class Visit:
    planned_date: dt.date
    assessors: tuple[str, str]
    cancelled: str | None = None

    @property
    def steps(self) -> int:
        return 1 + (self.cancelled is not None)


@dataclass
class Person:
    employee_number: str
    name: str
    sex: str
    job_title: str

    def json(self) -> dict[str, str]:
        return {
            "employee_number": self.employee_number,
            "name": self.name,
            "sex": self.sex,
            "job_title": self.job_title,
        }


@dataclass
class Election:
    held_on: dt.date
    seats: int
    candidates: list[tuple[Person, int]]  # votes all different: no run-off needed
    term_ends_on: dt.date


@dataclass
class ActionItemPlan:
    description: str
    due_on: dt.date
    status: str  # open, in-progress, done
    closed_on: dt.date | None = None
    outcome: str | None = None


@dataclass
class MeetingPlan:
    held_on: dt.date
    agenda: list[dict[str, Any]]
    minutes: str
    decisions: list[str]
    attendance: float  # share of the members sitting that day who came
    action_items: list[ActionItemPlan]


@dataclass
class CommitteePlan:
    established_on: dt.date
    elections: list[Election]
    appointees: list[tuple[Person, str, dt.date]]  # person, office, term starts
    meetings: list[MeetingPlan]
    chaired: bool  # by the top of the last election, whose term is not over

    @property
    def steps(self) -> int:
        items = sum({"open": 0, "in-progress": 1, "done": 2}[i.status] for m in self.meetings for i in m.action_items)
        return 1 + len(self.elections) + len(self.appointees) + self.chaired + len(self.meetings) + items


@dataclass
class AdvisoryPlanPlan:
    """An enterprise advisor's cycle with the factory: two visits held, one to come."""

    starts_on: dt.date
    ends_on: dt.date
    advisor: str
    topics: tuple[str, str]  # the two priorities agreed, in the advisory topic catalogue
    held: tuple[dt.date, dt.date]
    upcoming: dt.date
    manager: str

    steps = 7  # the plan, three visits planned, two held, the factory's confirmation


@dataclass
class FactoryPlan:
    key: str  # stable across runs: the Idempotency-Keys are made of it
    country: str
    profile: dict[str, Any]
    service_package: str
    enrolled_on: dt.date
    links: list[Link] = field(default_factory=list)
    assessments: list[AssessmentPlan] = field(default_factory=list)
    visit: Visit | None = None
    committee: CommitteePlan | None = None
    workers: Names = KHMER
    dormitories: bool = False
    advisory: AdvisoryPlanPlan | None = None

    @property
    def registry_steps(self) -> int:
        return 3 + len(self.links) + sum(link.consents for link in self.links)  # register, apply, enroll

    @property
    def steps(self) -> int:
        visit = self.visit.steps if self.visit else 0
        committee = self.committee.steps if self.committee else 0
        advisory = self.advisory.steps if self.advisory else 0
        return self.registry_steps + sum(a.steps for a in self.assessments) + visit + committee + advisory


@dataclass
class Participant:
    id: str
    factory: int  # index into the plan's factories
    role: str
    sex: str


@dataclass
class SessionPlan:
    key: str
    course: str
    factories: list[int]
    days: list[dt.date]
    venue: str
    trainer: str
    participants: list[Participant]
    fate: str  # delivered, cancelled or scheduled (still to come)
    present: dict[dt.date, list[str]] = field(default_factory=dict)
    scores: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # pre, post
    feedback: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    cancellation: str | None = None

    @property
    def steps(self) -> int:
        scores = sum(1 + (post is not None) for _, post in self.scores.values())
        ending = 1 if self.fate != "scheduled" else 0
        return 1 + len(self.participants) + len(self.present) + scores + len(self.feedback) + ending


@dataclass
class Plan:
    seed: int
    today: dt.date
    brands: list[BrandPlan]
    factories: list[FactoryPlan]
    sessions: list[SessionPlan]
    surveys: list[SurveyPlan] = field(default_factory=list)

    @property
    def steps(self) -> int:
        surveys = len(QUESTIONNAIRES) + sum(s.steps for s in self.surveys)
        return len(self.brands) + sum(f.steps for f in self.factories) + sum(s.steps for s in self.sessions) + surveys


def country_counts(factories: int) -> dict[str, int]:
    """How many of the demo's factories each country has (largest remainders)."""
    exact = {c.code: factories * c.share for c in COUNTRIES}
    counts = {code: math.floor(x) for code, x in exact.items()}
    for code in sorted(exact, key=lambda code: counts[code] - exact[code])[: factories - sum(counts.values())]:
        counts[code] += 1
    return counts


def spread(rng: random.Random, count: int, shares: dict[str, float]) -> list[str]:
    """`count` labels in about these shares, shuffled: each one at least once if there are enough."""
    labels = list(shares)
    chosen = labels[:count]
    rest = count - len(chosen)
    if rest > 0:
        exact = {label: rest * share / sum(shares.values()) for label, share in shares.items()}
        extra = {label: math.floor(x) for label, x in exact.items()}
        short = rest - sum(extra.values())
        for label in sorted(labels, key=lambda label: extra[label] - exact[label])[:short]:
            extra[label] += 1
        chosen += [label for label in labels for _ in range(extra[label])]
    rng.shuffle(chosen)
    return chosen


def stochastic_round(rng: random.Random, x: float) -> int:
    whole = math.floor(x)
    return whole + (rng.random() < x - whole)


def days_before(today: dt.date, rng: random.Random, low: int, high: int) -> dt.date:
    return today - dt.timedelta(days=rng.randint(low, high))


def plan(size: Size, seed: int, today: dt.date | None = None) -> Plan:
    """The whole demo programme, decided from the seed before anything is sent."""
    today = today or dt.datetime.now(dt.UTC).date()
    rng = random.Random(seed)
    brands = plan_brands(rng, size.brands)
    factories: list[FactoryPlan] = []
    for code, count in country_counts(size.factories).items():
        for n in range(count):
            factories.append(plan_factory(rng, BY_CODE[code], n, today, size, factories))
    plan_links(rng, factories, brands)
    plan_findings(rng, factories)
    plan_remediation(rng, factories, today)
    core = [f for f in factories if f.service_package == "core"]
    with_committees = [f for i, f in enumerate(core) if i == 0 or rng.random() < 0.85]
    for factory, cadence in zip(with_committees, spread(rng, len(with_committees), MEETING_CADENCE), strict=True):
        factory.committee = plan_committee(rng, factory, today, cadence)
    every_status(
        rng, [i for f in with_committees if f.committee for m in f.committee.meetings for i in m.action_items], today
    )
    for factory in factories:
        if rng.random() < 0.35:
            country = BY_CODE[factory.country]
            visit = Visit(today + dt.timedelta(days=rng.randint(7, 120)), pair(rng, country.assessors))
            if rng.random() < 0.1:
                visit.cancelled = rng.choice(VISIT_CANCELLATIONS)
            factory.visit = visit
    sessions = plan_training(rng, factories, today)
    # Surveys from a generator of their own, so that they change nothing else the seed plans.
    surveys = plan_surveys(random.Random(seed * 7919 + 13), factories, today)
    return Plan(seed, today, brands, factories, sessions, surveys)


# --- research surveys ---------------------------------------------------------------------------

WORKER_QUESTIONS: list[dict[str, Any]] = [
    {"id": "feels-safe", "text": "I feel safe at work", "type": "scale", "scale_max": 5},
    {"id": "paid-on-time", "text": "Were you paid on time last month?", "type": "choice", "options": ["yes", "no"]},
    {"id": "overtime-hours", "text": "Overtime hours last week", "type": "number", "minimum": 0, "maximum": 60},
    {"id": "treated-with-respect", "text": "My supervisor treats me with respect", "type": "scale", "scale_max": 5},
    {"id": "comments", "text": "Anything else you want to tell us?", "type": "text", "required": False},
]
MANAGER_QUESTIONS: list[dict[str, Any]] = [
    {"id": "orders-outlook", "text": "Orders for next year", "type": "choice", "options": ["up", "same", "down"]},
]
QUESTIONNAIRES: dict[str, dict[str, Any]] = {
    "worker-wellbeing": {"kind": "worker", "title": "Worker well-being", "questions": WORKER_QUESTIONS},
    "business-performance": {"kind": "manager", "title": "Business performance", "questions": MANAGER_QUESTIONS},
}
AGE_BANDS = {"under-25": 0.3, "25-34": 0.4, "35-44": 0.2, "45-and-over": 0.1}


@dataclass
class SurveyPlan:
    """One round at one factory: a worker survey's responses, or a manager survey's figures."""

    factory: int  # index into the plan's factories
    questionnaire: str
    opened_on: dt.date
    responses: list[dict[str, Any]]  # request bodies

    @property
    def steps(self) -> int:
        return 2 + len(self.responses)  # open, respond, close


def plan_surveys(rng: random.Random, factories: list[FactoryPlan], today: dt.date) -> list[SurveyPlan]:
    """A worker survey in most factories (some with fewer than 10 respondents, so withheld), and a
    manager survey once a year of participation, sales growing in most, so the impact queries answer."""
    surveys = []
    for index, factory in enumerate(factories):
        if rng.random() < 0.75:
            respondents = rng.randint(6, 9) if rng.random() < 0.3 else rng.randint(12, 18)
            women = rng.random() < 0.8  # a mostly female workforce, as in garment factories
            responses = [
                {
                    "sex": "female" if rng.random() < (0.8 if women else 0.5) else "male",
                    "age_band": rng.choices(list(AGE_BANDS), weights=list(AGE_BANDS.values()))[0],
                    "role": "worker" if rng.random() < 0.9 else "supervisor",
                    "answers": {
                        "feels-safe": rng.choices(range(1, 6), weights=(1, 2, 3, 5, 4))[0],
                        "paid-on-time": "yes" if rng.random() < 0.85 else "no",
                        "overtime-hours": round(rng.uniform(0, 14), 1),
                        "treated-with-respect": rng.choices(range(1, 6), weights=(1, 1, 3, 5, 3))[0],
                    }
                    | ({"comments": "The canteen is too small for the night shift"} if rng.random() < 0.2 else {}),
                }
                for _ in range(respondents)
            ]
            surveys.append(SurveyPlan(index, "worker-wellbeing", today - dt.timedelta(days=30), responses))
        years = len(factory.assessments)  # one manager survey a year of participation
        sales = rng.uniform(2e6, 4e7)
        capacity = rng.randint(20, 400) * 1000
        employment = factory.profile.get("workforce", {}).get("total") or rng.randint(300, 5000)
        for year in range(today.year - years, today.year):
            figures: dict[str, Any] = {
                "period_start": str(dt.date(year, 1, 1)),
                "period_end": str(dt.date(year, 12, 31)),
                "sales": round(sales, 2),
                "currency": "USD",
                "production_capacity": capacity if rng.random() < 0.9 else None,
                "employment": employment,
            }
            opened_on = min(dt.date(year + 1, 2, 1), today)
            body = {"figures": figures, "answers": {"orders-outlook": rng.choice(("up", "up", "same", "down"))}}
            surveys.append(SurveyPlan(index, "business-performance", opened_on, [body]))
            sales *= rng.uniform(0.92, 1.25)  # most factories sell more year on year
            capacity = int(capacity * rng.uniform(0.95, 1.15))
            employment = int(employment * rng.uniform(0.95, 1.1))
    return surveys


async def run_surveys(sender: Sender, programme: Plan, factory_ids: list[str]) -> None:
    """Publish the questionnaires (once), then run every round: open, respond, close. A round found
    closed already (a second load) is left as it is."""
    staff = sender.as_(Audience.PROGRAMME, subject="researcher-demo")
    with sender.planned(len(QUESTIONNAIRES)):
        for questionnaire, body in QUESTIONNAIRES.items():
            try:
                await sender.send("assessment", "GET", f"/questionnaires/{questionnaire}", staff)
            except LoadFailed:
                await sender.send("assessment", "POST", f"/questionnaires/{questionnaire}/versions", staff, body)

    async def one(number: int, survey: SurveyPlan) -> None:
        key = demo_key(programme, "survey", number)
        body = {
            "factory_id": factory_ids[survey.factory],
            "questionnaire_id": survey.questionnaire,
            "questionnaire_version": 1,
            "opened_on": str(survey.opened_on),
        }
        with sender.planned(survey.steps):
            opened = await sender.send("assessment", "POST", "/survey-rounds", staff, body, key=key, learning=True)
            if opened["status"] == "closed":
                return
            kind = "worker" if survey.questionnaire == "worker-wellbeing" else "manager"
            path = f"/survey-rounds/{opened['id']}"
            for i, response in enumerate(survey.responses):
                await sender.send("assessment", "POST", f"{path}/{kind}-responses", staff, response, key=f"{key}-{i}")
            await sender.send("assessment", "POST", f"{path}/close", staff, {"closed_on": str(programme.today)})

    await gather(one(number, survey) for number, survey in enumerate(programme.surveys))


def pair(rng: random.Random, people: Sequence[str]) -> tuple[str, str]:
    first, second = rng.sample(people, 2)
    return first, second


def plan_brands(rng: random.Random, count: int) -> list[BrandPlan]:
    names = [f"{prefix} {suffix}" for suffix in BRAND_SUFFIXES for prefix in BRAND_PREFIXES]
    rng.shuffle(names)
    partnerships = spread(rng, count, {"partner": 0.7, "non-partner": 0.2, "former-partner": 0.1})
    first = partnerships.index("partner")  # the brand `make run` shows is a partner
    partnerships[0], partnerships[first] = partnerships[first], partnerships[0]
    return [
        BrandPlan(
            f"brand-{i + 1}", names[i], rng.choice(("buyer", "retailer")), partnerships[i], rng.choice(BRAND_HOMES)
        )
        for i in range(count)
    ]


def plan_factory(
    rng: random.Random, country: Country, number: int, today: dt.date, size: Size, others: Sequence[FactoryPlan]
) -> FactoryPlan:
    taken = {f.profile["name"] for f in others}
    footwear = rng.random() < country.footwear
    for attempt in itertools.count():
        word = rng.choice(("Footwear", "Shoes")) if footwear else rng.choice(country.words)
        stem = rng.choice(country.stems)
        if attempt > 20:  # a big programme runs out of one-word names
            stem = f"{stem} {rng.choice(country.stems)}"
        name = f"{stem} {word} {rng.choice(country.suffixes)}"
        if name not in taken and len(set(stem.split())) == len(stem.split()):
            break
    site = rng.choice(country.sites)
    total = max(180, min(12_000, round(rng.lognormvariate(math.log(country.median_workers), 0.5))))
    women = round(total * rng.uniform(*country.women))
    products = rng.sample(FOOTWEAR_PRODUCTS if footwear else GARMENT_PRODUCTS, rng.randint(1, 3))
    owner_country = rng.choice(country.owners)
    initials = "".join(w[0] for w in name.replace("(", "").split()[:2]).upper()
    manager_female = rng.random() < 0.5
    profile: dict[str, Any] = {
        "name": name,
        "country": country.code,
        "address": f"{country.address.format(n=rng.randint(1, 120))}, {site.place}",
        "location": {
            "latitude": round(site.latitude + rng.uniform(-0.02, 0.02), 5),
            "longitude": round(site.longitude + rng.uniform(-0.02, 0.02), 5),
        },
        "sector": "footwear" if footwear else "garment",
        "products": products,
        "workforce": {
            "total": total,
            "women": women,
            "men": total - women,
            "migrant": round(total * rng.uniform(*country.migrants)),
        },
        "ownership": {
            "parent_group": None if owner_country == country.code else f"{rng.choice(country.stems)} Holdings",
            "ownership_country": owner_country,
        },
        # Unique in the country (the registry refuses a number registered twice): the site's number last.
        "registration_numbers": [
            {"authority": country.authority, "number": f"{rng.randint(100, 999)}{number + 1:04d}"}
        ],
        "contacts": [
            {
                "name": country.managers.person(rng, manager_female),
                "role": "HR manager",
                "email": f"hr@{initials.lower()}{number + 1}.example.com",
                "phone": f"{country.phone} {rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
            }
        ],
    }
    cycles = size.cycles if rng.random() >= 0.25 else max(1, size.cycles - 1)
    start = days_before(today, rng, 50, 170)  # the latest visit
    starts = [start]
    for _ in range(cycles - 1):
        # A year and a fortnight or more apart, so that a factory with three reports has taken part
        # more than two whole years (what the impact claims ask about, e.g. `complianceShare(minYears: 2)`).
        starts.insert(0, starts[0] - dt.timedelta(days=rng.randint(380, 430)))
    team = country.assessors
    assessments = [
        AssessmentPlan(
            ordinal=k,
            assessors=pair(rng, team),
            started_on=s,
            published_on=min(today - dt.timedelta(days=1), s + dt.timedelta(days=rng.randint(18, 40))),
        )
        for k, s in enumerate(starts)
    ]
    workers = rng.choices([n for n, _ in country.workers], [w for _, w in country.workers])[0]
    factory = FactoryPlan(
        key=f"{country.code}-{number + 1:04d}",
        country=country.code,
        profile=profile,
        service_package="core" if rng.random() < 0.85 else "assessment-only",
        enrolled_on=starts[0] - dt.timedelta(days=rng.randint(30, 150)),
        assessments=assessments,
        workers=workers,
        dormitories=rng.random() < country.dormitories,
    )
    factory.advisory = plan_advisory(factory, country, today)
    return factory


ADVISORY_TOPICS = (
    "osh.fire-and-emergency-preparedness",
    "osh.chemical-safety",
    "working-time.hours-and-overtime",
    "compensation.wages-and-benefits",
    "contracts-and-hr.grievances-and-discipline",
    "freedom-of-association.social-dialogue",
    "discrimination.sexual-harassment-prevention",
)
ADVISORS = ("Pich Sopheap", "Nguyen Thi Lan", "Farhana Akter", "Rania Haddad", "Chea Sokunthea", "Tran Van Minh")


def plan_advisory(factory: FactoryPlan, country: Country, today: dt.date) -> AdvisoryPlanPlan | None:
    """Most factories of the core package are in advisory this year. Drawn from a generator of its
    own, so that adding advisory changed nothing else the seed decides."""
    rng = random.Random(f"{factory.key}-advisory")
    if factory.service_package != "core" or rng.random() > 0.7:
        return None
    starts_on = max(factory.enrolled_on, today - dt.timedelta(days=300))
    first = starts_on + dt.timedelta(days=rng.randint(10, 40))
    second = min(first + dt.timedelta(days=rng.randint(60, 120)), today - dt.timedelta(days=5))
    if second <= first:
        return None  # enrolled too lately for two visits held by now
    topics = rng.sample(ADVISORY_TOPICS, 2)
    return AdvisoryPlanPlan(
        starts_on=starts_on,
        ends_on=today + dt.timedelta(days=90),
        advisor=rng.choice(ADVISORS),
        topics=(topics[0], topics[1]),
        held=(first, second),
        upcoming=today + dt.timedelta(days=rng.randint(10, 45)),
        manager=country.managers.person(rng, female=rng.random() < 0.6),
    )


def plan_links(rng: random.Random, factories: list[FactoryPlan], brands: list[BrandPlan]) -> None:
    """Each factory supplies one to three brands, the bigger brands more often; most consent to share."""
    weights = [1 / (i + 1) ** 0.8 for i in range(len(brands))]
    for factory in factories:
        chosen: set[int] = set()
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            chosen.add(rng.choices(range(len(brands)), weights)[0])
        for b in sorted(chosen):
            likely = 0.7 if brands[b].partnership == "partner" else 0.35
            since = factory.enrolled_on - dt.timedelta(days=rng.randint(30, 1500))
            factory.links.append(Link(b, since, rng.random() < likely))
    # The brand `make run` shows must have suppliers that consent and one that does not.
    for factory in factories[:2]:  # at least two suppliers
        if sum(link.brand == 0 for f in factories for link in f.links) < 2 and all(
            link.brand for link in factory.links
        ):
            factory.links.insert(0, Link(0, factory.enrolled_on - dt.timedelta(days=400), True))
    first = [link for f in factories for link in f.links if link.brand == 0]
    if first and not any(link.consents for link in first):
        first[0].consents = True
    if len(first) > 1 and all(link.consents for link in first):
        first[-1].consents = False


def plan_findings(rng: random.Random, factories: list[FactoryPlan]) -> None:
    """For each country and each assessment's ordinal, exactly the aimed share (rounded up or down
    at random) of the assessments that assess a compliance point find it non-compliant."""
    strata: dict[tuple[str, int], list[tuple[FactoryPlan, AssessmentPlan]]] = defaultdict(list)
    for factory in factories:
        for assessment in factory.assessments:
            strata[(factory.country, assessment.ordinal)].append((factory, assessment))
    failing: dict[int, set[str]] = defaultdict(set)  # id(assessment) → non-compliant compliance points
    for (country, ordinal), members in sorted(strata.items()):
        country_tool = tool_for(country)
        for point in country_tool.compliance_points:
            assessing = [a for f, a in members if point.id != "osh.accommodation" or f.dormitories]
            count = stochastic_round(rng, aimed_non_compliance(country, point.id, ordinal) * len(assessing))
            for assessment in rng.sample(assessing, count):
                failing[id(assessment)].add(point.id)
    for factory in factories:
        country_tool = tool_for(factory.country)
        for assessment in factory.assessments:
            for point in country_tool.compliance_points:
                questions = country_tool.questions_of(point.id)
                if point.id == "osh.accommodation" and not factory.dormitories:
                    for q in questions:
                        assessment.results[q.id] = ("not-applicable", "The factory houses no workers")
                    continue
                failed = pick_failing(rng, questions) if point.id in failing[id(assessment)] else set()
                cluster = point.cluster_id
                for q in questions:
                    if q.id in failed:
                        assessment.results[q.id] = ("non-compliant", rng.choice(EVIDENCE[cluster]))
                    else:
                        assessment.results[q.id] = ("compliant", "")
            if rng.random() < 0.2:
                assessment.returned = rng.choice(RETURN_COMMENTS)


def pick_failing(rng: random.Random, questions: Sequence[Any]) -> set[str]:
    ordinary = [q.id for q in questions if not q.zero_tolerance]
    zero_tolerance = [q.id for q in questions if q.zero_tolerance]
    if not ordinary or (zero_tolerance and rng.random() < ZERO_TOLERANCE_PICK):
        return {rng.choice(zero_tolerance)}
    count = 1 + (rng.random() < SECOND_QUESTION) + (rng.random() < THIRD_QUESTION)
    return set(rng.sample(ordinary, min(count, len(ordinary))))


def tool_for(country: str) -> AssessmentTool:
    return tool("global-1").for_country(country)


def plan_remediation(rng: random.Random, factories: list[FactoryPlan], today: dt.date) -> None:
    """The latest reports' improvement plans are in every state; earlier ones were mostly put right."""
    latest: list[tuple[FactoryPlan, AssessmentPlan, str]] = []
    for factory in factories:
        for earlier, later in itertools.pairwise(factory.assessments):
            for q in earlier.non_compliant():
                what, who = rng.choice(ACTIONS[cluster_of(factory, q)])
                if later.results[q][0] == "non-compliant":  # it recurred: not put right
                    if rng.random() < EARLIER_RECURRING_ACTION:
                        due = earlier.published_on + dt.timedelta(days=rng.randint(30, 90))
                        earlier.remediation[q] = Remediation("overdue", what, who, due)
                elif rng.random() < EARLIER_VERIFIED:
                    note = rng.choice(REMEDIATED_NOTES)
                    earlier.remediation[q] = Remediation("verified", remediated=note, verdict="verified")
        latest += [(factory, factory.assessments[-1], q) for q in factory.assessments[-1].non_compliant()]
    for (factory, assessment, q), state in zip(latest, spread(rng, len(latest), LATEST_REMEDIATION), strict=True):
        what, who = rng.choice(ACTIONS[cluster_of(factory, q)])
        future = today + dt.timedelta(days=rng.randint(14, 120))
        past = max(assessment.published_on + dt.timedelta(days=7), today - dt.timedelta(days=rng.randint(5, 60)))
        note = rng.choice(REMEDIATED_NOTES)
        assessment.remediation[q] = {
            "open": Remediation("open"),
            "action-planned": Remediation("action-planned", what, who, future),
            "overdue": Remediation("overdue", what, who, past),
            "progress-reported": Remediation(
                "progress-reported", what, who, rng.choice((future, past)), progress=(rng.choice(PROGRESS_NOTES),)
            ),
            "remediated": Remediation("remediated", what, who, future, done=True, remediated=note),
            "verified": Remediation("verified", what, who, future, done=True, remediated=note, verdict="verified"),
            "rejected": Remediation(
                "rejected", what, who, future, remediated=note, verdict="rejected", rejection=rng.choice(REJECTIONS)
            ),
        }[state]


def cluster_of(factory: FactoryPlan, question_id: str) -> str:
    return tool_for(factory.country).question(question_id).compliance_point_id.split(".", 1)[0]


def person(rng: random.Random, names: Names, number: str, female: bool, job: str) -> Person:
    return Person(number, names.person(rng, female), "female" if female else "male", job)


def plan_committee(rng: random.Random, factory: FactoryPlan, today: dt.date, cadence: str) -> CommitteePlan:
    established = min(factory.enrolled_on + dt.timedelta(days=rng.randint(30, 120)), today - dt.timedelta(days=60))
    workforce = factory.profile["workforce"]
    women_share = workforce["women"] / workforce["total"]
    seats = 3 if workforce["total"] < 1000 else 4 if workforce["total"] < 2500 else 6
    prefix = "".join(w[0] for w in factory.profile["name"].split()[:2]).upper()
    numbers = iter(rng.sample(range(1, 100_000), 200))
    # Some committees reflect the workforce, some leave women out: the health check says which.
    female_odds = women_share if rng.random() < 0.75 else women_share * 0.4

    def worker() -> Person:
        job = f"{rng.choice(WORKER_JOBS)}, line {rng.randint(1, 40)}"
        return person(rng, factory.workers, f"{prefix}-{next(numbers):05d}", rng.random() < female_odds, job)

    elections = []
    held = established + dt.timedelta(days=rng.randint(7, 21))
    incumbents: list[Person] = []
    lapses = rng.random() < 0.1
    while held <= today:
        contested = rng.random() < 0.85
        standing = incumbents[: rng.randint(0, len(incumbents))] + [worker() for _ in range(seats)]
        standing = standing[: seats + (rng.randint(1, 4) if contested else 0)]
        while len(standing) < seats + (1 if contested else 0):
            standing.append(worker())
        votes = rng.sample(range(5, max(40, workforce["total"] // 2)), len(standing))
        term_ends = held + dt.timedelta(days=730)
        elections.append(
            Election(held, seats, list(zip(standing, sorted(votes, reverse=True), strict=True)), term_ends)
        )
        incumbents = standing[:seats]
        if lapses:
            break
        held = term_ends - dt.timedelta(days=rng.randint(1, 14))
    appointees = [
        (
            person(rng, BY_CODE[factory.country].managers, f"{prefix}-M{i + 1:03d}", rng.random() < 0.45, role),
            "secretary" if i == 0 else "member",
            established + dt.timedelta(days=rng.randint(0, 14)),
        )
        for i, role in enumerate(rng.sample(MANAGEMENT_ROLES, seats - rng.choice((0, 1))))
    ]
    first_meeting = max(elections[0].held_on, *(starts for _, _, starts in appointees)) + dt.timedelta(days=3)
    last = days_before(today, rng, *{"regular": (1, 25), "late": (33, 37), "lapsed": (60, 150)}[cadence])
    dates: list[dt.date] = []
    day = last
    while day >= first_meeting and len(dates) < rng.randint(3, 8):
        dates.insert(0, day)
        day -= dt.timedelta(days=rng.randint(25, 40))
    meetings = [plan_meeting(rng, held_on, factory, today) for held_on in dates]
    return CommitteePlan(established, elections, appointees, meetings, elections[-1].term_ends_on >= today)


def every_status(rng: random.Random, items: list[ActionItemPlan], today: dt.date) -> None:
    """Some action item is open, one in progress, one done (the most recent ones take the missing)."""
    for status, item in zip(("open", "in-progress", "done"), sorted(items, key=lambda i: i.due_on)[-3:], strict=False):
        if not any(i.status == status for i in items):
            item.status = status
            item.closed_on = min(today, item.due_on) if status == "done" else None
            item.outcome = "Done and reported to the committee" if status == "done" else None


def plan_meeting(rng: random.Random, held_on: dt.date, factory: FactoryPlan, today: dt.date) -> MeetingPlan:
    agenda: list[dict[str, Any]] = [{"title": title} for title in rng.sample(GENERAL_TOPICS, rng.randint(1, 2))]
    # The committee follows up the improvement plan of the last report published before it met.
    reports = [a for a in factory.assessments if a.published_on < held_on]
    country_tool = tool_for(factory.country)
    points = sorted(
        {country_tool.question(q).compliance_point_id for q in reports[-1].non_compliant()} if reports else []
    )
    if points:
        point = rng.choice(points)
        name = country_tool.compliance_point(point).name
        agenda.insert(0, {"title": f"Improvement plan: {name}", "references": [f"compliance-point:{point}"]})
    items = []
    for topic in agenda[: rng.randint(0, 2)]:
        due = held_on + dt.timedelta(days=rng.randint(7, 45))
        if due < today - dt.timedelta(days=10):
            status = rng.choices(("done", "in-progress", "open"), (0.75, 0.15, 0.1))[0]
        else:
            status = rng.choices(("open", "in-progress", "done"), (0.5, 0.35, 0.15))[0]
        item = ActionItemPlan(f"Follow up: {topic['title'].lower()}", due, status)
        if status == "done":
            item.closed_on = min(today, held_on + dt.timedelta(days=rng.randint(3, (due - held_on).days + 10)))
            item.outcome = "Done and reported to the committee"
        items.append(item)
    return MeetingPlan(
        held_on,
        agenda,
        f"The committee discussed {', '.join(t['title'].lower() for t in agenda)}.",
        [f"Management will report on {agenda[0]['title'].lower()} at the next meeting"],
        rng.uniform(0.7, 1.0),
        items,
    )


# How regularly committees meet (the health check's meeting cadence), in shares: each at least once.
MEETING_CADENCE = {"regular": 0.7, "late": 0.15, "lapsed": 0.15}
# Of the training sessions: each at least once.
TRAINING_FATES = {"delivered": 0.75, "cancelled": 0.1, "scheduled": 0.15}
COURSE_WEIGHTS = {"SST": 3, "OSH": 3, "WRR": 2, "SHP": 2, "FIN": 1, "GEAR": 1, "HRM": 1, "IR-WPC": 1, "PICC": 1}
ROLE_WEIGHTS = {"worker": 6, "supervisor": 3, "manager": 1}  # of a course open to every role


def plan_training(rng: random.Random, factories: list[FactoryPlan], today: dt.date) -> list[SessionPlan]:
    sessions: list[SessionPlan] = []
    by_country: dict[str, list[int]] = defaultdict(list)
    for i, factory in enumerate(factories):
        if factory.service_package == "core":
            by_country[factory.country].append(i)
    counts = {code: round(0.7 * len(members)) + 1 for code, members in by_country.items()}
    fates = iter(spread(rng, sum(counts.values()), TRAINING_FATES))
    for code, members in by_country.items():
        country = BY_CODE[code]
        for n in range(counts[code]):
            fate = next(fates)
            course = rng.choices(list(COURSE_WEIGHTS), list(COURSE_WEIGHTS.values()))[0]
            catalogued = COURSES[course]
            hours, audience = catalogued.hours, [str(role) for role in catalogued.audience]
            trained = rng.sample(members, min(len(members), rng.choice((1, 1, 2, 3))))
            first = (
                today + dt.timedelta(days=rng.randint(7, 60))
                if fate == "scheduled"
                else days_before(today, rng, 7 + 7 * math.ceil(hours / 8), 540)
            )
            gap = 7 if course == "GEAR" else 1  # the women's leadership programme meets weekly
            days = [first + dt.timedelta(days=gap * d) for d in range(max(1, math.ceil(hours / 8)))]
            session = SessionPlan(
                f"session-{code}-{n + 1:03d}",
                course,
                trained,
                days,
                country.training_room if len(trained) > 1 or rng.random() < 0.5 else "The factory's training room",
                rng.choice(country.trainers),
                [],
                fate,
            )
            for f in trained:
                workforce = factories[f].profile["workforce"]
                for number in range(rng.randint(3, 8)):
                    role = rng.choices(audience, [ROLE_WEIGHTS[r] for r in audience])[0]
                    odds = {"worker": workforce["women"] / workforce["total"], "supervisor": 0.55, "manager": 0.4}[role]
                    sex = "other-or-undisclosed" if rng.random() < 0.01 else "female" if rng.random() < odds else "male"
                    session.participants.append(
                        Participant(f"{factories[f].key}-{n + 1:03d}-{number + 1:02d}", f, role, sex)
                    )
            if fate == "cancelled":
                session.cancellation = rng.choice(CANCELLATIONS)
            elif fate == "delivered":
                for day in days:
                    session.present[day] = [p.id for p in session.participants if rng.random() < 0.9]
                attended = {p for present in session.present.values() for p in present}
                if not attended:
                    session.present[days[0]] = [session.participants[0].id]
                    attended = {session.participants[0].id}
                for p in session.participants:
                    if catalogued.pre_post_tests:
                        pre = max(0, min(100, round(rng.gauss(55, 12))))
                        post = max(0, min(100, pre + round(rng.gauss(18, 8)))) if p.id in attended else None
                        session.scores[p.id] = (pre, post)
                    if catalogued.feedback and p.id in attended and rng.random() < 0.8:
                        rating = rng.choices((5, 4, 3, 2), (0.45, 0.4, 0.12, 0.03))[0]
                        session.feedback[p.id] = (rating, rng.choice(FEEDBACK_COMMENTS) if rng.random() < 0.3 else None)
            sessions.append(session)
    return sessions


# --- sending it ---------------------------------------------------------------------------------


class LoadFailed(Exception):
    pass


@dataclass
class Loaded:
    """What was created: the ids the services gave."""

    brands: dict[str, str] = field(default_factory=dict)  # brand id → name
    factories: dict[str, str] = field(default_factory=dict)  # factory id → country
    assessments: list[str] = field(default_factory=list)  # published reports
    visits: list[str] = field(default_factory=list)  # unannounced visits still to come (or cancelled)
    committees: list[str] = field(default_factory=list)
    advisory_plans: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    commands: int = 0  # sent; a run that carries on after an interruption sends fewer than planned
    featured_brand: str = ""  # with suppliers that share their reports with it, and one that does not
    featured_suppliers: int = 0
    featured_factory: str = ""  # one of them


SETTINGS = CommonSettings(database_url="unused", environment="development")
# Commands in flight per service: the services are CPU-bound, more would only queue.
CONCURRENCY = {"registry": 8, "assessment": 6, "committee": 4, "training": 4}
WAIT_FOR_EVENTS = 120.0  # seconds a service may take to learn of a factory from the registry's events
_sent: ContextVar[list[int]] = ContextVar("sent")


class Sender:
    """The services' REST commands, sent as the demo's users would send them."""

    def __init__(self, urls: Urls, http: httpx.AsyncClient, progress: Progress | None) -> None:
        self.urls, self.http, self.progress = urls, http, progress
        self.limits = {service: asyncio.Semaphore(n) for service, n in CONCURRENCY.items()}
        self.commands = 0
        self._tokens: dict[tuple[Audience, str | None, str], dict[str, str]] = {}

    def as_(self, audience: Audience, scope: str | None = None, subject: str = "demo-loader") -> dict[str, str]:
        """The Authorization header of a user of this audience (a development token)."""
        key = (audience, scope, subject)
        if key not in self._tokens:
            self._tokens[key] = {"Authorization": f"Bearer {mint(SETTINGS, audience, scope, subject, ttl=12 * 3600)}"}
        return self._tokens[key]

    @contextlib.contextmanager
    def planned(self, steps: int) -> Iterator[None]:
        """Count what a block was planned to send on the progress bar, whatever it found already done."""
        sent = [0]
        token = _sent.set(sent)
        try:
            yield
        finally:
            _sent.reset(token)
            if self.progress is not None and steps > sent[0]:
                self.progress.update(steps - sent[0])

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any = None,
        *,
        key: str | None = None,
        version: int | None = None,
        learning: bool = False,
    ) -> dict[str, Any]:
        """One request; the answer's JSON with its ETag as `_etag`. `learning`: the service may not
        know the factory yet (it learns of factories from the registry's events), so wait for it."""
        headers = (
            headers | ({"Idempotency-Key": key} if key else {}) | ({"If-Match": f'"{version}"'} if version else {})
        )
        url = getattr(self.urls, service) + path
        deadline = time.monotonic() + WAIT_FOR_EVENTS
        delay = 0.2
        while True:
            response: httpx.Response | None = None
            async with self.limits[service]:
                try:
                    response = await self.http.request(method, url, json=body, headers=headers)
                except httpx.TransportError as error:
                    if time.monotonic() > deadline:
                        raise LoadFailed(f"{method} {url}: {error!r}") from error
            if response is not None and response.is_success:
                if method != "GET":
                    self.commands += 1
                    if (sent := _sent.get(None)) is not None:
                        sent[0] += 1
                    if self.progress is not None:
                        self.progress.update(1)
                answer: dict[str, Any] = response.json()
                if "etag" in response.headers:
                    answer["_etag"] = int(response.headers["etag"].strip('"'))
                return answer
            if response is not None and not (learning and not_known_yet(response)):
                raise LoadFailed(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
            if time.monotonic() > deadline:
                raise LoadFailed(f"{method} {url}: the service did not learn of the factory in {WAIT_FOR_EVENTS:.0f}s")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def not_known_yet(response: httpx.Response) -> bool:
    """The service has not yet learnt of the factory, or of its enrollment, from the registry's events."""
    try:
        detail = str(response.json().get("detail", ""))
    except ValueError:
        return False
    return (response.status_code == 404 and "known here" in detail) or (
        response.status_code == 409 and ("not enrolled" in detail or "is applied" in detail)
    )


async def load(urls: Urls, size: Size, seed: int, progress: Progress | None = None) -> Loaded:
    """Plan the demo programme from `seed` and send it to the services. Safe to run again: what
    was done already is not done twice."""
    programme = plan(size, seed)
    if progress is not None:
        progress.reset(total=programme.steps)
    loaded = Loaded()
    limits = httpx.Limits(max_connections=sum(CONCURRENCY.values()) + 4)
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=limits) as http:
        sender = Sender(urls, http, progress)
        brand_ids = [await register_brand(sender, programme, b) for b in programme.brands]
        factory_ids = await gather(register_factory(sender, programme, f, brand_ids) for f in programme.factories)
        work: list[Awaitable[None]] = [
            run_factory(sender, programme, f, factory_ids[i], loaded) for i, f in enumerate(programme.factories)
        ]
        work += [run_session(sender, programme, s, factory_ids, loaded) for s in programme.sessions]
        work.append(run_surveys(sender, programme, factory_ids))
        await gather(work)
    loaded.brands = {brand_ids[i]: b.name for i, b in enumerate(programme.brands)}
    loaded.factories = {factory_ids[i]: f.country for i, f in enumerate(programme.factories)}
    loaded.commands = sender.commands
    loaded.featured_brand = brand_ids[0]
    suppliers = [i for i, f in enumerate(programme.factories) if any(link.brand == 0 for link in f.links)]
    loaded.featured_suppliers = len(suppliers)
    sharing = [i for i in suppliers if any(link.brand == 0 and link.consents for link in programme.factories[i].links)]
    loaded.featured_factory = factory_ids[sharing[0] if sharing else 0]
    return loaded


async def gather(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """All of them at once; the first failure cancels the rest."""
    tasks: list[asyncio.Task[T]] = []
    async with asyncio.TaskGroup() as group:
        for awaitable in awaitables:
            tasks.append(group.create_task(_awaited(awaitable)))
    return [t.result() for t in tasks]


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def demo_key(programme: Plan, *parts: object) -> str:
    """An Idempotency-Key: the same seed and the same thing planned give the same key."""
    return "-".join(str(p) for p in ("demo", programme.seed, *parts))


def factory_user(sender: Sender, factory: FactoryPlan, factory_id: str) -> dict[str, str]:
    return sender.as_(Audience.FACTORY, factory_id, subject=f"hr-{factory.key.lower()}")


async def register_brand(sender: Sender, programme: Plan, brand: BrandPlan) -> str:
    body = {
        "name": brand.name,
        "kind": brand.kind,
        "partnership": brand.partnership,
        "headquarters_country": brand.headquarters,
    }
    staff = sender.as_(Audience.PROGRAMME)
    with sender.planned(1):
        answer = await sender.send("registry", "POST", "/brands", staff, body, key=demo_key(programme, brand.key))
    return str(answer["id"])


async def register_factory(sender: Sender, programme: Plan, factory: FactoryPlan, brand_ids: list[str]) -> str:
    staff = sender.as_(Audience.PROGRAMME)
    body = factory.profile | {"confirmed_new": True}  # the demo's factories are all different sites
    with sender.planned(factory.registry_steps):
        record = await sender.send("registry", "POST", "/factories", staff, body, key=demo_key(programme, factory.key))
        path, version = f"/factories/{record['id']}", int(record["version"])

        async def change(method: str, step: str, headers: dict[str, str], body: Any = None) -> None:
            nonlocal version  # each change names the version the one before it answered
            answer = await sender.send("registry", method, path + step, headers, body, version=version)
            version = int(answer["version"])

        if record["enrollment"] is None:
            await change("POST", "/enrollment/apply", staff)
        if record["enrollment"] in (None, "applied"):
            enrollment = {"service_package": factory.service_package, "enrolled_on": str(factory.enrolled_on)}
            await change("POST", "/enrollment/enroll", staff, enrollment)
        for link in factory.links:
            brand_id = brand_ids[link.brand]
            if brand_id not in record["brand_links"]:
                await change("POST", "/brands", staff, {"brand_id": brand_id, "since": str(link.since)})
            if link.consents and brand_id not in record["consenting_brands"]:
                # Only the factory's own users may share its reports.
                await change("PUT", f"/consents/{brand_id}", factory_user(sender, factory, record["id"]))
    return str(record["id"])


async def run_factory(sender: Sender, programme: Plan, factory: FactoryPlan, factory_id: str, loaded: Loaded) -> None:
    async def assessments() -> None:
        # One after the other: each report is compared with the one published before it.
        latest = ""
        for assessment in factory.assessments:
            with sender.planned(assessment.steps):
                latest = await run_assessment(sender, programme, factory, factory_id, assessment)
                loaded.assessments.append(latest)
        if factory.advisory is not None and factory.assessments:
            # Its priorities answer findings of the latest report.
            findings = factory.assessments[-1].results
            with sender.planned(factory.advisory.steps):
                plan_id = await run_advisory(sender, programme, factory, factory_id, factory.advisory, latest, findings)
                loaded.advisory_plans.append(plan_id)
        if factory.visit is not None:
            with sender.planned(factory.visit.steps):
                loaded.visits.append(await run_visit(sender, programme, factory, factory_id, factory.visit))

    async def committee() -> None:
        if factory.committee is not None:
            with sender.planned(factory.committee.steps):
                loaded.committees.append(await run_committee(sender, programme, factory, factory_id, factory.committee))

    await gather([assessments(), committee()])


async def run_assessment(
    sender: Sender, programme: Plan, factory: FactoryPlan, factory_id: str, plan: AssessmentPlan
) -> str:
    """Schedule, visit, review and publish, then work the improvement plan; what the service
    shows as done already is skipped."""
    country = BY_CODE[factory.country]
    assessor = sender.as_(Audience.PROGRAMME, subject=plan.assessors[0])
    reviewer = sender.as_(Audience.PROGRAMME, subject=country.reviewer)  # quality review: not an assessor
    # An unannounced visit cannot be planned for a day that has passed: a visit made a year ago is
    # planned for today, and started and published on the days it was.
    body: dict[str, Any] = {
        "factory_id": factory_id,
        # Today where the factory is: in Phnom Penh the day may already be tomorrow's in UTC.
        "planned_date": str(max(programme.today, today_in(factory.country))),
        "assessors": list(plan.assessors),
    }
    key = demo_key(programme, factory.key, "assessment", plan.ordinal + 1)
    a = await sender.send("assessment", "POST", "/assessments", assessor, body, key=key, learning=True)
    path = f"/assessments/{a['id']}"

    async def step(method: str, where: str, who: dict[str, str], body: Any = None, version: int | None = None) -> None:
        nonlocal a
        a = await sender.send("assessment", method, f"{path}{where}", who, body, version=version)

    if a["status"] == "scheduled":
        await step("POST", "/start", assessor, {"started_on": str(plan.started_on)})
    if a["status"] == "in-progress":
        recorded = {f["question_id"] for f in a["findings"]}
        findings = [
            {"question_id": q, "result": result, "evidence": evidence}
            for q, (result, evidence) in plan.results.items()
            if q not in recorded
        ]
        if findings:  # the whole assessment in one request
            await step("POST", "/findings", assessor, {"findings": findings}, version=a["_etag"])
        if plan.returned and not a["review_comments"]:
            await step("POST", "/submit", assessor)
            await step("POST", "/return", reviewer, {"comments": plan.returned})
        if plan.returned:
            # The assessors complete the finding the reviewer asked about.
            q, (result, evidence) = plan.amended()
            amended = f"{evidence}; completed after quality review".lstrip("; ")
            if next(f for f in a["findings"] if f["question_id"] == q)["evidence"] != amended:
                body = {"result": result, "evidence": amended}
                await step("PUT", f"/findings/{q}", assessor, body, version=a["_etag"])
        await step("POST", "/submit", assessor)
    if a["status"] == "submitted":
        await step("POST", "/approve", reviewer)
    if a["status"] == "approved":
        await step("POST", "/publish", reviewer, {"published_on": str(plan.published_on)})
    await run_improvement_plan(sender, factory_user(sender, factory, factory_id), reviewer, a, plan)
    return str(a["id"])


async def run_improvement_plan(
    sender: Sender, own: dict[str, str], reviewer: dict[str, str], a: dict[str, Any], plan: AssessmentPlan
) -> None:
    """The factory plans, reports and says what it put right; the programme verifies or rejects."""
    path = f"/assessments/{a['id']}"
    findings = {f["question_id"]: f for f in a["findings"]}
    actions = {x["question_id"]: x for x in a["improvement_actions"]}
    for q, r in plan.remediation.items():
        finding = findings[q]
        if r.due_on is not None:
            if q not in actions:
                body = {"what": r.what, "who": r.who, "due_on": str(r.due_on)}
                answer = await sender.send("assessment", "POST", f"{path}/findings/{q}/actions", own, body)
                actions[q] = next(x for x in answer["improvement_actions"] if x["question_id"] == q)
            notes = [{"note": note, "done": False} for note in r.progress]
            notes += [{"note": "Completed", "done": True}] if r.done else []
            for note in notes[len(actions[q]["progress"]) :]:
                await sender.send("assessment", "POST", f"{path}/actions/{actions[q]['id']}/progress", own, note)
        if r.remediated is not None and finding["remediation"] == "open" and finding["rejection"] is None:
            answer = await sender.send(
                "assessment", "POST", f"{path}/findings/{q}/remediated", own, {"note": r.remediated}
            )
            finding = next(f for f in answer["findings"] if f["question_id"] == q)
        if r.verdict is not None and finding["remediation"] == "remediated":
            if r.verdict == "verified":
                await sender.send("assessment", "POST", f"{path}/findings/{q}/verify", reviewer)
            else:
                reason = {"reason": r.rejection}
                await sender.send("assessment", "POST", f"{path}/findings/{q}/reject", reviewer, reason)


async def run_visit(sender: Sender, programme: Plan, factory: FactoryPlan, factory_id: str, visit: Visit) -> str:
    assessor = sender.as_(Audience.PROGRAMME, subject=visit.assessors[0])
    body = {"factory_id": factory_id, "planned_date": str(visit.planned_date), "assessors": list(visit.assessors)}
    key = demo_key(programme, factory.key, "visit")
    a = await sender.send("assessment", "POST", "/assessments", assessor, body, key=key, learning=True)
    if visit.cancelled and a["status"] == "scheduled":
        await sender.send("assessment", "POST", f"/assessments/{a['id']}/cancel", assessor, {"reason": visit.cancelled})
    return str(a["id"])


async def run_committee(
    sender: Sender, programme: Plan, factory: FactoryPlan, factory_id: str, plan: CommitteePlan
) -> str:
    """Establish, elect, appoint, then the meetings the factory's users record, and their action items."""
    staff = sender.as_(Audience.PROGRAMME, subject=BY_CODE[factory.country].assessors[0])
    own = factory_user(sender, factory, factory_id)
    key = demo_key(programme, factory.key, "committee")
    body: dict[str, Any] = {"factory_id": factory_id, "established_on": str(plan.established_on)}
    committee = await sender.send("committee", "POST", "/committees", staff, body, key=key, learning=True)
    path = f"/committees/{committee['id']}"
    for i, election in enumerate(plan.elections):
        body = {
            "held_on": str(election.held_on),
            "seats": election.seats,
            "term_ends_on": str(election.term_ends_on),
            "candidates": [{"person": p.json(), "votes": votes} for p, votes in election.candidates],
        }
        await sender.send("committee", "POST", f"{path}/elections", staff, body, key=f"{key}-election-{i + 1}")
    for i, (appointee, office, starts) in enumerate(plan.appointees):
        body = {"person": appointee.json(), "office": office, "term_starts_on": str(starts)}
        await sender.send("committee", "POST", f"{path}/members", staff, body, key=f"{key}-appointment-{i + 1}")
    committee = await sender.send("committee", "GET", path, staff)
    members = committee["members"]
    # The workers' representative with most votes in the last election chairs the committee.
    latest = plan.elections[-1]
    top = latest.candidates[0][0].employee_number
    chair = next(m for m in members if m["person"]["employee_number"] == top and not m["left_on"])
    if plan.chaired and chair["office"] == "member":
        await sender.send("committee", "PUT", f"{path}/members/{chair['member_id']}/office", staff, {"office": "chair"})
    items = {i["action_item_id"]: i for m in committee["meetings"] for i in m["action_items"]}
    for n, meeting in enumerate(plan.meetings):
        rng = random.Random(f"{programme.seed}-{factory.key}-meeting-{n + 1}")
        sitting = [m["member_id"] for m in members if sits_on(m, meeting.held_on)]
        attendees = sorted(rng.sample(sitting, max(1, round(len(sitting) * meeting.attendance))), key=member_number)
        body = {
            "held_on": str(meeting.held_on),
            "attendees": attendees,
            "agenda": meeting.agenda,
            "minutes": meeting.minutes,
            "decisions": meeting.decisions,
            "action_items": [
                {"description": item.description, "owner": rng.choice(attendees), "due_on": str(item.due_on)}
                for item in meeting.action_items
            ],
        }
        recorded = await sender.send("committee", "POST", f"{path}/meetings", own, body, key=f"{key}-meeting-{n + 1}")
        for item, raised in zip(meeting.action_items, recorded["action_items"], strict=True):
            status = items.get(raised["action_item_id"], raised)["status"]
            where = f"{path}/action-items/{raised['action_item_id']}"
            if item.status != "open" and status == "open":
                await sender.send("committee", "POST", f"{where}/start", own, {"note": "Work has started"})
            if item.status == "done" and status != "done":
                closure = {"closed_on": str(item.closed_on), "outcome": item.outcome}
                await sender.send("committee", "POST", f"{where}/closure", own, closure)
    return str(committee["id"])


async def run_advisory(
    sender: Sender,
    programme: Plan,
    factory: FactoryPlan,
    factory_id: str,
    plan: AdvisoryPlanPlan,
    assessment_id: str,
    results: dict[str, tuple[str, str]],
) -> str:
    """The advisor's plan with the factory: priorities, two visits held with a commitment made and
    followed up, one visit to come; the factory confirms the first visit's record."""
    staff = sender.as_(Audience.PROGRAMME, subject=BY_CODE[factory.country].assessors[0])
    key = demo_key(programme, factory.key, "advisory")
    body: dict[str, Any] = {
        "factory_id": factory_id,
        "starts_on": str(plan.starts_on),
        "ends_on": str(plan.ends_on),
        "advisor": plan.advisor,
        "visits": 3,
        "priorities": [
            {
                "topic": topic,
                "description": f"Priority agreed with management: {topic.split('.')[1].replace('-', ' ')}",
                "links": [f"finding:{assessment_id}.{q}" for q in answering(topic, results)],
            }
            for topic in plan.topics
        ],
    }
    created = await sender.send("committee", "POST", "/advisory-plans", staff, body, key=key, learning=True)
    path = f"/advisory-plans/{created['id']}"
    days = (*plan.held, plan.upcoming)
    visits = {v["planned_for"]: v for v in (await sender.send("committee", "GET", path, staff))["visits"]}
    for n, day in enumerate(days):
        if str(day) not in visits:
            body = {"planned_for": str(day), "planned_on": str(plan.starts_on), "topics": [plan.topics[n % 2]]}
            await sender.send("committee", "POST", f"{path}/visits", staff, body, key=f"{key}-visit-{n + 1}")
    visits = {v["planned_for"]: v for v in (await sender.send("committee", "GET", path, staff))["visits"]}
    management = [{"name": plan.manager, "role": "HR manager"}]
    records = [
        {
            "topics": [{"topic": plan.topics[0], "priority_id": "P-1"}],
            "notes": "Walked the floor with management and agreed what to do first.",
            "commitments": [
                {
                    "description": "Put the agreed measures in place and report at the next visit",
                    "topic": plan.topics[0],
                    "due_on": str(plan.held[0] + dt.timedelta(days=30)),
                    "priority_id": "P-1",
                }
            ],
        },
        {
            "topics": [{"topic": plan.topics[1], "priority_id": "P-2"}],
            "notes": "Reviewed the measures from the first visit; moved on to the second priority.",
            "follow_ups": [{"commitment_id": "CM-1", "status": "done", "note": "In place, seen on the floor"}],
        },
    ]
    for day, record in zip(plan.held, records, strict=True):
        visit = visits[str(day)]
        if visit["status"] == "planned":
            body = {"held_on": str(day), "management": management} | record
            where = f"{path}/visits/{visit['visit_id']}/record"
            version = (await sender.send("committee", "GET", path, staff))["version"]
            await sender.send("committee", "POST", where, staff, body, version=version)
    first = visits[str(plan.held[0])]
    if first["confirmation"] is None:
        where = f"{path}/visits/{first['visit_id']}/confirmation"
        body = {"comment": "This is what we agreed."}
        await sender.send("committee", "POST", where, factory_user(sender, factory, factory_id), body)
    return str(created["id"])


def answering(topic: str, results: dict[str, tuple[str, str]]) -> list[str]:
    """The non-compliant findings (question ids) a priority on `topic` answers: those of its cluster,
    else the report's first non-compliant one, else its first question."""
    cluster = topic.split(".")[0]
    found = [q for q, (result, _) in results.items() if result == "non-compliant"]
    return [q for q in found if q.startswith(f"{cluster}.")][:3] or found[:1] or list(results)[:1]


def sits_on(member: dict[str, Any], day: dt.date) -> bool:
    def date(field: str) -> dt.date | None:
        return dt.date.fromisoformat(member[field]) if member[field] else None

    starts, ends, left = date("term_starts_on"), date("term_ends_on"), date("left_on")
    return starts is not None and starts <= day and (ends is None or day <= ends) and (left is None or day < left)


def member_number(member_id: str) -> int:
    return int(member_id.removeprefix("M-"))


async def run_session(
    sender: Sender, programme: Plan, plan: SessionPlan, factory_ids: list[str], loaded: Loaded
) -> None:
    """Schedule, register, keep the register of each day, score the tests, collect feedback, deliver
    (or cancel); what the session shows as done already is skipped."""
    staff = sender.as_(Audience.PROGRAMME, subject=f"training-{plan.key.split('-')[1].lower()}")
    body: dict[str, Any] = {
        "course": plan.course,
        "factory_ids": [factory_ids[f] for f in plan.factories],
        "days": [str(d) for d in plan.days],
        "venue": plan.venue,
        "trainer": plan.trainer,
    }
    key = demo_key(programme, plan.key)
    with sender.planned(plan.steps):
        session = await sender.send("training", "POST", "/sessions", staff, body, key=key, learning=True)
        path = f"/sessions/{session['id']}"

        async def change(method: str, where: str, body: Any = None, key: str | None = None) -> dict[str, Any]:
            """A change at the version the session was last read (If-Match)."""
            return await sender.send("training", method, where, staff, body, key=key, version=session["_etag"])

        registered = {p["participant_id"] for p in session["participants"]}
        for p in plan.participants:
            if p.id not in registered:
                body = {"participant_id": p.id, "factory_id": factory_ids[p.factory], "role": p.role, "sex": p.sex}
                session = await change("POST", f"{path}/participants", body, key=f"{key}-{p.id}")
        for day, present in plan.present.items():
            if str(day) not in session["attendance"]:
                session = await change("PUT", f"{path}/attendance/{day}", {"present": present})
        people = {p["participant_id"]: p for p in session["participants"]}
        for pid, (pre, post) in plan.scores.items():
            for phase, score in (("pre", pre), ("post", post)):
                if score is not None and people[pid][f"{phase}_test"] is None:
                    session = await change("PUT", f"{path}/participants/{pid}/scores/{phase}", {"score": score})
        for pid, (rating, comment) in plan.feedback.items():
            if people[pid]["feedback"] is None:
                body = {"rating": rating, "comment": comment}
                session = await change("PUT", f"{path}/participants/{pid}/feedback", body)
        if session["status"] == "scheduled" and plan.fate == "delivered":
            session = await change("POST", f"{path}/deliver")
        elif session["status"] == "scheduled" and plan.fate == "cancelled":
            session = await change("POST", f"{path}/cancel", {"reason": plan.cancellation})
    loaded.sessions.append(str(session["id"]))


# --- the command line ---------------------------------------------------------------------------


def guide(marker: dict[str, Any], urls: Urls) -> str:
    """How to try the demo: tokens to mint and queries to paste."""
    brand, factory = marker["brand"], marker["factory"]
    lines = [
        f"Demo data (seed {marker['seed']}, loaded in {marker['seconds']:.0f}s): {marker['summary']}",
        f"Try it in GraphQL at {urls.gateway}/graphql with a token in the Authorization header (Bearer):",
        "",
        "  programme staff:  make token AUDIENCE=programme",
        f"      {TRY_IT['programme']}",
        f"  a brand:          make token AUDIENCE=brand ID={brand['id']}"
        f"   ({brand['name']}: {brand['sharing']} of its {brand['suppliers']} suppliers share their reports)",
        f"      {TRY_IT['brand']}",
        f"  a government:     make token AUDIENCE=government ID={GOVERNMENT_COUNTRY}",
        f"      {TRY_IT['government']}",
        f"  a factory:        make token AUDIENCE=factory ID={factory['id']}   ({factory['name']})",
        "",
        f'  curl -s {urls.gateway}/graphql -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\',
        "       -d '" + json.dumps({"query": TRY_IT["programme"]}) + "'",
    ]
    return "\n".join(lines)


async def describe(urls: Urls, loaded: Loaded, seed: int, seconds: float) -> dict[str, Any]:
    """What the marker records: what was loaded, and the ids `make run` shows."""
    async with httpx.AsyncClient(timeout=30) as http:
        sender = Sender(urls, http, None)
        staff = sender.as_(Audience.PROGRAMME)
        sharing = await sender.send("registry", "GET", f"/brands/{loaded.featured_brand}/report-sharing", staff)
        factory = await sender.send("registry", "GET", f"/factories/{loaded.featured_factory}", staff)
    countries = Counter(loaded.factories.values())
    summary = (
        f"{len(loaded.factories)} factories ({', '.join(f'{n} in {c}' for c, n in countries.items())}), "
        f"{len(loaded.brands)} brands, {len(loaded.assessments)} published assessments, "
        f"{len(loaded.committees)} committees, {len(loaded.sessions)} training sessions"
    )
    return {
        "loaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "seconds": round(seconds, 1),
        "commands": loaded.commands,
        "summary": summary,
        "brand": {
            "id": loaded.featured_brand,
            "name": loaded.brands[loaded.featured_brand],
            "suppliers": loaded.featured_suppliers,
            "sharing": len(sharing["factory_ids"]),
        },
        "government": GOVERNMENT_COUNTRY,
        "factory": {"id": factory["id"], "name": factory["profile"]["name"]},
    }


def leaves(group: BaseExceptionGroup[LoadFailed]) -> Iterator[BaseException]:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from leaves(error)
        else:
            yield error


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python deploy/local/demo.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Safe to run again after an interruption (the same seed, the same day): nothing is created twice. "
        "A benchmark set: --factories 1700 --cycles 5.",
    )
    parser.add_argument(
        "--factories", type=int, default=Size.factories, metavar="N", help="how many factories (default %(default)s)"
    )
    parser.add_argument(
        "--cycles", type=int, default=Size.cycles, metavar="K", help="assessments per factory (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="the same seed plans the same programme (%(default)s)")
    for service in ("registry", "assessment", "committee", "training", "gateway"):
        parser.add_argument(
            f"--{service}", default=getattr(Urls, service), metavar="URL", help=f"the {service} service (%(default)s)"
        )
    parser.add_argument(
        "--marker",
        type=Path,
        help="load only if this file does not exist yet; write it when the load succeeded (what `make run` does)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.factories < 1 or args.cycles < 1:
        parser.error("--factories and --cycles must be at least 1")
    urls = Urls(args.registry, args.assessment, args.committee, args.training, args.gateway)
    if args.marker is not None and args.marker.exists():
        print(guide(json.loads(args.marker.read_text()), urls))
        return
    from tqdm import tqdm

    size = Size(args.factories, args.cycles)
    started = time.monotonic()
    with tqdm(desc="demo data", unit="cmd", file=sys.stderr, disable=args.quiet, mininterval=0.5) as bar:
        try:
            loaded = asyncio.run(load(urls, size, args.seed, bar))
        except* LoadFailed as failed:
            bar.close()
            for error in leaves(failed):
                print(f"demo data: {error}", file=sys.stderr)
            print("demo data: not loaded; running this again carries on where it stopped", file=sys.stderr)
            sys.exit(1)
        except* KeyboardInterrupt:
            bar.close()
            print("demo data: interrupted; running this again carries on where it stopped", file=sys.stderr)
            sys.exit(130)
    seconds = time.monotonic() - started
    marker = asyncio.run(describe(urls, loaded, args.seed, seconds))
    if args.marker is not None:
        args.marker.parent.mkdir(parents=True, exist_ok=True)
        args.marker.write_text(json.dumps(marker, indent=2) + "\n")
    print(guide(marker, urls))


if __name__ == "__main__":
    main()
