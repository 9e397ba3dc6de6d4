"""The warning-response report: how fast warnings turn into acknowledgement, action and
resolution (the SG's 2024 R2P report: warnings come late, are not acknowledged, and responses
come too late). Per country alert: hours from opening to the first acknowledgement, to the
first recorded action, to resolution; medians overall, by region and by level; and the open
alerts older than ``open_days`` with no recorded action.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy.orm import Session

from earlywarn.alerting import response_repository as queries
from earlywarn.alerting.models import AlertState
from earlywarn.alerting.response_schemas import MedianHours, ResponseRow, WarningResponseReport

NO_REGION = "(no region)"


def _hours(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds() / 3600, 2)


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(median(present), 2) if present else None


def _medians(rows: Sequence[ResponseRow]) -> MedianHours:
    return MedianHours(
        alerts=len(rows),
        to_acknowledgement=_median([r.hours_to_acknowledgement for r in rows]),
        to_first_action=_median([r.hours_to_first_action for r in rows]),
        to_resolution=_median([r.hours_to_resolution for r in rows]),
    )


def build_report(
    session: Session,
    *,
    now: datetime,
    open_days: int,
    opened_from: datetime | None = None,
    opened_to: datetime | None = None,
) -> WarningResponseReport:
    acknowledged = queries.first_acknowledgements(session)
    actions = queries.action_counts(session)
    regions = queries.regions(session)
    rows: list[ResponseRow] = []
    for alert in queries.country_alerts(session, opened_from, opened_to):
        first_action, count, done = actions.get(alert.id, (None, 0, 0))
        ack = acknowledged.get(alert.id)
        resolved = alert.resolved_at if alert.state is AlertState.RESOLVED else None
        rows.append(
            ResponseRow(
                alert_id=alert.id,
                rule_id=alert.rule_id,
                country_iso3=alert.country_iso3,
                region=regions.get(alert.country_iso3 or ""),
                level=alert.level,
                state=alert.state.value,
                opened_at=alert.opened_at,
                acknowledged_at=ack,
                first_action_at=first_action,
                resolved_at=resolved,
                hours_to_acknowledgement=_hours(alert.opened_at, ack),
                hours_to_first_action=_hours(alert.opened_at, first_action),
                hours_to_resolution=_hours(alert.opened_at, resolved),
                actions=count,
                actions_done=done,
            )
        )
    by_region: dict[str, list[ResponseRow]] = defaultdict(list)
    by_level: dict[str, list[ResponseRow]] = defaultdict(list)
    for row in rows:
        by_region[row.region or NO_REGION].append(row)
        by_level[row.level.value].append(row)
    cutoff = now - timedelta(days=open_days)
    overdue = [
        r for r in rows if r.state != AlertState.RESOLVED.value and r.actions == 0
        and r.opened_at <= cutoff
    ]  # fmt: skip
    return WarningResponseReport(
        generated_at=now,
        open_days=open_days,
        alerts=rows,
        overall=_medians(rows),
        by_region={k: _medians(v) for k, v in sorted(by_region.items())},
        by_level={k: _medians(v) for k, v in sorted(by_level.items())},
        open_without_action=overdue,
        totals={
            "alerts": len(rows),
            "acknowledged": sum(1 for r in rows if r.acknowledged_at is not None),
            "with_action": sum(1 for r in rows if r.actions > 0),
            "resolved": sum(1 for r in rows if r.resolved_at is not None),
            "open_without_action": len(overdue),
        },
    )


CSV_COLUMNS = tuple(ResponseRow.model_fields)


def report_csv(report: WarningResponseReport) -> str:
    """One row per alert, the columns of ``ResponseRow``; times in ISO 8601 UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.alerts:
        data = row.model_dump(mode="json")
        writer.writerow(["" if data[c] is None else data[c] for c in CSV_COLUMNS])
    return out.getvalue()
