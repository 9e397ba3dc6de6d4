"""Build the world map of the web interface from Natural Earth's 110m admin-0 boundaries.

Natural Earth is public domain; the npm package ``world-atlas`` carries it as TopoJSON. Fetch
it once into a scratch folder and point this script at its ``countries-110m.json``::

    cd "$(mktemp -d)" && npm pack world-atlas@2 && tar xzf world-atlas-*.tgz
    python scripts/build_world_map.py package/countries-110m.json --fill package/countries-50m.json

It projects every country with the Equal Earth projection (equal-area, so a large country does
not look riskier than it is) and writes SVG path data by ISO3 code to
``src/earlywarn/web/data/world.json``. States too small for the 110m scale (Singapore,
Bahrain, Mauritius, ...) are taken from the 50m file (``--fill``), so every rated country has a
shape to click. Only the generated file is committed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import pycountry

OUTPUT = Path(__file__).resolve().parent.parent / "src/earlywarn/web/data/world.json"
WIDTH = 1000.0
# Equal Earth (Šavrič, Patterson, Jenny 2018) constants.
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3) / 2
X_MAX = 2.7066297319215575  # |x| of the projection at longitude 180, latitude 0
Y_MAX = 1.3173627591574  # |y| at the poles
# Shapes without an ISO 3166 number: recognised states are what the framework rates, so a
# territory without its own code is drawn as part of the state it belongs to.
BY_NAME = {"Kosovo": "XKX", "N. Cyprus": "CYP", "Somaliland": "SOM"}
LEFT_OUT = {"ATA"}  # Antarctica: no population, no risk; it only takes up space


def equal_earth(lon: float, lat: float) -> tuple[float, float]:
    lam, phi = math.radians(lon), math.radians(lat)
    theta = math.asin(M * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = (
        2
        * math.sqrt(3)
        * lam
        * math.cos(theta)
        / (3 * (9 * A4 * t6 * t2 + 7 * A3 * t6 + 3 * A2 * t2 + A1))
    )
    y = theta * (A1 + A2 * t2 + t6 * (A3 + A4 * t2))
    return x, y


def _decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:  # quantised and delta-encoded
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _ring(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def _path(rings: list[list[tuple[float, float]]]) -> str:
    scale = WIDTH / (2 * X_MAX)
    parts = []
    for ring in rings:
        pieces: list[list[str]] = []
        coords: list[str] = []
        last = None
        for lon, lat in ring:
            x, y = equal_earth(lon, lat)
            point = (round((x + X_MAX) * scale, 1), round((Y_MAX - y) * scale, 1))
            if point == last:  # 110m shapes repeat points once rounded to 0.1 px
                continue
            # A ring that runs along the antimeridian (some 50m islands) jumps across the whole
            # map between two points: start a new piece there instead of drawing the jump.
            if last is not None and abs(point[0] - last[0]) > WIDTH / 2:
                pieces.append(coords)
                coords = []
            coords.append(f"{point[0]:g} {point[1]:g}")
            last = point
        pieces.append(coords)
        parts.extend("M" + "L".join(c) + "Z" for c in pieces if len(c) >= 3)
    return "".join(parts)


def _iso3(geometry: dict[str, Any]) -> str | None:
    name = geometry.get("properties", {}).get("name", "")
    if name in BY_NAME:
        return BY_NAME[name]
    number = geometry.get("id")
    country = pycountry.countries.get(numeric=number) if number else None
    return country.alpha_3 if country is not None else None


def build(topology: dict[str, Any]) -> dict[str, Any]:
    arcs = _decode_arcs(topology)
    rings_by_iso3: dict[str, list[list[tuple[float, float]]]] = {}
    names: dict[str, str] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        iso3 = _iso3(geometry)
        if iso3 is None or iso3 in LEFT_OUT:
            print(f"left out: {geometry.get('properties')}", file=sys.stderr)  # noqa: T201
            continue
        polygons = [geometry["arcs"]] if geometry["type"] == "Polygon" else geometry["arcs"]
        rings = rings_by_iso3.setdefault(iso3, [])
        for polygon in polygons:
            rings.extend(_ring(arcs, ring) for ring in polygon)
        names.setdefault(iso3, geometry["properties"]["name"])
    height = round(WIDTH * Y_MAX / X_MAX, 1)
    return {
        "source": "Natural Earth 1:110m admin-0 countries (public domain), via world-atlas 2",
        "projection": "Equal Earth",
        "width": WIDTH,
        "height": height,
        "countries": {iso3: _path(rings) for iso3, rings in sorted(rings_by_iso3.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topojson", type=Path, help="world-atlas countries-110m.json")
    parser.add_argument("--fill", type=Path, help="world-atlas countries-50m.json")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    result = build(json.loads(args.topojson.read_text(encoding="utf-8")))
    if args.fill is not None:
        small = build(json.loads(args.fill.read_text(encoding="utf-8")))["countries"]
        filled = {k: v for k, v in small.items() if k not in result["countries"]}
        result["countries"] = dict(sorted({**result["countries"], **filled}.items()))
        result["source"] += "; states absent at 110m from the 1:50m file"
    args.output.write_text(json.dumps(result, separators=(",", ":")) + "\n", encoding="utf-8")
    print(  # noqa: T201
        f"{len(result['countries'])} countries, {args.output.stat().st_size} bytes -> {args.output}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
