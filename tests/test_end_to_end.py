"""The whole path on SQLite and PostgreSQL: import -> score -> alert -> outbox -> API.

The first test uses a small long-format CSV written here; the second the Early Warning
Project's real country-year file from ../shared (skipped when that is absent).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.auth import service as auth_service
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.notify.models import OutboxMessage
from earlywarn.observations.models import RunStatus
from earlywarn.settings import Settings
from earlywarn.types import Role

AS_OF = date(2025, 6, 30)

# Values in the units of the EWP variables the indicators read (config/indicators.yaml).
HIGH_RISK = {
    "ewp.battledeaths.log2": 13,
    "ewp.gdppcgrowth": -8,
    "ewp.pol_killing_approved": 1,
    "ewp.mk_ever": 1,
    "ewp.mk_onset_prev_year": 1,
    "ewp.un_imr_sqrt": 7,
    "ewp.ios.iccpr1": 0,
    "ewp.judicialreform": 0,
    "ewp.discrimpop": 0.3,
    "ewp.minorityrule": 1,
    "ewp.social_power_dist": 1,
    "ewp.ses_power_dist": -1.5,
    "ewp.popsize.log2": 25,
    "ewp.repress_civilsoc": 1,
    "ewp.freediscussion": 0.1,
    "ewp.partyban.new.1": 1,
    "ewp.v2mecenefm_binary": 1,
    "ewp.coup.try.5yr": 1,
    "ewp.social_inequality": 1,
    "ewp.even_civilrights": 0,
    "ewp.religiousfreedom": 1,
    "ewp.efindex": 0.7,
    "ewp.narrowtargeting": 1,
    "ewp.widetargeting": 1,
    "ewp.mk_ongoing_count_log2": 1.6,
}
LOW_RISK = {
    "ewp.battledeaths.log2": 0,
    "ewp.gdppcgrowth": 3,
    "ewp.pol_killing_approved": 0,
    "ewp.mk_ever": 0,
    "ewp.mk_onset_prev_year": 0,
    "ewp.un_imr_sqrt": 1.6,
    "ewp.ios.iccpr1": 1,
    "ewp.judicialreform": 1,
    "ewp.discrimpop": 0,
    "ewp.minorityrule": 0,
    "ewp.social_power_dist": 0,
    "ewp.ses_power_dist": 2,
    "ewp.popsize.log2": 22,
    "ewp.repress_civilsoc": 0,
    "ewp.freediscussion": 0.95,
    "ewp.partyban.new.1": 0,
    "ewp.v2mecenefm_binary": 0,
    "ewp.coup.try.5yr": 0,
    "ewp.social_inequality": 0,
    "ewp.even_civilrights": 1,
    "ewp.religiousfreedom": 4,
    "ewp.efindex": 0.1,
    "ewp.narrowtargeting": 0,
    "ewp.widetargeting": 0,
    "ewp.mk_ongoing_count_log2": 0,
}


def _mix(share_high: float) -> dict[str, float]:
    return {k: LOW_RISK[k] + share_high * (HIGH_RISK[k] - LOW_RISK[k]) for k in HIGH_RISK}


def _write_csv(path: Path, countries: dict[str, dict[str, float]], year: int = 2024) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        for iso3, values in countries.items():
            for variable, value in values.items():
                writer.writerow([iso3, variable, year, value])
    return path


@pytest.fixture
def client(engine: Engine, configuration: Configuration, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, scheduler_enabled=False)
    app = create_app(settings=settings, engine=engine, configuration=configuration)
    with TestClient(app) as test_client:
        yield test_client


def _key(
    factory: sessionmaker[Session], role: Role, focal_point_id: int | None = None
) -> dict[str, str]:
    with session_scope(factory) as session:
        _, raw = auth_service.create_key(
            session, name=f"e2e-{role.value}", role=role, focal_point_id=focal_point_id
        )
    return {"X-API-Key": raw}


def test_import_score_alert_and_act_through_the_api(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    client: TestClient,
    tmp_path: Path,
) -> None:
    prepare_database(session_factory, configuration)
    admin, analyst = _key(session_factory, Role.ADMIN), _key(session_factory, Role.ANALYST)

    # A focal point who follows every country from 'concern' up, by e-mail.
    fp = client.post(
        "/focal-points",
        json={"name": "Regional desk", "email": "desk@example.org"},
        headers=admin,
    )
    assert fp.status_code in (200, 201), fp.text
    # Its key: a focal point acknowledges the alerts that concern it.
    focal = _key(session_factory, Role.FOCAL_POINT, fp.json()["id"])
    sub = client.post(
        f"/focal-points/{fp.json()['id']}/subscriptions",
        json={"country_iso3": None, "min_level": "concern", "channel": "email"},
        headers=admin,
    )
    assert sub.status_code in (200, 201), sub.text

    data = {"SDN": HIGH_RISK, "BRA": _mix(0.1), "NOR": LOW_RISK}
    run = ingest_service.import_file(session_factory, _write_csv(tmp_path / "a.csv", data), "csv")
    assert run.status is RunStatus.SUCCEEDED, run.error
    first = score_and_alert(session_factory, configuration, as_of=AS_OF)
    assert first.countries_rated == 3
    # Sudan: its level (elevated_risk) and its widespread attacks on civilians (risk factor 11,
    # the systematic_attack rule).
    assert first.alerts_opened == 2

    ranked = client.get("/scores/latest", headers=analyst).json()
    assert [s["iso3"] for s in ranked["scores"]] == ["SDN", "BRA", "NOR"]
    top = ranked["scores"][0]
    assert top["level"] == "emergency"
    assert {f["number"] for f in top["factors"] if f["score"] is not None} >= set(range(1, 12)) - {
        12
    }
    detail = client.get("/countries/SDN/scores/latest", headers=analyst).json()
    first_factor = detail["breakdown"]["factors"][0]
    assert first_factor["indicators"][0]["variable"] == "ewp.battledeaths.log2"

    alerts = client.get("/alerts?open_only=true", headers=analyst).json()
    assert sorted((a["country_iso3"], a["rule_id"], a["level"]) for a in alerts) == [
        ("SDN", "elevated_risk", "emergency"),
        ("SDN", "systematic_attack", "emergency"),
    ]
    alerts_of_sudan = alerts
    alerts = [a for a in alerts if a["rule_id"] == "elevated_risk"]
    alert = client.get(f"/alerts/{alerts[0]['id']}", headers=analyst).json()
    assert alert["evidence"]["triggering_factors"], "an alert names what triggered it"
    spheres = alert["actions"]
    assert list(spheres) == ["national", "bilateral", "regional", "multilateral"]
    assert all(spheres[s] for s in spheres), "emergency alerts carry actions in every sphere"
    rows = [row for s in spheres.values() for h in s for row in h["actions"]]
    assert any(row["for_imminent_risk"] for row in rows)

    with session_factory() as session:
        outbox = session.scalars(select(OutboxMessage)).all()
        # Both of Sudan's rules fired in this run: one message to the desk that lists both.
        assert [(m.channel.value, m.target, m.payload["event"]["kind"]) for m in outbox] == [
            ("email", "desk@example.org", "opened"),
        ]
        carried = sorted(a["rule_id"] for a in outbox[0].payload["alerts"])
        assert carried == sorted(a["rule_id"] for a in alerts_of_sudan)
        assert len(carried) == 2

    assert client.post(f"/alerts/{alert['id']}/acknowledge", headers=analyst).status_code == 403
    acked = client.post(
        f"/alerts/{alert['id']}/acknowledge", json={"note": "Desk convened"}, headers=focal
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    again = client.post(f"/alerts/{alert['id']}/acknowledge", headers=focal)
    assert again.status_code == 409
    assert "already acknowledged" in again.json()["detail"]

    # Next vintage: Sudan's indicators recover, Brazil's worsen to 'concern' or above.
    revised = {"SDN": LOW_RISK, "BRA": _mix(0.55), "NOR": LOW_RISK}
    run2 = ingest_service.import_file(
        session_factory, _write_csv(tmp_path / "b.csv", revised), "csv"
    )
    assert run2.status is RunStatus.SUCCEEDED, run2.error
    second = score_and_alert(session_factory, configuration, as_of=AS_OF)
    assert second.alerts_resolved == 2  # both of Sudan's alerts
    assert second.alerts_opened >= 1  # Brazil: rising risk (and possibly elevated risk)

    sdn = client.get(f"/alerts/{alert['id']}", headers=analyst).json()
    assert sdn["state"] == "resolved"
    assert [e["kind"] for e in sdn["events"]] == ["opened", "acknowledged", "resolved"]
    rising = client.get("/alerts?country=BRA&rule=rising_risk", headers=analyst).json()
    assert len(rising) == 1
    assert rising[0]["state"] == "firing"
    history = client.get("/countries/SDN/scores", headers=analyst).json()
    assert [h["level"] for h in history] == ["low", "emergency"]
    with session_factory() as session:
        messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        kinds = [
            (m.payload["alert"]["country"]["iso3"], m.payload["event"]["kind"]) for m in messages
        ]
    assert kinds[0] == ("SDN", "opened")
    assert ("SDN", "resolved") in kinds[1:]
    assert ("BRA", "opened") in kinds[1:]


@pytest.mark.shared
def test_ewp_data_scores_every_country_and_raises_alerts_with_actions_in_all_spheres(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    client: TestClient,
    shared_dir: Path,
) -> None:
    path = shared_dir / "data" / "ewp" / "prepared2024predictors-2025-09-03.csv"
    prepare_database(session_factory, configuration)
    run = ingest_service.import_file(session_factory, path, "ewp")
    assert run.status is RunStatus.SUCCEEDED, run.error
    summary = score_and_alert(session_factory, configuration, as_of=AS_OF)
    assert summary.countries_rated >= 160

    analyst = _key(session_factory, Role.ANALYST)
    ranked = client.get("/scores/latest", headers=analyst).json()
    rated = [s for s in ranked["scores"] if s["composite"] is not None]
    assert len(rated) >= 160
    assert all(len(s["factors"]) == 14 for s in rated)
    assert [s["rank"] for s in rated] == list(range(1, len(rated) + 1))

    alerts = client.get("/alerts?open_only=true&limit=1000", headers=analyst).json()
    assert alerts, "the countries at the top of the EWP data must raise alerts"
    full = [client.get(f"/alerts/{a['id']}", headers=analyst).json() for a in alerts]
    assert any(all(a["actions"][s] for s in a["actions"]) for a in full)

    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
