"""The ACLED connector: OAuth token flow, paging, string fields and aggregation, against the
real API page in /work/shared/fixtures/acled/ (read at test time, never copied: ACLED's licence
forbids redistributing rows) and small synthetic payloads of its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import AcledSourceConfig
from earlywarn.ingest.acled import AcledConnector, TokenStore
from earlywarn.ingest.connectors import ConnectorContext
from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.settings import Settings

BASE = "https://acled.test"
SETTINGS = Settings(
    acled_base_url=BASE, acled_username="analyst@example.org", acled_password=SecretStr("pw")
)
NOW = datetime(2025, 7, 1, tzinfo=UTC)
CONFIG = AcledSourceConfig(start_year=2024, end_year=2024)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeAcled:
    """Issues tokens and serves ``pages`` (then an empty page) to holders of a valid token."""

    def __init__(self, pages: list[dict[str, Any]], empty: dict[str, Any]) -> None:
        self.pages = pages
        self.empty = empty
        self.grants: list[str] = []
        self.valid: set[str] = set()
        self.read_requests: list[httpx.Request] = []
        self.refuse_refresh = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            assert form["client_id"] == "acled"
            grant = form["grant_type"]
            self.grants.append(grant)
            if grant == "refresh_token" and self.refuse_refresh:
                return httpx.Response(400, json={"error": "invalid_grant"})
            if grant == "password" and form["password"] != "pw":
                return httpx.Response(401, json={"error": "invalid_credentials"})
            token = f"access-{len(self.grants)}"
            self.valid.add(token)
            return httpx.Response(
                200,
                json={
                    "token_type": "Bearer",
                    "expires_in": 86400,
                    "access_token": token,
                    "refresh_token": f"refresh-{len(self.grants)}",
                },
            )
        self.read_requests.append(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid:
            return httpx.Response(401, json={"message": "Unauthorized"})
        page = int(request.url.params["page"])
        body = self.pages[page - 1] if page <= len(self.pages) else self.empty
        return httpx.Response(200, json=body)


def real_pages(shared_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = shared_dir / "fixtures/acled"
    page = json.loads(
        (folder / "legacy_api_acled_read_UKR_2024-01-01_page1_TRIMMED.json").read_text("utf-8")
    )
    empty = json.loads((folder / "legacy_api_acled_read_empty_terminal_page.json").read_text())
    return page, empty


def run(
    fake: Callable[[httpx.Request], httpx.Response],
    tokens: TokenStore,
    config: AcledSourceConfig = CONFIG,
    settings: Settings = SETTINGS,
) -> Any:
    ctx = ConnectorContext(
        settings=settings,
        indicators=IndicatorsConfig(indicators=[]),
        now=NOW,
        known_iso3s=frozenset({"UKR", "SDN"}),
        source_config=config,
        sleep=lambda s: None,
    )
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(fake)) as client:
        return AcledConnector(tokens).fetch(ctx, client)


def values(payload: Any) -> dict[tuple[str, str, str], float]:
    return {(r.iso3, r.variable, r.period): r.value for r in payload.records}


def test_real_page_is_aggregated_by_type_with_civilian_targeting_separate(
    shared_dir: Path,
) -> None:
    page, empty = real_pages(shared_dir)
    fake = FakeAcled([page], empty)
    payload = run(fake, TokenStore(Clock()))
    got = values(payload)
    for period, prefix in (("2024", ""), ("2024-01", "monthly_")):
        assert got[("UKR", f"acled.{prefix}events", period)] == 8
        assert got[("UKR", f"acled.{prefix}fatalities", period)] == 4
        assert got[("UKR", f"acled.{prefix}battles_events", period)] == 3
        assert got[("UKR", f"acled.{prefix}battles_fatalities", period)] == 3
        assert got[("UKR", f"acled.{prefix}explosions_remote_violence_events", period)] == 4
        assert got[("UKR", f"acled.{prefix}violence_against_civilians_events", period)] == 0
        assert got[("UKR", f"acled.{prefix}civilian_targeting_events", period)] == 1
        assert got[("UKR", f"acled.{prefix}civilian_targeting_fatalities", period)] == 1
    # Only January has events; other months of 2024 simply have no rows.
    assert {key[2] for key in got} == {"2024", "2024-01"}
    assert [r.url.params["page"] for r in fake.read_requests] == ["1", "2"]
    params = fake.read_requests[0].url.params
    assert (params["event_date"], params["event_date_where"]) == (
        "2024-01-01|2024-12-31",
        "BETWEEN",
    )
    assert "pw" not in (payload.source_uri or "")
    assert len(payload.raw) == 2
    assert all(b"access-" not in body.content for body in payload.raw)  # tokens never archived


def test_token_is_reused_until_expiry_then_refreshed_then_password_again(
    shared_dir: Path,
) -> None:
    page, empty = real_pages(shared_dir)
    fake = FakeAcled([page], empty)
    clock = Clock()
    tokens = TokenStore(clock)
    first = run(fake, tokens)
    second = run(fake, tokens)
    assert fake.grants == ["password"]
    assert first.details["token"][0] == "password"
    assert set(second.details["token"]) == {"reused"}

    clock.now += 86_400  # expired: the refresh token gets a new one
    run(fake, tokens)
    assert fake.grants == ["password", "refresh_token"]

    clock.now += 86_400
    fake.refuse_refresh = True  # an expired refresh token falls back to the password
    run(fake, tokens)
    assert fake.grants == ["password", "refresh_token", "refresh_token", "password"]


def test_a_revoked_token_is_replaced_once(shared_dir: Path) -> None:
    page, empty = real_pages(shared_dir)
    fake = FakeAcled([page], empty)
    tokens = TokenStore(Clock())
    run(fake, tokens)
    fake.valid.clear()  # server-side revocation
    payload = run(fake, tokens)
    assert len(payload.records) > 0
    assert fake.grants == ["password", "password"]


def test_wrong_password_is_a_clear_error() -> None:
    fake = FakeAcled([], {"data": []})
    settings = Settings(
        acled_base_url=BASE, acled_username="a@b.c", acled_password=SecretStr("wrong")
    )
    with pytest.raises(RemoteSourceError, match=r"token request \(password grant\): HTTP 401"):
        run(fake, TokenStore(Clock()), settings=settings)


def synthetic_event(event_id: str, day: str, event_type: str, fatalities: str) -> dict[str, str]:
    return {
        "event_id_cnty": event_id,
        "event_date": day,
        "event_type": event_type,
        "civilian_targeting": "",
        "iso": "729",
        "fatalities": fatalities,
    }


def test_access_restriction_is_surfaced_and_embargoed_periods_get_no_value() -> None:
    restrictions = {
        "countries": [],
        "date_recency": {"quantity": 12, "unit": "Months", "date": "2024-06-30"},
    }
    page = {
        "status": 200,
        "success": True,
        "data_query_restrictions": restrictions,
        "data": [
            synthetic_event("SDN1", "2024-02-03", "Violence against civilians", "5"),
            synthetic_event("SDN2", "2024-06-30", "Battles", "NA"),
        ],
    }
    payload = run(FakeAcled([page], {"data": []}), TokenStore(Clock()))
    got = values(payload)
    assert ("SDN", "acled.violence_against_civilians_fatalities", "2024") not in got
    assert got[("SDN", "acled.monthly_violence_against_civilians_fatalities", "2024-02")] == 5
    assert got[("SDN", "acled.monthly_battles_events", "2024-06")] == 1
    assert got[("SDN", "acled.monthly_battles_fatalities", "2024-06")] == 0
    assert payload.details["unknown_values"] == {"fatalities": 1}
    assert payload.details["periods_withheld"] == {"years": ["2024"]}
    assert payload.details["access_restrictions"] == restrictions
    assert "events after 2024-06-30 are not readable" in payload.details["warnings"][0]


def _like(row: dict[str, Any], n: int, **fields: str) -> dict[str, Any]:
    """A row in the recorded page's layout (every field a string), changed where given."""
    return {**row, "event_id_cnty": f"UKR9{n:05d}", **fields}


