"""The world map: Natural Earth shapes (built by scripts/build_world_map.py) and level colours."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from earlywarn.types import RiskLevel

MAP_FILE = Path(__file__).resolve().parent / "data" / "world.json"

# A sequential yellow-to-brown ramp (ColorBrewer YlOrBr): ordered by lightness, so it reads for
# every kind of colour blindness and in greyscale print. The level is also written as text.
LEVEL_COLOURS: dict[str, str] = {
    RiskLevel.LOW.value: "#fff7bc",
    RiskLevel.CONCERN.value: "#fec44f",
    RiskLevel.WARNING.value: "#d95f0e",
    RiskLevel.EMERGENCY.value: "#662506",
}
NO_DATA_COLOUR = "#d9d9d9"


@dataclass(frozen=True)
class WorldMap:
    width: float
    height: float
    source: str
    paths: dict[str, str]  # ISO3 -> SVG path data


@lru_cache(maxsize=1)
def world_map() -> WorldMap:
    data = json.loads(MAP_FILE.read_text(encoding="utf-8"))
    return WorldMap(
        width=float(data["width"]),
        height=float(data["height"]),
        source=str(data["source"]),
        paths=dict(data["countries"]),
    )
