"""Weight sets through the API, on SQLite and PostgreSQL: propose (validated), preview, apply
with a reason, roll back, the audit log, immutability, and scoring with the active set."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.ingest import service as ingest_service
from earlywarn.scoring.models import ScoreRun
from earlywarn.types import Role
from earlywarn.weights.models import ImmutableRowError, WeightSetEvent

AS_OF = date(2025, 6, 30)
# The real configuration rates a country from four factors with data: one variable each.
VARIABLES = {
    "ewp.battledeaths.log2": (0, 14),  # factor 1
    "ewp.pol_killing_approved": (0, 1),  # factor 2
    "ewp.discrimpop": (0, 0.3),  # factor 4
    "ewp.repress_civilsoc": (0, 1),  # factor 6
    "ewp.partyban.new.1": (0, 1),  # factor 7
}


def _load(factory: sessionmaker[Session], path: Path, shares: dict[str, list[float]]) -> None:
    """Each country gets, per variable, the given share of the way to the risky bound."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        for iso3, country_shares in shares.items():
            for (variable, (low, high)), share in zip(
                VARIABLES.items(), country_shares, strict=True
            ):
                writer.writerow([iso3, variable, 2024, low + share * (high - low)])
    run = ingest_service.import_file(factory, path, "csv")
    assert run.error is None


@pytest.fixture
def scored(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> int:
    """One scoring run: FRA low, KEN at the 'warning' rung mostly from factor 1, SDN high."""
    prepare_database(session_factory, configuration)  # seeds the countries
    _load(
        session_factory,
        tmp_path / "data.csv",
        {
            "FRA": [0.0, 0.0, 0.1, 0.1, 0.0],
            "KEN": [0.9, 0.3, 0.3, 0.3, 0.3],
            "SDN": [0.9, 0.9, 0.8, 0.9, 1.0],
        },
    )
    return score_and_alert(session_factory, configuration, as_of=AS_OF).score_run_id


def _admin(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.ADMIN]}


def _analyst(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.ANALYST]}


def _propose(client: Any, keys: dict[Role, str], body: dict[str, Any]) -> Any:
    return client.post("/weight-sets", json=body, headers=_admin(keys))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"indicator_weights": {"no_such_indicator": 1.0}}, "unknown indicator ids"),
        ({"factor_weights": {"15": 1.0}}, "unknown risk factors ['15']"),
        ({"factor_weights": {"1": -1.0}}, "factor_weights['1']: -1.0 is outside 0 to 1000"),
        ({"factor_weights": dict.fromkeys([str(n) for n in range(1, 15)], 0.0)}, "every factor"),
        (
            {
                "indicator_weights": {
                    "political_killings_approved": 0.0,
                    "past_mass_killing": 0.0,
                    "recent_mass_killing_onset": 0.0,
                    "political_terror": 0.0,
                    "physical_violence_index": 0.0,
                }
            },
            "risk factor 2 has weight",
        ),
    ],
)
def test_invalid_proposals_are_refused_with_the_reason(
    client: Any, keys: dict[Role, str], scored: int, body: dict[str, Any], message: str
) -> None:
    response = _propose(client, keys, body)
    assert response.status_code == 422, response.text
    assert message in str(response.json()["detail"])
    assert client.get("/weight-set-events", headers=_analyst(keys)).json()[0]["kind"] == "config"


