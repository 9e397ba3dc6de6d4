"""Alert content on the Early Warning Project's real data, on SQLite and PostgreSQL.

The EWP file is imported once per backend for the whole module (the importer, then one scoring
run with alerts); skipped when ../shared is absent. Nothing of the file is copied here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting import cap
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.app.models_registry import Base
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.auth.models import FocalPoint
from earlywarn.db import make_session_factory
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.notify import repository as notify_repository
from earlywarn.notify.channels import build_email
from earlywarn.notify.models import Channel, OutboxMessage, Subscription
from earlywarn.notify.payload import build_payload
from earlywarn.observations.models import RunStatus
from earlywarn.scoring.models import CountryScore
from earlywarn.types import RiskLevel

EWP_FILE = Path("data") / "ewp" / "prepared2024predictors-2025-09-03.csv"
AS_OF = date(2025, 12, 31)


def _empty_all_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@dataclass(frozen=True)
class EwpRun:
    factory: sessionmaker[Session]
    alerts: list[Alert]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ewp_run(
    request: pytest.FixtureRequest,
    _databases: object,
    configuration: Configuration,
    shared_dir: Path,
) -> Iterator[EwpRun]:
    path = shared_dir / EWP_FILE
    if not path.is_file():
        pytest.skip(f"EWP data not found at {path}")
    engine = _databases.engine(request.param)  # type: ignore[attr-defined]
    _empty_all_tables(engine)
    factory = make_session_factory(engine)
    prepare_database(factory, configuration)
    with factory.begin() as session:
        # One recipient subscribed to every country before the run: what one run sends it.
        desk = FocalPoint(name="Every country", email="all@example.org", active=True)
        session.add(desk)
        session.flush()
        session.add(
            Subscription(focal_point_id=desk.id, min_level=RiskLevel.CONCERN, channel=Channel.EMAIL)
        )
    run = ingest_service.import_file(factory, path, "ewp")
    assert run.status is RunStatus.SUCCEEDED, run.error
    score_and_alert(factory, configuration, as_of=AS_OF)
    with factory() as session:
        alerts = list(session.scalars(select(Alert).order_by(Alert.id)))
        session.expunge_all()
    yield EwpRun(factory, alerts)
    _empty_all_tables(engine)


@pytest.mark.shared
def test_sudan_emergency_alert_leads_with_an_imminent_risk_action(ewp_run: EwpRun) -> None:
    sudan = [a for a in ewp_run.alerts if a.country_iso3 == "SDN"]
    assert sudan, "Sudan is at the top of the EWP data and must raise alerts"
    emergency = [a for a in sudan if a.level is RiskLevel.EMERGENCY]
    assert emergency
    for alert in emergency:
        first = alert.priority_actions[0]
        assert first["imminent"] is True, (alert.rule_id, first)
        assert first["rank"] == 1
        assert first["sphere"] in {"bilateral", "regional", "multilateral"}
        # The row is a real catalogue row, found again under its code.
        heading, number = first["code"].rsplit(".", 1)
        assert heading == first["heading_code"]
        assert int(number) >= 1
        assert first["why"]["factors"], "a priority action names the factors behind it"


@pytest.mark.shared
def test_no_alert_lists_more_than_seven_priority_actions(
    ewp_run: EwpRun, configuration: Configuration
) -> None:
    country_alerts = [a for a in ewp_run.alerts if not a.operational]
    assert country_alerts
    counts = [len(a.priority_actions) for a in country_alerts]
    assert max(counts) <= configuration.action_map.priority.max_actions == 7
    assert min(counts) >= 1
    for alert in country_alerts:
        items = alert.priority_actions
        assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
        # Balance: every sphere the alert's catalogue selection has a row in is represented.
        spheres_with_rows = {s for s, headings in alert.actions.items() if headings}
        assert {i["sphere"] for i in items} == spheres_with_rows, alert.dedup_key
        # Priority actions are rows of the alert's own recommendations.
        recommended = {
            row["text"]
            for headings in alert.actions.values()
            for h in headings
            for row in h["actions"]
        }
        assert all(i["text"] in recommended for i in items)


@pytest.mark.shared
def test_e_mail_webhook_and_cap_lead_with_the_same_priority_list(ewp_run: EwpRun) -> None:
    alert = next(
        a for a in ewp_run.alerts if a.country_iso3 == "SDN" and a.rule_id == "systematic_attack"
    )
    event = AlertEvent(
        id=1, alert_id=alert.id, kind=AlertEventKind.OPENED, at=alert.opened_at, actor="system"
    )
    payload = build_payload(alert, event, FocalPoint(id=1, name="Sudan desk"), "Sudan")
    # The webhook body carries the list as stored, in rank order.
    assert payload["alert"]["priority_actions"] == alert.priority_actions
    base = "https://earlywarn.example.org"
    mail = build_email(payload, sender="earlywarn@example.org", recipient="d@x.org", base_url=base)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    first = alert.priority_actions[0]
    assert text.index("Do first (") < text.index("Recommended actions (Framework for Action)")
    assert text.index(first["text"][:60]) < text.index("Recommended actions (Framework")
    assert f"All recommended actions: {base}/alerts/{alert.id}" in text
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert html.index("Do first") < html.index("<h2>Recommended actions</h2>")

    publisher = cap.Publisher(sender="earlywarn@example.org", base_url=base)
    cap_xml = cap.cap_message(alert, event, [], publisher, "Sudan")
    instruction = cap_xml.findtext(f"{{{cap.CAP_NS}}}info/{{{cap.CAP_NS}}}instruction") or ""
    assert instruction.startswith(
        f"Do first: 1. [{first['sphere']} {first['code']}, imminent risk]"
    )
    assert f"All actions: {base}/alerts/{alert.id}" in instruction


@pytest.mark.shared
def test_a_recipient_gets_one_message_per_country_for_the_run(ewp_run: EwpRun) -> None:
    by_country: dict[str, list[Alert]] = {}
    for alert in ewp_run.alerts:
        if not alert.operational and alert.country_iso3 is not None:
            by_country.setdefault(alert.country_iso3, []).append(alert)
    assert sum(1 for alerts in by_country.values() if len(alerts) >= 2) >= 5
    with ewp_run.factory() as session:
        messages = list(session.scalars(select(OutboxMessage)))
        # One message per country however many rules fired for it.
        assert len(messages) == len(by_country)
        carried = {m.id: [a["id"] for a in m.payload["alerts"]] for m in messages}
        for iso3, alerts in by_country.items():
            (message,) = [m for m in messages if m.payload["alert"]["country"]["iso3"] == iso3]
            assert sorted(carried[message.id]) == sorted(a.id for a in alerts), iso3
            combined = message.payload["priority_actions"]
            assert 1 <= len(combined) <= 7
            assert len({i["code"] for i in combined}) == len(combined)
            for alert in alerts:  # every alert of the message knows it was told
                told = notify_repository.focal_points_told_about_alert(session, alert.id)
                assert told == {message.focal_point_id}
    sudan = next(m for m in messages if m.payload["alert"]["country"]["iso3"] == "SDN")
    assert sudan.payload["priority_actions"][0]["imminent"] is True


@pytest.mark.shared
def test_levels_respect_the_coverage_minimum_and_the_ewp_alerts_stand(
    ewp_run: EwpRun, configuration: Configuration
) -> None:
    minimum = configuration.scoring.min_coverage_for_level
    with ewp_run.factory() as session:
        scores = list(
            session.scalars(select(CountryScore).where(CountryScore.composite.is_not(None)))
        )
    assert len(scores) >= 160
    for score in scores:
        if score.coverage < minimum:
            assert score.level in (RiskLevel.LOW, RiskLevel.CONCERN), score.country_iso3
            assert score.insufficient_data, score.country_iso3
        else:
            assert score.insufficient_data is None, score.country_iso3
    # The EWP data rates every country at about 45% coverage: its alerts are not held back.
    assert min(s.coverage for s in scores) >= minimum
    assert sum(1 for a in ewp_run.alerts if a.rule_id == "elevated_risk") >= 10


@pytest.mark.shared
def test_the_philippines_shows_its_ladder_level_and_the_rule_its_severity(
    ewp_run: EwpRun,
) -> None:
    with ewp_run.factory() as session:
        score = session.scalars(
            select(CountryScore).where(CountryScore.country_iso3 == "PHL")
        ).one()
    phl = [a for a in ewp_run.alerts if a.country_iso3 == "PHL"]
    for alert in phl:
        assert alert.country_level is score.level, "the country's level is the ladder's"
        if alert.level is not score.level:
            assert alert.rule_id == "systematic_attack"
            assert f"country level '{score.level.value}'" in alert.summary  # type: ignore[union-attr]
            assert f"Level '{alert.level.value}'" not in alert.summary
    # The ladder says what the composite says.
    assert score.composite is not None
    assert (score.level is RiskLevel.LOW) == (score.composite < 0.30)
