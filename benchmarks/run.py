"""earlywarn benchmarks: one command, figures on stdout, and a JSON line at the end.

    .venv/bin/python benchmarks/run.py [--postgres-url URL] [--ewp PATH] [--repeat N]

Measures, on SQLite and (when a URL is given or EARLYWARN_TEST_POSTGRES_URL is set) on
PostgreSQL, each on a fresh database: importing the Early Warning Project file (all vintages
written), re-importing it unchanged (digest short-circuit), a scoring run with alert
evaluation, and the latency of GET /scores/latest. The machine is small and noisy: compare
the ratios printed for one run rather than absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, make_url, text

from earlywarn.app.migrations import upgrade_to_head
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.auth import service as auth_service
from earlywarn.db import create_db_engine, make_session_factory, session_scope
from earlywarn.framework.config import load_configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.settings import Settings
from earlywarn.types import Role

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EWP = REPO.parent / "shared" / "data" / "ewp" / "prepared2024predictors-2025-09-03.csv"


def _bench_backend(url: str, ewp: Path, repeat: int) -> dict[str, Any]:
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

    from earlywarn.app.factory import create_app

    config = load_configuration(REPO / "config")
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    prepare_database(factory, config)

    started = time.perf_counter()
    run = ingest_service.import_file(factory, ewp, "ewp")
    import_seconds = time.perf_counter() - started
    assert run.status.value == "succeeded", run.error

    started = time.perf_counter()
    again = ingest_service.import_file(factory, ewp, "ewp")
    reimport_seconds = time.perf_counter() - started
    assert again.status.value == "unchanged", again.status

    scoring_seconds: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        summary = score_and_alert(factory, config, as_of=date(2025, 6, 30))
        scoring_seconds.append(time.perf_counter() - started)

    with session_scope(factory) as session:
        _, key = auth_service.create_key(session, name="bench", role=Role.ANALYST)
    # A throwaway database: a throwaway key for secrets at rest, unless one is set.
    keys = os.environ.get("EARLYWARN_SECRET_KEYS") or Fernet.generate_key().decode()
    app = create_app(
        settings=Settings(scheduler_enabled=False, secret_keys=keys),
        engine=engine,
        configuration=config,
    )
    latencies_ms: list[float] = []
    with TestClient(app) as client:
        for _ in range(max(20, repeat * 10)):
            started = time.perf_counter()
            response = client.get("/scores/latest", headers={"X-API-Key": key})
            latencies_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    engine.dispose()
    return {
        "observations_loaded": run.rows_loaded,
        "import_seconds": round(import_seconds, 3),
        "import_rows_per_second": round(run.rows_loaded / import_seconds),
        "reimport_unchanged_seconds": round(reimport_seconds, 3),
        "score_and_alert_seconds_median": round(statistics.median(scoring_seconds), 3),
        "countries_rated": summary.countries_rated,
        "scores_latest_ms_median": round(statistics.median(latencies_ms), 2),
        "scores_latest_ms_p95": round(sorted(latencies_ms)[int(len(latencies_ms) * 0.95) - 1], 2),
    }


def _postgres_database(url: str) -> tuple[str, Any]:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"earlywarn_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False), (admin, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=os.environ.get("EARLYWARN_TEST_POSTGRES_URL"))
    parser.add_argument("--ewp", type=Path, default=DEFAULT_EWP)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.ewp.is_file():
        print(f"EWP file not found at {args.ewp}; pass --ewp PATH", file=sys.stderr)
        return 2

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = _bench_backend(f"sqlite:///{tmp}/bench.db", args.ewp, args.repeat)
    if args.postgres_url:
        url, (admin, name) = _postgres_database(args.postgres_url)
        try:
            results["postgresql"] = _bench_backend(url, args.ewp, args.repeat)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    for backend, figures in results.items():
        print(f"== {backend}")
        for name, value in figures.items():
            print(f"  {name:32s} {value}")
    if "postgresql" in results:
        sq, pg = results["sqlite"], results["postgresql"]
        results["ratios_postgresql_over_sqlite"] = {
            key: round(pg[key] / sq[key], 2)
            for key in (
                "import_seconds",
                "score_and_alert_seconds_median",
                "scores_latest_ms_median",
            )
        }
        print("== PostgreSQL / SQLite time ratios (same run)")
        for key, value in results["ratios_postgresql_over_sqlite"].items():
            print(f"  {key:32s} {value}")
    print(json.dumps({"benchmark": "earlywarn", **results}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