def test_repressed_protests_and_attacks_on_defenders_are_counted(shared_dir: Path) -> None:
    """The recorded page has the detail fields (sub_event_type, actor2, assoc_actor_2) and none
    of these events, so both counts are zero there; rows in its layout add two repressed
    protests, a peaceful one, two attacks on defenders (one naming them beside another group)
    and an attack on other civilians."""
    page, empty = real_pages(shared_dir)
    recorded = page["data"]
    assert all({"sub_event_type", "actor2", "assoc_actor_2"} <= set(r) for r in recorded)
    fake = FakeAcled([page], empty)
    got = values(run(fake, TokenStore(Clock())))
    for key in (
        "protests_repressed_events",
        "attacks_on_defenders_events",
        "attacks_on_identity_groups_events",
    ):
        assert got[("UKR", f"acled.monthly_{key}", "2024-01")] == 0
        assert got[("UKR", f"acled.{key}", "2024")] == 0
    asked = fake.read_requests[0].url.params["fields"].split("|")
    assert {"sub_event_type", "actor2", "assoc_actor_2"} <= set(asked)

    base = recorded[0]
    civilians = {
        "event_type": "Violence against civilians",
        "sub_event_type": "Attack",
        "civilian_targeting": "Civilian targeting",
        "actor2": "Civilians (Ukraine)",
    }
    added = [
        _like(base, 1, event_type="Protests", sub_event_type="Protest with intervention"),
        _like(base, 2, event_type="Protests", sub_event_type="Excessive force against protesters"),
        _like(base, 3, event_type="Protests", sub_event_type="Peaceful protest"),
        _like(base, 4, **civilians, assoc_actor_2="Journalists (Ukraine)", fatalities="1"),
        _like(
            base,
            5,
            **civilians,
            assoc_actor_2="Women (Ukraine); Labor Group (Ukraine)",
            event_date="2024-02-03",
            fatalities="2",
        ),
        _like(base, 6, **civilians, assoc_actor_2="Farmers (Ukraine)"),
        _like(base, 7, **civilians, assoc_actor_2="Rohingya Ethnic Group (Myanmar)"),
        _like(base, 8, **civilians, assoc_actor_2="Muslim Group (India); Women (India)"),
        _like(base, 9, **civilians, assoc_actor_2="Muslim Brotherhood (Egypt)"),
    ]
    page = {**page, "data": recorded + added}
    got = values(run(FakeAcled([page], empty), TokenStore(Clock())))
    assert got[("UKR", "acled.monthly_protests_repressed_events", "2024-01")] == 2
    assert got[("UKR", "acled.protests_repressed_events", "2024")] == 2
    assert got[("UKR", "acled.monthly_attacks_on_defenders_events", "2024-01")] == 1
    assert got[("UKR", "acled.monthly_attacks_on_defenders_events", "2024-02")] == 1
    assert got[("UKR", "acled.monthly_attacks_on_defenders_fatalities", "2024-02")] == 2
    assert got[("UKR", "acled.attacks_on_defenders_events", "2024")] == 2
    assert got[("UKR", "acled.attacks_on_defenders_fatalities", "2024")] == 3
    assert got[("UKR", "acled.monthly_attacks_on_identity_groups_events", "2024-01")] == 2
    assert got[("UKR", "acled.monthly_attacks_on_identity_groups_events", "2024-02")] == 0


def test_rows_without_the_detail_fields_leave_those_counts_missing(shared_dir: Path) -> None:
    """A zero would read as calm: without sub_event_type and the target fields the counts are
    left out (missing evidence), with a warning; the other counts are unchanged."""
    page, empty = real_pages(shared_dir)
    bare = [
        {k: v for k, v in row.items() if k not in ("sub_event_type", "actor2", "assoc_actor_2")}
        for row in page["data"]
    ]
    payload = run(FakeAcled([{**page, "data": bare}], empty), TokenStore(Clock()))
    got = values(payload)
    assert got[("UKR", "acled.monthly_events", "2024-01")] == 8
    assert not [k for k in got if any(w in k[1] for w in ("repressed", "defenders", "identity"))]
    assert payload.details["rows_without_detail_fields"] == 8
    assert any("not counted" in w for w in payload.details["warnings"])
