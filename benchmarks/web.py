"""Web interface benchmark: server time of each page and the bytes of its first load.

    .venv/bin/python benchmarks/web.py [--ewp PATH] [--repeat 30] [--database-url URL]

Loads the EWP file (default ../shared/data/ewp/prepared2024predictors-2025-09-03.csv) into a
fresh database (a SQLite file in a temporary folder unless --database-url names another),
scores the history 2015-2024 and a live run as of 2025-06-30 (which opens alerts), records
three actions on the first alert, records two analyst assessments of Sudan (one approved, one
pending review), signs an administrator in, and requests every page --repeat
times through the application in-process (no network: the time is the server's). First load:
the page's HTML plus every same-origin file it references (the style sheet), as a browser
with an empty cache fetches them.
Goals (issue 13): p95 <= 300 ms on SQLite, first load <= 1 MB (with the map).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting import responses
from earlywarn.alerting.models import Alert
from earlywarn.alerting.response_schemas import ActionIn
from earlywarn.app.factory import create_app
from earlywarn.app.migrations import upgrade_to_head
from earlywarn.app.pipeline import backfill_history, prepare_database, score_and_alert
from earlywarn.assessments import service as assessments
from earlywarn.assessments.models import Confidence
from earlywarn.assessments.schemas import AssessmentIn
from earlywarn.auth import accounts
from earlywarn.auth.service import Principal
from earlywarn.db import create_db_engine, make_session_factory, session_scope, utc_now
from earlywarn.framework.config import Configuration, load_configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.settings import Settings
from earlywarn.types import Role

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EWP = REPO.parent / "shared/data/ewp/prepared2024predictors-2025-09-03.csv"
PASSWORD = "benchmark passphrase"
HTML = {"Accept": "text/html"}
# Assessments need two people (four-eyes): an author and a second analyst who approves.
AUTHOR = Principal(key_id=901, name="Benchmark author", role=Role.ANALYST, focal_point_id=None)
REVIEWER = Principal(key_id=902, name="Benchmark reviewer", role=Role.ANALYST, focal_point_id=None)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _record_assessments(session: Session, config: Configuration) -> tuple[int, int]:
    """Two assessments of Sudan, as analysts write them: one approved (the list shows both),
    one pending, whose page carries the review forms. Returns their ids, approved first."""
    ids = []
    for factor, level in ((12, "high"), (7, "moderate")):
        body = AssessmentIn(
            country_iso3="SDN",
            risk_factor=factor,
            level=level,
            confidence=Confidence.MEDIUM,
            evidence=f"Benchmark assessment of risk factor {factor}: field reports from the "
            "desk and the latest UN panel of experts' findings. " * 4,
            links=["https://example.org/report", "https://example.org/panel"],
            valid_until=utc_now().date() + timedelta(days=180),  # any day it runs
        )
        ids.append(assessments.create(session, config.assessments, body, AUTHOR).id)
    assessments.approve(session, ids[0], REVIEWER, note="checked against the panel report")
    return ids[0], ids[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ewp", type=Path, default=DEFAULT_EWP)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="earlywarn-web-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'web.db'}"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    config = load_configuration(REPO / "config")
    started = time.perf_counter()
    prepare_database(factory, config)
    run = ingest_service.import_file(factory, args.ewp, "ewp")
    assert run.error is None, run.error
    backfill_history(factory, config, from_year=2015, to_year=2024, today=date(2025, 7, 1))
    score_and_alert(factory, config, as_of=date(2025, 6, 30))
    with session_scope(factory) as session:
        accounts.create_user(session, email="admin@example.org", password=PASSWORD, role=Role.ADMIN)
        alert = session.scalars(select(Alert).order_by(Alert.id)).first()
        assert alert is not None, "the live run opened no alert"
        alert_id = alert.id
        # The alert page as it is once a desk works on it: three recorded actions.
        for item in alert.priority_actions[:3]:
            responses.record_action(
                session, config, alert_id,
                ActionIn(catalogue_code=item["code"], who_acts="Benchmark desk"),
                actor="benchmark", administrator=True, focal_point_id=None, refusal=None,
            )  # fmt: skip
        approved_id, pending_id = _record_assessments(session, config)
    print(f"data loaded and scored in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")

    # A throwaway database: a throwaway key for secrets at rest, unless one is set.
    keys = os.environ.get("EARLYWARN_SECRET_KEYS") or Fernet.generate_key().decode()
    settings = Settings(_env_file=None, data_dir=tmp, scheduler_enabled=False, secret_keys=keys)
    app = create_app(settings=settings, engine=engine, configuration=config)
    pages = {
        "login": "/login",
        "overview": "/",
        "country": "/countries/SDN",
        "inbox": "/inbox",
        "alert": f"/alerts/{alert_id}",
        "assessments": "/assessments",
        "assess_new": "/assessments/new",
        "assessment": f"/assessments/{pending_id}",
        "weights": "/admin/weights",
        "users": "/admin/users",
    }
    # What the seeded pages must show, so a page that lost its content is not timed as fast.
    expected = {
        "assessments": [f'href="/assessments/{i}"' for i in (approved_id, pending_id)],
        "assessment": [f'action="/assessments/{pending_id}/approve"'],
    }
    results: dict[str, dict[str, float]] = {}
    with TestClient(app) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        signed_in = client.post(
            "/login",
            data={"email": "admin@example.org", "password": PASSWORD, "csrf_token": token[1]},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303, signed_in.text
        anonymous = TestClient(app)  # the sign-in page, as someone not signed in sees it
        for name, path in pages.items():
            browser = anonymous if name == "login" else client
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                response = browser.get(path, headers=HTML, follow_redirects=False)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            assert all(text in response.text for text in expected.get(name, [])), path
            assets = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', response.text))
            first_load = len(response.content) + sum(len(browser.get(a).content) for a in assets)
            results[name] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(_percentile(times, 0.95), 1),
                "first_load_bytes": first_load,
            }
            print(
                f"{name:11s} {path:18s} p50 {results[name]['p50_ms']:7.1f} ms  "
                f"p95 {results[name]['p95_ms']:7.1f} ms  first load {first_load / 1024:7.1f} KiB"
            )
    engine.dispose()
    print(json.dumps({"benchmark": "web", "backend": url.split(":")[0], "pages": results}))


if __name__ == "__main__":
    main()
