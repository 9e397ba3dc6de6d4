"""Alert commands: ``deliver``, the delivery worker (outbox -> webhooks and e-mail) and the
escalation of unacknowledged alerts."""

from __future__ import annotations

import signal
from contextlib import suppress
from typing import Annotated

import typer

from earlywarn.app import logs
from earlywarn.app.cli._shared import console, database, load_config
from earlywarn.db import session_scope
from earlywarn.notify.delivery import DeliveryStats, worker_from_settings
from earlywarn.notify.escalation import escalate_due
from earlywarn.settings import get_settings


def deliver(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit (for cron).")
    ] = False,
) -> None:
    """Run the delivery worker: outbox -> webhooks and e-mail, with retries; and escalations.

    Safe to run next to `serve` or another worker: rows are claimed with a lease (and SKIP
    LOCKED on PostgreSQL). A worker killed mid-delivery loses nothing: its lease expires and
    the message is sent again with the same webhook-id.
    """

    run_worker(once=once)


def run_worker(*, once: bool) -> None:
    logs.configure()
    settings = get_settings()
    config = load_config(settings)
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))

    def report(stats: DeliveryStats) -> None:
        if stats.claimed:
            console.print(
                f"delivered {stats.delivered}, retrying {stats.retried}, failed {stats.failed}"
                + (
                    f", endpoints disabled {stats.endpoints_disabled}"
                    if stats.endpoints_disabled
                    else ""
                )
            )

    with database(settings) as (_, factory):
        worker = worker_from_settings(factory, settings, config.alerting.delivery)
        try:
            if once:
                with session_scope(factory) as session:
                    escalate_due(session)
                report(worker.drain())
            else:
                console.print("delivery worker running; Ctrl-C or SIGTERM stops it")
                with suppress(KeyboardInterrupt):
                    worker.run(stop=lambda: bool(stopping), on_pass=report)
        finally:
            worker.close()
