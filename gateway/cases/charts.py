"""Charts of the service levels, drawn on the server as SVG with matplotlib.

Each function takes plain data (what :mod:`gateway.cases.reports` adds up) and the
texts to write on the chart (title and axis labels, in the reader's language), and
returns an SVG document as text. Nothing here reads a node.

The SVG is deterministic: the same data and texts give the same bytes (a fixed
``svg.hashsalt`` for the ids, no date in the metadata, text kept as text with
``svg.fonttype = "none"``), so it can be compared and cached. Rendered documents are
cached by their input (:func:`cache_info`): a chart costs some tens of milliseconds
to draw and nothing once drawn.

The documents carry a ``<style>`` element and ``style`` attributes and no script:
they are meant to be served as images (``<img src=...>``), which never run scripts,
under a policy of their own that allows inline styles.

matplotlib is used through its object-oriented API (:class:`matplotlib.figure.Figure`
with the SVG canvas), never pyplot: no global figure state, no GUI backend. Drawing
holds a lock, because matplotlib's rc parameters are global to the process.
"""

from __future__ import annotations

import functools
import io
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@functools.cache
def _mpl() -> SimpleNamespace:
    """matplotlib, imported when the first chart is drawn: a node process that draws
    none (every gateway serve worker until an auditor opens the page, every command)
    does not pay the half second its import takes."""
    import matplotlib

    matplotlib.use("Agg")  # never a GUI backend, whatever the environment says
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    return SimpleNamespace(
        matplotlib=matplotlib,
        FigureCanvasSVG=FigureCanvasSVG,
        Figure=Figure,
        MaxNLocator=MaxNLocator,
        PercentFormatter=PercentFormatter,
    )

__all__ = [
    "Labels",
    "bars",
    "cache_info",
    "response_days",
    "share_on_time",
]

# The console's colours (static/console.css): accent, fail, muted, lines.
ACCENT = "#0b4f8a"
FAIL = "#a3111a"
MUTED = "#555e68"
LINE = "#d5dae0"

_RC: dict[Any, Any] = {
    "svg.hashsalt": "gateway.cases.charts",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9.0,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": "#1b1f24",
    "axes.titlesize": 11.0,
    "axes.titleweight": "bold",
    "xtick.color": MUTED,
    "ytick.color": MUTED,
}
# Inches: 389 x 194 pt, drawn about that size in two columns of the console's page.
_SIZE = (5.4, 2.7)
_DPI = 100
# Beyond this many columns, a histogram groups working days into wider bins.
_MAX_BINS = 40
_CHAR = 6.8  # px: the width of a character of the labels, about
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Labels:
    """The texts of a chart: its title, its axes, and what it says when it has no data."""

    title: str
    x: str
    y: str
    empty: str = "-"


def share_on_time(points: Iterable[tuple[str, float | None]], labels: Labels) -> str:
    """Bars of the share on time (0 to 1) per period, drawn as 0-100 %.

    ``points``: (the period's label, its share, or None when nothing was due).
    """
    return _svg("share", tuple((str(k), None if v is None else float(v)) for k, v in points),
                labels)  # fmt: skip


def bars(points: Iterable[tuple[str, int]], labels: Labels, *, horizontal: bool = False) -> str:
    """Bars of a count per label (steps overdue per month, or per unit)."""
    kind = "barh" if horizontal else "bar"
    return _svg(kind, tuple((str(k), int(v)) for k, v in points), labels)


def response_days(counts: Mapping[int, int], labels: Labels) -> str:
    """A histogram of response times: how many steps took each number of working days."""
    return _svg("hist", tuple(sorted((int(k), int(v)) for k, v in counts.items() if v)), labels)


def cache_info() -> functools._CacheInfo:
    """Hits and misses of the cache of rendered charts."""
    return _svg.cache_info()


