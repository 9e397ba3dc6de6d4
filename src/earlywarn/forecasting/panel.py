"""The country-year panel that forecasting trains on, with point-in-time views.

A panel is a plain set of numpy arrays (one row per country-year): it is read either from an
Early Warning Project (EWP) format CSV (the backtest) or from stored observations (the live
service, where the EWP import stores every column as the variable ``ewp.<column>``).

Point in time: an outcome column is an event in a later year (``mk_onset_1or2`` of row ``y`` is
an onset in ``y+1`` or ``y+2``), so at the end of year ``T`` it is known only for rows with
``y + horizon <= T``. ``Panel.as_of(T)`` keeps the rows up to ``T`` and blanks every label not
yet observable then; everything that trains or forecasts goes through it.

Derived predictors: ``<column>:change_<k>y`` is the row's ``column`` minus the same country's
``column`` ``k`` years earlier (sudden shocks: a jump in battle deaths, a new coup attempt, a
collapse of civil liberties). It reads only the country's own earlier rows, so it is point in
time by construction. ``build_panel`` computes it from the raw columns for *both* paths (the
CSV and the stored observations), so the backtest and the live service see the same values.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from earlywarn.ingest.errors import FileFormatError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# The 39 predictors of the EWP 2025 Statistical Risk Assessment, in the file's order.
EWP_PREDICTORS: tuple[str, ...] = (
    "widetargeting",
    "narrowtargeting",
    "v2csgender_binary",
    "v2mecenefm_binary",
    "partyban.new.0",
    "partyban.new.1",
    "partyban.new.2",
    "minorityrule",
    "judicialreform",
    "religiousfreedom",
    "pol_killing_approved",
    "freediscussion",
    "social_inequality",
    "even_civilrights",
    "repress_civilsoc",
    "social_power_dist",
    "ses_power_dist",
    "popsize.log2",
    "gdppcgrowth",
    "un_imr_sqrt",
    "efindex",
    "discrimpop",
    "reg.na",
    "reg.eap",
    "reg.sca",
    "reg.mna",
    "reg.eur",
    "ios.iccpr1",
    "battledeaths.log2",
    "coup.try.5yr",
    "mk_ongoing_count_log2",
    "mean_mk_onset_interaction",
    "mk_onset_prev_year",
    "newcountry",
    "mk_ever",
    "year",
    "year_sq",
    "countryage.new.log2",
    "includesnonstate",
)

# Outcome column -> how many years after the row's year the event it records may happen.
# An outcome table in the same format may add columns; their horizon is read from the suffix.
EWP_OUTCOME_HORIZONS_YEARS: dict[str, int] = {
    "mk_onset": 0,
    "mk_onset_1": 1,
    "mk_onset_2": 2,
    "mk_onset_1or2": 2,
}
# Within-country changes pre-registered for the development backtest (benchmarks/forecast_dev.py):
# shocks (battle deaths over one and three years, a coup attempt entering the five-year window,
# a swing in growth) and the V-Dem-derived civil-liberty variables over one and three years.
SHOCK_CHANGES: tuple[str, ...] = (
    "battledeaths.log2:change_1y",
    "battledeaths.log2:change_3y",
    "coup.try.5yr:change_1y",
    "gdppcgrowth:change_1y",
)
CIVIL_LIBERTY_CHANGES: tuple[str, ...] = tuple(
    f"{column}:change_{years}y"
    for column in (
        "freediscussion",
        "repress_civilsoc",
        "even_civilrights",
        "pol_killing_approved",
        "religiousfreedom",
    )
    for years in (1, 3)
)
DEFAULT_TARGET = "mk_onset_1or2"
DEFAULT_EVENT = "mk_onset"
_IDENTITY = ("ewp_name", "ccode", "year")
_MISSING = frozenset({"", "NA"})


_CHANGE = re.compile(r"^(?P<column>.+):change_(?P<years>[1-9][0-9]*)y$")


def parse_change(name: str) -> tuple[str, int] | None:
    """``("battledeaths.log2", 3)`` for ``"battledeaths.log2:change_3y"``; None for a raw
    column."""
    match = _CHANGE.match(name)
    return (match["column"], int(match["years"])) if match else None


def raw_columns(predictors: Sequence[str]) -> tuple[str, ...]:
    """The stored columns the predictors are computed from (each once, in order of need)."""
    needed: dict[str, None] = {}
    for name in predictors:
        change = parse_change(name)
        needed[change[0] if change else name] = None
    return tuple(needed)


def within_country_change(
    countries: npt.NDArray[np.str_], years: IntArray, values: FloatArray, lag_years: int
) -> FloatArray:
    """``values`` minus the same country's value ``lag_years`` earlier.

    Missing now: NaN (the row is incomplete anyway). No earlier row, or a missing earlier
    value (a new state, a gap in a source): 0, i.e. "no change known", so that such rows
    stay in training and still get a forecast, as EWP keeps new states.
    """
    if not len(years):
        return np.empty(0)
    # One integer key per (country, year), spaced so that a lag never reaches the previous
    # country's keys; the earlier row is found by binary search.
    codes = np.unique(countries, return_inverse=True)[1].astype(np.int64)
    first = int(years.min())
    span = int(years.max()) - first + lag_years + 1
    keys = codes * span + (years - first)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    wanted = keys - lag_years
    at = np.minimum(np.searchsorted(sorted_keys, wanted), len(keys) - 1)
    earlier = np.where(sorted_keys[at] == wanted, values[order[at]], np.nan)
    change = values - earlier
    return np.where(np.isnan(values), np.nan, np.where(np.isnan(earlier), 0.0, change))


def outcome_horizon_years(column: str) -> int:
    """Years between a row and the last year its outcome ``column`` can refer to."""
    if column in EWP_OUTCOME_HORIZONS_YEARS:
        return EWP_OUTCOME_HORIZONS_YEARS[column]
    suffix = column.rsplit("_", 1)[-1]
    digits = [int(part) for part in suffix.split("or") if part.isdigit()]
    return max(digits) if digits else 0


@dataclass(frozen=True)
class Panel:
    """Country-year rows: identity, predictors (NaN = missing) and outcomes (NaN = unknown)."""

    countries: npt.NDArray[np.str_]
    years: IntArray
    features: FloatArray
    feature_names: tuple[str, ...]
    outcomes: Mapping[str, FloatArray] = field(default_factory=dict)
    # Display names by country key (the EWP file keys countries by code).
    country_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.years)
        if len(self.countries) != n or self.features.shape != (n, len(self.feature_names)):
            raise ValueError("panel arrays do not have one row per country-year")
        for name, values in self.outcomes.items():
            if len(values) != n:
                raise ValueError(f"outcome {name!r} does not have one value per row")

    def __len__(self) -> int:
        return len(self.years)

    def select(self, mask: BoolArray) -> Panel:
        return Panel(
            countries=self.countries[mask],
            years=self.years[mask],
            features=self.features[mask],
            feature_names=self.feature_names,
            outcomes={k: v[mask] for k, v in self.outcomes.items()},
            country_names=self.country_names,
        )

    def as_of(self, year: int) -> Panel:
        """What was knowable at the end of ``year``: rows up to it, labels observed by then."""
        view = self.select(self.years <= year)
        outcomes: dict[str, FloatArray] = {}
        for name, values in view.outcomes.items():
            unknown = view.years + outcome_horizon_years(name) > year
            outcomes[name] = np.where(unknown, np.nan, values)
        return Panel(
            view.countries,
            view.years,
            view.features,
            view.feature_names,
            outcomes,
            view.country_names,
        )

    def complete(self) -> BoolArray:
        """Rows with every predictor present (EWP drops the others before fitting)."""
        return np.asarray(~np.isnan(self.features).any(axis=1), dtype=np.bool_)

    def training_mask(self, target: str) -> BoolArray:
        """Complete rows with a known ``target``.

        As in EWP's code, a row missing any of the four EWP outcome columns is dropped too;
        point in time, only those looking no further ahead than ``target`` are required (the
        others cannot be known yet for the newest rows of a shorter horizon)."""
        mask = self.complete() & ~np.isnan(self.outcome(target))
        horizon = outcome_horizon_years(target)
        for name, ahead in EWP_OUTCOME_HORIZONS_YEARS.items():
            if ahead <= horizon and name in self.outcomes:
                mask &= ~np.isnan(self.outcomes[name])
        return mask

    def training_rows(self, target: str) -> tuple[FloatArray, FloatArray]:
        """The training rows' design matrix and 0/1 labels (rows of ``training_mask``)."""
        mask = self.training_mask(target)
        return self.features[mask], self.outcome(target)[mask]

    def outcome(self, name: str) -> FloatArray:
        try:
            return self.outcomes[name]
        except KeyError:
            known = ", ".join(sorted(self.outcomes)) or "none"
            raise KeyError(f"no outcome column {name!r} (known: {known})") from None

    def digest(self) -> str:
        """SHA-256 of the panel's content, so a model card names the data it learned from."""
        sha = hashlib.sha256()
        sha.update("\x1f".join(self.feature_names).encode())
        sha.update("\x1f".join(self.countries.tolist()).encode())
        sha.update(np.ascontiguousarray(self.years).tobytes())
        sha.update(np.ascontiguousarray(self.features).tobytes())
        for name in sorted(self.outcomes):
            sha.update(name.encode())
            sha.update(np.ascontiguousarray(self.outcomes[name]).tobytes())
        return sha.hexdigest()


