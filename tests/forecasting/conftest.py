"""A synthetic country-year world for the forecasting tests (no EWP rows are copied here).

Thirty countries, 1970-2024, two predictors: ``risk`` (persistent, drives onsets) and
``noise``, plus ``year``. Onsets are drawn from a logistic model of ``risk``; the outcome
columns are derived from them exactly as the EWP file derives its own.
"""

from __future__ import annotations

import numpy as np
import pytest

from earlywarn.forecasting.panel import Panel, build_panel

# Real names and Correlates-of-War codes, so the same world can go through the EWP importer.
COUNTRIES = [
    ("Kenya", 501), ("Colombia", 100), ("Sudan", 625), ("Nigeria", 475), ("Ghana", 452),
    ("Chad", 483), ("Mali", 432), ("Niger", 436), ("Senegal", 433), ("Uganda", 500),
    ("Tanzania", 510), ("Ethiopia", 530), ("Zambia", 551), ("Angola", 540), ("Mozambique", 541),
    ("Zimbabwe", 552), ("Peru", 135), ("Bolivia", 145), ("Ecuador", 130), ("Chile", 155),
    ("Argentina", 160), ("Brazil", 140), ("Mexico", 70), ("Guatemala", 90), ("Honduras", 91),
    ("Nepal", 790), ("Thailand", 800), ("Cambodia", 811), ("Laos", 812), ("Philippines", 840),
]  # fmt: skip
FIRST_YEAR, LAST_YEAR = 1970, 2024
FEATURES = ("risk", "noise", "year")


def synthetic_cells(seed: int = 7) -> dict[tuple[str, int], dict[str, float]]:
    rng = np.random.default_rng(seed)
    years = range(FIRST_YEAR, LAST_YEAR + 1)
    cells: dict[tuple[str, int], dict[str, float]] = {}
    for _, code in COUNTRIES:
        level = rng.normal()
        risk = level + np.cumsum(rng.normal(0, 0.3, len(years)))
        onset = rng.random(len(years)) < 1 / (1 + np.exp(-(-3.2 + 1.6 * risk)))
        for i, year in enumerate(years):
            nxt = [bool(onset[i + k]) if i + k < len(years) else None for k in (1, 2)]
            row = {
                "risk": float(risk[i]),
                "noise": float(rng.normal()),
                "year": float(year),
                "mk_onset": float(onset[i]),
            }
            if nxt[0] is not None:
                row["mk_onset_1"] = float(nxt[0])
            if nxt[1] is not None:
                row["mk_onset_2"] = float(nxt[1])
                row["mk_onset_1or2"] = float(bool(nxt[0]) or bool(nxt[1]))
            cells[(str(code), year)] = row
    return cells


def synthetic_panel(seed: int = 7) -> Panel:
    return build_panel(
        synthetic_cells(seed),
        predictors=FEATURES,
        outcome_columns=("mk_onset", "mk_onset_1", "mk_onset_2", "mk_onset_1or2"),
        country_names={str(code): name for name, code in COUNTRIES},
    )


def ewp_csv(cells: dict[tuple[str, int], dict[str, float]]) -> bytes:
    """The world written as an EWP-format file (``NA`` for missing)."""
    columns = ["risk", "noise", "mk_onset", "mk_onset_1", "mk_onset_2", "mk_onset_1or2"]
    names = {str(code): name for name, code in COUNTRIES}
    lines = [",".join(["ewp_name", "ccode", "year", *columns])]
    for (code, year), row in sorted(cells.items()):
        values = [repr(row[c]) if c in row else "NA" for c in columns]
        lines.append(",".join([names[code], code, str(year), *values]))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="session")
def panel() -> Panel:
    return synthetic_panel()
