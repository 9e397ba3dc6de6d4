"""The UN SDG API connector (indicator 16.10.1).

No recorded SDG API payload exists (data-sources.md section 8d says so): every payload below
was WRITTEN FOR THESE TESTS in the documented format of ``/SDGAPI/v1/sdg/Series/Data``
(envelope ``size/totalElements/totalPages/pageNumber/data``; rows with ``geoAreaCode`` as an M49
string, ``timePeriodStart`` as 2020 or 2020.0, ``value`` as a string, ``dimensions``,
``attributes``, ``footnotes``), including the hostile cases the API is known for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import SdgSourceConfig
from earlywarn.ingest.connectors import ConnectorContext
from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.ingest.schemas import LoadedPayload
from earlywarn.ingest.sdg import SdgConnector
from earlywarn.ingest.service import ingest_source
from earlywarn.observations.models import Observation, RunStatus
from earlywarn.settings import Settings

BASE = "https://sdg.test/SDGAPI/v1"
SETTINGS = Settings(sdg_base_url=BASE, http_max_attempts=2)
NOW = datetime(2025, 7, 1, tzinfo=UTC)
CONFIG = SdgSourceConfig(
    start_year=2019, end_year=2024, page_size=3, series=("VC_VAW_MTUHRA", "VC_VOC_ENFDIS")
)
Handler = Callable[[httpx.Request], httpx.Response]


def row(
    series: str,
    area: str,
    name: str,
    year: Any,
    value: Any,
    *,
    sex: str = "BOTHSEX",
    nature: str = "C",
    footnotes: Any = (),
) -> dict[str, Any]:
    return {
        "goal": ["16"],
        "target": ["16.10"],
        "indicator": ["16.10.1"],
        "series": series,
        "seriesDescription": "Number of verified cases of killings of human rights defenders, "
        "journalists and trade unionists",
        "seriesCount": "1",
        "geoAreaCode": area,
        "geoAreaName": name,
        "timePeriodStart": year,
        "value": value,
        "valueType": "Float",
        "time_detail": None,
        "timeCoverage": None,
        "upperBound": None,
        "lowerBound": None,
        "basePeriod": None,
        "source": "OHCHR",
        "geoInfoUrl": None,
        "footnotes": list(footnotes),
        "attributes": {"Nature": nature, "Units": "NUMBER"},
        "dimensions": {"Sex": sex},
    }


KILLINGS = [
    row("VC_VAW_MTUHRA", "170", "Colombia", 2022.0, "89", footnotes=["Preliminary."]),
    row("VC_VAW_MTUHRA", "170", "Colombia", 2022.0, "12", sex="FEMALE"),  # breakdown
    row("VC_VAW_MTUHRA", "170", "Colombia", 2023, "0"),  # zero is a value
    row("VC_VAW_MTUHRA", "4", "Afghanistan", 2023, "NaN"),  # not available: missing
    row("VC_VAW_MTUHRA", "1", "World", 2022, "320"),  # aggregate, rejected by code
    row("VC_VAW_MTUHRA", "419", "Latin America and the Caribbean", 2022, "150"),
    row("VC_VAW_MTUHRA", "729", "Sudan", "2023", "7"),
]
DISAPPEARANCES = [
    row("VC_VOC_ENFDIS", "729", "Sudan", 2023, "4"),
    row("VC_VOC_ENFDIS", "404", "Kenya", 2022, "N"),
    row("VC_VOC_ENFDIS", "404", "Kenya", 2023, "3", nature="N"),  # non-relevant
]


class FakeSdg:
    """Serves each series in pages of ``CONFIG.page_size`` and records the requests."""

    def __init__(self, by_series: dict[str, list[dict[str, Any]]]) -> None:
        self.by_series = by_series
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.path == "/SDGAPI/v1/sdg/Series/Data"
        rows = self.by_series.get(request.url.params["seriesCode"], [])
        size = int(request.url.params["pageSize"])
        page = int(request.url.params["page"])
        chunk = rows[(page - 1) * size : page * size]
        return httpx.Response(
            200,
            json={
                "size": size,
                "totalElements": len(rows),
                "totalPages": max(1, -(-len(rows) // size)),
                "pageNumber": page,
                "attributes": [],
                "dimensions": [],
                "data": chunk,
            },
        )


def fetch(handler: Handler, known: set[str] | None = None) -> LoadedPayload:
    context = ConnectorContext(
        settings=SETTINGS,
        indicators=IndicatorsConfig(indicators=[]),
        now=NOW,
        known_iso3s=frozenset(known or {"COL", "AFG", "SDN", "KEN"}),
        source_config=CONFIG,
        sleep=lambda seconds: None,
    )
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)) as client:
        return SdgConnector().fetch(context, client)


def values(payload: LoadedPayload) -> dict[tuple[str, str, str], float]:
    return {(r.iso3, r.variable, r.period): r.value for r in payload.records}


def test_pages_totals_m49_codes_and_missing_values() -> None:
    fake = FakeSdg({"VC_VAW_MTUHRA": KILLINGS, "VC_VOC_ENFDIS": DISAPPEARANCES})
    payload = fetch(fake)
    assert values(payload) == {
        ("COL", "sdg.VC_VAW_MTUHRA", "2022"): 89.0,  # the total, never 89 + 12
        ("COL", "sdg.VC_VAW_MTUHRA", "2023"): 0.0,
        ("SDN", "sdg.VC_VAW_MTUHRA", "2023"): 7.0,
        ("SDN", "sdg.VC_VOC_ENFDIS", "2023"): 4.0,
    }
    assert payload.details["skipped"] == {
        "breakdown_not_total": 1,
        "value_not_available": 2,
        "area_not_a_country": 2,
        "nature_non_relevant": 1,
    }
    assert payload.details["areas_not_countries"] == {
        "1": "World",
        "419": "Latin America and the Caribbean",
    }
    assert payload.details["footnoted_values"] == 1
    assert payload.rows_read == 10
    # 7 killing rows in pages of 3 (3 requests) and 3 disappearance rows (1 request).
    asked = [(r.url.params["seriesCode"], r.url.params["page"]) for r in fake.requests]
    assert asked == [
        ("VC_VAW_MTUHRA", "1"),
        ("VC_VAW_MTUHRA", "2"),
        ("VC_VAW_MTUHRA", "3"),
        ("VC_VOC_ENFDIS", "1"),
    ]
    first = fake.requests[0].url.params
    assert (first["timePeriodStart"], first["timePeriodEnd"]) == ("2019", "2024")


def test_countries_outside_the_table_are_skipped_and_listed() -> None:
    payload = fetch(FakeSdg({"VC_VAW_MTUHRA": KILLINGS}), known={"COL"})
    assert payload.details["iso3_not_in_countries_table"] == ["AFG", "SDN"]
    assert {r.iso3 for r in payload.records} == {"COL"}


def test_an_error_body_with_http_200_fails_naming_what_came() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"message": "An error has occurred."})

    with pytest.raises(RemoteSourceError, match="expected an object with 'data'.*message"):
        fetch(handler)


def test_a_server_error_is_retried_then_reported() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500, json={"Message": "An error has occurred."})

    with pytest.raises(RemoteSourceError, match="HTTP 500"):
        fetch(handler)
    assert len(calls) == 2  # http_max_attempts


@pytest.mark.parametrize("bad", ["<5", "12.5", "-3", "many"])
def test_a_value_that_is_not_a_count_fails_naming_the_row(bad: str) -> None:
    rows = [*KILLINGS[:2], row("VC_VAW_MTUHRA", "729", "Sudan", 2023, bad)]
    with pytest.raises(RemoteSourceError, match=r"VC_VAW_MTUHRA page 1 row 3: value"):
        fetch(FakeSdg({"VC_VAW_MTUHRA": rows}))


def test_a_fractional_year_and_conflicting_totals_fail() -> None:
    with pytest.raises(RemoteSourceError, match="timePeriodStart 2022.5 is not a year"):
        fetch(FakeSdg({"VC_VAW_MTUHRA": [row("VC_VAW_MTUHRA", "170", "Colombia", 2022.5, "1")]}))
    twice = [
        row("VC_VAW_MTUHRA", "170", "Colombia", 2022, "1"),
        row("VC_VAW_MTUHRA", "170", "Colombia", 2022, "2"),
    ]
    with pytest.raises(RemoteSourceError, match="two total rows"):
        fetch(FakeSdg({"VC_VAW_MTUHRA": twice}))


def test_a_renamed_field_and_lost_rows_fail_loudly() -> None:
    renamed = [{k if k != "value" else "obsValue": v for k, v in KILLINGS[0].items()}]
    with pytest.raises(RemoteSourceError, match="missing field.*value"):
        fetch(FakeSdg({"VC_VAW_MTUHRA": renamed}))

    def short(request: httpx.Request) -> httpx.Response:
        response = FakeSdg({"VC_VAW_MTUHRA": KILLINGS[:2]})(request)
        body = response.json()
        body["totalElements"] = 3
        return httpx.Response(200, json=body)

    with pytest.raises(RemoteSourceError, match="received 2 rows but totalElements said 3"):
        fetch(short)


def test_ingest_stores_the_counts_on_both_backends(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    fake = FakeSdg({"VC_VAW_MTUHRA": KILLINGS, "VC_VOC_ENFDIS": DISAPPEARANCES})
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(fake)) as client:
        run = ingest_source(
            session_factory,
            SETTINGS,
            IndicatorsConfig(indicators=[]),
            "sdg",
            source_config=CONFIG,
            client=client,
            sleep=lambda s: None,
        )
    assert run.status is RunStatus.SUCCEEDED, run.error
    with session_factory() as session:
        stored = {
            (o.country_iso3, o.variable, o.period): o.value
            for o in session.scalars(select(Observation))
        }
    assert stored[("COL", "sdg.VC_VAW_MTUHRA", "2022")] == 89.0
    assert stored[("SDN", "sdg.VC_VOC_ENFDIS", "2023")] == 4.0
    assert len(stored) == 4


def nhri(area: str, name: str, year: Any, value: Any) -> dict[str, Any]:
    """A 16.a.1 row: a yes/no flag with no dimensions, as the series is published."""
    made = row("SG_NHR_IMPLN", area, name, year, value)
    made.update(
        target=["16.a"],
        indicator=["16.a.1"],
        seriesDescription="Countries with National Human Rights Institutions in compliance "
        "with the Paris Principles, A status (1 = YES; 0 = NO)",
        source="OHCHR, Global Alliance of National Human Rights Institutions (GANHRI)",
        attributes={"Nature": "C", "Units": "BOOL"},
        dimensions={},
    )
    return made


def fetch_nhri(rows: list[dict[str, Any]]) -> LoadedPayload:
    context = ConnectorContext(
        settings=SETTINGS,
        indicators=IndicatorsConfig(indicators=[]),
        now=NOW,
        known_iso3s=frozenset({"COL", "AFG", "SDN", "KEN"}),
        source_config=SdgSourceConfig(start_year=2019, page_size=3, series=("SG_NHR_IMPLN",)),
        sleep=lambda seconds: None,
    )
    handler = FakeSdg({"SG_NHR_IMPLN": rows})
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)) as client:
        return SdgConnector().fetch(context, client)


def test_nhri_a_status_is_a_yes_no_flag_per_country_year() -> None:
    loaded = fetch_nhri(
        [
            nhri("170", "Colombia", 2022.0, "1"),
            nhri("729", "Sudan", 2022.0, "0"),
            nhri("404", "Kenya", 2023, "1"),
            nhri("4", "Afghanistan", 2023, "NaN"),  # not available: missing, never 0
            nhri("1", "World", 2023, "0"),  # an aggregate (SG_NHR_IMPL is the share)
        ]
    )
    assert values(loaded) == {
        ("COL", "sdg.SG_NHR_IMPLN", "2022"): 1.0,
        ("SDN", "sdg.SG_NHR_IMPLN", "2022"): 0.0,
        ("KEN", "sdg.SG_NHR_IMPLN", "2023"): 1.0,
    }
    assert loaded.details["skipped"] == {"value_not_available": 1, "area_not_a_country": 1}


def test_an_nhri_flag_above_one_fails_naming_the_row() -> None:
    with pytest.raises(RemoteSourceError, match="SG_NHR_IMPLN page 1 row 1"):
        fetch_nhri([nhri("170", "Colombia", 2022, "3")])
