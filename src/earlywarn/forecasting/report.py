"""Self-contained HTML reports for analysts (inline SVG, no plotting library): a model's
backtest, and the transparent composite's own track record (``earlywarn score-backtest``).

A backtest has four views: the ROC curve, precision among the top k of each year, the
calibration curve (forecast against observed onset rate by decile) and the best rank of every
onset. The composite's track record has the ROC curve, recall among the top k and the onset
ranks; the composite is a score, not a probability, so it has no calibration curve.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_curve

from earlywarn.forecasting.backtest import RECALL_RANKS, BacktestResult
from earlywarn.scoring.track_record import TrackRecord

_W, _H, _PAD = 420, 300, 45


def _svg(title: str, body: str, x_label: str, y_label: str) -> str:
    return (
        f'<figure><svg width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{html.escape(title)}">'
        f'<rect x="{_PAD}" y="10" width="{_W - _PAD - 10}" height="{_H - _PAD - 10}" '
        'fill="none" stroke="#999"/>'
        f"{body}"
        f'<text x="{_W / 2}" y="{_H - 8}" text-anchor="middle" font-size="12">'
        f"{html.escape(x_label)}</text>"
        f'<text x="12" y="{_H / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 12 {_H / 2})">{html.escape(y_label)}</text>'
        f"</svg><figcaption>{html.escape(title)}</figcaption></figure>"
    )


def _xy(x: float, y: float, x_max: float = 1.0, y_max: float = 1.0) -> tuple[float, float]:
    px = _PAD + (x / x_max) * (_W - _PAD - 10)
    py = 10 + (1 - y / y_max) * (_H - _PAD - 10)
    return round(px, 1), round(py, 1)


def _polyline(points: Sequence[tuple[float, float]], colour: str, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    coords = " ".join(f"{x},{y}" for x, y in points)
    return f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'


def _ticks(x_max: float, y_max: float) -> str:
    out = []
    for i in range(5):
        fx, fy = x_max * i / 4, y_max * i / 4
        px, _ = _xy(fx, 0, x_max, y_max)
        _, py = _xy(0, fy, x_max, y_max)
        out.append(
            f'<text x="{px}" y="{_H - _PAD + 14}" font-size="10" text-anchor="middle">'
            f"{fx:.3g}</text>"
            f'<text x="{_PAD - 4}" y="{py + 3}" font-size="10" text-anchor="end">{fy:.2g}</text>'
        )
    return "".join(out)


def _roc(onset: Sequence[bool] | np.ndarray, risk: Sequence[float] | np.ndarray, auc: str) -> str:
    fpr, tpr, _ = roc_curve(onset, risk)
    return _svg(
        f"ROC curve (AUC {auc})",
        _ticks(1, 1)
        + _polyline([_xy(0, 0), _xy(1, 1)], "#bbb", dashed=True)
        + _polyline([_xy(float(a), float(b)) for a, b in zip(fpr, tpr, strict=True)], "#c0392b"),
        "false positive rate",
        "true positive rate (recall)",
    )


_STYLE = """<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}
figure{display:inline-block;margin:1em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}tr.missed{background:#fde2e2}
</style>"""


def render_report(result: BacktestResult) -> str:
    onset = np.array([s.onset for s in result.scored], dtype=bool)
    risk = np.array([s.max_risk for s in result.scored])
    rank = np.array([s.best_rank for s in result.scored])
    roc = _roc(onset, risk, str(result.auc))

    ks = np.arange(1, 61)
    precision = [float(onset[rank <= k].mean()) if (rank <= k).any() else 0.0 for k in ks]
    recall = [float((rank[onset] <= k).mean()) if onset.any() else 0.0 for k in ks]
    p_max = max(max(precision), 1e-9)
    prec_svg = _svg(
        "Precision (red) and recall (blue) among the k highest-ranked countries",
        _ticks(60, 1)
        + _polyline(
            [_xy(float(k), p, 60, 1) for k, p in zip(ks, precision, strict=True)], "#c0392b"
        )
        + _polyline([_xy(float(k), r, 60, 1) for k, r in zip(ks, recall, strict=True)], "#2c3e83"),
        "k (best rank of the two forecasts before the year)",
        f"share (precision peaks at {p_max:.2f})",
    )

    order = np.argsort(risk)
    bins = np.array_split(order, 10)
    mean_p = [float(risk[b].mean()) for b in bins if len(b)]
    observed = [float(onset[b].mean()) for b in bins if len(b)]
    top = max(max(mean_p), max(observed), 1e-3) * 1.1
    calibration = _svg(
        "Calibration by decile of forecast (observed onset rate against mean forecast)",
        _ticks(top, top)
        + _polyline([_xy(0, 0, top, top), _xy(top, top, top, top)], "#bbb", dashed=True)
        + _polyline([_xy(m, o, top, top) for m, o in zip(mean_p, observed, strict=True)], "#27ae60")
        + "".join(
            f'<circle cx="{_xy(m, o, top, top)[0]}" cy="{_xy(m, o, top, top)[1]}" r="3" '
            'fill="#27ae60"/>'
            for m, o in zip(mean_p, observed, strict=True)
        ),
        "mean forecast (max of the two years before)",
        "observed onset rate",
    )

    limit = max(RECALL_RANKS)
    rows = "".join(
        f"<tr{' class=missed' if o['best_rank'] > limit else ''}><td>{html.escape(o['name'])}"
        f"</td><td>{o['year']}</td><td>{o['best_rank']}</td><td>{o['max_risk']:.3f}</td></tr>"
        for o in result.onsets
    )
    figures = {
        "AUC": result.auc,
        "recall@10": result.recall_at_10,
        "recall@20": result.recall_at_20,
        "recall@30": result.recall_at_30,
        "onsets": result.n_onsets,
        "false alarms per hit at 4%": result.false_alarms_per_hit_at_4pct,
        "average precision": result.average_precision,
        "Brier score": result.brier,
        "seconds (wall)": result.seconds,
    }
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in figures.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>earlywarn backtest: {html.escape(result.model)}</title>
{_STYLE}</head><body>
<h1>Backtest of model <code>{html.escape(result.model)}</code></h1>
<p>Early Warning Project protocol: for each last training year T from {result.first_train_year}
to {result.last_train_year}, train on the data known then and forecast every country from year
T+2; each country-year is scored by the larger of the two forecasts made in the two years
before it, and by the better of their ranks.</p>
<table>{table}</table>
{roc}{prec_svg}{calibration}
<h2>Rank of each onset</h2>
<p>Best rank among the two forecasts that preceded the onset; shaded rows ranked worse than
{limit}.</p>
<table><tr><th>country</th><th>year</th><th>best rank</th><th>forecast</th></tr>{rows}</table>
</body></html>
"""


def write_report(result: BacktestResult, path: Path) -> None:
    path.write_text(render_report(result), encoding="utf-8")


def render_track_record(record: TrackRecord, names: dict[str, str] | None = None) -> str:
    """The composite's track record (``earlywarn score-backtest``) as a page."""
    names = names or {}
    limit = max(record.recall)
    ranks = np.array([o["best_rank"] for o in record.onsets_ranked])
    ks = np.arange(1, 61)
    recall = [float((ranks <= k).mean()) for k in ks]
    recall_svg = _svg(
        "Share of onsets among the k highest-ranked countries",
        _ticks(60, 1)
        + _polyline([_xy(float(k), r, 60, 1) for k, r in zip(ks, recall, strict=True)], "#2c3e83"),
        "k (best rank of the two composites before the year)",
        "recall",
    )
    figures = {
        "AUC": f"{record.auc:.4f}",
        **{f"onsets in the top {k}": f"{n} of {record.onsets}" for k, n in record.recall.items()},
        "country-years judged": record.country_years,
        "weight set": record.weight_set_id,
        "years without a stored run": ", ".join(map(str, record.years_without_runs)) or "none",
    }
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in figures.items())
    rows = "".join(
        f"<tr{' class=missed' if o['best_rank'] > limit else ''}>"
        f"<td>{html.escape(names.get(o['iso3'], o['iso3']))}</td><td>{o['year']}</td>"
        f"<td>{o['best_rank']}</td></tr>"
        for o in record.onsets_ranked
    )
    roc = _roc(np.array(record.outcome, dtype=bool), np.array(record.risk), f"{record.auc:.4f}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>earlywarn: the composite's track record</title>
{_STYLE}</head><body>
<h1>Track record of the risk composite, {record.first_year}-{record.last_year}</h1>
<p>No fitting: for each onset year Y the larger of a country's stored composites as of
31 December of Y-1 and Y-2, judged against the Early Warning Project's mass-killing onsets
(ROC AUC over every country-year with a composite), and each onset by the better of the
country's two ranks.</p>
<table>{table}</table>
{roc}{recall_svg}
<h2>Rank of each onset</h2>
<p>Best rank among the two composites that preceded the onset; shaded rows ranked worse than
{limit}.</p>
<table><tr><th>country</th><th>year</th><th>best rank</th></tr>{rows}</table>
</body></html>
"""
