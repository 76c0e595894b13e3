"""Likely duplicates of a factory being registered, among the factories already known in its country.

Pure: strings in, candidates out. The service answers 409 with the candidates unless the caller
confirms the factory is new, so a false alarm costs one confirmation while a missed duplicate
splits a factory's assessment history in two. Hence an identical name in the same country is always
asked about; but a word swapped for another ("Hawassa Garments", "Hawassa Textiles") is taken for a
sibling factory, since groups register their units and sites side by side at one address.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

NAME_WEIGHT = 0.7
ADDRESS_WEIGHT = 0.3
# Two registrations under the same normalised name in one country are worth a question even when the
# addresses are written quite differently (Bangladesh: "Plot 5, DEPZ" and "Ganakbari, Savar" are one place).
SAME_NAME_FLOOR = 0.85
# A name in Khmer, Bengali or Vietnamese is written one way by the factory itself; the Latin names are
# transliterations by whoever filled in the form, so an identical local name outweighs differing Latin ones.
SAME_LOCAL_NAME_FLOOR = 0.9
# Token pairs at least this similar count as one word spelt two ways ("Sqaure"/"Square"), not two words.
SAME_WORD = 0.8

_Phrases = Mapping[tuple[str, ...], tuple[str, ...]]
_PhraseIndex = dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]


@dataclass(frozen=True)
class FactoryRecord:
    factory_id: str
    country: str
    name: str
    address: str
    local_name: str | None = None


@dataclass(frozen=True)
class Candidate:
    factory_id: str
    name: str
    address: str
    score: float
    reasons: tuple[str, ...]


# Letters NFKD leaves alone because they are letters of their own, not a letter plus a mark.
# Lower case only: they are looked for after casefold(). U+0640 is the Arabic tatweel, a stretching stroke.
_LETTERS = {"đ": "d", "ð": "d", "ø": "o", "ł": "l", "\u0131": "i", "æ": "ae", "œ": "oe", "þ": "th", "\u0640": ""}
# "S.A.", "S.A", "P.L.C.", "L.L.C": initials keep their letters together, so "s a" never has to be a legal form.
# Letters only: "Km 6.5" stays two numbers.
_INITIALS = re.compile(r"(?<!\w)([^\W\d_](?:\.[^\W\d_])+)\.?(?!\w)")
_APOSTROPHES = re.compile("['`\u2019\u02bc]")
_ASCII_PUNCTUATION = re.compile(r"[^a-z0-9]+")
_DIGITS_WITH_LEADING_ZERO = re.compile(r"^0+(?=\d)")
_OPTIONAL_MARKS = re.compile(r"(?<=[A-Za-z\u00c0-\u024f\u1e00-\u1eff])[\u0300-\u036f]+|[\u064b-\u065f\u0670]")
_NON_WORD = re.compile(r"[\W_]+")


def _keys(*pairs: tuple[str, str]) -> dict[tuple[str, ...], tuple[str, ...]]:
    return {tuple(a.split()): tuple(b.split()) for a, b in pairs}


def _removed(*phrases: str) -> dict[tuple[str, ...], tuple[str, ...]]:
    return {tuple(p.split()): () for p in phrases}


_NAME_ABBREVIATIONS = _keys(
    ("intl", "international"),
    ("mfg", "manufacturing"),
    ("mfrs", "manufacturers"),
    ("mfr", "manufacturer"),
    ("inds", "industries"),
    ("bros", "brothers"),
    ("gmt", "garment"),
    ("gmts", "garments"),
    ("fty", "factory"),
)

# Legal forms that say nothing about which factory it is, removed wherever they stand: "Crystal Martin
# (Ceylon) Pvt Ltd - Koggala" carries its legal form in the middle.
_LEGAL_FORMS_ANYWHERE = _removed(
    "co ltd",
    "co limited",
    "company limited",
    "company ltd",
    "ltd co",
    "limited company",
    "limited liability company",
    "pvt ltd",
    "pvt limited",
    "private limited",
    "private ltd",
    "pte ltd",
    "ltd",
    "limited",
    "llc",
    "plc",
    "jsc",
    "joint stock company",
    "joint stock",
    "share company",
    "sdn bhd",
    "gmbh",
    "tbk",
    "persero",
    "sa de cv",
    "s de rl de cv",
    "s de rl",
    "sociedad anonima",
    "societe anonyme",
    "sae",
    # Vietnamese: công ty (company), tổng công ty (corporation), TNHH (limited liability), cổ phần (joint
    # stock), một thành viên / MTV (single-member).
    "tong cong ty",
    "cong ty",
    "tnhh",
    "co phan",
    "mot thanh vien",
    "mtv",
    "লিমিটেড",  # Bengali: limited
)


# Short forms that are also ordinary words or places ("Sa Đéc", "Co" in a brand) count only where they
# stand in a legal name: PT and CV open an Indonesian name or close it after a comma, S.A. and Inc. close one.
_LEGAL_PREFIXES = _removed(
    "pt",
    "cv",
    "ud",
    "the",
    "ក្រុមហ៊ុន",  # Khmer: company
    "شركة",  # Arabic: company
)
_LEGAL_SUFFIXES = _removed(
    "co",
    "company",
    "corp",
    "corporation",
    "inc",
    "incorporated",
    "pvt",
    "private",
    "sa",
    "sc",
    "pt",
    "cv",
    "ud",
    "ag",
    "bv",
    "sarl",
    "srl",
    "ltda",
    "and co",
)

_ADDRESS_ABBREVIATIONS = _keys(
    ("rd", "road"),
    ("st", "street"),
    ("str", "street"),
    ("blvd", "boulevard"),
    ("bd", "boulevard"),
    ("hwy", "highway"),
    ("ave", "avenue"),
    ("av", "avenue"),
    ("avda", "avenue"),
    ("avenida", "avenue"),
    ("ln", "lane"),
    ("dist", "district"),
    ("prov", "province"),
    ("ind", "industrial"),
    ("indl", "industrial"),
    ("ind est", "industrial estate"),
    ("industrial est", "industrial estate"),
    ("bldg", "building"),
    ("fl", "floor"),
    ("flr", "floor"),
    ("nat", "national"),
    ("natl", "national"),
    ("jl", "jalan"),
    ("jln", "jalan"),
    ("kec", "kecamatan"),
    ("kab", "kabupaten"),
    ("kel", "kelurahan"),
    ("kilometer", "km"),
    ("kilometre", "km"),
    ("kilometro", "km"),
    ("export processing zone", "epz"),
    ("special economic zone", "sez"),
    ("qualifying industrial zone", "qiz"),
    ("depz", "dhaka epz"),
    ("cepz", "chittagong epz"),
    # Vietnamese, French and Spanish words for the same places, so both spellings meet as one token.
    ("khu cong nghiep", "industrial zone"),
    ("kcn", "industrial zone"),
    ("lo", "lot"),
    ("phuong", "ward"),
    ("quan", "district"),
    ("huyen", "district"),
    ("tinh", "province"),
    ("thanh pho", "city"),
    ("tp", "city"),
    ("xa", "commune"),
    ("parc industriel", "industrial park"),
    ("parque industrial", "industrial park"),
    ("zona franca", "free zone"),
    ("carretera", "highway"),
    ("calle", "street"),
    ("rue", "street"),
    ("route", "road"),
)

# Within one country the country's own name, "No." and filler words only dilute the overlap.
_ADDRESS_NOISE = _removed(
    "no",
    "nr",
    "num",
    "number",
    "of",
    "the",
    "kingdom of cambodia",
    "cambodia",
    "bangladesh",
    "viet nam",
    "vietnam",
    "indonesia",
    "hashemite kingdom of jordan",
    "jordan",
    "haiti",
    "nicaragua",
    "arab republic of egypt",
    "egypt",
    "ethiopia",
    "pakistan",
    "sri lanka",
)


def _fold(text: str) -> list[str]:
    """Case, accents, initials and punctuation folded away; what is left, as words."""
    # Every step is guarded: a country's worth of names is folded per registration, most of them ASCII.
    text = text.casefold()
    if not text.isascii():
        for letter, plain in _LETTERS.items():
            if letter in text:
                text = text.replace(letter, plain)
        text = _strip_marks(text)
    if "." in text:
        text = _INITIALS.sub(lambda m: m.group(1).replace(".", ""), text)
    if "&" in text:
        text = text.replace("&", " and ")
    if "'" in text or "`" in text or not text.isascii():
        text = _APOSTROPHES.sub("", text)
    if text.isascii():
        return _ASCII_PUNCTUATION.sub(" ", text).split()
    return _NON_WORD.sub(_space_or_mark, text).split()


def _strip_marks(text: str) -> str:
    # Accents on Latin letters ("Việt Tiến") and Arabic vowel marks are optional in everyday writing;
    # the vowel signs of Khmer or Bengali are part of the word, so only those two kinds are dropped.
    return unicodedata.normalize("NFC", _OPTIONAL_MARKS.sub("", unicodedata.normalize("NFKD", text)))


def _space_or_mark(run: re.Match[str]) -> str:
    # \W also matches the vowel signs of Khmer and Bengali, which belong inside their words.
    gap = run.group()
    if gap.isascii():
        return " "
    return "".join(c if unicodedata.category(c)[0] == "M" else " " for c in gap)


def _index(phrases: _Phrases) -> _PhraseIndex:
    # Longest phrase first, so "co ltd" goes before "co" could.
    by_first: _PhraseIndex = {}
    for key, value in sorted(phrases.items(), key=lambda kv: -len(kv[0])):
        by_first.setdefault(key[0], []).append((key, value))
    return by_first


_NAME_REWRITES_BY_FIRST = _index({**_NAME_ABBREVIATIONS, **_LEGAL_FORMS_ANYWHERE})
_ADDRESS_REWRITES_BY_FIRST = _index({**_ADDRESS_ABBREVIATIONS, **_ADDRESS_NOISE})
_PREFIXES_BY_FIRST = {first: [key for key, _ in forms] for first, forms in _index(_LEGAL_PREFIXES).items()}
_SUFFIXES_BY_LAST: dict[str, list[tuple[str, ...]]] = {}
for _suffix in sorted(_LEGAL_SUFFIXES, key=len, reverse=True):
    _SUFFIXES_BY_LAST.setdefault(_suffix[-1], []).append(_suffix)


def _rewrite(tokens: list[str], by_first: _PhraseIndex) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for key, value in by_first.get(tokens[i], ()):
            if tuple(tokens[i : i + len(key)]) == key:
                out.extend(value)
                i += len(key)
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def _strip_edges(tokens: list[str]) -> list[str]:
    stripped = True
    while stripped and tokens:
        stripped = False
        for form in _PREFIXES_BY_FIRST.get(tokens[0], ()):
            if len(tokens) > len(form) and tuple(tokens[: len(form)]) == form:
                tokens, stripped = tokens[len(form) :], True
                break
        for form in _SUFFIXES_BY_LAST.get(tokens[-1], ()):
            if len(tokens) > len(form) and tuple(tokens[-len(form) :]) == form:
                tokens, stripped = tokens[: -len(form)], True
                break
    return tokens


def _singular(token: str) -> str:
    # "Garments"/"Garment", "Industries"/"Industry": the form's author decides the plural, not the factory.
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _name_tokens(name: str) -> list[str]:
    tokens = _fold(name)
    # A name that is nothing but a legal form ("Co., Ltd.") keeps it rather than vanishing.
    kept = _strip_edges(_rewrite(tokens, _NAME_REWRITES_BY_FIRST)) or tokens
    return [_singular(t) for t in kept]


def _address_tokens(address: str) -> list[str]:
    return [_DIGITS_WITH_LEADING_ZERO.sub("", t) for t in _rewrite(_fold(address), _ADDRESS_REWRITES_BY_FIRST)]


def normalize_name(name: str) -> str:
    """The name with case, accents, punctuation, plurals and legal forms folded away."""
    return " ".join(_name_tokens(name))


def normalize_address(address: str) -> str:
    """The address with case, accents, punctuation, "No." and common abbreviations folded away."""
    return " ".join(_address_tokens(address))


# Not "nj" or "sj": today's "Panjang" and "masjid" have them too.
_OLD_INDONESIAN = ("dj", "tj", "oe")


def _respell(tokens: list[str], country: str) -> list[str]:
    # Indonesian names keep the spelling of before 1972 ("Eratex Djaja", "Soekarno") beside the current
    # one ("Jaya", "Sukarno"); only words that show an old digraph are respelt, so "Jaya" stays "jaya".
    if country != "ID":
        return tokens
    return [_respell_old_indonesian(t) if any(d in t for d in _OLD_INDONESIAN) else t for t in tokens]


def _respell_old_indonesian(token: str) -> str:
    return token.replace("dj", "\0").replace("tj", "c").replace("oe", "u").replace("j", "y").replace("\0", "j")


def _translate_name(tokens: list[str], country: str) -> list[str]:
    # Vietnamese factories register under "Công ty May Đức Thành" and "Duc Thanh Garment" alike: "may" is
    # the garment trade there, and only there.
    if country != "VN":
        return tokens
    return ["garment" if t == "may" else t for t in tokens]


@dataclass(frozen=True)
class _Name:
    tokens: tuple[str, ...]
    text: str
    sorted_text: str

    @classmethod
    def of(cls, tokens: list[str]) -> _Name:
        return cls(tuple(tokens), " ".join(tokens), " ".join(sorted(tokens)))


# Normalising is most of the work of comparing one name with a country's factories, and an import
# compares every row with all of them: each registered name and address is normalised once.
NORMALISED_CACHE = 65_536


@lru_cache(maxsize=NORMALISED_CACHE)
def _comparable_name(name: str, country: str) -> _Name:
    return _Name.of(_translate_name(_respell(_name_tokens(name), country), country))


@lru_cache(maxsize=NORMALISED_CACHE)
def _comparable_address(address: str, country: str) -> tuple[str, ...]:
    return tuple(_respell(_address_tokens(address), country))


@lru_cache(maxsize=NORMALISED_CACHE)
def _comparable_local_name(local_name: str) -> str:
    return normalize_name(local_name)


def name_key(name: str, country: str) -> str:
    """The name as the similarity of names is measured on it: what the directory indexes a factory by.

    The directory stores it (migration 0006); a change to the normalisation that alters it needs a
    revision that recomputes the stored keys, or `directory.rebuild`."""
    return _comparable_name(name, country.strip().upper()).text


def local_name_key(local_name: str | None) -> str | None:
    """The local-script name as "same local-script name" compares it."""
    return _comparable_local_name(local_name) if local_name else None


def _ratio(matcher: SequenceMatcher[str], a: str) -> float:
    matcher.set_seq1(a)
    return matcher.ratio()


def _same_word(a: str, b: str) -> bool:
    return a == b or SequenceMatcher(None, a, b).ratio() >= SAME_WORD


def _has_swapped_words(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Each name has a word the other lacks: "Hawassa Garments" and "Hawassa Textiles"."""
    only_a = [t for t in a if t not in b]
    only_b = [t for t in b if t not in a]
    if not only_a or not only_b or _same_word("".join(only_a), "".join(only_b)):
        # Nothing swapped, or the same words spaced differently: "Viettien" and "Viet Tien".
        return False
    unmatched_a = [t for t in only_a if not any(_same_word(t, u) for u in only_b)]
    unmatched_b = [u for u in only_b if not any(_same_word(t, u) for t in only_a)]
    return bool(unmatched_a and unmatched_b)


