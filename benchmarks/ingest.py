"""Ingest benchmark: one million World-Bank-shaped observations, loaded and then re-loaded.

    .venv/bin/python benchmarks/ingest.py [--postgres-url URL] [--observations N]

The payload is synthetic but has the World Bank API v2 shape (``[meta, rows]`` pages of 1,000
rows, one indicator per request, a ``/country`` list), generated before timing starts and
served through ``httpx.MockTransport``. What is timed is the real path of
``ingest_source("worldbank")``: the retrying client, JSON decoding and validation, the raw
payload archive, the comparison against current vintages, and the bulk insert (COPY on
PostgreSQL). Three loads on a fresh database per backend:

1. first load: every value is new;
2. re-load of the same bytes: recognised by digest, nothing added (must add 0 rows);
3. re-load with one value revised: the full row-by-row comparison, one row added.

Runs on SQLite and, when ``--postgres-url`` or EARLYWARN_TEST_POSTGRES_URL is given, on
PostgreSQL (a throwaway database). Prints figures and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import create_engine, func, make_url, select, text

from earlywarn.app.migrations import upgrade_to_head
from earlywarn.countries.models import Country
from earlywarn.countries.service import seed_countries
from earlywarn.db import create_db_engine, make_session_factory, session_scope
from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import WorldBankSourceConfig
from earlywarn.ingest.service import ingest_source
from earlywarn.observations.models import Observation
from earlywarn.settings import Settings

BASE = "https://wb.bench/v2"
FIRST_YEAR = 1975
YEARS = 50
COUNTRIES = 200
PER_PAGE = 1000
GOAL_PG_OBS_PER_SECOND = 50_000
GOAL_RERUN_SPEEDUP = 3.0


def build_payload(observations: int) -> tuple[dict[tuple[str, int], bytes], list[str], list[str]]:
    """Pages keyed by (request path, page number), the indicator ids, the country codes."""
    indicator_count = max(1, observations // (COUNTRIES * YEARS))
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{tmp}/c.db")
        upgrade_to_head(engine)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            seed_countries(session)
        with factory() as session:
            codes = list(
                session.scalars(
                    select(Country.iso3)
                    .where(Country.is_historical.is_(False))
                    .order_by(Country.iso3)
                    .limit(COUNTRIES)
                )
            )
        engine.dispose()
    indicators = [f"BENCH.IND.{n:03d}" for n in range(indicator_count)]
    country_list = [
        {"page": 1, "pages": 1, "per_page": "400", "total": len(codes)},
        [{"id": code, "region": {"id": "XX", "value": "Somewhere"}} for code in codes],
    ]
    pages: dict[tuple[str, int], bytes] = {("/v2/country", 1): json.dumps(country_list).encode()}
    for i, indicator in enumerate(indicators):
        rows = [
            {
                "indicator": {"id": indicator, "value": f"Benchmark indicator {i}"},
                "country": {"id": code[:2], "value": code},
                "countryiso3code": code,
                "date": str(year),
                "value": round((i + 1) * 1.5 + c * 0.25 + (year - FIRST_YEAR) * 0.01, 4),
                "unit": "",
                "obs_status": "",
                "decimal": 1,
            }
            for c, code in enumerate(codes)
            for year in range(FIRST_YEAR + YEARS - 1, FIRST_YEAR - 1, -1)
        ]
        total_pages = (len(rows) + PER_PAGE - 1) // PER_PAGE
        for page in range(1, total_pages + 1):
            meta = {
                "page": page,
                "pages": total_pages,
                "per_page": PER_PAGE,
                "total": len(rows),
                "sourceid": "2",
                "lastupdated": "2026-07-01",
            }
            chunk = rows[(page - 1) * PER_PAGE : page * PER_PAGE]
            pages[(f"/v2/country/all/indicator/{indicator}", page)] = json.dumps(
                [meta, chunk]
            ).encode()
    return pages, indicators, codes


def indicators_config(indicators: list[str]) -> IndicatorsConfig:
    return IndicatorsConfig.model_validate(
        {
            "indicators": [
                {
                    "id": f"bench_{n}",
                    "name": f"Benchmark {n}",
                    "risk_factor": 1,
                    "variable": f"wb.{indicator}",
                    "source": "worldbank",
                    "direction": "increases_risk",
                    "normalisation": {"method": "percentile"},
                    "weight": 1.0,
                    "max_age_days": 36500,
                }
                for n, indicator in enumerate(indicators)
            ]
        }
    )


def bench_backend(
    url: str, pages: dict[tuple[str, int], bytes], indicators: list[str]
) -> dict[str, Any]:
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        seed_countries(session)
    served = dict(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        body = served.get((request.url.path, page))
        if body is None:
            return httpx.Response(404, text="not found")
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    settings = Settings(worldbank_base_url=BASE)
    config = indicators_config(indicators)
    source_config = WorldBankSourceConfig(start_year=FIRST_YEAR, end_year=FIRST_YEAR + YEARS - 1)

    def load() -> tuple[Any, float]:
        with httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)) as client:
            started = time.perf_counter()
            run = ingest_source(
                factory,
                settings,
                config,
                "worldbank",
                source_config=source_config,
                client=client,
                trigger="benchmark",
            )
            return run, time.perf_counter() - started

    first, first_s = load()
    assert first.status.value == "succeeded", first.error
    again, again_s = load()
    assert again.status.value == "unchanged", (again.status, again.error)

    # Revise one value on one page: the digest differs, so every row is compared.
    key = (f"/v2/country/all/indicator/{indicators[0]}", 1)
    meta, rows = json.loads(served[key])
    rows[0]["value"] = rows[0]["value"] + 1000
    served[key] = json.dumps([meta, rows]).encode()
    revised, revised_s = load()
    assert revised.status.value == "succeeded", revised.error

    with factory() as session:
        stored = session.scalar(select(func.count()).select_from(Observation)) or 0
    engine.dispose()
    observations = first.rows_read
    return {
        "observations": observations,
        "first_load_seconds": round(first_s, 3),
        "first_load_obs_per_second": round(first.rows_loaded / first_s),
        "rerun_same_seconds": round(again_s, 3),
        "rerun_same_obs_per_second": round(observations / again_s),
        "rerun_same_rows_added": again.rows_loaded,
        "rerun_same_speedup": round(first_s / again_s, 2),
        "rerun_revised_seconds": round(revised_s, 3),
        "rerun_revised_obs_per_second": round(observations / revised_s),
        "rerun_revised_rows_added": revised.rows_loaded,
        "rerun_revised_speedup": round(first_s / revised_s, 2),
        "observations_stored": stored,
        "raw_bytes_archived_first_load": first.details.get("raw_bytes_archived"),
    }


def postgres_database(url: str) -> tuple[str, Any, str]:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"earlywarn_bench_ingest_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False), admin, name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=os.environ.get("EARLYWARN_TEST_POSTGRES_URL"))
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    pages, indicators, codes = build_payload(args.observations)
    print(
        f"payload: {len(indicators)} indicators x {len(codes)} countries x {YEARS} years = "
        f"{len(indicators) * len(codes) * YEARS:,} observations in {len(pages):,} pages, "
        f"{sum(map(len, pages.values())) / 1e6:.0f} MB, built in "
        f"{time.perf_counter() - started:.1f} s (not timed)",
        flush=True,
    )
    results: dict[str, Any] = {}
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = bench_backend(f"sqlite:///{tmp}/bench.db", pages, indicators)
        print(f"sqlite done: {results['sqlite']}", flush=True)
    if args.postgres_url:
        url, admin, name = postgres_database(args.postgres_url)
        try:
            results["postgresql"] = bench_backend(url, pages, indicators)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    for backend, figures in results.items():
        print(f"== {backend}")
        for key, value in figures.items():
            print(f"  {key:34s} {value}")
    verdict: dict[str, Any] = {}
    for backend, figures in results.items():
        verdict[f"{backend}_rerun_adds_nothing"] = figures["rerun_same_rows_added"] == 0
        verdict[f"{backend}_rerun_3x_faster"] = figures["rerun_same_speedup"] >= GOAL_RERUN_SPEEDUP
    if "postgresql" in results:
        verdict["postgresql_first_load_goal_met"] = (
            results["postgresql"]["first_load_obs_per_second"] >= GOAL_PG_OBS_PER_SECOND
        )
    print("== goals")
    for key, value in verdict.items():
        print(f"  {key:34s} {value}")
    results["goals"] = verdict
    print(json.dumps({"benchmark": "ingest", **results}))
    return 0 if all(verdict.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
