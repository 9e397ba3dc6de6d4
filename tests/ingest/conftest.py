from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.countries.models import Country
from earlywarn.db import session_scope

DATA_DIR = Path(__file__).resolve().parent / "data"

# A handful of countries, enough for the fixtures; the real table is filled by seed_countries.
TEST_COUNTRIES = [
    ("AFG", "AF", 700, "Afghanistan"),
    ("COL", "CO", 100, "Colombia"),
    ("KEN", "KE", 501, "Kenya"),
    ("SAU", "SA", 670, "Saudi Arabia"),
    ("SOM", "SO", 520, "Somalia"),
    ("USA", "US", 2, "United States of America"),
    ("SDN", "SD", 625, "Sudan"),
]


@pytest.fixture
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture
def countries(session_factory: sessionmaker[Session]) -> set[str]:
    with session_scope(session_factory) as session:
        for iso3, iso2, cow, name in TEST_COUNTRIES:
            session.add(Country(iso3=iso3, iso2=iso2, cow_code=cow, gw_code=cow, name=name))
    return {iso3 for iso3, *_ in TEST_COUNTRIES}
