"""The console's serial-case page (智能串并): candidate series in a window, each case with its manner and
place, each link with its score and what made it, and the analyst's confirm/reject on every link.
Rendered like every page (:mod:`exchange.console.pages`): escaped, what the gate answered for the grant."""

from __future__ import annotations

from typing import Any

from exchange.console.pages import e, error_box, layout, table

DECISION_NAMES = {"confirmed": "已确认", "rejected": "已否定"}
HOW = ("两案按案别、作案手段、侵害目标、作案工具、作案时段、距离、间隔及共同嫌疑人/电话/车辆逐项比对，每项权重为 "
       "log2(m/u)；合计达到阈值的两案连成串，分析人员可确认或否定每条串并关系（记入账本，下次分析沿用）。默认最近一年。")


def _label(labels: dict[str, dict[str, str]], code_list: str, value: Any) -> str:
    return labels.get(code_list, {}).get(str(value), "" if value is None else str(value))


def series_page(session: Any, agency_name: str, form: dict[str, str], answer: dict[str, Any] | None = None,
                message: str | None = None, offences: dict[str, str] | None = None) -> str:
    chosen = form.get("offence") or ""
    options = '<option value="">全部案别</option>' + "".join(
        f'<option value="{e(code)}"{" selected" if code == chosen else ""}>{e(label)}</option>'
        for code, label in (offences or {}).items())
    body = ["<h1>智能串并</h1>",
            f'<form class="card" method="get" action="/console/series">'
            f'<label>发案时间自 <input type="date" name="since" value="{e(form.get("since"))}"></label> '
            f'<label>至 <input type="date" name="until" value="{e(form.get("until"))}"></label> '
            f'<label>案别 <select name="offence">{options}</select></label> '
            f'<button class="primary" type="submit">串并分析</button>'
            f'<p class="muted">{HOW}</p></form>']
    if message:
        body.append(error_box(message))
    if answer is not None:
        labels = answer.get("labels") or {}
        cut = "（案件过多，只比对最近部分）" if answer.get("cut") else ""
        body.append(f'<p class="muted" id="summary">{e(answer.get("cases"))} 起案件，'
                    f'比对 {e(answer.get("pairs_scored"))} 对，串并关系 {e(answer.get("links"))} 条'
                    f'（阈值 {e(answer.get("threshold"))} 比特），候选系列 {e(answer.get("total"))} 个{cut}</p>')
        for s in answer.get("series") or []:
            body.append(_series(session, s, labels, form))
    return layout("智能串并", "".join(body), session, agency_name=agency_name, active="series")


def _series(session: Any, s: dict[str, Any], labels: dict[str, dict[str, str]], form: dict[str, str]) -> str:
    cases = [{"case": c.get("case_number"), "at": c.get("occurred_at"), "address": c.get("address"),
              "entry": _label(labels, "mo_entry", c.get("mo_entry")),
              "target": _label(labels, "mo_target", c.get("mo_target")), "tools": c.get("mo_tools"),
              "source": f"{c['provenance']['agency']} {c['provenance']['batch']}"} for c in s.get("cases") or []]
    links = "".join(_link(session, lk, form) for lk in s.get("links") or [])
    return (f'<section class="card group" data-series="{e(s.get("id"))}"><h3>{e(s.get("id"))}'
            f'<span class="tag">{e(_label(labels, "offence", s.get("offence")))} · {e(s.get("size"))} 起 · '
            f'平均 {e(s.get("score"))} 比特</span></h3>'
            + table(cases, [("case", "案件编号"), ("at", "发案时间"), ("address", "发案地址"), ("entry", "作案手段"),
                            ("target", "侵害目标"), ("tools", "作案工具"), ("source", "来源")])
            + f'<table class="links"><thead><tr><th>串并关系</th><th>得分</th><th>相同之处</th><th>不同之处</th>'
              f'<th>研判</th></tr></thead><tbody>{links}</tbody></table></section>')


LEVELS = {"same": "相同", "different": "不同", "most": "大部分相同", "some": "部分相同", "none": "无相同",
          "1h": "相差1小时内", "3h": "相差3小时内", "far": "相差较大", "1km": "1公里内", "3km": "3公里内",
          "10km": "10公里内", "community": "同社区", "town": "同乡镇街道", "county": "同区县", "3d": "3天内",
          "7d": "7天内", "14d": "14天内", "30d": "30天内", "90d": "90天内", "shared": "相同", "not": "不同"}
FAR = {"distance": "10公里以上", "gap": "90天以上"}


def _level(f: dict[str, Any]) -> str:
    if f["feature"] == "prior":
        return f"两案同串约{f.get('one_in')}分之一"
    if f["feature"] == "hotspot":
        manner = "同手段" if f.get("manner") else "同类"
        return f"{LEVELS.get(f.get('within'), '')}{manner}案件每年约{f.get('per_year')}起"
    if f["level"] == "far" and f["feature"] in FAR:
        return FAR[f["feature"]]
    return LEVELS.get(f["level"], str(f["level"]))


def _features(features: list[dict[str, Any]]) -> str:
    """The features in words (plain text: the caller escapes it)."""
    return "，".join(f"{f['label']}{_level(f)}（{float(f['weight']):+.1f}）" for f in features)


def _link(session: Any, lk: dict[str, Any], form: dict[str, str]) -> str:
    decided = lk.get("decision")
    back = "&".join(f"{k}={form[k]}" for k in ("since", "until", "offence") if form.get(k))
    buttons = "".join(
        f'<form method="post" action="/console/series/decide" class="inline">'
        f'<input type="hidden" name="csrf" value="{e(session.csrf)}">'
        f'<input type="hidden" name="a" value="{e("/".join(lk["a_key"]))}">'
        f'<input type="hidden" name="b" value="{e("/".join(lk["b_key"]))}">'
        f'<input type="hidden" name="back" value="{e(back)}">'
        f'<input type="hidden" name="decision" value="{what}">'
        f'<button type="submit">{label}</button></form>'
        for what, label in (("confirmed", "确认"), ("rejected", "否定")) if what != decided)
    state = f'<b>{e(DECISION_NAMES.get(decided, ""))}</b> ' if decided else ""
    return (f'<tr data-a="{e(lk.get("a"))}" data-b="{e(lk.get("b"))}"><td>{e(lk.get("a"))} ~ {e(lk.get("b"))}</td>'
            f'<td class="num">{e(lk.get("score"))}</td><td>{e(_features(lk.get("shared") or []))}</td>'
            f'<td>{e(_features(lk.get("apart") or []))}</td><td>{state}{buttons}</td></tr>')