def build_panel(
    cells: Mapping[tuple[str, int], Mapping[str, float]],
    *,
    predictors: Sequence[str],
    outcome_columns: Iterable[str],
    country_names: Mapping[str, str] | None = None,
) -> Panel:
    """A panel from ``{(country, year): {column: value}}``; absent cells become NaN.

    ``cells`` hold raw columns; derived predictors (``<column>:change_<k>y``) are computed here
    from them, so every path that builds a panel derives them the same way."""
    keys = sorted(cells)
    outcome_names = tuple(outcome_columns)
    raw = raw_columns(predictors)
    values_raw = np.full((len(keys), len(raw)), np.nan)
    outcomes = {name: np.full(len(keys), np.nan) for name in outcome_names}
    for row, key in enumerate(keys):
        values = cells[key]
        for column, name in enumerate(raw):
            if name in values:
                values_raw[row, column] = values[name]
        for name in outcome_names:
            if name in values:
                outcomes[name][row] = values[name]
    countries = np.array([k[0] for k in keys], dtype=np.str_)
    years = np.array([k[1] for k in keys], dtype=np.int64)
    features = np.full((len(keys), len(predictors)), np.nan)
    for column, name in enumerate(predictors):
        change = parse_change(name)
        if change is None:
            features[:, column] = values_raw[:, raw.index(name)]
        else:
            source = values_raw[:, raw.index(change[0])]
            features[:, column] = within_country_change(countries, years, source, change[1])
    return Panel(
        countries=countries,
        years=years,
        features=features,
        feature_names=tuple(predictors),
        outcomes=outcomes,
        country_names=dict(country_names or {}),
    )


