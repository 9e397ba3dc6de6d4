"""``GET /scores/latest``: factor names once per response, an ETag with 304, Cache-Control, and
a new run served as soon as it succeeds (on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.scoring.ranked import LATEST_RUN_RECHECK_SECONDS
from earlywarn.types import Role


def _load(factory: sessionmaker[Session], path: Path, battle_deaths: float) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        writer.writerow(["KEN", "ewp.battledeaths.log2", 2024, battle_deaths])
        writer.writerow(["FRA", "ewp.battledeaths.log2", 2024, 1])
    assert ingest_service.import_file(factory, path, "csv").error is None


def test_latest_scores_carry_an_etag_and_names_each_factor_once(
    client: Any,
    keys: dict[Role, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    prepare_database(session_factory, configuration)
    _load(session_factory, tmp_path / "a.csv", 12)
    score_and_alert(session_factory, configuration, as_of=date(2025, 6, 30))
    reader = {"X-API-Key": keys[Role.ANALYST]}

    first = client.get("/scores/latest", headers=reader)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "private, max-age=60"
    etag = first.headers["etag"]
    body = first.json()
    names = {f["number"]: f["name"] for f in body["factors"]}
    assert len(names) == 14
    assert names[1] == next(f.name for f in configuration.framework.risk_factors if f.number == 1)
    assert {s["iso3"] for s in body["scores"]} == {"KEN", "FRA"}
    for row in body["scores"]:
        assert [f["number"] for f in row["factors"]] == sorted(names)
        assert all(set(f) == {"number", "score", "coverage"} for f in row["factors"])

    again = client.get("/scores/latest", headers=reader)
    assert again.content == first.content
    assert again.headers["etag"] == etag
    not_modified = client.get("/scores/latest", headers={**reader, "If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert client.get("/scores/latest?limit=1", headers=reader).json()["count"] == 1
    other = client.get("/scores/latest", headers={**reader, "If-None-Match": '"other"'})
    assert other.status_code == 200

    # A new run: a new body and tag once the latest run's id is read again (at most
    # LATEST_RUN_RECHECK_SECONDS after its success, the documented bound), no stale copy.
    _load(session_factory, tmp_path / "b.csv", 1)
    score_and_alert(session_factory, configuration, as_of=date(2025, 7, 31))
    time.sleep(LATEST_RUN_RECHECK_SECONDS)
    fresh = client.get("/scores/latest", headers={**reader, "If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != etag
    assert fresh.json()["run"]["as_of"] == "2025-07-31"

    # /scores (as of a date) has the same shape.
    as_of = client.get("/scores?as_of=2025-06-30", headers=reader).json()
    assert len(as_of["factors"]) == 14
    assert "name" not in as_of["scores"][0]["factors"][0]
