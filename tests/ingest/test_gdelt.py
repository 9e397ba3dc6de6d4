"""The GDELT DOC connector: pacing, plain-text errors (the real bodies in
/work/shared/fixtures/gdelt/), and monthly sums of a TimelineVolRaw answer of our own."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import GdeltSourceConfig
from earlywarn.ingest.connectors import ConnectorContext
from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.ingest.gdelt import GdeltConnector, month_window
from earlywarn.settings import Settings

BASE = "https://gdelt.test/api/v2"
NOW = datetime(2025, 7, 10, tzinfo=UTC)
CONFIG = GdeltSourceConfig(
    countries=["SDN", "MMR"], queries={"mass_killing": "massacre OR genocide"}, months_back=2
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def timeline(points: list[tuple[str, int, int]]) -> dict[str, Any]:
    return {
        "query_details": {"title": "q", "date_resolution": "day"},
        "timeline": [
            {
                "series": "Article Count",
                "data": [{"date": d, "value": v, "norm": n} for d, v, n in points],
            }
        ],
    }


def run(handler: Any, clock: Clock, config: GdeltSourceConfig = CONFIG) -> Any:
    ctx = ConnectorContext(
        settings=Settings(gdelt_base_url=BASE),
        indicators=IndicatorsConfig(indicators=[]),
        now=NOW,
        known_iso3s=frozenset({"SDN", "MMR"}),
        source_config=config,
        sleep=clock.sleep,
    )
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)) as client:
        return GdeltConnector().fetch(ctx, client)


def test_month_window_is_complete_months_only() -> None:
    assert month_window(NOW.date(), 3) == [(2025, 4), (2025, 5), (2025, 6)]
    assert month_window(datetime(2025, 1, 31).date(), 2) == [(2024, 11), (2024, 12)]


def test_daily_counts_are_summed_per_month_and_requests_paced() -> None:
    requests: list[httpx.Request] = []
    body = timeline(
        [
            ("20250430T000000Z", 99, 1000),  # padding day outside the window: ignored
            ("20250501T000000Z", 3, 10000),
            ("20250517T000000Z", 2, 10000),
            ("20250602T000000Z", 0, 5000),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if "Myanmar" in request.url.params["query"]:
            return httpx.Response(200, json={})  # nothing matched
        return httpx.Response(200, json=body)

    clock = Clock()
    payload = run(handler, clock)
    got = {(r.iso3, r.variable, r.period): r.value for r in payload.records}
    assert got[("SDN", "gdelt.mass_killing_articles", "2025-05")] == 5
    assert got[("SDN", "gdelt.mass_killing_per_million", "2025-05")] == 250
    assert got[("SDN", "gdelt.mass_killing_articles", "2025-06")] == 0
    assert got[("MMR", "gdelt.mass_killing_articles", "2025-05")] == 0
    assert ("MMR", "gdelt.mass_killing_per_million", "2025-05") not in got
    params = requests[0].url.params
    assert params["query"] == '(massacre OR genocide) "Sudan"'
    assert (params["mode"], params["startdatetime"], params["enddatetime"]) == (
        "TimelineVolRaw",
        "20250501000000",
        "20250630235959",
    )
    assert len(requests) == 2
    assert len(clock.slept) == 1  # the second request waited for the five-second interval
    assert clock.slept[0] > 4.9


def test_plain_text_rate_limit_is_waited_out(shared_dir: Path) -> None:
    limited = (shared_dir / "fixtures/gdelt/doc_api_rate_limited_body.txt").read_bytes()
    answers = [limited, b"{}", b"{}"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=answers.pop(0), headers={"Content-Type": "text/plain"})

    clock = Clock()
    payload = run(handler, clock)
    assert payload.details["requests"] == 3
    assert len(payload.raw) == 2  # the throttling notice is not archived as data


def test_plain_text_query_error_names_the_query(shared_dir: Path) -> None:
    error = (shared_dir / "fixtures/gdelt/doc_api_keyword_error_body.txt").read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=error, headers={"Content-Type": "text/html"})

    with pytest.raises(RemoteSourceError) as caught:
        run(handler, Clock())
    message = str(caught.value)
    assert message.startswith("GDELT DOC API, query mass_killing for SDN: GDELT refused")
    assert "One or more of your keywords were too short" in message


def test_artlist_answer_is_not_taken_for_a_timeline(shared_dir: Path) -> None:
    artlist = (shared_dir / "fixtures/gdelt/doc_api_artlist_vizhinjam_2024.json").read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=artlist, headers={"Content-Type": "application/json"})

    with pytest.raises(RemoteSourceError, match="no 'timeline' list .*keys: articles"):
        run(handler, Clock())


def test_nothing_configured_is_an_error() -> None:
    with pytest.raises(RemoteSourceError, match="give queries and countries"):
        run(lambda r: httpx.Response(200, json={}), Clock(), GdeltSourceConfig())
