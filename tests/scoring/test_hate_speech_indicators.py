"""Hate speech and incitement reach risk factor 7 (issue 16, item 4), on SQLite and PostgreSQL.

V-Dem's Digital Society variables (``v2smpolhate``, ``v2smgovdom``) are not in the recorded V-Dem
payload (/work/shared/fixtures/vdem holds V-Dem's demspaces extract, without the Digital Society
survey), so the V-Dem file here is MADE for the test in the release's layout (``country_name``,
``country_text_id``, ``year``, ``COWcode`` and the variable columns). The GDELT answer is a
TimelineVolRaw body in GDELT's documented shape, as in tests/ingest/test_gdelt.py.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database
from earlywarn.countries.service import CountryResolver
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.framework.sources_schemas import GdeltSourceConfig
from earlywarn.ingest import service as ingest_service
from earlywarn.ingest.vdem import OPTIONAL_VARIABLES, parse_vdem
from earlywarn.observations.models import RunStatus
from earlywarn.scoring.models import CountryScore
from earlywarn.scoring.service import run_scoring
from earlywarn.settings import Settings

VDEM_FIXTURE = (
    Path("fixtures") / "vdem" / "demspaces_vdem_data_1968_on_SUBSET_MEX1968_HUN2018-2020.csv"
)
GDELT_BASE = "https://gdelt.test/api/v2"


def test_recorded_vdem_extract_lacks_the_digital_society_survey_and_still_loads(
    shared_dir: Path,
) -> None:
    payload = parse_vdem(
        (shared_dir / VDEM_FIXTURE).read_bytes(),
        name="demspaces",
        resolver=CountryResolver.default(),
    )
    assert payload.details["optional_variables_absent"] == list(OPTIONAL_VARIABLES)
    assert not {r.variable for r in payload.records} & {"vdem.v2smpolhate", "vdem.v2smgovdom"}


def _gdelt(request: httpx.Request) -> httpx.Response:
    assert "incitement" in request.url.params["query"]
    day = request.url.params["startdatetime"][:8]
    # 5 matching articles out of 100,000 monitored: 50 per million.
    points = [{"date": f"{day}T000000Z", "value": 5, "norm": 100_000}]
    return httpx.Response(
        200,
        json={
            "query_details": {"title": "q", "date_resolution": "day"},
            "timeline": [{"series": "Article Count", "data": points}],
        },
    )


def _entries(score: CountryScore) -> dict[str, dict[str, Any]]:
    return {i["indicator_id"]: i for f in score.factors["factors"] for i in f["indicators"]}


def test_vdem_digital_society_and_gdelt_feed_factor_7(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    weight_set_id = prepare_database(session_factory, configuration)
    as_of = datetime.now(UTC).date()
    year = as_of.year - 1
    vdem = tmp_path / "vdem.csv"
    vdem.write_text(
        "country_name,country_text_id,year,COWcode,v2x_clphy,v2smpolhate,v2smgovdom\n"
        f"Sudan,SDN,{year},625,0.2,-1.5,-2.5\n"
        f"Kenya,KEN,{year},501,0.6,1.0,NA\n",
        encoding="utf-8",
    )
    run = ingest_service.import_file(session_factory, vdem, "vdem", variables=["v2x_clphy"])
    assert run.status is RunStatus.SUCCEEDED, run.error
    with httpx.Client(base_url=GDELT_BASE, transport=httpx.MockTransport(_gdelt)) as client:
        run = ingest_service.ingest_source(
            session_factory,
            Settings(gdelt_base_url=GDELT_BASE),
            configuration,
            "gdelt",
            source_config=GdeltSourceConfig(
                countries=["SDN"],
                queries={"hate_speech": '"hate speech" OR incitement'},
                months_back=1,
            ),
            client=client,
            sleep=lambda s: None,
        )
    assert run.status is RunStatus.SUCCEEDED, run.error

    with session_scope(session_factory) as session:
        run_id = run_scoring(
            session, configuration, session.get_one(WeightSet, weight_set_id), as_of=as_of
        ).run.id
    with session_factory() as session:
        scores = {
            s.country_iso3: _entries(s)
            for s in session.scalars(
                select(CountryScore).where(CountryScore.score_run_id == run_id)
            )
        }
    sudan, kenya = scores["SDN"], scores["KEN"]
    # decreases_risk on [-2.5, 2.5]: -1.5 -> 1 - 1/5 = 0.8; -2.5 -> 1.0; 1.0 -> 0.3
    assert sudan["party_hate_speech"]["contribution"] == pytest.approx(0.8)
    assert sudan["government_disinformation"]["contribution"] == pytest.approx(1.0)
    assert kenya["party_hate_speech"]["contribution"] == pytest.approx(0.3)
    assert kenya["government_disinformation"]["contribution"] is None  # NA: missing, not 0
    assert sudan["hate_speech_media_attention"]["contribution"] == pytest.approx(
        math.log1p(50.0) / 4.6
    )
    assert kenya["hate_speech_media_attention"]["contribution"] is None  # not watched
    assert all(
        entry["contribution"] is None or 0 <= entry["contribution"] <= 1 for entry in sudan.values()
    )
