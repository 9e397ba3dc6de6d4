"""How connectors read the counts that event sources deliver, one rule for all of them.

Sources send numbers as JSON numbers (UCDP), as strings (ACLED: ``"3"``), or as placeholders.
The treatment (documented in docs/ingest-hostile-payloads.md):

- ``null``, ``""``, ``"NA"``, ``"N/A"``, ``"-"`` and ``".."`` mean *unknown*, returned as
  ``None``; the caller decides whether unknown is acceptable for the field.
- ``"0"`` and ``0`` are zero, a real value, never unknown.
- Integral numbers and integral numeric strings are accepted; ``"3.0"`` is 3.
- Negative values, fractions, non-numeric text, booleans, NaN/infinity and values above
  ``ceiling`` (absurd: ``1e300`` deaths) are errors naming the field and the value.
"""

from __future__ import annotations

import math
from typing import Any

from earlywarn.ingest.errors import RemoteSourceError

UNKNOWN_MARKERS = frozenset({"", "na", "n/a", "-", "..", "null", "none"})
# More deaths than this in a single event record is a broken payload, not a massacre report:
# the deadliest single events UCDP codes (e.g. Rwanda 1994 aggregates) stay below it.
MAX_EVENT_COUNT = 1_000_000


def parse_count(value: Any, where: str, *, ceiling: int = MAX_EVENT_COUNT) -> int | None:
    """A non-negative integer, ``None`` for an unknown marker, or ``RemoteSourceError``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RemoteSourceError(f"{where}: {value!r} is not a count")
    number: float
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in UNKNOWN_MARKERS:
            return None
        try:
            number = float(text)
        except ValueError:
            raise RemoteSourceError(f"{where}: {value!r} is not a number") from None
    else:
        raise RemoteSourceError(f"{where}: {value!r} is not a count")
    if not math.isfinite(number):
        raise RemoteSourceError(f"{where}: {value!r} is not finite")
    if number < 0:
        raise RemoteSourceError(f"{where}: {value!r} is negative")
    if number != int(number):
        raise RemoteSourceError(f"{where}: {value!r} is not a whole number")
    if number > ceiling:
        raise RemoteSourceError(f"{where}: {value!r} is above the plausible maximum {ceiling:,}")
    return int(number)


def require_fields(row: dict[str, Any], fields: tuple[str, ...], where: str) -> None:
    """Every field present (a renamed or dropped column fails loudly, naming what is missing)."""
    missing = [name for name in fields if name not in row]
    if missing:
        present = ", ".join(sorted(row)[:30])
        raise RemoteSourceError(
            f"{where}: missing field(s) {', '.join(missing)} (the record has: {present})"
        )
