"""The hostile-payload corpus (tests/ingest/hostile/, documented in
docs/ingest-hostile-payloads.md), run through the whole ingest path of each connector.

Each case first loads the source's good payload (an earlier vintage), then serves the hostile
body. A rejected body must leave a failed run naming the cause, with nothing of it stored and
the earlier vintage intact; a tolerated body must load, saying in ``details`` what it left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import (
    AcledSourceConfig,
    GdeltSourceConfig,
    ReliefWebSourceConfig,
    UcdpSourceConfig,
    UnhcrSourceConfig,
    WorldBankSourceConfig,
)
from earlywarn.ingest.acled import AcledConnector, TokenStore
from earlywarn.ingest.models import ArchivedPayload
from earlywarn.ingest.registry import CONNECTORS
from earlywarn.ingest.service import ingest_source
from earlywarn.observations.models import IngestRun, Observation, RunStatus
from earlywarn.settings import Settings

CORPUS = Path(__file__).resolve().parent / "hostile"
BASE = "https://hostile.test"
SETTINGS = Settings(
    worldbank_base_url=BASE,
    ucdp_base_url=BASE,
    ucdp_token=SecretStr("t"),
    acled_base_url=BASE,
    acled_username="a@b.c",
    acled_password=SecretStr("pw"),
    gdelt_base_url=BASE,
    unhcr_base_url=BASE,
    reliefweb_base_url=BASE,
    reliefweb_appname="earlywarn-test--123",
    http_max_attempts=2,
)
INDICATORS = IndicatorsConfig.model_validate(
    {
        "indicators": [
            {
                "id": "population",
                "name": "Population",
                "risk_factor": 1,
                "variable": "wb.SP.POP.TOTL",
                "source": "worldbank",
                "direction": "increases_risk",
                "normalisation": {"method": "percentile"},
                "weight": 1.0,
                "max_age_days": 1095,
            }
        ]
    }
)
SOURCE_CONFIGS: dict[str, BaseModel] = {
    "worldbank": WorldBankSourceConfig(start_year=2021, end_year=2022),
    "ucdp": UcdpSourceConfig(start_year=2023, end_year=2023),
    "acled": AcledSourceConfig(start_year=2024, end_year=2024),
    "gdelt": GdeltSourceConfig(countries=["SDN"], queries={"mass_killing": "massacre"}),
    "unhcr": UnhcrSourceConfig(start_year=2022, end_year=2023),
    "reliefweb": ReliefWebSourceConfig(start_year=2024, end_year=2024),
}
WB_COUNTRIES = (
    b'[{"page": 1, "pages": 1, "per_page": "400", "total": 3}, [{"id": "KEN", "region": '
    b'{"id": "SSF"}}, {"id": "USA", "region": {"id": "NAC"}}, {"id": "WLD", "region": '
    b'{"id": "NA"}}]]'
)


@dataclass(frozen=True)
class Case:
    file: str
    content_type: str = "application/json"
    error: str | None = None  # the run fails with a message containing this
    details: dict[str, Any] = field(default_factory=dict)  # or loads with these details

    @property
    def source(self) -> str:
        return self.file.split("_", 1)[0]


CASES = [
    Case("worldbank_http200_error.json", error="error id 175 Invalid format"),
    Case("worldbank_html_error_page.html", "text/html", error="HTML/XML page"),
    Case("worldbank_truncated.json", error="not valid JSON"),
    Case("worldbank_wrong_content_type.json", "application/zip", error="'application/zip'"),
    Case("worldbank_empty_page.json", error="yielded no usable value"),
    Case("worldbank_null_values.json", details={"skipped": {"null_value": 2}}),
    Case("worldbank_na_string.json", error="value 'NA' is not a number"),
    Case("worldbank_zero_string.json", error="value '0' is not a number"),
    Case(
        "worldbank_unknown_country.json",
        details={"unknown_iso3_codes": ["ZZZ"], "skipped": {"unknown_iso3": 1}},
    ),
    Case("worldbank_duplicate_rows.json", details={"skipped": {"identical_duplicate": 1}}),
    Case("worldbank_conflicting_duplicate.json", error="twice with different values"),
    Case("worldbank_renamed_column.json", error="missing field(s) countryiso3code"),
    Case("worldbank_absurd_value.json", error="beyond the plausible"),
    Case("ucdp_negative_deaths.json", error="best: -4 is negative"),
    Case("ucdp_absurd_deaths.json", error="above the plausible maximum"),
    Case("ucdp_renamed_column.json", error="missing field(s) best"),
    Case("ucdp_placeholder_strings.json", details={"unknown_values": {"deaths_civilians": 3}}),
    Case("ucdp_unknown_gw_code.json", details={"unknown_gw_codes": ["9999"]}),
    Case("ucdp_duplicate_rows.json", details={"skipped": {"identical_duplicate": 1}}),
    Case("ucdp_http200_error_object.json", error="missing field(s) TotalCount, Result"),
    Case("ucdp_total_count_mismatch.json", error="TotalCount said 250"),
    Case("acled_placeholder_strings.json", details={"unknown_values": {"fatalities": 4}}),
    Case("acled_negative_fatalities.json", error="fatalities: '-3' is negative"),
    Case("acled_absurd_fatalities.json", error="above the plausible maximum"),
    Case("acled_unknown_iso_code.json", details={"unknown_iso_codes": ["999"]}),
    Case("acled_missing_column.json", error="missing field(s) fatalities"),
    Case("acled_success_false.json", error="error status 403"),
    Case("acled_duplicate_rows.json", details={"skipped": {"identical_duplicate": 1}}),
    Case("acled_unknown_event_type.json", error="unknown event_type 'Massacres'"),
    Case("acled_bad_date.json", error="is not YYYY-MM-DD"),
    Case("gdelt_truncated.json", error="not valid JSON"),
    Case("gdelt_negative_count.json", error="is negative"),
    Case("gdelt_html_page.html", "text/html", error="GDELT refused the query"),
    Case("unhcr_html_page.html", "text/html", error="HTML/XML page"),
    Case("unhcr_truncated.json", error="not valid JSON"),
    Case("unhcr_empty_items.json", error="no rows at all"),
    Case("unhcr_error_body.json", error="no 'items' in the answer (keys: code, message)"),
    Case("unhcr_na_string.json", error="'NA' is not a number of people"),
    Case("unhcr_negative_count.json", error="-120 is not a plausible number of people"),
    Case("unhcr_absurd_count.json", error="1e+300 is not a plausible number of people"),
    Case("unhcr_unknown_origin.json", error="ZZZ (Atlantis)"),
    Case("unhcr_renamed_column.json", error="missing field(s) refugees"),
    Case("unhcr_asylum_breakdown.json", error="has an asylum country ('DEU')"),
    Case("unhcr_conflicting_duplicate.json", error="delivered twice with different values"),
    Case(
        "unhcr_placeholders.json",
        details={"skipped": {"not_applicable": 1, "null": 1, "origin_unknown_origin": 3}},
    ),
    Case("unhcr_duplicate_rows.json", details={"skipped": {"identical_duplicate": 3}}),
    Case("reliefweb_html_page.html", "text/html", error="HTML/XML page"),
    Case("reliefweb_error_body.json", error='answered with an error: Invalid "limit"'),
    Case("reliefweb_truncated_page.json", error="count 3 but holds 1 item(s)"),
    Case("reliefweb_missing_country.json", error="item 7: no 'country' field"),
    Case("reliefweb_unknown_country.json", error="no country of the countries table: ZZZ"),
    Case("reliefweb_bad_date.json", error="'13/07/2024' is not an ISO date"),
    Case(
        "reliefweb_world_and_repeats.json",
        details={"skipped": {"repeated_item": 1, "country_world": 1}},
    ),
]


def test_every_corpus_file_has_a_case() -> None:
    files = {path.name for path in CORPUS.iterdir()} - {
        f"{source}_good.json" for source in SOURCE_CONFIGS
    }
    assert files == {case.file for case in CASES}


def handler_for(source: str, body: bytes, content_type: str) -> Callable[..., httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if source == "worldbank" and path == "/country":
            return httpx.Response(200, content=WB_COUNTRIES)
        if source == "acled" and path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "x", "expires_in": 86400})
        if source == "acled" and request.url.params.get("page") != "1":
            return httpx.Response(200, json={"status": 200, "success": True, "data": []})
        return httpx.Response(200, content=body, headers={"Content-Type": content_type})

    return handler


def load(
    session_factory: sessionmaker[Session], source: str, body: bytes, content_type: str
) -> IngestRun:
    transport = httpx.MockTransport(handler_for(source, body, content_type))
    with httpx.Client(base_url=BASE, transport=transport) as client:
        return ingest_source(
            session_factory,
            SETTINGS,
            INDICATORS,
            source,
            source_config=SOURCE_CONFIGS[source],
            client=client,
            sleep=lambda seconds: None,
        )


def observation_rows(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_factory() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    Observation.country_iso3,
                    Observation.variable,
                    Observation.period,
                    Observation.value,
                    Observation.ingest_run_id,
                ).order_by(Observation.id)
            )
        ]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.file)
def test_hostile_payload(
    case: Case,
    session_factory: sessionmaker[Session],
    countries: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A token store of its own, so no token leaks between cases.
    monkeypatch.setitem(CONNECTORS, "acled", AcledConnector(TokenStore()))
    good = load(
        session_factory,
        case.source,
        (CORPUS / f"{case.source}_good.json").read_bytes(),
        "application/json",
    )
    assert good.status == RunStatus.SUCCEEDED, good.error
    before = observation_rows(session_factory)
    assert before

    run = load(session_factory, case.source, (CORPUS / case.file).read_bytes(), case.content_type)

    if case.error is not None:
        assert run.status == RunStatus.FAILED
        assert run.error is not None
        assert case.error in run.error
        assert run.rows_loaded == 0
        assert observation_rows(session_factory) == before  # earlier vintage intact
        with session_factory() as session:
            evidence = session.scalars(
                select(ArchivedPayload.sha256).where(ArchivedPayload.ingest_run_id == run.id)
            ).all()
        assert evidence, "the rejected bodies are archived under the failed run"
    else:
        assert run.status in (RunStatus.SUCCEEDED, RunStatus.UNCHANGED), run.error
        for key, expected in case.details.items():
            assert run.details[key] == expected, (key, run.details)
        after = observation_rows(session_factory)
        assert after[: len(before)] == before
        with session_factory() as session:
            stored = session.scalar(
                select(func.count())
                .select_from(Observation)
                .where(Observation.ingest_run_id == run.id)
            )
        assert stored == run.rows_loaded
