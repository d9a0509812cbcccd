"""The console's mediation page (矛盾纠纷调解): each intake window's queue — open disputes by step, the
overdue ones, those done in the last 30 days — and the overdue list. Rendered like every page
(:mod:`exchange.console.pages`): escaped, what the gate answered for the grant."""

from __future__ import annotations

from typing import Any

from exchange.console.pages import e, error_box, layout, table

STEPS = ("intake", "assigned", "mediating", "agreement")
LIMIT_NAMES = {"assign": "分派", "mediate": "调解", "confirm": "司法确认"}


def mediation_page(session: Any, agency_name: str, answer: dict[str, Any] | None, window: str = "",
                   message: str | None = None) -> str:
    body = ["<h1>矛盾纠纷调解</h1>"]
    if message:
        body.append(error_box(message))
    if answer is not None:
        names = answer["labels"]["dispute_category"]
        steps = answer["labels"]["mediation_step"]
        options = '<option value="">全部窗口</option>' + "".join(
            f'<option value="{e(code)}"{" selected" if code == window else ""}>{e(label)}</option>'
            for code, label in names.items())
        body.append(f'<form class="card" method="get" action="/console/mediation"><label>受理窗口 '
                    f'<select name="window">{options}</select></label> '
                    f'<button class="primary" type="submit">查看</button></form>')
        body.append(f'<p class="muted" id="summary">截至 {e(answer["as_of"])}：{e(answer["disputes"])} 件纠纷，'
                    f'超期 {e(answer["total_overdue"])} 件（时限：分派 {e(answer["limits"]["default"]["assign"])} 天，'
                    f'调解 {e(answer["limits"]["default"]["mediate"])} 天，司法确认 '
                    f'{e(answer["limits"]["default"]["confirm"])} 天；部分窗口另有规定）</p>')
        rows = [{"window": names.get(w["window"], w["window"]), **{s: w[s] for s in STEPS}, "open": w["open"],
                 "overdue": w["overdue"], "done": w["done_30d"]} for w in answer["windows"]]
        body.append(table(rows, [("window", "受理窗口"), *((s, steps.get(s, s)) for s in STEPS), ("open", "在办"),
                                 ("overdue", "超期"), ("done", "近30天办结")],
                          numeric=(*STEPS, "open", "overdue", "done")))
        late = [{"number": x["dispute_number"], "window": names.get(x["window"], x["window"]),
                 "step": steps.get(x["step"], x["step"]), "since": x["since"], "days": x["days"],
                 "limit": f'{LIMIT_NAMES.get(x["limit"], x["limit"])} {x["limit_days"]} 天', "unit": x["unit"] or ""}
                for x in answer["overdue"]]
        columns = [("number", "登记编号"), ("window", "受理窗口"), ("step", "所处节点"), ("since", "起算时间"),
                   ("days", "已用天数"), ("limit", "时限"), ("unit", "责任单位")]
        body.append("<h2>超期案件</h2>" + table(late, columns, numeric=("days",)))
    return layout("矛盾纠纷调解", "".join(body), session, agency_name=agency_name, active="mediation")
