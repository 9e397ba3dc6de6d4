"""CSV for list routes: ``?format=csv`` or ``Accept: text/csv`` gets the same rows as a table.

HTTP plumbing only: it flattens any response model, so no stage's schema is imported here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

FormatQuery = Annotated[
    Literal["json", "csv"] | None,
    Query(
        alias="format",
        description="csv for a table (also chosen by `Accept: text/csv`); json by default",
    ),
]


def wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _flat(item: BaseModel) -> dict[str, Any]:
    """One row: nested per-factor scores become ``<field>_<number>`` columns, other lists one
    cell joined with '; ', nested objects a JSON cell."""
    row: dict[str, Any] = {}
    for key, value in item.model_dump(mode="json").items():
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) and "number" in v and "score" in v for v in value)
        ):
            row.update({f"{key}_{v['number']}": v["score"] for v in value})
        elif isinstance(value, list):
            row[key] = "; ".join(
                str(v.get("variable", json.dumps(v))) if isinstance(v, dict) else str(v)
                for v in value
            )
        elif isinstance(value, dict):
            row[key] = json.dumps(value, sort_keys=True)
        else:
            row[key] = value
    return row


def csv_response(items: Sequence[BaseModel], filename: str) -> Response:
    rows = [_flat(item) for item in items]
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns or ["empty"])
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
