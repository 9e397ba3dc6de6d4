"""One priority action in words: label (rank, sphere, catalogue code, imminent) and why.
Shared by every place that shows the list (e-mail, webhook readers, CAP ``instruction``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def priority_why(item: dict[str, Any]) -> str:
    why = item.get("why") or {}
    parts = [
        f"risk factor {f['factor']} {f['name']}"
        + (f" ({f['score']:.2f})" if f.get("score") is not None else "")
        for f in why.get("factors", [])
    ]
    if why.get("recommended_at_level"):
        parts.append(f"recommended at level {why['recommended_at_level']}")
    return "; ".join(parts) or "recommended for the alert"


def priority_label(item: dict[str, Any]) -> str:
    urgent = ", imminent risk" if item.get("imminent") else ""
    return f"{item['rank']}. [{item['sphere']} {item['code']}{urgent}]"


def priority_instruction(items: Sequence[dict[str, Any]]) -> str:
    """The CAP ``instruction`` lead: the same list, one sentence each."""
    return " ".join(f"{priority_label(item)} {item['text']}" for item in items)
