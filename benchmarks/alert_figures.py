"""The alert figures of issue 15 on the EWP data, end to end, in a fresh database.

    .venv/bin/python benchmarks/alert_figures.py [--ewp-file PATH] [--as-of 2025-12-31]
                                              [--database-url URL]

Imports the EWP file with the CLI (``earlywarn import``), registers a few focal points with
subscriptions (a Sudan desk by e-mail and webhook, an Africa regional desk from 'warning',
a headquarters desk for every country from 'concern'), scores once with the CLI
(``earlywarn score --as-of``), which evaluates the alert rules and queues the messages, and
prints: the alerts by rule and level, the messages each recipient gets for the run (and how
many alerts they carry), the distribution of the number of priority actions per alert, the
warning-response report's figures, and one JSON line with the same figures. Nothing is
delivered: the outbox is what the delivery worker would send.

Without ``--database-url`` a throw-away SQLite file is used.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from earlywarn.alerting import lifecycle, responses
from earlywarn.alerting.models import Alert
from earlywarn.alerting.response_models import ActionStatus
from earlywarn.alerting.response_report import build_report
from earlywarn.alerting.response_schemas import ActionIn, ActionPatch
from earlywarn.app.keys import configure_secrets
from earlywarn.auth.models import FocalPoint
from earlywarn.db import create_db_engine, make_session_factory, session_scope, utc_now
from earlywarn.framework.config import Configuration, load_configuration
from earlywarn.notify.alert_events import AlertNotifier
from earlywarn.notify.models import Channel, OutboxMessage, OutboxMessageAlert, Subscription
from earlywarn.settings import Settings
from earlywarn.types import RiskLevel

ROOT = Path(__file__).resolve().parents[1]
EWP_FILE = ROOT.parent / "shared" / "data" / "ewp" / "prepared2024predictors-2025-09-03.csv"


def _cli(env: dict[str, str], *args: str) -> None:
    command = [str(Path(sys.executable).with_name("earlywarn")), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _subscribe(session: Session) -> None:
    def point(name: str, **extra: Any) -> FocalPoint:
        focal_point = FocalPoint(name=name, active=True, **extra)
        session.add(focal_point)
        session.flush()
        return focal_point

    sudan = point(
        "Sudan desk", email="sudan@example.org", webhook_url="https://hooks.example.org/sudan"
    )
    africa = point("Africa regional desk", email="africa@example.org")
    hq = point("Headquarters", email="hq@example.org")
    session.add_all(
        [
            Subscription(
                focal_point_id=sudan.id, country_iso3="SDN", min_level=RiskLevel.LOW,
                channel=Channel.EMAIL,
            ),
            Subscription(
                focal_point_id=sudan.id, country_iso3="SDN", min_level=RiskLevel.LOW,
                channel=Channel.WEBHOOK,
            ),
            Subscription(
                focal_point_id=africa.id, region="Africa", min_level=RiskLevel.WARNING,
                channel=Channel.EMAIL,
            ),
            Subscription(
                focal_point_id=hq.id, min_level=RiskLevel.CONCERN, channel=Channel.EMAIL
            ),
        ]
    )  # fmt: skip


def _sudan_desk_acts(session: Session, config: Configuration) -> int:
    """The Sudan desk acknowledges Sudan's alerts and takes the first priority action of each
    (planned, then done): the loop the warning-response report measures. Its own
    acknowledgement queues it nothing (the Africa desk and headquarters hear of it)."""
    desk = session.scalars(select(FocalPoint).where(FocalPoint.name == "Sudan desk")).one()
    notifier = AlertNotifier(config.alerting.escalation, config.action_map.priority.max_actions)
    acted = 0
    for alert in session.scalars(select(Alert).where(Alert.country_iso3 == "SDN")).all():
        actor = f"focal point {desk.id} (figures script)"
        update = lifecycle.acknowledge(
            session, alert.id, actor=actor, note="desk convened", administrator=False,
            focal_point_id=desk.id, access=notifier,
        )  # fmt: skip
        notifier.hand_over(session, [update])
        first = (alert.priority_actions or [{}])[0]
        if not first.get("code"):
            continue
        access: dict[str, Any] = {
            "actor": actor, "administrator": False, "focal_point_id": desk.id,
            "refusal": notifier.refusal_to_act,
        }  # fmt: skip
        action = responses.record_action(
            session, config, alert.id,
            ActionIn(catalogue_code=first["code"], who_acts="Sudan desk"), **access,
        )  # fmt: skip
        responses.update_action(
            session, alert.id, action.id,
            ActionPatch(status=ActionStatus.DONE, outcome_note="done (figures script)"), **access,
        )  # fmt: skip
        acted += 1
    return acted


def _messages(session: Session) -> list[dict[str, Any]]:
    carried = dict(
        session.execute(
            select(OutboxMessageAlert.outbox_message_id, func.count()).group_by(
                OutboxMessageAlert.outbox_message_id
            )
        ).all()
    )
    rows = session.execute(
        select(OutboxMessage.id, FocalPoint.name, OutboxMessage.channel, OutboxMessage.purpose)
        .join(FocalPoint, FocalPoint.id == OutboxMessage.focal_point_id)
        .order_by(OutboxMessage.id)
    ).all()
    return [
        {"recipient": name, "channel": ch.value, "purpose": p, "alerts": 1 + carried.get(i, 0)}
        for i, name, ch, p in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ewp-file", type=Path, default=EWP_FILE)
    parser.add_argument("--as-of", default="2025-12-31")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if not args.ewp_file.is_file():
        sys.exit(f"EWP file not found: {args.ewp_file}")
    work = Path(tempfile.mkdtemp(prefix="alert-figures-"))
    url = args.database_url or f"sqlite:///{work / 'earlywarn.db'}"
    env = {
        **os.environ,
        "EARLYWARN_DATABASE_URL": url,
        "EARLYWARN_DATA_DIR": str(work / "data"),
        "EARLYWARN_MODELS_DIR": str(work / "models"),
    }
    _cli(env, "import", str(args.ewp_file))
    engine = create_db_engine(url)
    configure_secrets(Settings(database_url=url, data_dir=work / "data"), engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        _subscribe(session)
    _cli(env, "score", "--as-of", args.as_of)
    with factory() as session:
        messages = _messages(session)  # the run's, before anyone acts
    with session_scope(factory) as session:
        acted = _sudan_desk_acts(session, load_configuration(ROOT / "config"))

    with factory() as session:
        alerts = [a for a in session.scalars(select(Alert).order_by(Alert.id)) if not a.operational]
        by_rule = Counter((a.rule_id, a.level.value) for a in alerts)
        counts = Counter(len(a.priority_actions or []) for a in alerts)
        after_acts = _messages(session)[len(messages) :]
        report = build_report(session, now=utc_now(), open_days=14)
    per_recipient = Counter((m["recipient"], m["channel"]) for m in messages)
    carried: Counter[tuple[str, str]] = Counter()
    for m in messages:
        carried[(m["recipient"], m["channel"])] += m["alerts"]
    countries = len({a.country_iso3 for a in alerts})
    print(f"EWP run as of {args.as_of}: {len(alerts)} country alerts in {countries} countries")
    print("alerts by rule and level:")
    for (rule, level), n in sorted(by_rule.items()):
        print(f"  {rule:<24} {level:<10} {n}")
    print("messages per recipient for the run (alerts they carry):")
    for (name, channel), n in sorted(per_recipient.items()):
        print(f"  {name:<22} {channel:<8} {n:>3} messages ({carried[(name, channel)]} alerts)")
    print("priority actions per alert (number of actions: alerts):", dict(sorted(counts.items())))
    first_imminent = sum(
        1 for a in alerts if a.priority_actions and a.priority_actions[0]["imminent"]
    )
    print(f"alerts whose first priority action is an imminent-risk row: {first_imminent}")
    acks = Counter(m["recipient"] for m in after_acts)
    print(
        f"the Sudan desk acknowledged Sudan's alerts and completed {acted} actions; "
        f"acknowledgement messages queued: {dict(sorted(acks.items()))} (none to the Sudan desk)"
    )
    print("warning-response report totals:", report.totals)
    print("  medians (hours) overall:", report.overall.model_dump())
    for level, medians in report.by_level.items():
        print(f"  level {level}: {medians.model_dump()}")
    print(
        json.dumps(
            {
                "as_of": args.as_of,
                "alerts": len(alerts),
                "countries": countries,
                "alerts_by_rule_level": {f"{r}/{lv}": n for (r, lv), n in sorted(by_rule.items())},
                "messages_per_recipient": {
                    f"{name}/{channel}": n for (name, channel), n in sorted(per_recipient.items())
                },
                "alerts_carried_per_recipient": {
                    f"{name}/{channel}": n for (name, channel), n in sorted(carried.items())
                },
                "priority_actions_distribution": {str(k): v for k, v in sorted(counts.items())},
                "first_action_imminent": first_imminent,
                "actions_done_by_sudan_desk": acted,
                "acknowledgement_messages": dict(sorted(acks.items())),
                "report_totals": report.totals,
            }
        )
    )


if __name__ == "__main__":
    main()
