"""The steering committees' figures in the console (reporters and tracers; aggregates only): the
figures page, from the whole country down to a province, a district and its venues, by day or by
week, as a chart and a table, and the same selection as XLSX.

The selection travels in the URL (``/figures?area=p:Ninh%20Thuận&by=day&from=…&to=…``): it names
places and dates, never a person, so it may be bookmarked and shared. ``area`` is ``""`` (every
province), ``p:PROVINCE`` or ``d:PROVINCE|DISTRICT``; the table lists the level below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, render_template, request

from .. import queries
from ..store_figures import is_place_name
from . import export
from .chart import bar_chart
from .messages import text
from .pages import XLSX, _audit, _console, signed_in
from .roles import FIGURES

reporting = Blueprint("reporting", __name__)

#: Days shown when no dates are asked for: a week by day, four weeks by week.
DEFAULT_DAYS = {"day": 7, "week": 28}


@dataclass(frozen=True)
class Area:
    """What the figures are about: every province, one province, or one district of one."""

    province: str | None = None
    district: str | None = None

    @property
    def level(self) -> str:
        return "district" if self.district is not None else "province" if self.province is not None else "all"

    @property
    def rows_level(self) -> str:
        """The level the table lists: the provinces, a province's districts, a district's venues."""
        return {"all": "province", "province": "district", "district": "venue"}[self.level]

    @property
    def key(self) -> str:
        if self.district is not None:
            return f"d:{self.province}|{self.district}"
        return f"p:{self.province}" if self.province is not None else ""

    @property
    def parent(self) -> Area | None:
        return {"all": None, "province": Area(), "district": Area(self.province)}[self.level]


def parse_area(value: str) -> Area | None:
    """``""``, ``p:PROVINCE`` or ``d:PROVINCE|DISTRICT`` (None if it is none of them).

    >>> parse_area("d:Ninh Thuận|Ninh Hải").level, parse_area("p:").rows_level, parse_area("x")
    ('district', 'district', None)
    """
    if value == "":
        return Area()
    kind, _, rest = value.partition(":")
    if kind == "p" and is_place_name(rest):
        return Area(rest)
    province, bar, district = rest.partition("|")
    if kind == "d" and bar and is_place_name(province) and is_place_name(district):
        return Area(province, district)
    return None


@dataclass(frozen=True)
class Selection:
    area: Area
    by: str
    date_from: date
    date_to: date

    def query(self, **changes) -> str:
        values = {"area": self.area.key, "by": self.by, "from": self.date_from.isoformat(),
                  "to": self.date_to.isoformat()} | changes
        return urlencode(values)


def _selection(today: date) -> Selection | str:
    """The request's selection, or the reason it is not one (in the user's language)."""
    area = parse_area(request.args.get("area", ""))
    by = request.args.get("by", "day")
    if area is None or by not in DEFAULT_DAYS:
        return text("figures_bad", g.language)
    try:
        date_to = date.fromisoformat(request.args["to"]) if request.args.get("to") else today
        date_from = (date.fromisoformat(request.args["from"]) if request.args.get("from")
                     else date_to - timedelta(days=DEFAULT_DAYS[by] - 1))
    except ValueError:
        return text("figures_bad", g.language)
    if date_from > date_to or (date_to - date_from).days > queries.MAX_FIGURE_DAYS:
        return text("figures_span", g.language, days=queries.MAX_FIGURE_DAYS)
    return Selection(area, by, date_from, date_to)


def _figures(selection: Selection, level: str) -> list[dict]:
    console = _console()
    area = selection.area
    return queries.figures(console.store, by=selection.by, level=level, province=area.province,
                           district=area.district, date_from=selection.date_from, date_to=selection.date_to,
                           tz=console.timezone, today=selection.date_to)


def _periods(selection: Selection) -> list[date]:
    step = 7 if selection.by == "week" else 1
    first = selection.date_from - timedelta(days=selection.date_from.weekday() if step == 7 else 0)
    return [first + timedelta(days=i) for i in range(0, (selection.date_to - first).days + 1, step)]


def _today() -> date:
    console = _console()
    return console.now().astimezone(ZoneInfo(console.timezone)).date()


@reporting.get("/figures")
@signed_in(FIGURES)
def figures():
    selection = _selection(_today())
    if isinstance(selection, str):
        return render_template("message.html", message=selection), 400
    area = selection.area
    rows = _figures(selection, area.rows_level)
    # The area's own row per period (its distinct visitors, its peak); every province: their sums.
    totals: dict[str, dict] = {}
    if area.level == "all":
        for r in rows:
            t = totals.setdefault(r["day"], {"check_ins": 0, "visitors": 0})
            t["check_ins"] += r["check_ins"]
            t["visitors"] += r["visitors"]
    else:
        totals = {r["day"]: r for r in _figures(selection, area.level)}
    points = [(f"{p:%d/%m}", totals.get(p.isoformat(), {}).get("check_ins", 0),
               totals.get(p.isoformat(), {}).get("visitors", 0)) for p in _periods(selection)]
    places = _console().store.venue_list()
    provinces = sorted({v.province for v in places})
    districts = sorted({(v.province, v.district) for v in places})
    return render_template("figures.html", selection=selection, area=area, rows=rows, chart=bar_chart(points),
                           total=sum(p[1] for p in points), provinces=provinces, districts=districts,
                           parent=area.parent, area_name=area_name)


def area_name(area: Area) -> str:
    """How the page names an area (``""`` places: "not placed")."""
    if area.level == "all":
        return text("area_all", g.language)
    unplaced = text("area_unplaced", g.language)
    if area.level == "province":
        return area.province or unplaced
    return f"{area.district or unplaced}, {area.province or unplaced}"


@reporting.get("/figures.xlsx")
@signed_in(FIGURES)
def figures_export():
    """The figures page's table as XLSX: the same selection, aggregates only."""
    today = _today()
    selection = _selection(today)
    if isinstance(selection, str):
        return render_template("message.html", message=selection), 400
    level = selection.area.rows_level
    rows = _figures(selection, level)
    _audit("export_figures", query={"by": selection.by, "area": selection.area.key, "level": level,
                                    "from": selection.date_from.isoformat(), "to": selection.date_to.isoformat()},
           results=len(rows))
    title = (f"Số liệu check-in theo {'tuần' if selection.by == 'week' else 'ngày'} — {area_name(selection.area)}, "
             f"{selection.date_from:%d/%m/%Y}–{selection.date_to:%d/%m/%Y}")
    headers, table = export.figure_rows(rows, level)
    body = export.as_xlsx(table, title, headers=headers, sheet_title="Số liệu")
    response = current_app.response_class(body, mimetype=XLSX)
    response.headers["Content-Disposition"] = (f'attachment; filename="so-lieu-{selection.by}-'
                                               f'{selection.date_to:%Y-%m-%d}.xlsx"')
    return response
