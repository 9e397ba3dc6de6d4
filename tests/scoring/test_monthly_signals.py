"""A new month of ACLED data moves the score (issue 16, item 5), on SQLite and PostgreSQL.

Sudan has annual evidence for four factors (a long CSV, carried forward unchanged) and ACLED
events loaded through the connector (OAuth token, pages; events made here in the ACLED API's
JSON layout, all values strings, as the recorded page in /work/shared/fixtures/acled has
them). The second load adds a month with more killings and battles; scored at the end of each
month, the monthly indicators of factors 8 and 11 move the composite while the annual ones stay.
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.framework.sources_schemas import AcledSourceConfig
from earlywarn.ingest import service as ingest_service
from earlywarn.observations.models import RunStatus
from earlywarn.scoring.models import CountryScore
from earlywarn.scoring.service import run_scoring
from earlywarn.settings import Settings

BASE = "https://acled.test"
SETTINGS = Settings(
    acled_base_url=BASE, acled_username="analyst@example.org", acled_password=SecretStr("pw")
)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _events(month: date, prefix: str, vac: int, deaths_each: int, battles: int) -> list[Any]:
    def event(n: int, kind: str, fatalities: int) -> dict[str, str]:
        return {
            "event_id_cnty": f"SDN{prefix}{n}",
            "event_date": month.replace(day=1 + n % 27).isoformat(),
            "event_type": kind,
            "civilian_targeting": "Civilian targeting" if kind.startswith("Violence") else "",
            "iso": "729",
            "fatalities": str(fatalities),
        }

    return [event(n, "Violence against civilians", deaths_each) for n in range(vac)] + [
        event(vac + n, "Battles", 1) for n in range(battles)
    ]


class FakeAcled:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            assert parse_qs(request.content.decode())["client_id"] == ["acled"]
            return httpx.Response(
                200,
                json={
                    "token_type": "Bearer",
                    "expires_in": 86400,
                    "access_token": "t",
                    "refresh_token": "r",
                },
            )
        assert request.headers["Authorization"] == "Bearer t"
        page = int(request.url.params["page"])
        data = self.events if page == 1 else []
        return httpx.Response(200, json={"status": 200, "success": True, "data": data})


def _breakdown(factory: sessionmaker[Session], config: Configuration, ws: int, as_of: date) -> Any:
    with session_scope(factory) as session:
        result = run_scoring(session, config, session.get_one(WeightSet, ws), as_of=as_of)
        run_id = result.run.id
    with factory() as session:
        score = session.query(CountryScore).filter_by(score_run_id=run_id, country_iso3="SDN").one()
        entries = {i["indicator_id"]: i for f in score.factors["factors"] for i in f["indicators"]}
        return score.composite, entries


def test_a_new_month_of_acled_data_moves_the_score(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    weight_set_id = prepare_database(session_factory, configuration)
    today = datetime.now(UTC).date()
    second = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # last complete month
    first = (second - timedelta(days=1)).replace(day=1)
    baseline = tmp_path / "annual.csv"
    year = today.year - 1
    baseline.write_text(
        "iso3,variable,year,value\n"
        f"SDN,wb.PV.EST,{year},-2.0\n"
        f"SDN,wb.GE.EST,{year},-1.5\n"
        f"SDN,wb.NY.GDP.TOTL.RT.ZS,{year},10\n"
        f"SDN,wb.MS.MIL.XPND.GD.ZS,{year},3\n",
        encoding="utf-8",
    )
    assert ingest_service.import_file(session_factory, baseline, "csv").error is None

    fake = FakeAcled()
    window = AcledSourceConfig(start_year=first.year, end_year=today.year)

    def load() -> None:
        with httpx.Client(base_url=BASE, transport=httpx.MockTransport(fake)) as client:
            run = ingest_service.ingest_source(
                session_factory,
                SETTINGS,
                configuration,
                "acled",
                source_config=window,
                client=client,
                sleep=lambda s: None,
            )
        assert run.status is RunStatus.SUCCEEDED, run.error

    fake.events = _events(first, "a", vac=3, deaths_each=10, battles=2)
    load()
    before, old = _breakdown(
        session_factory, configuration, weight_set_id, _month_end(first) + timedelta(days=1)
    )
    fake.events += _events(second, "b", vac=4, deaths_each=50, battles=20)
    load()
    after, new = _breakdown(
        session_factory, configuration, weight_set_id, _month_end(second) + timedelta(days=1)
    )

    assert old["civilians_killed_last_month"]["contribution"] == pytest.approx(math.log1p(30) / 4.4)
    assert new["civilians_killed_last_month"]["contribution"] == pytest.approx(1.0)
    assert old["armed_clashes_last_month"]["contribution"] == pytest.approx(math.log1p(2) / 4.6)
    assert new["armed_clashes_last_month"]["contribution"] == pytest.approx(math.log1p(20) / 4.6)
    assert new["civilians_killed_last_month"]["period"] == f"{second:%Y-%m}"
    # The annual evidence is carried forward unchanged.
    assert old["political_stability"]["contribution"] == new["political_stability"]["contribution"]
    assert before is not None
    assert after is not None
    assert after > before + 0.02
