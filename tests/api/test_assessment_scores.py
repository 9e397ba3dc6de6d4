"""Approved analyst assessments in real scoring runs, on SQLite and PostgreSQL: a factor-12
assessment makes factor 12 count and shows as its own term (author, reviewer, dates, evidence)
in the stored breakdown and the explanation, which still add up; the blend weight set through
a weight set moves a factor that has data; countries without assessments score as before."""

from __future__ import annotations

import csv
import dataclasses
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.auth.service import create_key
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.types import Role

AS_OF = date(2025, 6, 30)
VARIABLES = {
    "ewp.battledeaths.log2": (0, 14),  # factor 1
    "ewp.pol_killing_approved": (0, 1),  # factor 2
    "ewp.discrimpop": (0, 0.3),  # factor 4
    "ewp.repress_civilsoc": (0, 1),  # factor 6
    "ewp.partyban.new.1": (0, 1),  # factor 7
}


@pytest.fixture
def configuration(configuration: Configuration) -> Configuration:
    """Five factors with data is thin evidence; the coverage minimum is not under test here."""
    scoring = configuration.scoring.model_copy(update={"min_coverage_for_level": 0.0})
    return dataclasses.replace(configuration, scoring=scoring)


@pytest.fixture
def loaded(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    prepare_database(session_factory, configuration)
    path = tmp_path / "data.csv"
    shares = {"FRA": [0.0, 0.0, 0.1, 0.1, 0.0], "KEN": [0.6, 0.3, 0.3, 0.3, 0.3]}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        for iso3, values in shares.items():
            for (variable, (low, high)), share in zip(VARIABLES.items(), values, strict=True):
                writer.writerow([iso3, variable, 2024, low + share * (high - low)])
    assert ingest_service.import_file(session_factory, path, "csv").error is None


@pytest.fixture
def heads(session_factory: sessionmaker[Session], keys: dict[Role, str]) -> dict[str, Any]:
    with session_scope(session_factory) as session:
        _, second = create_key(session, name="second-analyst", role=Role.ANALYST)
    return {
        "author": {"X-API-Key": keys[Role.ANALYST]},
        "second": {"X-API-Key": second},
        "admin": {"X-API-Key": keys[Role.ADMIN]},
    }


def _approved(client: Any, heads: dict[str, Any], factor: int, score: float) -> int:
    today = utc_now().date()
    body = {
        "country_iso3": "KEN",
        "risk_factor": factor,
        "score": score,
        "confidence": "high",
        "evidence": f"Field reports and statements for factor {factor}, cross-checked.",
        "links": ["https://example.org/brief"],
        # Valid from before the scoring date (backdated) until after today.
        "valid_from": (AS_OF - timedelta(days=30)).isoformat(),
        "valid_until": (today + timedelta(days=30)).isoformat(),
    }
    created = client.post("/assessments", json=body, headers=heads["author"])
    assert created.status_code == 201, created.text
    aid: int = created.json()["id"]
    approved = client.post(f"/assessments/{aid}/approve", json={}, headers=heads["second"])
    assert approved.status_code == 200, approved.text
    return aid


def _latest(client: Any, heads: dict[str, Any], iso3: str) -> dict[str, Any]:
    out = client.get(f"/countries/{iso3}/scores/latest", headers=heads["author"])
    assert out.status_code == 200, out.text
    body: dict[str, Any] = out.json()
    return body


def _factor(score: dict[str, Any], number: int) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in score["factors"] if f["number"] == number)
    return found


def _explanation(client: Any, heads: dict[str, Any], run_id: int) -> dict[str, Any]:
    out = client.get(f"/score-runs/{run_id}/countries/KEN/explanation", headers=heads["author"])
    assert out.status_code == 200, out.text
    body: dict[str, Any] = out.json()
    return body


