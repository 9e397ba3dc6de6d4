"""The alerts a weight-set preview announces, on SQLite and PostgreSQL: every country rule of
config/alerting.yaml (not only the level rules), with its hysteresis, from the alerts open
now; and what the next run then really does."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.types import Role

AS_OF = date(2025, 6, 30)
# One variable each for factors 1, 2, 4, 6 and 7 (bounds from config/indicators.yaml).
LEVEL_VARIABLES = {
    "ewp.battledeaths.log2": (0, 14),
    "ewp.pol_killing_approved": (0, 1),
    "ewp.discrimpop": (0, 0.3),
    "ewp.repress_civilsoc": (0, 1),
    "ewp.partyban.new.1": (0, 1),
}
# Factor 11: wide targeting (weight 1) and ongoing mass killings (weight 1.5, bounds 0-1.6).
SHARES = {
    # Warning from factor 1; without it low: its elevated_risk alert resolves.
    "KEN": [1.0, 0.3, 0.3, 0.3, 0.2],
    # Warning; without factor 1 concern, inside elevated_risk's band: the alert stays open.
    "NGA": [1.0, 0.35, 0.35, 0.35, 0.35],
    # Low; factor 11 at 1/2.5 = 0.4, and 1.0 once ongoing mass killings weigh 0.
    "FRA": [0.2, 0.2, 0.2, 0.2, 0.2],
}


def _load(factory: sessionmaker[Session], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        for iso3, shares in SHARES.items():
            for (variable, (low, high)), share in zip(LEVEL_VARIABLES.items(), shares, strict=True):
                writer.writerow([iso3, variable, 2024, low + share * (high - low)])
        writer.writerow(["FRA", "ewp.widetargeting", 2024, 1])
        writer.writerow(["FRA", "ewp.mk_ongoing_count_log2", 2024, 0])
    run = ingest_service.import_file(factory, path, "csv")
    assert run.error is None


def _open_alerts(factory: sessionmaker[Session]) -> set[tuple[str, str]]:
    with factory() as session:
        alerts = session.scalars(select(Alert).where(Alert.state != AlertState.RESOLVED))
        return {(a.rule_id, a.country_iso3 or "") for a in alerts}


def test_preview_announces_what_the_next_run_does(
    client: Any,
    keys: dict[Role, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    prepare_database(session_factory, configuration)
    _load(session_factory, tmp_path / "data.csv")
    score_and_alert(session_factory, configuration, as_of=AS_OF)
    assert _open_alerts(session_factory) == {("elevated_risk", "KEN"), ("elevated_risk", "NGA")}

    # Ranked lists say which crime a pattern points to and whether factors 13-14 apply.
    analyst = {"X-API-Key": keys[Role.ANALYST]}
    ranked = {r["iso3"]: r for r in client.get("/scores/latest", headers=analyst).json()["scores"]}
    assert ranked["FRA"]["points_to"] == ["crimes_against_humanity"]  # factor 11 at 0.4
    assert ranked["KEN"]["points_to"] == []  # no specific factor with data
    assert (ranked["KEN"]["armed_conflict"], ranked["FRA"]["armed_conflict"]) == (True, False)

    admin = {"X-API-Key": keys[Role.ADMIN]}
    response = client.post(
        "/weight-sets",
        json={
            "factor_weights": {"1": 0.0},
            "indicator_weights": {"ongoing_mass_killings": 0.0},
            "note": "battle deaths and ongoing killings counted twice",
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    preview = response.json()["preview"]
    levels = {c["iso3"]: (c["level_before"], c["level_after"]) for c in preview["level_changes"]}
    assert levels == {
        "KEN": ("warning", "low"),
        "NGA": ("warning", "concern"),
        "FRA": ("low", "concern"),
    }
    closing = {(a["rule_id"], a["iso3"]): a for a in preview["alerts_closing"]}
    opening = {(a["rule_id"], a["iso3"]): a for a in preview["alerts_opening"]}
    # NGA falls to 'concern' but elevated_risk resolves only below it: not closing.
    assert set(closing) == {("elevated_risk", "KEN")}
    assert closing[("elevated_risk", "KEN")]["open_now"] is True
    # FRA's factor 11 reaches the systematic_attack rule (0.70) through an indicator weight
    # alone, and its level rises one rung against the latest run.
    assert set(opening) == {("systematic_attack", "FRA"), ("rising_risk", "FRA")}
    assert opening[("systematic_attack", "FRA")]["level"] == "emergency"
    assert opening[("rising_risk", "FRA")]["open_now"] is False

    # Re-scored under the proposal without wide targeting, factor 11 has no weighted data
    # left for FRA: the crime it pointed to goes with it.
    other = client.post(
        "/weight-sets", json={"indicator_weights": {"wide_targeting": 0.0}}, headers=admin
    ).json()["weight_set"]["id"]
    rescored = client.get(f"/scores?as_of={AS_OF}&weight_set_id={other}", headers=analyst).json()
    fra = next(r for r in rescored["scores"] if r["iso3"] == "FRA")
    assert (fra["weight_set_id"], fra["points_to"], fra["armed_conflict"]) == (other, [], False)

    # Applied, the next run does what the preview said.
    weight_set_id = response.json()["weight_set"]["id"]
    applied = client.post(
        f"/weight-sets/{weight_set_id}/apply", json={"reason": "as previewed"}, headers=admin
    )
    assert applied.status_code == 200, applied.text
    score_and_alert(session_factory, configuration, as_of=AS_OF)
    assert _open_alerts(session_factory) == {
        ("elevated_risk", "NGA"),
        ("systematic_attack", "FRA"),
        ("rising_risk", "FRA"),
    }


def test_preview_announces_a_reopening_within_the_cooldown_as_the_next_run_reopens(
    client: Any,
    keys: dict[Role, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    """elevated_risk has cooldown_days 28. KEN's alert resolves under weights without factor
    1; previewing the weights it was raised under (today, the date a run started now has) lists
    it as reopening, not opening, and the next run under them reopens that same alert."""
    today = datetime.now(UTC).date()
    admin = {"X-API-Key": keys[Role.ADMIN]}
    prepare_database(session_factory, configuration)
    _load(session_factory, tmp_path / "data.csv")
    score_and_alert(session_factory, configuration, as_of=today)
    key = ("elevated_risk", "KEN")
    assert key in _open_alerts(session_factory)
    raised_under = client.get("/weight-sets/active", headers=admin).json()["id"]

    without = client.post("/weight-sets", json={"factor_weights": {"1": 0.0}}, headers=admin)
    without_id = without.json()["weight_set"]["id"]
    applied = client.post(
        f"/weight-sets/{without_id}/apply", json={"reason": "without"}, headers=admin
    )
    assert applied.status_code == 200, applied.text
    score_and_alert(session_factory, configuration, as_of=today)
    assert key not in _open_alerts(session_factory)

    preview = client.get(f"/weight-sets/{raised_under}/preview", headers=admin).json()
    changes = {
        name: {(a["rule_id"], a["iso3"]) for a in preview[name]}
        for name in ("alerts_opening", "alerts_reopening", "alerts_closing")
    }
    assert key in changes["alerts_reopening"]
    assert key not in changes["alerts_opening"]

    applied = client.post(
        f"/weight-sets/{raised_under}/apply", json={"reason": "back"}, headers=admin
    )
    assert applied.status_code == 200, applied.text
    score_and_alert(session_factory, configuration, as_of=today)
    with session_factory() as session:
        (alert,) = session.scalars(select(Alert).where(Alert.dedup_key == "elevated_risk:KEN"))
        kinds = session.scalars(
            select(AlertEvent.kind).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
        ).all()
    assert alert.state is AlertState.FIRING
    assert kinds == [AlertEventKind.OPENED, AlertEventKind.RESOLVED, AlertEventKind.REOPENED]
