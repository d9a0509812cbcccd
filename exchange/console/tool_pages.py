"""The console's pages of the collision tools: multi-point collision (多点碰撞) — a form of up to five
points, each a place code or a division code with its window — and a person's companions (同行).
Rendered like every page (:mod:`exchange.console.pages`): escaped, what the gate answered for the grant."""

from __future__ import annotations

from typing import Any

from exchange.console.pages import e, error_box, layout, table

ROWS = 5
POINT_KINDS = {"place": "地点编码（旅馆、网吧、卡口、小区）", "division": "行政区划代码（4/6/9/12 位）"}
SUBJECT_NAMES = {"person": "人员", "vehicle": "车辆"}


def collide_page(session: Any, agency_name: str, form: dict[str, str], answer: dict[str, Any] | None = None,
                 message: str | None = None) -> str:
    rows = []
    for i in range(1, ROWS + 1):
        kind = form.get(f"kind{i}") or "place"
        options = "".join(f'<option value="{k}"{" selected" if k == kind else ""}>{v}</option>'
                          for k, v in POINT_KINDS.items())
        rows.append(f'<tr><th>P{i}</th><td><select name="kind{i}" aria-label="P{i} 类型">{options}</select></td>'
                    f'<td><input name="value{i}" value="{e(form.get(f"value{i}"))}" maxlength="32" '
                    f'aria-label="P{i} 编码"></td>'
                    f'<td><input type="datetime-local" name="start{i}" value="{e(form.get(f"start{i}"))}" '
                    f'aria-label="P{i} 开始"></td>'
                    f'<td><input type="datetime-local" name="end{i}" value="{e(form.get(f"end{i}"))}" '
                    f'aria-label="P{i} 结束"></td></tr>')
    body = ["<h1>多点碰撞</h1>",
            f'<form class="card" method="post" action="/console/collide"><input type="hidden" name="csrf" '
            f'value="{e(session.csrf)}"><table><thead><tr><th>点位</th><th>类型</th><th>编码</th><th>开始</th>'
            f'<th>结束</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<label for="min">至少出现在几个点位</label> '
            f'<input type="number" id="min" name="min" min="2" max="{ROWS}" value="{e(form.get("min") or 2)}"> '
            f'<button class="primary" type="submit">碰撞</button>'
            f'<p class="muted">空行不计；每个时间窗不超过 31 天；车辆的过车记录同时计入其登记车主。</p></form>']
    if message:
        body.append(error_box(message))
    if answer is not None:
        points = [{"label": p["label"], "where": p.get("place") or p.get("division"), "start": p["start"],
                   "end": p["end"], "events": p["events"], "cut": "是" if p["truncated"] else ""}
                  for p in answer.get("points") or []]
        body.append(table(points, [("label", "点位"), ("where", "编码"), ("start", "开始"), ("end", "结束"),
                                   ("events", "事件数"), ("cut", "截断")], numeric=("events",)))
        subjects = answer.get("subjects") or []
        body.append(f'<p class="muted" id="summary">出现在 {e(answer.get("min_points"))} 个及以上点位：'
                    f'{e(answer.get("total"))} 个对象{"（只显示前面部分）" if answer.get("truncated") else ""}</p>')
        for s in subjects:
            body.append(_subject(s))
    return layout("多点碰撞", "".join(body), session, agency_name=agency_name, active="collide")


def _subject(s: dict[str, Any]) -> str:
    if s.get("kind") == "person":
        uid = e(s.get("person_uid"))
        title = f'<a href="/console/persons/{uid}">{e(s.get("label") or uid)}</a> <span class="muted">{uid}</span>'
    else:
        owner = s.get("owner")
        title = e(s.get("plate")) + (f' <span class="muted">车主 <a href="/console/persons/{e(owner)}">{e(owner)}</a>'
                                     f"</span>" if owner else "")
    events = [{"point": ev.get("point"), "at": ev.get("at"), "label": ev.get("label"),
               "place": ev.get("place_name") or ev.get("place"), "via": ev.get("via"),
               "source": f"{ev.get('agency')} {ev.get('entity')} {ev.get('record')}"} for ev in s.get("events") or []]
    return (f'<section class="card group" data-kind="{e(s.get("kind"))}"><h3>{title}'
            f'<span class="tag">{e(SUBJECT_NAMES.get(s.get("kind"), s.get("kind")))} · '
            f'{e(s.get("count"))} 个点位</span></h3>'
            + table(events, [("point", "点位"), ("at", "时间"), ("label", "事项"), ("place", "地点"), ("via", "经由"),
                             ("source", "来源")]) + "</section>")


def companions_page(session: Any, agency_name: str, ident: str, since: str, until: str,
                    answer: tuple[int, dict[str, Any]] | None, message: str | None = None) -> str:
    body = [f"<h1>同行人员：<a href='/console/persons/{e(ident)}'>{e(ident)}</a></h1>",
            f'<form class="card" method="get"><label>开始 <input type="date" name="since" value="{e(since)}"></label> '
            f'<label>结束 <input type="date" name="until" value="{e(until)}"></label> '
            f'<button class="primary" type="submit">查询</button>'
            f'<p class="muted">同一地点前后 5 分钟内、至少 2 次、2 个不同地点同时出现；时间段不超过 31 天。</p></form>']
    if message:
        body.append(error_box(message))
    if answer is not None and answer[0] == 200:
        doc = answer[1]
        body.append(f'<p class="muted" id="summary">本人 {e(doc.get("own_events"))} 条活动记录，同行对象 '
                    f'{e(doc.get("total"))} 个</p>')
        rows = []
        for c in doc.get("companions") or []:
            who = c.get("person_uid") or c.get("plate")
            seen = "；".join(f"{ev.get('place_name') or ev.get('place')} {ev['subject']['at']} / "
                            f"{ev['companion']['at']}" for ev in c.get("evidence") or [])
            rows.append({"who": who, "label": c.get("label") or (f"车主 {c['owner']}" if c.get("owner") else ""),
                         "kind": SUBJECT_NAMES.get(c.get("kind"), c.get("kind")), "times": c.get("times"),
                         "places": c.get("places"), "seen": seen})
        body.append(table(rows, [("who", "对象"), ("label", "姓名/车主"), ("kind", "类型"), ("times", "次数"),
                                 ("places", "地点数"), ("seen", "同时出现（地点、本人时间/对方时间）")],
                          numeric=("times", "places")))
    return layout("同行人员", "".join(body), session, agency_name=agency_name, active="search")