@functools.lru_cache(maxsize=256)
def _svg(kind: str, data: tuple[tuple[object, object], ...], labels: Labels) -> str:
    mpl = _mpl()
    with _LOCK, mpl.matplotlib.rc_context(_RC):
        # Fixed margins: a constrained layout would cost twice the drawing.
        figure = mpl.Figure(figsize=_SIZE, dpi=_DPI)
        mpl.FigureCanvasSVG(figure)
        axes = figure.add_subplot()
        axes.set_title(labels.title, loc="left")
        _DRAW[kind](axes, data)
        if not data:
            axes.text(0.5, 0.5, labels.empty, transform=axes.transAxes, ha="center",
                      va="center", color=MUTED)  # fmt: skip
        axes.set_xlabel(labels.x)
        axes.set_ylabel(labels.y)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.subplots_adjust(**_margins(kind, data))
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _share(axes: Axes, data: Sequence[tuple[object, object]]) -> None:
    names = [str(k) for k, _ in data]
    values = [math.nan if v is None else float(v) * 100 for _, v in data]  # type: ignore[arg-type]
    bars_ = axes.bar(names, values, color=ACCENT, width=0.7)
    shown = ["" if math.isnan(v) else f"{v:.0f}%" for v in values]
    axes.bar_label(bars_, labels=shown, padding=2, fontsize=7.5, color=MUTED)
    axes.set_xlim(-0.5, len(names) - 0.5)  # months with nothing due keep their place
    axes.set_ylim(0, 112)
    axes.set_yticks([0, 20, 40, 60, 80, 100])
    axes.yaxis.set_major_formatter(_mpl().PercentFormatter(decimals=0))
    axes.grid(axis="y", color=LINE, linewidth=0.6)
    axes.set_axisbelow(True)
    _tilt(axes, names)


def _bar(axes: Axes, data: Sequence[tuple[object, object]]) -> None:
    names = [str(k) for k, _ in data]
    counts = [int(v) for _, v in data]  # type: ignore[call-overload]
    bars_ = axes.bar(names, counts, color=FAIL, width=0.7)
    axes.bar_label(bars_, labels=[str(n) if n else "" for n in counts], padding=2,
                   fontsize=7.5, color=MUTED)  # fmt: skip
    axes.margins(y=0.15)
    axes.yaxis.set_major_locator(_mpl().MaxNLocator(integer=True))
    axes.grid(axis="y", color=LINE, linewidth=0.6)
    axes.set_axisbelow(True)
    _tilt(axes, names)


def _barh(axes: Axes, data: Sequence[tuple[object, object]]) -> None:
    names = [str(k) for k, _ in data]
    axes.barh(names, [int(v) for _, v in data], color=FAIL, height=0.6)  # type: ignore[call-overload]
    axes.invert_yaxis()  # the first label on top, as a table reads
    axes.xaxis.set_major_locator(_mpl().MaxNLocator(integer=True))
    axes.grid(axis="x", color=LINE, linewidth=0.6)
    axes.set_axisbelow(True)


def _hist(axes: Axes, data: Sequence[tuple[object, object]]) -> None:
    days = [int(k) for k, _ in data]  # type: ignore[call-overload]
    counts = [int(v) for _, v in data]  # type: ignore[call-overload]
    top = max(days, default=0)
    width = max(1, math.ceil((top + 1) / _MAX_BINS))
    edges = [n * width - 0.5 for n in range(top // width + 2)]
    axes.hist(days, bins=edges, weights=counts, color=ACCENT, edgecolor="white", linewidth=0.5)
    axes.xaxis.set_major_locator(_mpl().MaxNLocator(integer=True))
    axes.yaxis.set_major_locator(_mpl().MaxNLocator(integer=True))
    axes.set_xlim(-0.5, max(edges[-1], 10.5))
    axes.grid(axis="y", color=LINE, linewidth=0.6)
    axes.set_axisbelow(True)


def _margins(kind: str, data: Sequence[tuple[object, object]]) -> dict[str, float]:
    """Room for the labels: the longest one on the left of horizontal bars, slanted ones
    below more than eight columns."""
    width, height = _SIZE[0] * _DPI, _SIZE[1] * _DPI
    longest = max((len(str(k)) for k, _ in data), default=4)
    left = 66 + (_CHAR * longest if kind == "barh" else 0)
    bottom = 44 + (_CHAR * longest * 0.72 if kind in ("share", "bar") and len(data) > 8 else 0)
    return {"left": left / width, "right": 0.98, "top": 1 - 34 / height, "bottom": bottom / height}


def _tilt(axes: Axes, names: Sequence[str]) -> None:
    """Labels on a slant when many would not fit side by side."""
    if len(names) > 8:
        axes.tick_params(axis="x", labelrotation=45)
        for label in axes.get_xticklabels():
            label.set_horizontalalignment("right")


_DRAW = {"share": _share, "bar": _bar, "barh": _barh, "hist": _hist}
