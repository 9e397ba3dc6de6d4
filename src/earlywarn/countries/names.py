"""Country names as sources write them: the normal form names are compared in, and the names
of regions, aggregates and placeholders that must never resolve to a state."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_TRAILING_THE = re.compile(r",\s*the\s*$")

# Names sources use for regions, aggregates, seas and placeholders. They resolve to nothing, and
# the error says why, so that nobody "fixes" one by adding an alias to a state. Building the
# resolver fails if an alias or a state name would make one of them resolve.
NOT_COUNTRY_NAMES: frozenset[str] = frozenset(
    {
        # world and continents
        "World",
        "Global",
        "Africa",
        "Americas",
        "Asia",
        "Europe",
        "Oceania",
        "North America",
        "South America",
        "Latin America",
        "Latin America and the Caribbean",
        "Latin America & Caribbean",
        "Caribbean",
        "Central America",
        # UN M49, World Bank and UCDP/ACLED regions
        "Middle East",
        "Middle East and North Africa",
        "MENA",
        "Near East",
        "Sub-Saharan Africa",
        "Northern Africa",
        "Western Africa",
        "Eastern Africa",
        "Middle Africa",
        "Southern Africa",
        "East Africa",
        "West Africa",
        "Central Africa",
        "Horn of Africa",
        "Sahel",
        "South Asia",
        "Southern Asia",
        "South-Eastern Asia",
        "Southeast Asia",
        "Eastern Asia",
        "Central Asia",
        "Western Asia",
        "Caucasus and Central Asia",
        "East Asia & Pacific",
        "Europe & Central Asia",
        "Arab World",
        "Euro area",
        "European Union",
        "EU",
        "OECD members",
        "Least developed countries",
        "High income",
        "Low income",
        # seas ACLED codes maritime events to when maritime_pairs is off
        "Red Sea",
        "Gulf of Aden",
        "Mediterranean Sea",
        "Black Sea",
        "Caspian Sea",
        "Persian Gulf",
        "Arabian Sea",
        "Indian Ocean",
        "Atlantic Ocean",
        "Pacific Ocean",
        "International Waters",
        # placeholders
        "Unknown",
        "Various",
        "Multiple countries",
        "Stateless",
        "Not specified",
    }
)


def normalise_name(name: str) -> str:
    """The form names are compared in: no accents, case, punctuation or leading/trailing "the".

    "Côte d'Ivoire", "COTE D’IVOIRE" and "Cote d Ivoire" all become ``cote d ivoire``; "The
    Gambia" and "Gambia, The" become ``gambia``; "&" counts as "and".
    """
    decomposed = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    text = _TRAILING_THE.sub("", text.strip()).replace("&", " and ")
    words = _NON_ALNUM.sub(" ", text).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


NOT_COUNTRY_KEYS = frozenset(normalise_name(name) for name in NOT_COUNTRY_NAMES)


def is_not_country_name(value: object) -> bool:
    """True for the region, aggregate, sea and placeholder names in ``NOT_COUNTRY_NAMES``."""
    return isinstance(value, str) and normalise_name(value) in NOT_COUNTRY_KEYS
