"""Alerts as OASIS Common Alerting Protocol 1.2 messages, and an Atom feed of them.

One CAP message per change of what an alert warns of (docs/cap.md):

* ``opened`` -> msgType ``Alert``, identifier ``earlywarn-alert-{alert id}``;
* ``escalated``, ``deescalated``, ``reopened`` -> ``Update``;
* ``resolved`` -> ``Cancel`` (with ``responseType`` AllClear);

each later message has its own identifier ``earlywarn-alert-{alert id}-{event id}`` and lists
every earlier message of the alert in ``<references>`` (``sender,identifier,sent``), as CAP
1.2 asks. Acknowledgements, escalation tiers, reminders and recorded actions are workflow,
not new information about the risk: they make no CAP message.

Mapping (alert severity -> CAP): emergency -> Extreme / Immediate / Likely; warning -> Severe /
Expected / Possible; concern -> Moderate / Future / Possible; low -> Minor / Future / Unlikely.
``scope`` is Restricted (API-key and feed-token holders); the optional public feed carries
``Public`` messages with the public fields only (no description, instruction or parameters).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.framework.priority_text import priority_instruction
from earlywarn.types import RiskLevel, Sphere

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
ET.register_namespace("", ATOM_NS)
ET.register_namespace("cap", CAP_NS)

MSG_TYPES = {
    AlertEventKind.OPENED: "Alert",
    AlertEventKind.ESCALATED: "Update",
    AlertEventKind.DEESCALATED: "Update",
    AlertEventKind.REOPENED: "Update",
    AlertEventKind.RESOLVED: "Cancel",
}

_SEVERITY = {
    RiskLevel.EMERGENCY: ("Extreme", "Immediate", "Likely"),
    RiskLevel.WARNING: ("Severe", "Expected", "Possible"),
    RiskLevel.CONCERN: ("Moderate", "Future", "Possible"),
    RiskLevel.LOW: ("Minor", "Future", "Unlikely"),
}


@dataclass(frozen=True)
class Publisher:
    sender: str
    base_url: str
    public: bool = False

    def web(self, alert: Alert) -> str:
        return f"{self.base_url.rstrip('/')}/alerts/{alert.id}"


def cap_events(events: Sequence[AlertEvent]) -> list[AlertEvent]:
    """The events of one alert that make a CAP message, oldest first."""
    return sorted((e for e in events if e.kind in MSG_TYPES), key=lambda e: (e.at, e.id))


def identifier(alert: Alert, event: AlertEvent) -> str:
    if event.kind is AlertEventKind.OPENED:
        return f"earlywarn-alert-{alert.id}"
    return f"earlywarn-alert-{alert.id}-{event.id}"


def _cap_time(moment: datetime) -> str:
    # CAP 1.2 dateTime: no fractional seconds, explicit offset ("-00:00" is not allowed for UTC).
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = CAP_NS) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _instruction(alert: Alert, web: str) -> str | None:
    headings = [
        f"{h['code']} {h['title']}"
        for sphere in Sphere
        for h in alert.actions.get(sphere.value, [])
    ]
    if not headings:
        return None
    # The priority actions lead (docs/priority-actions.md); the rest is one link away.
    lead = priority_instruction(alert.priority_actions or [])
    instruction = "Recommended actions: " + "; ".join(headings) + f". All actions: {web}"
    return (f"Do first: {lead} " if lead else "") + instruction


def cap_message(
    alert: Alert,
    event: AlertEvent,
    earlier: Sequence[AlertEvent],
    publisher: Publisher,
    country_name: str | None,
) -> ET.Element:
    """The CAP message of ``event`` (a kind in ``MSG_TYPES``); ``earlier``: the alert's CAP
    events before it, which it references."""
    msg_type = MSG_TYPES[event.kind]
    level = event.to_level or alert.level
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", identifier(alert, event))
    _sub(root, "sender", publisher.sender)
    _sub(root, "sent", _cap_time(event.at))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", msg_type)
    if publisher.public:
        _sub(root, "scope", "Public")
    else:
        _sub(root, "scope", "Restricted")
        _sub(root, "restriction", "earlywarn API key and feed token holders")
    if earlier:
        _sub(
            root,
            "references",
            " ".join(
                f"{publisher.sender},{identifier(alert, e)},{_cap_time(e.at)}" for e in earlier
            ),
        )
    info = _sub(root, "info")
    _sub(info, "language", "en")
    _sub(info, "category", "Security")
    _sub(info, "event", f"Atrocity risk: {alert.rule_id}")
    resolved = msg_type == "Cancel"
    active = "Prepare" if level >= RiskLevel.WARNING else "Monitor"
    _sub(info, "responseType", "AllClear" if resolved else active)
    severity, urgency, certainty = _SEVERITY[level]
    _sub(info, "urgency", "Past" if resolved else urgency)
    _sub(info, "severity", "Minor" if resolved else severity)
    _sub(info, "certainty", "Observed" if resolved else certainty)
    _sub(info, "senderName", "earlywarn")
    name = country_name or alert.subject
    # The severity is the alert's; the country's ladder level is named apart when it differs.
    headline = f"{name}: atrocity risk {level.value}"
    country_level = alert.country_level
    if country_level is not None and country_level is not level:
        headline += f" ({alert.rule_id}; country level {country_level.value})"
    if resolved:
        headline = f"{name}: alert resolved ({alert.rule_id})"
    _sub(info, "headline", headline)
    web = publisher.web(alert)
    if not publisher.public:
        description = alert.summary
        if resolved:
            description = f"Resolved: {event.note or alert.resolution_note or 'exit condition met'}"
        _sub(info, "description", description)
        instruction = None if resolved else _instruction(alert, web)
        if instruction:
            _sub(info, "instruction", instruction)
    _sub(info, "web", web)
    if not publisher.public:
        for value_name, value in (
            ("earlywarn_state", alert.state.value),
            ("earlywarn_level", level.value),
            ("earlywarn_event", event.kind.value),
            ("earlywarn_dedup_key", alert.dedup_key),
        ):
            parameter = _sub(info, "parameter")
            _sub(parameter, "valueName", value_name)
            _sub(parameter, "value", value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", name)
    if alert.country_iso3:
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", "ISO3166-1-alpha-3")
        _sub(geocode, "value", alert.country_iso3)
    return root


def latest_message(
    alert: Alert, events: Sequence[AlertEvent], publisher: Publisher, country_name: str | None
) -> ET.Element | None:
    """The alert's newest CAP message, referencing all earlier ones; None without any."""
    messages = cap_events(events)
    if not messages:
        return None
    return cap_message(alert, messages[-1], messages[:-1], publisher, country_name)


