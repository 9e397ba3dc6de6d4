"""Active alerts as OASIS Common Alerting Protocol 1.2 messages, and an Atom feed of them.

One CAP ``<alert>`` per earlywarn alert (CAP carries one message per document); the feed is an
Atom document whose entries each embed one, which is how CAP feeds are usually published.
Mapping (earlywarn level -> CAP): emergency -> Extreme / Immediate / Likely; warning -> Severe /
Expected / Possible; concern -> Moderate / Future / Possible; low -> Minor / Future / Unlikely.
``scope`` is Restricted: the feed is served to API-key holders only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from earlywarn.alerting.models import Alert, AlertState
from earlywarn.framework.priority_text import priority_instruction
from earlywarn.types import RiskLevel, Sphere

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
ET.register_namespace("", ATOM_NS)
ET.register_namespace("cap", CAP_NS)

_SEVERITY = {
    RiskLevel.EMERGENCY: ("Extreme", "Immediate", "Likely"),
    RiskLevel.WARNING: ("Severe", "Expected", "Possible"),
    RiskLevel.CONCERN: ("Moderate", "Future", "Possible"),
    RiskLevel.LOW: ("Minor", "Future", "Unlikely"),
}


def _cap_time(moment: datetime) -> str:
    # CAP 1.2 dateTime: no fractional seconds, explicit offset ("-00:00" is not allowed for UTC).
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = CAP_NS) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def cap_alert(alert: Alert, *, sender: str, base_url: str, country_name: str | None) -> ET.Element:
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", f"earlywarn-alert-{alert.id}")
    _sub(root, "sender", sender)
    _sub(root, "sent", _cap_time(alert.updated_at))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Alert" if alert.updated_at == alert.opened_at else "Update")
    _sub(root, "scope", "Restricted")
    _sub(root, "restriction", "earlywarn API key holders (focal points, analysts)")
    info = _sub(root, "info")
    _sub(info, "language", "en")
    _sub(info, "category", "Security")
    _sub(info, "event", f"Atrocity risk: {alert.rule_id}")
    _sub(info, "responseType", "Prepare" if alert.level >= RiskLevel.WARNING else "Monitor")
    severity, urgency, certainty = _SEVERITY[alert.level]
    _sub(info, "urgency", urgency)
    _sub(info, "severity", severity)
    _sub(info, "certainty", certainty)
    _sub(info, "senderName", "earlywarn")
    # The severity is the alert's; the country's ladder level is named apart when it differs.
    country_level = alert.country_level
    headline = f"{country_name or alert.subject}: atrocity risk {alert.level.value}"
    if country_level is not None and country_level is not alert.level:
        headline += f" ({alert.rule_id}; country level {country_level.value})"
    _sub(info, "headline", headline)
    _sub(info, "description", alert.summary)
    headings = [
        f"{h['code']} {h['title']}"
        for sphere in Sphere
        for h in alert.actions.get(sphere.value, [])
    ]
    web = f"{base_url.rstrip('/')}/alerts/{alert.id}"
    # The priority actions lead (docs/priority-actions.md); the rest is one link away.
    lead = priority_instruction(alert.priority_actions or [])
    if headings:
        instruction = "Recommended actions: " + "; ".join(headings) + f". All actions: {web}"
        _sub(info, "instruction", (f"Do first: {lead} " if lead else "") + instruction)
    _sub(info, "web", web)
    for name, value in (
        ("earlywarn_state", alert.state.value),
        ("earlywarn_level", alert.level.value),
        ("earlywarn_dedup_key", alert.dedup_key),
    ):
        parameter = _sub(info, "parameter")
        _sub(parameter, "valueName", name)
        _sub(parameter, "value", value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", country_name or alert.subject)
    if alert.country_iso3:
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", "ISO3166-1-alpha-3")
        _sub(geocode, "value", alert.country_iso3)
    return root


def cap_document(alert: Alert, *, sender: str, base_url: str, country_name: str | None) -> bytes:
    element = cap_alert(alert, sender=sender, base_url=base_url, country_name=country_name)
    return bytes(ET.tostring(element, encoding="utf-8", xml_declaration=True))


def cap_feed(
    alerts: Sequence[Alert], *, sender: str, base_url: str, names: dict[str, str], now: datetime
) -> bytes:
    """An Atom feed of active (not resolved) alerts, one CAP message per entry."""
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", f"{base_url.rstrip('/')}/alerts/feed.cap", ATOM_NS)
    _sub(feed, "title", "earlywarn: active atrocity-risk alerts (CAP 1.2)", ATOM_NS)
    _sub(feed, "updated", _cap_time(now), ATOM_NS)
    author = _sub(feed, "author", None, ATOM_NS)
    _sub(author, "name", "earlywarn", ATOM_NS)
    for alert in alerts:
        if alert.state is AlertState.RESOLVED:
            continue
        name = names.get(alert.country_iso3 or "")
        entry = _sub(feed, "entry", None, ATOM_NS)
        _sub(entry, "id", f"earlywarn-alert-{alert.id}", ATOM_NS)
        _sub(entry, "title", f"{name or alert.subject}: {alert.level.value}", ATOM_NS)
        _sub(entry, "updated", _cap_time(alert.updated_at), ATOM_NS)
        link = _sub(entry, "link", None, ATOM_NS)
        link.set("href", f"{base_url.rstrip('/')}/alerts/{alert.id}/cap")
        link.set("type", "application/cap+xml")
        content = _sub(entry, "content", None, ATOM_NS)
        content.set("type", "application/cap+xml")
        content.append(cap_alert(alert, sender=sender, base_url=base_url, country_name=name))
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))