def read_ewp_csv(
    source: Path | bytes,
    *,
    predictors: Sequence[str] = EWP_PREDICTORS,
    outcomes_source: Path | bytes | None = None,
) -> Panel:
    """Read an EWP-format file (``ewp_name``, ``ccode``, ``year`` and value columns).

    Countries are keyed by ``ccode`` (the EWP name varies over time for some states).
    ``outcomes_source``, another file in the same format, replaces or adds outcome columns.
    """
    cells, outcome_names, names = _read_ewp_cells(source, predictors=predictors)
    if outcomes_source is not None:
        extra, extra_names, _ = _read_ewp_cells(outcomes_source, predictors=(), outcomes_only=True)
        for key, values in extra.items():
            cells.setdefault(key, {}).update(values)
        outcome_names = sorted(set(outcome_names) | set(extra_names))
    if not cells:
        raise FileFormatError(f"{_label(source)}: no rows")
    return build_panel(
        cells, predictors=predictors, outcome_columns=outcome_names, country_names=names
    )


def _label(source: Path | bytes) -> str:
    return f"EWP file {source}" if isinstance(source, Path) else "EWP data"


def _read_ewp_cells(
    source: Path | bytes, *, predictors: Sequence[str], outcomes_only: bool = False
) -> tuple[dict[tuple[str, int], dict[str, float]], list[str], dict[str, str]]:
    label = _label(source)
    try:
        content = source.read_bytes() if isinstance(source, Path) else source
    except OSError as exc:
        raise FileFormatError(f"{label}: cannot read ({exc.strerror})") from exc
    reader = csv.reader(io.StringIO(content.decode("utf-8-sig")))
    header = [c.strip() for c in next(reader, [])]
    missing = [c for c in ("ccode", "year", *raw_columns(predictors)) if c not in header]
    if missing:
        raise FileFormatError(f"{label}: missing column(s) {', '.join(missing)}")
    # In the EWP file the outcomes are the mk_onset* columns; an outcome table has only those.
    outcome_names = [
        c
        for c in header
        if c not in raw_columns(predictors)
        and c not in _IDENTITY
        and (outcomes_only or c.startswith(DEFAULT_EVENT))
    ]
    wanted = [(header.index(c), c) for c in (*raw_columns(predictors), *outcome_names)]
    code_at, year_at = header.index("ccode"), header.index("year")
    name_at = header.index("ewp_name") if "ewp_name" in header else None
    cells: dict[tuple[str, int], dict[str, float]] = {}
    names: dict[str, str] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        where = f"{label}: line {reader.line_num}"
        if len(row) != len(header):
            raise FileFormatError(f"{where}: {len(row)} fields, the header has {len(header)}")
        try:
            key = (str(int(float(row[code_at]))), int(float(row[year_at])))
            values = {name: float(row[i]) for i, name in wanted if row[i].strip() not in _MISSING}
        except ValueError as exc:
            raise FileFormatError(f"{where}: not a number ({exc})") from None
        if key in cells:
            raise FileFormatError(f"{where}: country {key[0]} year {key[1]} appears twice")
        cells[key] = values
        if name_at is not None:
            names[key[0]] = row[name_at].strip()
    return cells, outcome_names, names
