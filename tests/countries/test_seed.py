"""Seeding the countries table from the crosswalk, and the queries over it, on both backends."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from earlywarn.countries import repository
from earlywarn.countries.models import Country
from earlywarn.countries.reference import load_reference
from earlywarn.countries.schemas import Region
from earlywarn.countries.service import seed_countries


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Country)) or 0


def test_seed_inserts_every_reference_row(session: Session) -> None:
    reference = load_reference()
    assert seed_countries(session) == len(reference)
    session.commit()
    session.expunge_all()
    assert _count(session) == len(reference)
    serbia = repository.get(session, "SRB")
    assert serbia is not None
    assert (serbia.iso2, serbia.m49, serbia.cow_code, serbia.gw_code) == ("RS", 688, 345, 340)
    assert (serbia.region, serbia.is_historical) == ("Europe", False)
    north_yemen = repository.get(session, "YAR")
    assert north_yemen is not None
    assert (north_yemen.cow_code, north_yemen.gw_code, north_yemen.is_historical) == (
        678,
        None,
        True,
    )
    antarctica = repository.get(session, "ATA")
    assert antarctica is not None
    assert antarctica.region is None


def test_seed_is_idempotent(session: Session) -> None:
    seed_countries(session)
    session.commit()
    assert seed_countries(session) == 0
    session.commit()
    assert _count(session) == len(load_reference())


def test_seed_never_commits(session: Session) -> None:
    seed_countries(session)
    session.rollback()
    assert _count(session) == 0


def test_seed_repairs_a_changed_row_and_keeps_unknown_rows(session: Session) -> None:
    seed_countries(session)
    germany = repository.get(session, "DEU")
    assert germany is not None
    germany.name = "West Germany"
    germany.gw_code = 255
    germany.region = None
    germany.is_historical = True
    repository.add(session, Country(iso3="ZZZ", name="Local test entity", is_historical=False))
    session.commit()
    session.expunge_all()

    assert seed_countries(session) == 1
    session.commit()
    session.expunge_all()
    germany = repository.get(session, "DEU")
    assert germany is not None
    assert (germany.name, germany.cow_code, germany.gw_code) == ("Germany", 255, 260)
    assert (germany.region, germany.is_historical) == ("Europe", False)
    # Observations may point at a row the reference no longer has: it is never deleted.
    assert repository.get(session, "ZZZ") is not None


def test_seed_moves_an_iso2_held_by_the_wrong_row(session: Session) -> None:
    seed_countries(session)
    kosovo, serbia = repository.get(session, "XKX"), repository.get(session, "SRB")
    assert kosovo is not None
    assert serbia is not None
    serbia.iso2 = None
    session.flush()
    kosovo.iso2 = "RS"
    session.commit()
    session.expunge_all()

    # RS must leave Kosovo before Serbia can take it back under the unique index; updates are
    # flushed in key order, so without that Serbia (SRB < XKX) would collide.
    assert seed_countries(session) == 2
    session.commit()
    session.expunge_all()
    codes = {row.iso3: row.iso2 for row in session.execute(select(Country.iso3, Country.iso2))}
    assert (codes["XKX"], codes["SRB"]) == ("XK", "RS")


def test_list_countries_filters_historical_states_and_regions(session: Session) -> None:
    seed_countries(session)
    session.commit()
    reference = load_reference()

    current = repository.list_countries(session, include_historical=False, region=None)
    assert len(current) == sum(1 for r in reference if not r.is_historical)
    assert not [c.iso3 for c in current if c.is_historical]
    assert [c.name for c in current] == sorted(c.name for c in current)

    everything = repository.list_countries(session, include_historical=True, region=None)
    assert {c.iso3 for c in everything} == {r.iso3 for r in reference}

    european = repository.list_countries(session, include_historical=True, region="Europe")
    assert {c.iso3 for c in european} == {r.iso3 for r in reference if r.region is Region.EUROPE}
    assert {"DDR", "SUN", "YUG", "CSK", "XKX"} <= {c.iso3 for c in european}
    assert "TUR" not in {c.iso3 for c in european}


def test_get_and_existing_iso3(session: Session) -> None:
    assert repository.existing_iso3(session) == set()
    assert repository.get(session, "FRA") is None
    seed_countries(session)
    session.commit()
    assert repository.existing_iso3(session) == {r.iso3 for r in load_reference()}
    france = repository.get(session, "FRA")
    assert france is not None
    assert france.name == "France"
