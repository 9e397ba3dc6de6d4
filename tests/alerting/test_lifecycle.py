"""Alert lifecycle over successive scoring runs, on SQLite and PostgreSQL.

Scores are driven through real CSV imports and scoring runs so that what is tested is what the
pipeline does: open, escalate, de-escalate, resolve, acknowledgement, unrated countries.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting import lifecycle
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.notify.alert_events import AlertNotifier
from earlywarn.observations.models import RunStatus
from earlywarn.scoring.models import CountryScore
from earlywarn.types import RiskLevel

AS_OF = date(2025, 6, 30)
# One indicator for each of risk factors 1-4, 6-9 and 11, each set share_high of the way
# from its harmless to its risky bound, so the composite is close to share_high.
RISKY = {
    "ewp.battledeaths.log2": (0, 14),
    "ewp.pol_killing_approved": (0, 1),
    "ewp.un_imr_sqrt": (1.5, 8),
    "ewp.discrimpop": (0, 0.3),
    "ewp.repress_civilsoc": (0, 1),
    "ewp.partyban.new.1": (0, 1),
    "ewp.coup.try.5yr": (0, 1),
    "ewp.social_inequality": (0, 1),
    "ewp.widetargeting": (0, 1),
}


def _values(share_high: float) -> dict[str, float]:
    return {variable: low + share_high * (high - low) for variable, (low, high) in RISKY.items()}


def _load_and_score(
    factory: sessionmaker[Session],
    config: Configuration,
    path: Path,
    countries: dict[str, dict[str, float]],
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        for iso3, values in countries.items():
            for variable, value in values.items():
                writer.writerow([iso3, variable, 2024, value])
    run = ingest_service.import_file(factory, path, "csv")
    assert run.status in (RunStatus.SUCCEEDED, RunStatus.UNCHANGED), run.error
    score_and_alert(factory, config, as_of=AS_OF)


def _alerts(
    factory: sessionmaker[Session], rules: tuple[str, ...] = ("elevated_risk", "rising_risk")
) -> dict[str, tuple[str, str]]:
    with factory() as session:
        return {
            a.dedup_key: (a.state.value, a.level.value)
            for a in session.scalars(select(Alert).order_by(Alert.id))
            if a.rule_id in rules
        }


def _events(factory: sessionmaker[Session], key: str) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(
                select(AlertEvent.kind)
                .join(Alert, Alert.id == AlertEvent.alert_id)
                .where(Alert.dedup_key == key)
                .order_by(AlertEvent.id)
            )
        )


def _level(factory: sessionmaker[Session], iso3: str) -> RiskLevel | None:
    with factory() as session:
        return session.scalars(
            select(CountryScore.level)
            .where(CountryScore.country_iso3 == iso3)
            .order_by(CountryScore.id.desc())
            .limit(1)
        ).one()


def test_open_escalate_deescalate_resolve_with_acknowledgement(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    prepare_database(session_factory, configuration)
    load = lambda name, share: _load_and_score(  # noqa: E731
        session_factory, configuration, tmp_path / name, {"SDN": _values(share)}
    )

    load("1.csv", 0.2)
    assert _level(session_factory, "SDN") is RiskLevel.LOW
    assert _alerts(session_factory) == {}

    load("2.csv", 0.45)  # low -> warning: both rules fire
    assert _level(session_factory, "SDN") is RiskLevel.WARNING
    assert _alerts(session_factory) == {
        "elevated_risk:SDN": ("firing", "warning"),
        "rising_risk:SDN": ("firing", "warning"),
    }

    with session_scope(session_factory) as session:
        alert = session.scalars(select(Alert).where(Alert.dedup_key == "elevated_risk:SDN")).one()
        update = lifecycle.acknowledge(session, alert.id, actor="key:1:desk", note="seen")
        AlertNotifier(configuration.alerting.escalation).hand_over(session, [update])
    with (
        session_scope(session_factory) as session,
        pytest.raises(lifecycle.AlertStateError, match="already acknowledged by key:1:desk"),
    ):
        lifecycle.acknowledge(session, alert.id, actor="key:2:other", note=None)

    load("3.csv", 0.8)  # warning -> emergency: escalation re-opens the acknowledged alert
    assert _alerts(session_factory)["elevated_risk:SDN"] == ("firing", "emergency")

    load("4.csv", 0.45)  # back to warning: de-escalated, still open
    assert _alerts(session_factory)["elevated_risk:SDN"] == ("firing", "warning")

    load("5.csv", 0.1)  # below warning: resolved; rising_risk falls back to its baseline
    assert _alerts(session_factory) == {
        "elevated_risk:SDN": ("resolved", "warning"),
        "rising_risk:SDN": ("resolved", "warning"),
    }
    assert _events(session_factory, "elevated_risk:SDN") == [
        AlertEventKind.OPENED,
        AlertEventKind.ACKNOWLEDGED,
        AlertEventKind.ESCALATED,
        AlertEventKind.DEESCALATED,
        AlertEventKind.RESOLVED,
    ]

    # Back within elevated_risk's 28-day cooldown: the same alert is reopened, not a new one.
    load("6.csv", 0.45)
    with session_factory() as session:
        keys = [a.dedup_key for a in session.scalars(select(Alert).order_by(Alert.id))]
    assert keys.count("elevated_risk:SDN") == 1
    assert _alerts(session_factory)["elevated_risk:SDN"] == ("firing", "warning")
    assert _events(session_factory, "elevated_risk:SDN")[-1] == AlertEventKind.REOPENED

    # rising_risk has no cooldown: its new episode is a new alert.
    assert keys.count("rising_risk:SDN") == 2


def test_a_country_that_loses_its_rating_keeps_its_alert(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    prepare_database(session_factory, configuration)
    _load_and_score(session_factory, configuration, tmp_path / "a.csv", {"SDN": _values(0.8)})
    assert _alerts(session_factory)["elevated_risk:SDN"] == ("firing", "emergency")

    # Scored as of a date when all its data is stale: no rating, and no resolution either.
    summary = score_and_alert(session_factory, configuration, as_of=date(2031, 1, 1))
    assert summary.countries_rated == 0
    assert _alerts(session_factory)["elevated_risk:SDN"] == ("firing", "emergency")


def test_the_database_refuses_a_second_open_alert_for_one_key(
    engine: Engine,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    prepare_database(session_factory, configuration)
    _load_and_score(session_factory, configuration, tmp_path / "a.csv", {"SDN": _values(0.8)})
    with session_factory() as session:
        original = session.scalars(
            select(Alert).where(Alert.dedup_key == "elevated_risk:SDN")
        ).one()
        duplicate = Alert(
            **{c.key: getattr(original, c.key) for c in Alert.__table__.columns if c.key != "id"}
        )
        session.add(duplicate)
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    # A resolved alert with the same key is allowed: history is unlimited.
    with session_scope(session_factory) as session:
        original = session.scalars(
            select(Alert).where(Alert.dedup_key == "elevated_risk:SDN")
        ).one()
        resolved = Alert(
            **{
                c.key: getattr(original, c.key)
                for c in Alert.__table__.columns
                if c.key not in ("id", "state")
            },
            state=AlertState.RESOLVED,
        )
        session.add(resolved)