def _jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 0.0


class _NameComparison:
    """One registering name compared with many: SequenceMatcher caches its second sequence."""

    def __init__(self, name: _Name) -> None:
        self.name = name
        self._text = SequenceMatcher(None, "", name.text, autojunk=False)
        self._sorted = SequenceMatcher(None, "", name.sorted_text, autojunk=False)

    def similarity(self, other: _Name, need: float) -> float:
        if other.text == self.name.text:
            return 1.0
        similarity = _jaccard(self.name.tokens, other.tokens)
        # The quick ratios bound ratio() from above and, the letters being the same, bound the ratio of the
        # sorted words too; most of a country's factories stop there.
        self._text.set_seq1(other.text)
        bounds = (bound() for bound in (self._text.real_quick_ratio, self._text.quick_ratio))  # cheapest first
        if all(bound >= need and bound > similarity for bound in bounds):
            similarity = max(similarity, self._text.ratio(), _ratio(self._sorted, other.sorted_text))
        if similarity >= need and _has_swapped_words(self.name.tokens, other.tokens):
            # A word replaced by another names a different business or site ("Hawassa Garments", "Hawassa
            # Textiles"; "Katunayake", "Koggala") far more often than a registration rewords its own
            # name; only the share of words in common is kept, so a swap alone never reaches the threshold.
            similarity = _jaccard(self.name.tokens, other.tokens)
        return similarity


