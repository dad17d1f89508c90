"""The chart of signatures over time, laid out on the server for an inline SVG.

No JavaScript and nothing inline that the Content Security Policy refuses: the template
(templates/dashboard/_chart.html) draws with SVG presentation attributes only. Readable without
colour: one dark line with a hollow marker on each day someone signed, a dashed line for
everyone asked, labelled axes, and the running totals written on the chart. The template adds
its title, description and a table of the same figures.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from evidence.dashboard import Timeline

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 72, 696, 24, 292  # the plot area, in viewBox units
MAX_LABELLED_MARKERS = 8  # more running totals written on the chart would overlap


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    day: datetime.date
    running: int
    labelled: bool


@dataclass(frozen=True)
class Chart:
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    points: str  # for <polyline points="...">
    markers: list[Marker]
    asked_y: float
    asked: int
    end: Marker
    end_label_y: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = RIGHT
    top: int = TOP
    bottom: int = BOTTOM

    @property
    def x_title_y(self) -> int:
        return self.height - 12

    @property
    def y_title_x(self) -> int:
        return 18

    @property
    def middle_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def middle_y(self) -> float:
        return (self.top + self.bottom) / 2


def nice_step(largest: int, intervals: int = 5) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most `intervals` steps up to `largest`."""
    raw = max(largest, 1) / intervals
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return max(1, multiple * power)
    return 10 * power


def _day_label(day: datetime.date, with_year: bool) -> str:
    return f"{day.day} {day:%b}" + (f" {day.year}" if with_year else "")


def chart_for(timeline: Timeline) -> Chart:
    start, end = timeline.start, timeline.end
    if end <= start:  # published today: the one day, from its start (nobody signed) to now
        return _one_day_chart(timeline)
    span = (end - start).days
    top_value = max(timeline.asked, timeline.total, 1)
    step = nice_step(top_value)
    y_max = math.ceil(top_value / step) * step

    def x(day: datetime.date) -> float:
        return round(LEFT + (day - start).days / span * (RIGHT - LEFT), 1)

    def y(value: int) -> float:
        return round(BOTTOM - value / y_max * (BOTTOM - TOP), 1)

    # The running total at the end of each day: flat between signing days.
    vertices: list[tuple[datetime.date, int]] = [(start, 0)]
    for day, _added, running in timeline.days:
        before = day - datetime.timedelta(days=1)
        if before > vertices[-1][0]:
            vertices.append((before, vertices[-1][1]))
        if day == vertices[-1][0]:
            vertices[-1] = (day, running)
        else:
            vertices.append((day, running))
    if end > vertices[-1][0]:
        vertices.append((end, vertices[-1][1]))

    # The running total is written by each marker when there is room, and always at the end.
    room = len(timeline.days) <= MAX_LABELLED_MARKERS
    markers = [Marker(x(day), y(running), day, running, room and day != end) for day, _added, running in timeline.days]
    end_marker = Marker(x(end), y(timeline.total), end, timeline.total, True)

    day_step = max(1, math.ceil(span / 5))
    x_days = [start + datetime.timedelta(days=n) for n in range(0, span + 1, day_step)]
    if (end - x_days[-1]).days * 2 < day_step:
        x_days[-1] = end
    else:
        x_days.append(end)
    x_ticks = [
        Tick(x(day), _day_label(day, index == 0 or day.year != x_days[index - 1].year))
        for index, day in enumerate(x_days)
    ]
    y_ticks = [Tick(y(value), str(value)) for value in range(0, y_max + 1, step)]
    end_label_y = end_marker.y - 12 if end_marker.y - 12 > TOP + 28 else end_marker.y + 24
    return Chart(
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        points=" ".join(f"{x(day)},{y(value)}" for day, value in vertices),
        markers=markers,
        asked_y=y(timeline.asked),
        asked=timeline.asked,
        end=end_marker,
        end_label_y=end_label_y,
    )


def _one_day_chart(timeline: Timeline) -> Chart:
    """Published today: the axis runs from the start of today, when nobody had signed, to now.
    Nothing is drawn before the day the version was published."""
    day = timeline.start
    top_value = max(timeline.asked, timeline.total, 1)
    step = nice_step(top_value)
    y_max = math.ceil(top_value / step) * step

    def y(value: int) -> float:
        return round(BOTTOM - value / y_max * (BOTTOM - TOP), 1)

    end_marker = Marker(float(RIGHT), y(timeline.total), day, timeline.total, True)
    return Chart(
        x_ticks=[Tick(float(LEFT), _day_label(day, True)), Tick(float(RIGHT), "now")],
        y_ticks=[Tick(y(value), str(value)) for value in range(0, y_max + 1, step)],
        points=f"{float(LEFT)},{y(0)} {float(RIGHT)},{y(timeline.total)}",
        markers=[Marker(float(RIGHT), y(running), signed_on, running, False) for signed_on, _added, running in timeline.days],
        asked_y=y(timeline.asked),
        asked=timeline.asked,
        end=end_marker,
        end_label_y=end_marker.y - 12 if end_marker.y - 12 > TOP + 28 else end_marker.y + 24,
    )