def test_non_finite_weights_are_refused(client: Any, keys: dict[Role, str], scored: int) -> None:
    response = client.post(
        "/weight-sets",
        content=b'{"factor_weights": {"1": NaN}}',
        headers={**_admin(keys), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "factor_weights['1']: nan is not a finite number" in response.json()["detail"]


def test_propose_preview_apply_score_and_roll_back(
    client: Any,
    keys: dict[Role, str],
    scored: int,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:
    original = client.get("/weight-sets/active", headers=_analyst(keys)).json()
    assert original["active"]
    assert original["score_runs"] == 1

    # Drop factor 1 (battle deaths): KEN's score falls below 'warning'.
    response = _propose(
        client, keys, {"factor_weights": {"1": 0.0}, "note": "battle deaths double-counted"}
    )
    assert response.status_code == 201, response.text
    proposal = response.json()
    new_id = proposal["weight_set"]["id"]
    assert proposal["created"] is True
    assert proposal["weight_set"]["active"] is False
    assert proposal["weight_set"]["factor_weights"]["1"] == 0.0
    assert proposal["weight_set"]["factor_weights"]["2"] == original["factor_weights"]["2"]
    preview = proposal["preview"]
    assert preview["score_run_id"] == scored
    changes = {c["iso3"]: (c["level_before"], c["level_after"]) for c in preview["level_changes"]}
    assert changes["KEN"] == ("warning", "concern")
    # elevated_risk resolves only below 'concern' (hysteresis): KEN's alert stays open.
    # tests/api/test_weight_preview_alerts.py covers alerts that open and close.
    assert preview["alerts_closing"] == []
    assert "FRA" not in changes
    # The same preview on its own, for analysts too.
    again = client.get(f"/weight-sets/{new_id}/preview", headers=_analyst(keys)).json()
    assert again == preview

    # Identical weights are not a new set.
    same = _propose(client, keys, {"factor_weights": {"1": 0.0}})
    assert same.status_code == 201
    assert (same.json()["created"], same.json()["weight_set"]["id"]) == (False, new_id)

    # Apply needs a reason; analysts may not apply.
    assert (
        client.post(f"/weight-sets/{new_id}/apply", json={}, headers=_admin(keys)).status_code
        == 422
    )
    denied = client.post(
        f"/weight-sets/{new_id}/apply", json={"reason": "review"}, headers=_analyst(keys)
    )
    assert denied.status_code == 403
    applied = client.post(
        f"/weight-sets/{new_id}/apply",
        json={"reason": "battle deaths are counted in factor 13 as well"},
        headers=_admin(keys),
    )
    assert applied.status_code == 200, applied.text
    event = applied.json()
    assert event["kind"] == "applied"
    assert event["previous_weight_set_id"] == original["id"]
    assert event["actor"].startswith("key:")
    assert "test-admin" in event["actor"]
    assert event["diff"]["factor_weights"] == {"1": {"from": 1.0, "to": 0.0}}
    assert (
        client.post(
            f"/weight-sets/{new_id}/apply", json={"reason": "again"}, headers=_admin(keys)
        ).status_code
        == 409
    )

    # The next run uses the applied set; the configuration (unchanged) does not override it.
    summary = score_and_alert(session_factory, configuration, as_of=AS_OF)
    with session_factory() as session:
        run = session.get_one(ScoreRun, summary.score_run_id)
        assert run.weight_set_id == new_id
    latest = client.get("/countries/KEN/scores/latest", headers=_analyst(keys)).json()
    assert latest["weight_set_id"] == new_id
    assert latest["level"] in ("low", "concern")

    # Roll back to the original; a set that was never active cannot be a rollback target.
    rolled = client.post(
        "/weight-sets/rollback",
        json={"to_weight_set_id": original["id"], "reason": "board asked to keep v1"},
        headers=_admin(keys),
    )
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["kind"] == "rolled_back"
    assert client.get("/weight-sets/active", headers=_analyst(keys)).json()["id"] == original["id"]
    other = _propose(client, keys, {"factor_weights": {"2": 2.0}}).json()["weight_set"]["id"]
    refused = client.post(
        "/weight-sets/rollback",
        json={"to_weight_set_id": other, "reason": "try"},
        headers=_admin(keys),
    )
    assert refused.status_code == 409
    assert "never active" in refused.json()["detail"]

    log = client.get("/weight-set-events", headers=_analyst(keys)).json()
    assert [e["kind"] for e in log] == ["proposed", "rolled_back", "applied", "proposed", "config"]
    assert all(e["reason"] for e in log)

    # History under any weight set: KEN's first run re-computed under the new set.
    history = client.get(
        f"/countries/KEN/score-history?weight_set_id={new_id}", headers=_analyst(keys)
    ).json()
    assert {h["weight_set_id"] for h in history} == {new_id}
    assert history[0]["composite"] == pytest.approx(history[1]["composite"])


def test_weight_sets_and_events_are_immutable(
    session_factory: sessionmaker[Session], scored: int
) -> None:
    with session_scope(session_factory) as s:
        weight_set = s.scalars(select(WeightSet)).one()
        weight_set.factor_weights = {**weight_set.factor_weights, "1": 5.0}
        with pytest.raises(ImmutableRowError, match="immutable"):
            s.flush()
        s.rollback()
        event = s.scalars(select(WeightSetEvent)).one()
        event.reason = "rewritten"
        with pytest.raises(ImmutableRowError, match="audit log"):
            s.flush()
        s.rollback()
    with session_factory() as s:
        assert s.scalars(select(WeightSetEvent.reason)).one() != "rewritten"
        assert s.scalars(select(WeightSet)).one().factor_weights["1"] == 1.0


def test_unknown_weight_sets_are_404(client: Any, keys: dict[Role, str], scored: int) -> None:
    assert client.get("/weight-sets/999", headers=_analyst(keys)).status_code == 404
    response = client.post(
        "/weight-sets/999/apply", json={"reason": "because"}, headers=_admin(keys)
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"factor_weights": {"1": True}},  # lax parsing would read it as 1.0
        {"factor_weights": {"1": "2.0"}},
        {"indicator_weights": {"battle_deaths": None}},
    ],
)
def test_weights_must_be_numbers(
    client: Any, keys: dict[Role, str], scored: int, body: dict[str, Any]
) -> None:
    response = _propose(client, keys, body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:2] == ["body", next(iter(body))]


@pytest.mark.parametrize("reason", ["   ", "\t \n ", " a "])
def test_a_reason_of_blanks_is_refused(
    client: Any, keys: dict[Role, str], scored: int, reason: str
) -> None:
    new_id = _propose(client, keys, {"factor_weights": {"2": 2.0}}).json()["weight_set"]["id"]
    for url, body in (
        (f"/weight-sets/{new_id}/apply", {"reason": reason}),
        ("/weight-sets/rollback", {"to_weight_set_id": new_id, "reason": reason}),
    ):
        response = client.post(url, json=body, headers=_admin(keys))
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "reason"]
    applied = client.post(
        f"/weight-sets/{new_id}/apply", json={"reason": "  board decision  "}, headers=_admin(keys)
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["reason"] == "board decision"


def test_the_database_itself_refuses_to_rewrite_weights_or_the_audit_log(
    session_factory: sessionmaker[Session], scored: int
) -> None:
    """A bulk UPDATE statement bypasses the ORM guard; the triggers of migration 0012 do not."""
    with session_factory() as s:
        with pytest.raises(DBAPIError, match="weight sets are immutable"):
            s.execute(update(WeightSet).values(factor_weights={"1": 5.0}))
        s.rollback()
        with pytest.raises(DBAPIError, match="append-only audit log"):
            s.execute(update(WeightSetEvent).values(reason="rewritten"))
        s.rollback()
        # What is not part of the weights (an annotation) may still change.
        s.execute(update(WeightSet).values(note="reviewed by the board"))
        s.commit()
    with session_factory() as s:
        assert s.scalars(select(WeightSet.note)).one() == "reviewed by the board"
        assert s.scalars(select(WeightSet)).one().factor_weights["1"] == 1.0
        assert s.scalars(select(WeightSetEvent.reason)).one() != "rewritten"
