"""CSV from the API: the watch list and a country's history as tables, on both backends."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.types import Role


def _scored(factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path) -> None:
    prepare_database(factory, configuration)
    path = tmp_path / "data.csv"
    variables = {  # factors 1, 2, 4, 6 and 7: enough for a rating
        "ewp.battledeaths.log2": (9.0, 1.0),
        "ewp.pol_killing_approved": (1.0, 0.0),
        "ewp.discrimpop": (0.2, 0.01),
        "ewp.repress_civilsoc": (1.0, 0.0),
        "ewp.partyban.new.1": (1.0, 0.0),
    }
    rows = [
        (iso3, variable, 2024, values[i])
        for variable, values in variables.items()
        for i, iso3 in enumerate(("KEN", "GHA"))
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        writer.writerows(rows)
    assert ingest_service.import_file(factory, path, "csv").error is None
    score_and_alert(factory, configuration, as_of=date(2025, 6, 30))


def _table(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


def test_watch_list_and_history_as_csv_by_query_or_accept_header(
    client: Any,
    keys: dict[Role, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    _scored(session_factory, configuration, tmp_path)
    headers = {"X-API-Key": keys[Role.ANALYST]}
    as_json = client.get("/scores/latest", headers=headers).json()
    table = _table(client.get("/scores/latest?format=csv", headers=headers))
    assert [row["iso3"] for row in table] == [s["iso3"] for s in as_json["scores"]]
    ken = next(row for row in table if row["iso3"] == "KEN")
    ken_json = next(s for s in as_json["scores"] if s["iso3"] == "KEN")
    assert ken_json["rank"] == 1
    assert ken["rank"] == "1"
    assert ken["composite"]
    assert float(ken["composite"]) == ken_json["composite"]
    assert {f"factors_{n}" for n in range(1, 15)} <= set(ken)
    by_accept = _table(client.get("/scores/latest", headers={**headers, "Accept": "text/csv"}))
    assert by_accept == table
    # JSON stays the default, and an explicit format wins over the Accept header.
    assert (
        client.get("/scores/latest", headers=headers)
        .headers["content-type"]
        .startswith("application/json")
    )
    assert (
        client.get("/scores/latest?format=json", headers={**headers, "Accept": "text/csv"})
        .headers["content-type"]
        .startswith("application/json")
    )
    history = _table(client.get("/countries/KEN/scores?format=csv", headers=headers))
    assert len(history) == 1
    assert history[0]["as_of"] == "2025-06-30"
    assert client.get("/scores/latest?format=xml", headers=headers).status_code == 422
