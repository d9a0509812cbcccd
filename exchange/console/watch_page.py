"""The console's watch page (布控预警): the agency's alerts (newest first; each record as its grant shows it,
how it matched, acknowledge), its watches (revoke), and the form that registers one. Rendered like every
page (:mod:`exchange.console.pages`): escaped, what the gate answered for the grant."""

from __future__ import annotations

from typing import Any

from exchange.console.pages import e, error_box, layout, table

KIND_NAMES = {"person": "人员（person_uid）", "id": "身份证号", "phone": "手机号", "plate": "车牌"}
VIA_NAMES = {"id": "身份证号命中", "phone": "手机号命中", "plate": "车牌命中", "person": "经人员主索引关联"}
STATE_NAMES = {"active": "布控中", "expired": "已到期", "revoked": "已撤销"}


def _hidden(session: Any, **fields: Any) -> str:
    return f'<input type="hidden" name="csrf" value="{e(session.csrf)}">' + "".join(
        f'<input type="hidden" name="{k}" value="{e(v)}">' for k, v in fields.items())


def watch_page(session: Any, agency_name: str, alerts: dict[str, Any] | None, watches: dict[str, Any] | None,
               form: dict[str, str] | None = None, message: str | None = None) -> str:
    form = form or {}
    kinds = "".join(f'<option value="{k}"{" selected" if form.get("kind") == k else ""}>{v}</option>'
                    for k, v in KIND_NAMES.items())
    body = ["<h1>布控预警</h1>"]
    if message:
        body.append(error_box(message))
    if alerts is not None:
        body.append(f'<p class="muted" id="summary">预警 {e(len(alerts.get("alerts") or []))} 条，'
                    f'未签收 {e(alerts.get("open"))} 条</p>')
        body.append("".join(_alert(session, a) for a in alerts.get("alerts") or []) or
                    '<p class="muted">暂无预警</p>')
    body.append("<h2>布控对象</h2>")
    if watches is not None:
        rows = [{"id": w["watch_id"], "kind": KIND_NAMES.get(w["kind"], w["kind"]), "value": w["value"],
                 "case": w["case_number"], "reason": w["reason"], "until": w["expires_at"],
                 "state": STATE_NAMES.get(w["state"], w["state"]), "by": w["created_by"]}
                for w in watches.get("watches") or []]
        body.append(table(rows, [("id", "编号"), ("kind", "类型"), ("value", "布控值"), ("case", "案件编号"),
                                 ("reason", "事由"), ("until", "到期"), ("state", "状态"), ("by", "登记人")]))
        for w in watches.get("watches") or []:
            if w["state"] == "active":
                body.append(f'<form method="post" action="/console/watch/revoke" class="inline">'
                            f'{_hidden(session, watch_id=w["watch_id"])}<button type="submit">撤销 '
                            f'{e(w["watch_id"])}</button></form>')
    body.append(
        f'<form class="card" method="post" action="/console/watch">{_hidden(session)}<h2>新增布控</h2>'
        f'<label for="kind">类型</label><select id="kind" name="kind">{kinds}</select>'
        f'<label for="value">布控值</label><input type="text" id="value" name="value" maxlength="40" '
        f'value="{e(form.get("value"))}" autocomplete="off">'
        f'<label for="reason">布控事由</label><input type="text" id="reason" name="reason" maxlength="500" '
        f'value="{e(form.get("reason"))}">'
        f'<label for="case_number">案件编号</label><input type="text" id="case_number" name="case_number" '
        f'maxlength="64" value="{e(form.get("case_number") or session.case_number or "")}">'
        f'<label for="days">布控天数</label><input type="number" id="days" name="days" min="1" max="366" '
        f'value="{e(form.get("days") or 30)}"> '
        f'<button class="primary" type="submit">登记布控</button>'
        f'<p class="muted">只在本单位授权可见的数据中比对：新入库的记录或活动事件含布控值，或经人员主索引属于同一人时，'
        f'数据发布后即刻预警；每条记录只预警一次。登记、命中与签收均记入账本。</p></form>')
    return layout("布控预警", "".join(body), session, agency_name=agency_name, active="watch")


def _alert(session: Any, a: dict[str, Any]) -> str:
    values = a.get("values")
    shown = "；".join(f"{k}: {v}" for k, v in (values or {}).items() if k != "source_record_id" and v is not None)
    person = (f' · <a href="/console/persons/{e(a["person_uid"])}">{e(a["person_uid"])}</a>'
              if a.get("person_uid") else "")
    if a.get("acknowledged_at"):
        state = f'<span class="good">已签收</span> {e(a["acknowledged_by"])} {e(a["acknowledged_at"])}'
    else:
        state = (f'<form method="post" action="/console/watch/ack" class="inline">'
                 f'{_hidden(session, match_id=a["match_id"])}<button type="submit">签收</button></form>')
    return (f'<section class="card group" data-match="{e(a["match_id"])}"><h3>{e(a["watch_id"])} '
            f'{e(KIND_NAMES.get(a["kind"], a["kind"]))} {e(a["watched"])}'
            f'<span class="tag">{e(VIA_NAMES.get(a["via"], a["via"]))} · {e(a["matched_at"])}</span></h3>'
            f'<p>案件 {e(a["case_number"])} · {e(a["reason"])}{person}</p>'
            f'<p>{e(a["entity"])} · {e(a["agency"])}/{e(a["record"])} · 批次 {e(a["batch"])}</p>'
            f'<p class="muted">{e(shown) if values is not None else "本单位现已无权查看此记录"}</p>'
            f'<p>{state}</p></section>')