def test_a_factor_12_assessment_counts_as_its_own_term_and_the_terms_add_up(
    client: Any,
    heads: dict[str, Any],
    loaded: None,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:
    score_and_alert(session_factory, configuration, as_of=AS_OF)
    before_ken, before_fra = _latest(client, heads, "KEN"), _latest(client, heads, "FRA")
    assert _factor(before_ken, 12)["score"] is None

    aid = _approved(client, heads, 12, 0.8)
    run = score_and_alert(session_factory, configuration, as_of=AS_OF).score_run_id
    ken, fra = _latest(client, heads, "KEN"), _latest(client, heads, "FRA")

    # FRA has no assessment: its score is what it was.
    assert fra["composite"] == before_fra["composite"]
    assert fra["coverage"] == before_fra["coverage"]
    factor_12 = _factor(ken, 12)
    assert factor_12["score"] == 0.8
    assert ken["factors_with_data"] == before_ken["factors_with_data"] + 1
    assert ken["coverage"] > before_ken["coverage"]

    explained = _explanation(client, heads, run)
    assert explained["sum_of_assessment_terms"] > 0
    assert explained["sum_of_indicator_terms"] + explained[
        "sum_of_assessment_terms"
    ] == pytest.approx(explained["composite"], abs=1e-12)
    assert explained["composite"] == pytest.approx(ken["composite"], abs=1e-12)
    f12 = _factor(explained, 12)
    assert f12["applicable"] is True
    (term,) = f12["assessments"]
    assert term["assessment_id"] == aid
    assert term["term"] == pytest.approx(f12["term"], abs=1e-12)
    assert term["term"] == pytest.approx(f12["share"] * 0.8, abs=1e-12)
    assert "test-analyst" in term["author"]
    assert "second-analyst" in term["reviewer"]
    assert term["links"] == ["https://example.org/brief"]
    assert term["evidence"].startswith("Field reports")
    assert term["valid_from"] == (AS_OF - timedelta(days=30)).isoformat()
    for factor in explained["factors"]:
        inner = math.fsum(i["term"] for i in factor["indicators"])
        inner += math.fsum(a["term"] for a in factor["assessments"])
        assert inner == pytest.approx(factor["term"], abs=1e-12)

    # The stored breakdown keeps the term beside the indicators; factors without
    # assessments store what they stored before.
    stored_12 = _factor(ken["breakdown"], 12)
    assert stored_12["assessment_weight"] == 1.0  # the evidence weight: no indicator has data
    assert stored_12["assessments"][0]["assessment_id"] == aid
    assert stored_12["assessments"][0]["composite_term"] == pytest.approx(term["term"])
    assert "assessments" not in _factor(ken["breakdown"], 1)

    # The coverage report counts it as factor 12's evidence.
    coverage = client.get("/coverage", headers=heads["author"])
    assert coverage.status_code == 200, coverage.text
    f12_coverage = _factor(coverage.json(), 12)
    assert f12_coverage["countries_with_evidence"] == 1
    assert f12_coverage["by_source"] == {"analyst_assessments": 1}

    # Withdrawn: the next run drops it.
    client.post(
        f"/assessments/{aid}/withdraw", json={"reason": "obsolete"}, headers=heads["author"]
    )
    score_and_alert(session_factory, configuration, as_of=AS_OF)
    assert _latest(client, heads, "KEN")["composite"] == pytest.approx(before_ken["composite"])


def test_the_blend_weight_of_a_weight_set_moves_a_factor_with_data(
    client: Any,
    heads: dict[str, Any],
    loaded: None,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:
    _approved(client, heads, 1, 0.0)
    run = score_and_alert(session_factory, configuration, as_of=AS_OF).score_run_id
    # Blend weight 0 (the default): factor 1 rests on its indicators alone.
    plain = _factor(_explanation(client, heads, run), 1)
    assert plain["assessment_weight"] == 0.0
    # Kept at weight 0 (term 0), so that a weight set with a blend weight can re-score it.
    assert [a["term"] for a in plain["assessments"]] == [0.0]
    with_data = [i for i in plain["indicators"] if i["contribution"] is not None]
    assert with_data

    proposed = client.post(
        "/weight-sets",
        json={"indicator_weights": {"assessment.1": 2.0}, "note": "blend factor 1"},
        headers=heads["admin"],
    )
    assert proposed.status_code == 201, proposed.text
    weight_set = proposed.json()["weight_set"]
    assert weight_set["indicator_weights"]["assessment.1"] == 2.0
    # The preview re-scores the stored run: KEN's composite falls (a 0 score blended in).
    changes = proposed.json()["preview"]["level_changes"]
    assert all(c["iso3"] == "KEN" for c in changes)
    applied = client.post(
        f"/weight-sets/{weight_set['id']}/apply",
        json={"reason": "analysts' judgement counts in factor 1"},
        headers=heads["admin"],
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["diff"]["indicator_weights"] == {
        "assessment.1": {"from": None, "to": 2.0}
    }

    run = score_and_alert(session_factory, configuration, as_of=AS_OF).score_run_id
    blended = _factor(_explanation(client, heads, run), 1)
    weights = [i["weight"] for i in with_data]
    expected = math.fsum(w * i["contribution"] for w, i in zip(weights, with_data, strict=True))
    expected /= math.fsum(weights) + 2.0
    assert blended["score"] == pytest.approx(expected, abs=1e-12)
    assert blended["score"] < plain["score"]
    assert blended["assessment_weight"] == 2.0
    assert blended["assessments"][0]["term"] == 0.0  # a score of 0 adds nothing, but weighs

    unknown = client.post(
        "/weight-sets", json={"indicator_weights": {"assessment.15": 1.0}}, headers=heads["admin"]
    )
    assert unknown.status_code == 422
    assert "assessment.15" in unknown.json()["detail"]