def _address_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    common = len(sa & sb)
    # Containment forgives the address that adds a district or a zip code; Jaccard keeps two bare
    # "Phnom Penh"s from counting as the same street.
    overlap = (common / len(sa | sb) + common / min(len(sa), len(sb))) / 2
    spelling = SequenceMatcher(None, " ".join(sorted(sa)), " ".join(sorted(sb)), autojunk=False).ratio()
    return max(overlap, spelling)


def _percent(similarity: float) -> str:
    return f"{int(similarity * 100 + 0.5)}%"


def _reasons(same_local: bool, same_name: bool, name_similarity: float, address_similarity: float) -> tuple[str, ...]:
    reasons = ["same local-script name"] if same_local else []
    if same_name:
        reasons.append("same name after normalising")
    elif name_similarity == 1.0:
        reasons.append("same name words in another order")
    else:
        reasons.append(f"name {_percent(name_similarity)} similar")
    if address_similarity == 1.0:
        reasons.append("same address after normalising")
    else:
        reasons.append(f"address {_percent(address_similarity)} similar")
    return tuple(reasons)


def likely_duplicates(
    name: str,
    address: str,
    country: str,
    existing: Iterable[FactoryRecord],
    local_name: str | None = None,
    threshold: float = 0.8,
    limit: int = 5,
) -> list[Candidate]:
    """The factories of `country` that `name` at `address` probably is, best first, scores in 0..1."""
    if limit <= 0:
        return []
    country = country.strip().upper()
    registering = _NameComparison(_comparable_name(name, country))
    registering_local = normalize_name(local_name) if local_name else None
    address_tokens = _comparable_address(address, country)
    # Scores are reported to two decimals and compared as reported, so the cut is half a hundredth lower.
    cut = threshold - 0.005
    name_needed = (cut - ADDRESS_WEIGHT) / NAME_WEIGHT

    scored: list[tuple[float, Candidate]] = []
    for record in existing:
        if record.country.strip().upper() != country:
            continue
        same_local = bool(
            registering_local and record.local_name and _comparable_local_name(record.local_name) == registering_local
        )
        other = _comparable_name(record.name, country)
        # A local-name match is reported whatever the Latin names say, so their similarity is computed in full.
        name_similarity = registering.similarity(other, 0.0 if same_local else name_needed)
        same_name = other.text == registering.name.text
        if not (same_name or same_local) and name_similarity < name_needed:
            continue

        address_similarity = _address_similarity(address_tokens, _comparable_address(record.address, country))
        score = NAME_WEIGHT * name_similarity + ADDRESS_WEIGHT * address_similarity
        if same_local:
            score = max(score, SAME_LOCAL_NAME_FLOOR + (1 - SAME_LOCAL_NAME_FLOOR) * address_similarity)
        if same_name:
            score = max(score, SAME_NAME_FLOOR + (1 - SAME_NAME_FLOOR) * address_similarity)
        if score < cut:
            continue
        reasons = _reasons(same_local, same_name, name_similarity, address_similarity)
        scored.append((score, Candidate(record.factory_id, record.name, record.address, round(score, 2), reasons)))

    scored.sort(key=lambda sc: (-sc[0], sc[1].factory_id))
    return [candidate for _, candidate in scored[:limit]]
