"""The two delivery channels: Standard Webhooks over HTTP, and e-mail over SMTP.

Each ``send_*`` makes one attempt and classifies its result the way Alertmanager's retrier
does: delivered (2xx), retry (5xx, 429, timeouts, connection errors, SMTP 4xx), or permanent
(other 4xx, SMTP 5xx, a refused recipient). Retrying and recording belong to ``delivery``.
"""

from __future__ import annotations

import html
import json
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from enum import StrEnum
from typing import Any

import httpx
from standardwebhooks import Webhook

from earlywarn.notify.outbound import Destination, header_safe, reply_excerpt
from earlywarn.notify.priority_text import priority_html, priority_text
from earlywarn.types import Sphere


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    # False when the failure is the message's own (it could not be built), not the
    # endpoint's: it must not count towards disabling the recipient's address.
    endpoint_fault: bool = True


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 10.0


# --- webhooks -------------------------------------------------------------------------------


def signature_header(msg_id: str, timestamp: datetime, body: str, secrets: list[str]) -> str:
    """``webhook-signature``: one ``v1,<base64>`` per secret, space separated (rotation)."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets)


def webhook_headers(
    msg_id: str, timestamp: datetime, body: str, secrets: list[str]
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "earlywarn-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(msg_id, timestamp, body, secrets),
    }


def classify_status(code: int) -> Outcome:
    if 200 <= code < 300:
        return Outcome.DELIVERED
    if code == 429 or code >= 500 or code == 408:
        return Outcome.RETRY
    return Outcome.PERMANENT


def send_webhook(
    client: httpx.Client,
    url: str,
    *,
    msg_id: str,
    payload: dict[str, Any],
    secrets: list[str],
    timestamp: datetime,
    timeout_seconds: float,
    destination: Destination | None = None,
) -> SendResult:
    """POST the payload once, signed; the timestamp is the attempt's (receivers reject old).

    ``destination`` is the checked address to connect to (see ``outbound``); the signature and
    the Host header still name ``url``'s host."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    headers = webhook_headers(msg_id, timestamp, body, secrets)
    target = destination if destination is not None else Destination(url)
    headers.update(target.headers)
    try:
        response = client.post(
            target.url,
            content=body.encode("utf-8"),
            headers=headers,
            timeout=timeout_seconds,
            extensions=dict(target.extensions),
        )
    except httpx.TimeoutException as exc:
        return SendResult(Outcome.RETRY, error=f"timeout: {type(exc).__name__}")
    except httpx.TransportError as exc:
        return SendResult(Outcome.RETRY, error=f"connection failed: {type(exc).__name__}: {exc}")
    outcome = classify_status(response.status_code)
    error = None
    if outcome is not Outcome.DELIVERED:
        # Only a short, one-line excerpt: the reply is shown by GET /outbox and mailed to
        # administrators, and may come from a system that should not be quoted at length.
        error = f"HTTP {response.status_code}: {reply_excerpt(response.text)}"
    return SendResult(outcome, status_code=response.status_code, error=error)


# --- e-mail ---------------------------------------------------------------------------------


