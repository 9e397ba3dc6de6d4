"""How a message shows an alert's priority actions: first, numbered, each with its sphere,
catalogue code and why; the whole catalogue selection stays one link away (the alert)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from earlywarn.framework.priority_text import priority_label, priority_why


def priority_text(items: Sequence[dict[str, Any]], link: str) -> list[str]:
    if not items:
        return []
    lines = [f"Do first ({len(items)} priority actions):"]
    for item in items:
        lines.append(f"  {priority_label(item)} {item['text']}")
        lines.append(f"     why: {priority_why(item)}")
    lines.append(f"All recommended actions: {link}")
    lines.append("")
    return lines


def priority_html(items: Sequence[dict[str, Any]], link: str) -> str:
    if not items:
        return ""
    rows = "".join(
        f"<li><strong>{html.escape(priority_label(item))}</strong> {html.escape(item['text'])}"
        f"<br><em>Why: {html.escape(priority_why(item))}</em></li>"
        for item in items
    )
    return (
        f"<h2>Do first ({len(items)} priority actions)</h2><ol>{rows}</ol>"
        f'<p><a href="{html.escape(link)}">All recommended actions</a></p>'
    )
