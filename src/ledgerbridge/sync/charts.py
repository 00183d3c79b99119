"""Monthly bar charts, laid out here and drawn as SVG by the `sync/_chart.html` template.

No chart library: the figures are a dozen bars, and server-drawn SVG works without scripts,
prints, and carries its own title, description and text labels for screen readers.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH = 720
HEIGHT = 260
LEFT = 48  # room for the value axis labels
RIGHT = 8
TOP = 22  # room for the total above the tallest bar
BOTTOM = 40  # room for month and year labels
BAR_SHARE = 0.62  # of each month's slot; the rest is the gap between bars


@dataclass(frozen=True)
class Series:
    key: str
    name: str


@dataclass(frozen=True)
class Segment:
    series: Series
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Column:
    month: date
    label: str  # "Mar"
    year_label: str  # "2026" under January and the first month, else ""
    total: int
    center: float
    top: float  # where the total's label sits
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class BarChart:
    title: str
    description: str
    columns: tuple[Column, ...]
    ticks: tuple[Tick, ...]
    series: tuple[Series, ...]  # for the legend, in stacking order (bottom first)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM

    @property
    def total(self) -> int:
        return sum(column.total for column in self.columns)


def nice_ceiling(value: int) -> int:
    """The smallest of 4, 8, 20, 40, 80, 200, … (four gridlines at 1, 2 or 5 x 10^n) >= value."""
    if value <= 4:
        return 4
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude * 4 >= value:
                return step * magnitude * 4
        magnitude *= 10


def month_label(month: date) -> str:
    return month.strftime("%b")


def monthly_bar_chart(
    *,
    title: str,
    months: Sequence[date],
    series: Sequence[tuple[Series, Sequence[int]]],
    unit: str,
) -> BarChart:
    """Stacked bars, one per month, one segment per series (values aligned with `months`)."""
    totals = [sum(values[i] for _, values in series) for i in range(len(months))]
    top_value = nice_ceiling(max(totals, default=0))
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - RIGHT - LEFT) / max(1, len(months))
    bar_width = slot * BAR_SHARE

    def y_of(value: float) -> float:
        return round(HEIGHT - BOTTOM - plot_height * value / top_value, 1)

    columns = []
    for index, month in enumerate(months):
        x = LEFT + slot * index + (slot - bar_width) / 2
        stacked = 0
        segments = []
        for serie, values in series:
            value = values[index]
            if value:
                y = y_of(stacked + value)
                height = round(y_of(stacked) - y, 1)
                segments.append(Segment(serie, value, round(x, 1), y, round(bar_width, 1), height))
            stacked += value
        first = index == 0 or month.month == 1
        columns.append(
            Column(
                month=month,
                label=month_label(month),
                year_label=str(month.year) if first else "",
                total=totals[index],
                center=round(x + bar_width / 2, 1),
                top=round(y_of(totals[index]) - 6, 1),
                segments=tuple(segments),
            )
        )
    ticks = tuple(Tick(top_value * step // 4, y_of(top_value * step / 4)) for step in range(5))
    return BarChart(
        title=title,
        description=_describe(title, columns, unit),
        columns=tuple(columns),
        ticks=ticks,
        series=tuple(serie for serie, _ in series),
    )


def _describe(title: str, columns: Sequence[Column], unit: str) -> str:
    """One sentence a screen reader can say instead of the picture."""
    if not columns:
        return f"{title}: no months to show."
    span = f"{columns[0].label} {columns[0].month.year} to {columns[-1].label} "
    span += str(columns[-1].month.year)
    total = sum(column.total for column in columns)
    if not total:
        return f"{title}, {span}: none."
    busiest = max(columns, key=lambda column: column.total)
    return (
        f"{title}, {span}: {total:,} {unit} in all; the most in {busiest.label} "
        f"{busiest.month.year} ({busiest.total:,}); {columns[-1].total:,} in "
        f"{columns[-1].label} {columns[-1].month.year}."
    )
