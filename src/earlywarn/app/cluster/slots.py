"""Scheduled slots: the fire times of a job's trigger, the same on every node.

A cron trigger fires at fixed wall-clock times; an interval trigger counts from a fixed epoch
(``INTERVAL_EPOCH``), never from a process's start, so two schedulers compute the same slots
and the unique (job, slot) key can tell them apart. APScheduler's triggers do the calendar
arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

INTERVAL_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# How far back a scheduler looks for a missed slot; older ones are not run (their data is
# fetched again by the next run anyway).
MAX_CATCH_UP = timedelta(days=31)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    trigger: BaseTrigger
    run: Callable[[], object]  # what it returns is not used


def cron_trigger(crontab: str) -> CronTrigger:
    return CronTrigger.from_crontab(crontab, timezone="UTC")


def interval_trigger(seconds: float) -> IntervalTrigger:
    return IntervalTrigger(seconds=seconds, start_date=INTERVAL_EPOCH, timezone="UTC")


def first_slot_after(trigger: BaseTrigger, moment: datetime) -> datetime | None:
    """The first fire time strictly after ``moment``."""
    fire: datetime | None = trigger.get_next_fire_time(None, moment + _TICK)
    return fire.astimezone(UTC) if fire is not None else None


def latest_slot(trigger: BaseTrigger, due: datetime, now: datetime) -> datetime:
    """The latest fire time at or before ``now``, starting from the due slot ``due``: the
    slots in between were missed and are coalesced into this one."""
    slot = max(due, first_slot_after(trigger, now - MAX_CATCH_UP - _TICK) or due)
    while True:
        following = first_slot_after(trigger, slot)
        if following is None or following > now:
            return slot
        slot = following
