"""Thin evidence opens no alert, whatever the rule; a risk_factor rule's severity is shown as
the rule's, never as the country's level. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting.evaluation import evaluate_alerts
from earlywarn.alerting.models import Alert
from earlywarn.alerting.rules import CountryInput, RunRef
from earlywarn.countries.models import Country
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule
from earlywarn.notify.alert_events import hand_over
from earlywarn.types import RiskLevel

_RULE = TypeAdapter(AlertRule)
ATTACK = {"id": "attack", "kind": "risk_factor", "factor": 11, "enter": 0.7, "exit": 0.55,
          "level": "emergency"}  # fmt: skip
ELEVATED = {"id": "elevated", "kind": "level_at_least", "enter_level": "concern",
            "exit_level": "low"}  # fmt: skip


@pytest.fixture
def config(configuration: Configuration, session: Session) -> Configuration:
    session.add(Country(iso3="PHL", name="Philippines", region="Asia"))
    session.flush()
    rules: list[Any] = [_RULE.validate_python(r) for r in (ATTACK, ELEVATED)]
    return dataclasses.replace(
        configuration, alerting=configuration.alerting.model_copy(update={"rules": rules})
    )


def _run(session: Session, config: Configuration, data: CountryInput) -> list[Alert]:
    hand_over(
        session,
        config.alerting.escalation,
        evaluate_alerts(session, config, RunRef(None, date(2026, 1, 5)), [data]).updates,
    )
    session.flush()
    return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_thin_evidence_opens_no_alert_from_any_rule(
    session: Session, config: Configuration
) -> None:
    thin = CountryInput(
        iso3="PHL",
        level=RiskLevel.CONCERN,
        composite=0.96,
        factor_scores={11: 0.96},
        insufficient_data="data coverage 14% is below the 30% needed",
    )
    assert _run(session, config, thin) == []
    # The same reading with enough evidence opens both.
    enough = dataclasses.replace(thin, insufficient_data=None)
    assert {a.rule_id for a in _run(session, config, enough)} == {"attack", "elevated"}


def test_a_rule_severity_is_not_shown_as_the_country_level(
    session: Session, config: Configuration
) -> None:
    data = CountryInput(
        iso3="PHL", level=RiskLevel.LOW, composite=0.30, factor_scores={11: 0.8, 1: 0.6}
    )
    (alert,) = _run(session, config, data)
    assert alert.rule_id == "attack"
    assert alert.level is RiskLevel.EMERGENCY, "the alert's severity is the rule's"
    assert alert.country_level is RiskLevel.LOW, "the country's level is the ladder's"
    assert "Level 'emergency'" not in alert.summary
    assert "Alert severity 'emergency' (rule attack); country level 'low'" in alert.summary
