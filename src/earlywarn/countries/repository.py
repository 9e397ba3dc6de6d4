"""Queries on the ``countries`` table."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.countries.models import Country


def list_countries(
    session: Session, *, include_historical: bool, region: str | None = None
) -> list[Country]:
    stmt = select(Country).order_by(Country.name, Country.iso3)
    if not include_historical:
        stmt = stmt.where(Country.is_historical.is_(False))
    if region is not None:
        stmt = stmt.where(Country.region == region)
    return list(session.scalars(stmt))


def get(session: Session, iso3: str) -> Country | None:
    return session.get(Country, iso3)


def existing_iso3(session: Session) -> set[str]:
    return set(session.scalars(select(Country.iso3)))


def all_by_iso3(session: Session) -> dict[str, Country]:
    return {country.iso3: country for country in session.scalars(select(Country))}


def add(session: Session, country: Country) -> Country:
    session.add(country)
    return country