def cap_document(element: ET.Element) -> bytes:
    return bytes(ET.tostring(element, encoding="utf-8", xml_declaration=True))


def cap_feed(
    alerts: Sequence[tuple[Alert, Sequence[AlertEvent]]],
    publisher: Publisher,
    *,
    names: dict[str, str],
    now: datetime,
) -> bytes:
    """An Atom feed with each alert's newest CAP message: active alerts, and the Cancel of
    those resolved recently (the caller chooses which)."""
    base = publisher.base_url.rstrip("/")
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    path = "/public/alerts/feed.cap" if publisher.public else "/alerts/feed.cap"
    _sub(feed, "id", f"{base}{path}", ATOM_NS)
    _sub(feed, "title", "earlywarn: atrocity-risk alerts (CAP 1.2)", ATOM_NS)
    _sub(feed, "updated", _cap_time(now), ATOM_NS)
    author = _sub(feed, "author", None, ATOM_NS)
    _sub(author, "name", "earlywarn", ATOM_NS)
    for alert, events in alerts:
        name = names.get(alert.country_iso3 or "")
        message = latest_message(alert, events, publisher, name)
        if message is None:
            continue
        entry = _sub(feed, "entry", None, ATOM_NS)
        _sub(entry, "id", message.findtext(f"{{{CAP_NS}}}identifier"), ATOM_NS)
        _sub(entry, "title", message.findtext(f"{{{CAP_NS}}}info/{{{CAP_NS}}}headline"), ATOM_NS)
        _sub(entry, "updated", message.findtext(f"{{{CAP_NS}}}sent"), ATOM_NS)
        link = _sub(entry, "link", None, ATOM_NS)
        link.set("href", publisher.web(alert))
        content = _sub(entry, "content", None, ATOM_NS)
        content.set("type", "application/cap+xml")
        content.append(message)
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))
