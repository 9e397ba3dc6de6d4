"""Alerting benchmark: rule evaluation over a year of noisy weekly runs, then delivery.

    .venv/bin/python benchmarks/alerts.py [--countries 200] [--weeks 52] [--subscriptions 500]
                                          [--database-url URL] [--seed 1]

200 countries x 52 weekly runs with noisy composite scores, factor scores and onset
probabilities go through the configured rules (config/alerting.yaml); 500 subscriptions of 150
focal points (countries, regions, minimum levels, rule kinds, overlapping on purpose) receive
them by webhook on a loopback HTTP server. Reported: alerts opened, notifications queued and
delivered, duplicates (an event reaching one recipient twice on one channel; must be 0), and
deliveries per second through the worker, next to raw signed POSTs per second to the same
receiver in the same run (the machine is small and noisy: read the ratio).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from collections import Counter
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from earlywarn import encryption
from earlywarn.alerting.evaluation import evaluate_alerts
from earlywarn.alerting.models import AlertEvent, AlertEventKind
from earlywarn.alerting.rules import CountryInput, RunRef, SourceHealth
from earlywarn.app.migrations import upgrade_to_head
from earlywarn.auth.models import FocalPoint
from earlywarn.countries.models import Country
from earlywarn.countries.service import seed_countries
from earlywarn.db import create_db_engine, make_session_factory, session_scope, utc_now
from earlywarn.framework.config import load_configuration
from earlywarn.notify.alert_events import hand_over
from earlywarn.notify.channels import SmtpSettings, send_webhook
from earlywarn.notify.delivery import DeliveryWorker
from earlywarn.notify.models import Channel, OutboxMessage, OutboxStatus, Subscription
from earlywarn.notify.service import new_webhook_secret
from earlywarn.types import RiskLevel

REPO = Path(__file__).resolve().parent.parent
RULE_KINDS = ["level_at_least", "level_rise", "onset_probability", "risk_factor"]


class _Receiver:
    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.ids[self.headers.get("webhook-id", "")] += 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _level(composite: float, thresholds: Any) -> RiskLevel:
    if composite >= thresholds.emergency:
        return RiskLevel.EMERGENCY
    if composite >= thresholds.warning:
        return RiskLevel.WARNING
    if composite >= thresholds.concern:
        return RiskLevel.CONCERN
    return RiskLevel.LOW


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--countries", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--subscriptions", type=int, default=500)
    parser.add_argument("--focal-points", type=int, default=150)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--noise", type=float, default=0.02, help="weekly noise (sd) on composite scores"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)

    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'alerts-bench.db'}"
    engine = create_db_engine(url)
    # A throwaway database: a throwaway key for the webhook secrets stored encrypted.
    encryption.configure(encryption.KeyRing([encryption.new_key()]))
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    config = load_configuration(REPO / "config")
    receiver = _Receiver()

    with session_scope(factory) as session:
        seed_countries(session)
        countries = list(
            session.scalars(
                select(Country)
                .where(Country.is_historical.is_(False), Country.region.is_not(None))
                .order_by(Country.iso3)
                .limit(args.countries)
            )
        )
        iso3s = [c.iso3 for c in countries]
        regions = sorted({c.region for c in countries if c.region})
        points = [
            FocalPoint(
                name=f"desk-{i}",
                webhook_url=receiver.url,
                webhook_secret=new_webhook_secret(),
                active=True,
                webhook_consecutive_failures=0,
            )
            for i in range(args.focal_points)
        ]
        session.add_all(points)
        session.flush()
        for i in range(args.subscriptions):
            # The first subscriptions give every focal point one; the rest overlap with them.
            point = points[i % len(points)]
            scope = rng.random()
            session.add(
                Subscription(
                    focal_point_id=point.id,
                    # 80 % follow one country, 18 % a region, 2 % everything.
                    country_iso3=rng.choice(iso3s) if scope < 0.8 else None,
                    region=rng.choice(regions) if 0.8 <= scope < 0.98 else None,
                    min_level=rng.choice(
                        [
                            RiskLevel.CONCERN,
                            RiskLevel.WARNING,
                            RiskLevel.WARNING,
                            RiskLevel.EMERGENCY,
                        ]
                    ),
                    rule_kinds=rng.sample(RULE_KINDS, rng.randint(1, 3))
                    if rng.random() < 0.3
                    else None,
                    channel=Channel.WEBHOOK,
                )
            )

    # Noisy scores: each country has a base risk and a slow drift, plus weekly noise.
    base = {iso3: rng.betavariate(2, 4) for iso3 in iso3s}
    drift = {iso3: rng.gauss(0, 0.004) for iso3 in iso3s}
    history: dict[str, list[tuple[float, RiskLevel]]] = {iso3: [] for iso3 in iso3s}
    thresholds = config.scoring.levels
    start = date(2026, 1, 5)
    evaluate_seconds = 0.0
    for week in range(args.weeks):
        inputs = []
        for iso3 in iso3s:
            composite = min(
                0.99, max(0.0, base[iso3] + drift[iso3] * week + rng.gauss(0, args.noise))
            )
            level = _level(composite, thresholds)
            factors = {n: min(1.0, max(0.0, composite + rng.gauss(0, 0.15))) for n in range(1, 15)}
            probability = min(1.0, max(0.0, composite * 0.5 + rng.gauss(0, 0.05)))
            inputs.append(
                CountryInput(
                    iso3=iso3,
                    level=level,
                    composite=composite,
                    factor_scores=factors,
                    history=list(history[iso3][-8:]),
                    onset_probability_1y=probability * 0.6,
                    onset_probability_2y=probability,
                )
            )
            history[iso3].append((composite, level))
        sources = [SourceHealth("ewp", "healthy" if week % 13 else "stale", "synthetic")]
        started = time.perf_counter()
        with session_scope(factory) as session:
            outcome = evaluate_alerts(
                session, config, RunRef(None, start + timedelta(weeks=week)), inputs, sources
            )
            hand_over(session, config.alerting.escalation, outcome.updates)
        evaluate_seconds += time.perf_counter() - started

    with factory() as session:
        opened = (
            session.scalar(
                select(func.count())
                .select_from(AlertEvent)
                .where(AlertEvent.kind == AlertEventKind.OPENED)
            )
            or 0
        )
        events = session.scalar(select(func.count()).select_from(AlertEvent)) or 0
        queued = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        duplicate_groups = session.execute(
            select(
                OutboxMessage.alert_event_id, OutboxMessage.focal_point_id, OutboxMessage.channel
            )
            .group_by(
                OutboxMessage.alert_event_id, OutboxMessage.focal_point_id, OutboxMessage.channel
            )
            .having(func.count() > 1)
        ).all()

    # Baseline: raw signed POSTs to the same receiver, no database.
    client = httpx.Client()
    secret = [new_webhook_secret()]
    sample = {"alert": {"id": 1, "summary": "x" * 600}, "version": 1}
    raw_count = 500
    started = time.perf_counter()
    for i in range(raw_count):
        send_webhook(
            client, receiver.url, msg_id=f"raw_{i}", payload=sample, secrets=secret,
            timestamp=utc_now(),
            timeout_seconds=5,
        )  # fmt: skip
    raw_per_second = raw_count / (time.perf_counter() - started)

    worker = DeliveryWorker(
        factory,
        config.alerting.delivery.model_copy(update={"batch_size": 200}),
        SmtpSettings(host="127.0.0.1", port=9, sender="bench@example.org"),
        base_url="http://127.0.0.1:8000",
        client=client,
        # The receiver is on loopback, which outbound safety refuses unless allow-listed,
        # as an administrator would with EARLYWARN_WEBHOOK_ALLOW_HOSTS.
        allow_hosts=("127.0.0.1",),
    )
    started = time.perf_counter()
    stats = worker.drain(max_passes=100_000)
    delivery_seconds = time.perf_counter() - started
    worker.close()
    with factory() as session:
        sent = (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.SENT)
            )
            or 0
        )
    received_twice = sum(
        1 for webhook_id, n in receiver.ids.items() if n > 1 and not webhook_id.startswith("raw_")
    )
    delivered_per_second = stats.delivered / delivery_seconds if delivery_seconds else 0.0
    receiver.server.shutdown()

    backend = engine.dialect.name
    figures = {
        "benchmark": "alerts",
        "backend": backend,
        "countries": len(iso3s),
        "weeks": args.weeks,
        "subscriptions": args.subscriptions,
        "focal_points": args.focal_points,
        "alerts_opened": opened,
        "alert_events": events,
        "notifications_queued": queued,
        "notifications_sent": sent,
        "duplicates": len(duplicate_groups) + received_twice,
        "evaluate_seconds_per_run": round(evaluate_seconds / args.weeks, 4),
        "deliveries_per_second": round(delivered_per_second, 1),
        "raw_posts_per_second": round(raw_per_second, 1),
        "delivery_to_raw_ratio": round(delivered_per_second / raw_per_second, 3),
        "goal_deliveries_per_second": 200,
    }
    print(
        f"backend {backend}: {len(iso3s)} countries x {args.weeks} weekly runs, "
        f"{args.subscriptions} subscriptions of {args.focal_points} focal points"
    )
    print(
        f"  alerts opened {opened} ({events} alert events), rule evaluation "
        f"{figures['evaluate_seconds_per_run']} s per run"
    )
    print(f"  notifications queued {queued}, sent {sent}, duplicates {figures['duplicates']}")
    print(
        f"  delivery worker {figures['deliveries_per_second']}/s vs raw signed POSTs "
        f"{figures['raw_posts_per_second']}/s (ratio {figures['delivery_to_raw_ratio']}); "
        "goal >= 200/s"
    )
    print(json.dumps(figures))
    tmp.cleanup()


if __name__ == "__main__":
    main()
