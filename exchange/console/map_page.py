"""The console's map page (犯罪制图): the form (cases or disputes, the breakdown, the period, the level), the
map (:mod:`exchange.console.map_svg`), the same numbers as a table, and the table as CSV or XLSX. Rendered
like every page (:mod:`exchange.console.pages`): escaped, what the gate answered for the grant."""

from __future__ import annotations

import urllib.parse
from typing import Any

from exchange.console.map_svg import legend, map_svg
from exchange.console.pages import e, error_box, layout
from exchange.workspace.area_map import LEVEL_NAMES, LEVELS, REST

KIND_NAMES = {"case": "案件", "dispute": "矛盾纠纷"}
BY_NAMES = {"case_type": "按案件类别", "offence": "按案别", "category": "按受理窗口"}
HOW = ("数量按发案（受理）日期所在期间统计，与上一期间比较；每万人发案率以主索引中的常住人口为分母。"
       "低于本单位授权阈值的数量显示为“<N”，并同时隐去足以推算出它的其他数量。区县边界来自国家地理信息公共服务平台"
       "（天地图），见 schemas/reference/boundaries。")


def query(form: dict[str, Any], **change: Any) -> str:
    merged = {k: v for k, v in {**form, **change}.items() if v not in (None, "", False)}
    return urllib.parse.urlencode(merged)


def _select(name: str, options: dict[str, str], chosen: str) -> str:
    return f'<select name="{name}">' + "".join(
        f'<option value="{e(k)}"{" selected" if k == chosen else ""}>{e(v)}</option>' for k, v in options.items()
    ) + "</select>"


def map_page(session: Any, agency_name: str, form: dict[str, Any], answer: dict[str, Any] | None,
             city: Any = None, message: str | None = None) -> str:
    kind = form.get("kind") or "case"
    by_options = {k: v for k, v in BY_NAMES.items() if (k == "category") == (kind == "dispute")}
    body = ["<h1>犯罪制图</h1>",
            '<form class="card" method="get" action="/console/map">'
            f'<label>统计对象 {_select("kind", KIND_NAMES, kind)}</label> '
            f'<label>分类 {_select("by", by_options, form.get("by") or next(iter(by_options)))}</label> '
            f'<label>期间 <input name="period" value="{e(form.get("period"))}" placeholder="2026-11 / 2026-Q4 / 2026" '
            f'size="9"></label> '
            f'<label>层级 {_select("level", {lv: LEVEL_NAMES[lv] for lv in LEVELS}, form.get("level") or "district")}'
            f'</label> '
            + (f'<input type="hidden" name="inside" value="{e(form["inside"])}">' if form.get("inside") else "")
            + f'<button class="primary" type="submit">统计</button><p class="muted">{e(HOW)}</p></form>']
    if message:
        body.append(error_box(message))
    if answer is not None and city is not None:
        body.append(_summary(answer, form))
        drill = lambda code: "/console/map?" + query(form, level="town", inside=code)  # noqa: E731
        body.append(f'<div class="mapbox">{map_svg(city, answer, drill)}{legend(answer, answer["types"])}</div>')
        if answer.get("level") not in ("city", "district") and answer.get("points") is None:
            body.append('<p class="muted">本单位授权不含案件坐标：乡镇以下只以表格给出数量。</p>')
        body.append(_table(answer, form))
    return layout("犯罪制图", "".join(body), session, agency_name=agency_name, active="map")


def _summary(answer: dict[str, Any], form: dict[str, Any]) -> str:
    total = answer.get("total") or {}
    k = answer["min_count"]

    def n(value: Any) -> str:
        return e(f"<{k}" if value is None else value)

    where = e(total.get("name") or "") + ("（仅本单位辖区部分）" if total.get("partial") else "")
    up = ""
    if answer.get("inside"):
        up = f' <a href="/console/map?{e(query(form, inside=None, level="district"))}">返回全市</a>'
    exports = " ".join(f'<a class="export" href="/console/map/export?{e(query(form, format=fmt))}">'
                       f"导出 {fmt.upper()}</a>" for fmt in ("csv", "xlsx"))
    period, prev = answer["period"], answer["previous"]
    hidden = f"，低于 {k} 的数量已隐去（{answer['suppressed']} 格）" if k > 1 else ""
    return (f'<p class="muted" id="summary">{where} {e(period["label"])}（{e(period["from"])} 至 {e(period["to"])}）'
            f'{e(answer["label"])} <b>{n(total.get("count"))}</b> 件，上期（{e(prev["label"])}）'
            f'{n(total.get("previous"))} 件；{e(LEVEL_NAMES[answer["level"]])} {len(answer["areas"])} 个{hidden}。'
            f"{up} {exports}</p>")


def _table(answer: dict[str, Any], form: dict[str, Any]) -> str:
    from exchange.workspace.area_map import table

    columns, rows = table(answer)
    deeper = LEVELS[LEVELS.index(answer["level"]) + 1] if answer["level"] != LEVELS[-1] else None
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        code = str(row[0])
        cells = []
        for i, v in enumerate(row):
            text = e(v)
            if i == 0 and deeper and not code.endswith(REST) and answer["level"] != "city":
                text = f'<a href="/console/map?{e(query(form, level=deeper, inside=code))}">{text}</a>'
            cells.append(f'<td class="num">{text}</td>' if i >= 3 else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        return '<p class="muted">无</p>'
    return f'<table id="map-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
