"""Figures of the alerts in a database, for the closing note of a run (issue 15).

    .venv/bin/python benchmarks/alert_figures.py [--database-url URL] [--add-recipient]

``--add-recipient`` (run it once, after `earlywarn import` and before `earlywarn run-once`)
adds one focal point subscribed by e-mail to every country from 'concern' on, so the run's
outbox shows how many messages one such recipient receives.

Reads the database named by EARLYWARN_DATABASE_URL (or --database-url), typically after
`earlywarn import <EWP file>` and `earlywarn run-once --skip-ingest`. Prints the open alerts
by rule and level, the distribution of the number of priority actions, each alert's first
priority action, and one JSON line with the same figures.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from sqlalchemy import select

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.alerting.response_report import build_report
from earlywarn.app.keys import configure_secrets
from earlywarn.auth.models import FocalPoint
from earlywarn.db import create_db_engine, make_session_factory, utc_now
from earlywarn.notify.models import Channel, OutboxMessage, Subscription
from earlywarn.settings import Settings
from earlywarn.types import RiskLevel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--add-recipient", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    url = args.database_url or settings.resolved_database_url()
    engine = create_db_engine(url)
    configure_secrets(settings, engine)  # focal points' webhook secrets are stored encrypted
    factory = make_session_factory(engine)
    if args.add_recipient:
        with factory() as session:
            recipient = FocalPoint(name="Figures recipient", email="figures@example.org")
            session.add(recipient)
            session.flush()
            session.add(
                Subscription(
                    focal_point_id=recipient.id, min_level=RiskLevel.CONCERN, channel=Channel.EMAIL
                )
            )
            session.commit()
            print(f"focal point {recipient.id} subscribed to every country (e-mail)")
        return
    with factory() as session:
        alerts = [a for a in session.scalars(select(Alert).order_by(Alert.id)) if not a.operational]
        by_rule = Counter((a.rule_id, a.level.value) for a in alerts)
        counts = Counter(len(a.priority_actions or []) for a in alerts)
        first_imminent = sum(
            1 for a in alerts if a.priority_actions and a.priority_actions[0]["imminent"]
        )
        print(f"country alerts: {len(alerts)} in {len({a.country_iso3 for a in alerts})} countries")
        for (rule, level), n in sorted(by_rule.items()):
            print(f"  {rule:<22} {level:<10} {n}")
        print("priority actions per alert (count: alerts):", dict(sorted(counts.items())))
        print(f"alerts whose first priority action is an imminent-risk row: {first_imminent}")
        for a in alerts:
            first = a.priority_actions[0] if a.priority_actions else None
            label = f"{first['code']} {'imminent' if first['imminent'] else ''}" if first else "-"
            print(f"  #{a.id:<4} {a.country_iso3} {a.rule_id:<18} {a.level.value:<9} {label}")
        opened = session.scalars(
            select(AlertEvent.alert_id).where(AlertEvent.kind == AlertEventKind.OPENED)
        ).all()
        per_recipient = Counter(
            session.scalars(select(OutboxMessage.focal_point_id)).all()
        )  # messages actually queued, per focal point and channel
        print(
            f"'opened' events: {len(opened)} -> a recipient subscribed to every country gets "
            f"{len(opened)} messages for the run (one per alert)"
        )
        print("outbox messages per focal point:", dict(sorted(per_recipient.items())) or "none")
        report = build_report(session, now=utc_now(), open_days=14)
        print("warning-response report totals:", report.totals)
        print("medians (hours) overall:", report.overall.model_dump())
        for level, medians in report.by_level.items():
            print(f"  level {level}: {medians.model_dump()}")
        for region, medians in report.by_region.items():
            print(f"  region {region}: {medians.model_dump()}")
        print(
            json.dumps(
                {
                    "opened_events": len(opened),
                    "report_totals": report.totals,
                    "alerts": len(alerts),
                    "countries": len({a.country_iso3 for a in alerts}),
                    "priority_actions_distribution": {str(k): v for k, v in sorted(counts.items())},
                    "first_action_imminent": first_imminent,
                }
            )
        )


if __name__ == "__main__":
    main()