def _actions_text(actions: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for sphere in Sphere:
        headings = actions.get(sphere.value) or []
        if not headings:
            continue
        lines.append(f"{sphere.value.capitalize()}:")
        for heading in headings:
            lines.append(f"  {heading['code']} {heading['title']}")
            lines.append(f"     why: {heading['recommended_because']}")
            for row in heading.get("actions", []):
                lines.append(f"     - {row['text']}")
            if heading.get("more_actions"):
                lines.append(f"     (+{heading['more_actions']} more actions: see the alert)")
    return lines


def _actions_html(actions: dict[str, Any]) -> str:
    parts: list[str] = []
    for sphere in Sphere:
        headings = actions.get(sphere.value) or []
        if not headings:
            continue
        parts.append(f"<h3>{html.escape(sphere.value.capitalize())}</h3><ul>")
        for heading in headings:
            rows = "".join(
                f"<li>{html.escape(row['text'])}</li>" for row in heading.get("actions", [])
            )
            if heading.get("more_actions"):
                rows += f"<li><em>+{heading['more_actions']} more actions: see the alert</em></li>"
            parts.append(
                f"<li><strong>{html.escape(heading['code'])} {html.escape(heading['title'])}"
                f"</strong><br><em>Why: {html.escape(heading['recommended_because'])}</em>"
                f"<ul>{rows}</ul></li>"
            )
        parts.append("</ul>")
    return "".join(parts)


_WHAT = {
    "escalation": "ESCALATED (unacknowledged)",
    "reminder": "REMINDER (unacknowledged)",
    "already_open": "ALREADY OPEN",
}


def _priority(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's priority actions: combined across its alerts when it lists them."""
    if "alerts" in payload:
        return list(payload.get("priority_actions") or [])
    return list(payload["alert"].get("priority_actions") or [])


def _evidence_line(entry: dict[str, Any]) -> str:
    evidence = entry.get("evidence") or {}
    parts = []
    if evidence.get("composite") is not None:
        parts.append(f"composite {evidence['composite']:.2f}")
    if evidence.get("coverage") is not None:
        parts.append(f"coverage {evidence['coverage']:.0%}")
    factors = [
        f"{f['number']} {f.get('name', '')} ({f['score']:.2f})".replace("  ", " ")
        for f in evidence.get("triggering_factors") or []
        if f.get("score") is not None
    ]
    if factors:
        parts.append("factors " + ", ".join(factors))
    return "; ".join(parts) or "see the alert"


def _ack_how(ack_link: str | None) -> str:
    if ack_link:
        return "one click, no sign-in; the page asks you to confirm"
    return "the page asks you to confirm"


def _grouped_email(
    message: EmailMessage, payload: dict[str, Any], base_url: str, ack_links: Mapping[int, str]
) -> EmailMessage:
    """Several rules fired for one country in one run: one message, the combined priority
    actions first, then each alert (rule, event, severity, evidence, links)."""
    base = base_url.rstrip("/")
    lead = payload["alert"]
    entries = payload["alerts"]
    country = lead["country"]["name"] or lead["country"]["iso3"] or lead["dedup_key"]
    country_level = (lead.get("evidence") or {}).get("level")
    marker = "already open" if payload.get("purpose") == "already_open" else None
    kinds = ", ".join(
        f"{e['rule_id']} {marker or e['event']['kind']} ({e['level']})" for e in entries
    )
    level = f", country level {country_level}" if country_level else ""
    message["Subject"] = header_safe(f"[earlywarn] {country}: {len(entries)} alerts{level}")
    first_link = base + entries[0]["links"]["alert"]
    text = [
        f"{country}: {len(entries)} alerts in this run: {kinds}.",
        "",
        *priority_text(_priority(payload), first_link),
        "The alerts:",
    ]
    parts = [
        f"<p>{html.escape(country)}: {len(entries)} alerts in this run: {html.escape(kinds)}.</p>",
        priority_html(_priority(payload), first_link),
        "<h2>The alerts</h2><ol>",
    ]
    for e in entries:
        signed = ack_links.get(int(e["id"]))
        link, ack = base + e["links"]["alert"], signed or base + e["links"]["acknowledge"]
        state = "already open" if e.get("already_open") else e["event"]["kind"]
        head = f"{e['rule_id']}: {state}, severity {e['level']}, state {e['state']}"
        text += [
            f"- {head}",
            f"  {e['summary']}",
            f"  Evidence: {_evidence_line(e)}",
            f"  Open the alert (all recommended actions): {link}",
            f"  Acknowledge it ({_ack_how(signed)}): {ack}",
        ]
        parts.append(
            f"<li><strong>{html.escape(head)}</strong><br>{html.escape(e['summary'])}<br>"
            f"<em>Evidence: {html.escape(_evidence_line(e))}</em><br>"
            f'<a href="{html.escape(link)}">Open the alert</a> · '
            f'<a href="{html.escape(ack)}">Acknowledge it</a></li>'
        )
    message.set_content("\n".join(text) + "\n")
    message.add_alternative("<html><body>" + "".join(parts) + "</ol></body></html>", subtype="html")
    return message


def build_email(
    payload: dict[str, Any],
    *,
    sender: str,
    recipient: str,
    base_url: str,
    ack_links: Mapping[int, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML second, same content.

    ``ack_links`` maps an alert id to the recipient's signed one-click acknowledge link
    (``notify.ack_links``); it replaces the link to the sign-in acknowledge page.
    """
    ack_links = ack_links or {}
    message = EmailMessage()
    message["From"] = header_safe(sender)
    message["To"] = header_safe(recipient)
    message["Message-ID"] = make_msgid(domain="earlywarn")
    if "notice" in payload:
        notice = payload["notice"]
        message["Subject"] = header_safe(f"[earlywarn] {notice['subject']}")
        text = f"{notice['text']}\n\nDetails: {json.dumps(notice['details'], indent=2)}\n"
        message.set_content(text)
        message.add_alternative(
            f"<html><body><p>{html.escape(notice['text'])}</p>"
            f"<pre>{html.escape(json.dumps(notice['details'], indent=2))}</pre></body></html>",
            subtype="html",
        )
        return message
    if len(payload.get("alerts") or []) > 1:
        return _grouped_email(message, payload, base_url, ack_links)
    alert = payload["alert"]
    event = payload["event"]
    link = base_url.rstrip("/") + payload["links"]["alert"]
    ack_link = ack_links.get(int(alert["id"]))
    ack = ack_link or base_url.rstrip("/") + payload["links"]["acknowledge"]
    ack_how = _ack_how(ack_link)
    country = alert["country"]["name"] or alert["country"]["iso3"] or alert["dedup_key"]
    what = _WHAT.get(payload.get("purpose", "alert"), event["kind"].upper())
    country_level = (alert.get("evidence") or {}).get("level")
    severity = (
        f"level {alert['level']}"
        if country_level in (None, alert["level"])
        else f"severity {alert['level']} ({alert['rule_id']}), country level {country_level}"
    )
    message["Subject"] = header_safe(f"[earlywarn] {what}: {country}, {severity}")
    acted = ""
    if payload.get("purpose") == "already_open":
        acted = "This alert was already open when you subscribed; you receive it once."
    elif event["kind"] == "acknowledged":
        acted = f"Acknowledged by {event['actor']}" + (
            f": {event['note']}" if event.get("note") else "."
        )
    text_lines = [
        alert["summary"],
        *([acted] if acted else []),
        "",
        f"Alert {alert['id']} ({alert['rule_id']}), state {alert['state']}, "
        f"level {alert['level']}; event: {event['kind']} at {event['at']}.",
        f"Open the alert: {link}",
        f"Acknowledge it ({ack_how}): {ack}",
        "",
        *priority_text(_priority(payload), link),
        "Recommended actions (Framework for Action):",
        *_actions_text(alert["recommended_actions"]),
    ]
    message.set_content("\n".join(text_lines) + "\n")
    message.add_alternative(
        "<html><body>"
        f"<p>{html.escape(alert['summary'])}</p>"
        + (f"<p><strong>{html.escape(acted)}</strong></p>" if acted else "")
        + f"<p>Alert {alert['id']} ({html.escape(alert['rule_id'])}), state "
        f"{html.escape(alert['state'])}, level <strong>{html.escape(alert['level'])}</strong>; "
        f"event: {html.escape(event['kind'])} at {html.escape(str(event['at']))}.</p>"
        f'<p><a href="{html.escape(link)}">Open the alert</a> · '
        f'<a href="{html.escape(ack)}">Acknowledge it</a> ({ack_how})</p>'
        + priority_html(_priority(payload), link)
        + "<h2>Recommended actions</h2>"
        f"{_actions_html(alert['recommended_actions'])}"
        "</body></html>",
        subtype="html",
    )
    return message


def send_email(
    smtp: SmtpSettings, message: EmailMessage, recipient: str | None = None
) -> SendResult:
    """Send once. ``recipient`` is the one envelope address (never re-parsed from the To
    header, where a comma would make it two)."""
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username and smtp.password:
                client.login(smtp.username, smtp.password)
            to_addrs = [recipient] if recipient is not None else None
            refused = client.send_message(message, to_addrs=to_addrs)
    except smtplib.SMTPRecipientsRefused as exc:
        return SendResult(Outcome.PERMANENT, error=f"recipient refused: {exc.recipients}")
    except smtplib.SMTPResponseException as exc:
        outcome = Outcome.PERMANENT if exc.smtp_code >= 500 else Outcome.RETRY
        return SendResult(outcome, status_code=exc.smtp_code, error=f"SMTP {exc.smtp_code}")
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        return SendResult(Outcome.RETRY, error=f"SMTP failed: {type(exc).__name__}: {exc}")
    if refused:
        return SendResult(Outcome.PERMANENT, error=f"recipients refused: {sorted(refused)}")
    return SendResult(Outcome.DELIVERED, status_code=250)
