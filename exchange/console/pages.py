"""The console's pages, rendered on the server as HTML in Chinese. Every value is escaped; what a page
shows is what the gate answered for the user's grant (masked values arrive masked)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from exchange.console.graph_svg import graph_svg, kind_name, legend

FIELD_NAMES = {"id_number": "身份证号", "name": "姓名", "gender": "性别", "birth_date": "出生日期", "ethnicity": "民族",
               "phone": "联系电话", "address": "住址", "division_code": "区划代码", "household_number": "户号",
               "person_uid": "人员编号", "status": "状态", "agencies": "来源机构", "agency": "机构", "entity": "实体",
               "record": "记录", "role": "角色", "batch": "批次", "rule": "关联规则", "probability": "概率",
               "relation": "关系", "member_total": "成员数", "registrations": "户籍登记", "members": "成员",
               "case_number": "案件编号", "case_type": "案件类别", "title": "案由", "reported_date": "报案日期",
               "name_recorded": "登记姓名", "source": "来源", "dispute_number": "纠纷编号", "category": "类别",
               "programme": "人群类别", "credit_code": "统一社会信用代码"}
SECTION_NAMES = {"records": "关联记录", "households": "户籍", "cases": "案件", "disputes": "矛盾纠纷",
                 "programmes": "重点人群", "organizations": "单位"}
KINDS = {"": "全部要素", "id": "身份证号", "phone": "电话", "name": "姓名", "address": "地址", "plate": "车牌",
         "org": "单位", "case": "案件编号"}
MATCH_NAMES = {"exact": "完全一致", "suffix": "尾号", "prefix": "前缀", "pattern": "模糊字符", "pinyin": "拼音",
               "fuzzy": "模糊拼音", "substring": "包含"}
ROLE_NAMES = {"investigator": "查询人员", "auditor": "审计人员"}


def e(value: Any) -> str:
    return escape("" if value is None else str(value))


def plain(value: Any) -> str:
    """A JSON value as short text (nested objects as ``key: value``)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if set(value) >= {"value"}:
            return plain(value["value"])
        return "；".join(f"{k}: {plain(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, list):
        return "、".join(plain(v) for v in value)
    return str(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]] | None = None, *, numeric: tuple[str, ...] = (),
          links: dict[str, str] | None = None) -> str:
    if not rows:
        return '<p class="muted">无</p>'
    if columns is None:
        keys: list[str] = []
        for r in rows:
            keys += [k for k in r if k not in keys]
        columns = [(k, FIELD_NAMES.get(k, k)) for k in keys]
    head = "".join(f"<th>{e(title)}</th>" for _k, title in columns)
    body = []
    for r in rows:
        cells = []
        for k, _t in columns:
            text = e(plain(r.get(k)))
            if links and k in links and r.get(k):
                text = f'<a href="{e(links[k] + str(r[k]))}">{text}</a>'
            cells.append(f'<td class="num">{text}</td>' if k in numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def layout(title: str, body: str, session: Any = None, *, agency_name: str = "", active: str = "") -> str:
    bar = ""
    if session is not None:
        nav = ([("search", "/console/search", "要素联查"), ("collide", "/console/collide", "多点碰撞"),
                ("series", "/console/series", "智能串并"), ("watch", "/console/watch", "布控预警"),
                ("mediation", "/console/mediation", "矛盾调解"), ("map", "/console/map", "犯罪制图")]
               if session.role == "investigator" else
               [("batches", "/console/audit/batches", "批次与校验"), ("access", "/console/audit/access", "访问日志"),
                ("ledger", "/console/audit/ledger", "账本校验")])
        links = "".join(f'<a href="{h}"{" class=on" if k == active else ""}>{t}</a>' for k, h, t in nav)
        who = f"{e(agency_name)} · {e(session.display_name or session.user_name)}（{e(ROLE_NAMES.get(session.role))}）"
        bar = (f'<header class="bar"><span class="brand">数据共享交换平台</span><nav>{links}</nav>'
               f'<span class="who">{who}</span><form method="post" action="/console/logout">'
               f'<input type="hidden" name="csrf" value="{e(session.csrf)}"><button>退出</button></form></header>')
        if session.purpose:
            case = f"，案件编号 {e(session.case_number)}" if session.case_number else ""
            bar += (f'<div class="purpose">查询事由：<b>{e(session.purpose)}</b>{case}'
                    f'（每次查询均连同事由记入访问日志） <a href="/console/purpose">更改</a></div>')
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<title>{e(title)} · 数据共享交换平台</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/console/static/console.css"></head><body>{bar}<main>{body}</main>'
            f"</body></html>")


def error_box(message: str) -> str:
    return f'<p class="error" role="alert">{e(message)}</p>'


GATE_ERRORS = {400: "请求未被受理", 401: "身份未通过验证", 403: "本单位的共享授权不包括此项内容",
               404: "在本单位的授权范围内没有查到", 410: "此人员的记录已全部撤销", 429: "请求过于频繁，请稍后再试",
               503: "数据仓库暂不可用，请稍后再试"}


def gate_error(status: int, answer: dict[str, Any]) -> str:
    """What the gate said, in Chinese first, its own words after (they name the grant file or the rule)."""
    said = answer.get("error") or ""
    return f"{GATE_ERRORS.get(status, f'无法完成（{status}）')}" + (f"：{said}" if said else "")


def login_page(message: str | None = None, user: str = "") -> str:
    body = (f'<form class="card login" method="post" action="/console/login"><h1>数据共享交换平台 · 登录</h1>'
            f'{error_box(message) if message else ""}'
            f'<label for="user">用户名</label><input type="text" id="user" name="user" value="{e(user)}" '
            f'autocomplete="username" required autofocus>'
            f'<label for="password">密码</label><input type="password" id="password" name="password" '
            f'autocomplete="current-password" required><p><button class="primary" type="submit">登录</button></p>'
            f'<p class="muted">账号由平台管理员开设（exchange console user add），与本单位的共享授权绑定。</p></form>')
    return layout("登录", body)


def purpose_page(session: Any, agency_name: str, grant_purpose: str, case_required: bool, next_url: str,
                 message: str | None = None) -> str:
    star = "（必填）" if case_required else "（如有）"
    body = (f'<h1>查询事由</h1><form class="card" method="post" action="/console/purpose">'
            f'{error_box(message) if message else ""}'
            f'<p>查询前请说明事由。事由与案件编号随每一次查询记入访问日志，供审计核查。'
            f'本单位授权用途：{e(grant_purpose)}</p>'
            f'<input type="hidden" name="csrf" value="{e(session.csrf)}"><input type="hidden" name="next" '
            f'value="{e(next_url)}"><label for="purpose">查询事由</label><input type="text" id="purpose" '
            f'name="purpose" value="{e(session.purpose or "")}" maxlength="200" required>'
            f'<label for="case_number">案件 / 卷宗编号{star}</label><input type="text" id="case_number" '
            f'name="case_number" value="{e(session.case_number or "")}" maxlength="100"'
            f'{" required" if case_required else ""}><p><button class="primary" type="submit">确定</button></p></form>')
    return layout("查询事由", body, session, agency_name=agency_name)


def search_page(session: Any, agency_name: str, q: str = "", kind: str = "", answer: dict[str, Any] | None = None,
                message: str | None = None) -> str:
    options = "".join(f'<option value="{k}"{" selected" if k == kind else ""}>{v}</option>' for k, v in KINDS.items())
    form = (f'<form class="card" method="post" action="/console/search"><input type="hidden" name="csrf" '
            f'value="{e(session.csrf)}"><label for="q">查询要素'
            f'（姓名、拼音、身份证号或尾号、电话、地址、车牌、单位、案件编号）</label>'
            f'<input type="search" id="q" name="q" value="{e(q)}" maxlength="100" required autofocus> '
            f'<select name="kind" aria-label="要素类型">{options}</select> '
            f'<button class="primary" type="submit">查询</button>'
            f'<p class="muted">车牌看不清的一位用 ? 代替，如 陕G1?345。</p></form>')
    body = ["<h1>要素联查</h1>", form]
    if message:
        body.append(error_box(message))
    if answer is not None:
        groups = answer.get("groups") or []
        kinds = "、".join(KINDS.get(k, k) for k in answer.get("kinds") or [])
        body.append(f'<p class="muted" id="summary">“{e(answer.get("query"))}” 按 {e(kinds)} 查询：'
                    f'{len(groups)} 组，{e(answer.get("hits"))} 条命中'
                    f'{"（结果过多，只显示前面部分）" if answer.get("truncated") else ""}</p>')
        if answer.get("too_common"):
            body.append(f'<p class="muted" id="too-common">“{e(answer.get("query"))}”在'
                        f'{e("、".join(KINDS.get(k, k) for k in answer["too_common"]))}中过于常见，未能全部查找：'
                        f'请输入更完整的内容。</p>')
        if answer.get("index_behind"):
            body.append(f'<p class="muted" id="index-behind">索引尚有 {e(answer["index_behind"])} 个已发布批次未收录，'
                        f'其中记录暂不能查到。</p>')
        for g in groups:
            body.append(_group(g))
    return layout("要素联查", "".join(body), session, agency_name=agency_name, active="search")


_GROUP_NAMES = {"person": "人员", "vehicle": "车辆", "organization": "单位", "record": "记录"}


def _group(g: dict[str, Any]) -> str:
    title = e(g.get("label") or g.get("person_uid") or "")
    if g.get("group") == "person" and g.get("person_uid"):
        uid = e(g["person_uid"])
        title = f'<a href="/console/persons/{uid}">{title}</a> <span class="muted">{uid}</span>'
    hits = [{**h, "match": MATCH_NAMES.get(h.get("match"), h.get("match"))} for h in g.get("hits") or []]
    cols = [("agency", "机构"), ("table", "表"), ("record", "记录"), ("field", "字段"), ("match", "匹配"),
            ("value", "值"), ("batch", "批次")]
    return (f'<section class="card group" data-group="{e(g.get("group"))}"><h3>{title}'
            f'<span class="tag">{e(_GROUP_NAMES.get(g.get("group"), g.get("group")))}</span></h3>'
            f"{table(hits, cols)}</section>")


def person_page(session: Any, agency_name: str, ident: str, profile: tuple[int, dict[str, Any]],
                timeline: tuple[int, dict[str, Any]], graph: tuple[int, dict[str, Any]], depth: int) -> str:
    status, doc = profile
    label = timeline[1].get("label") if timeline[0] == 200 else None
    if not label and graph[0] == 200 and graph[1].get("nodes"):
        label = graph[1]["nodes"][0].get("label")
    body = [f"<h1>人员档案：{e(label or ident)} <span class='muted'>{e(ident)}</span></h1>"]
    body.append("<h2>基本信息</h2>")
    if status == 200:
        identity = doc.get("identity") or {}
        rows = "".join(f"<tr><th>{e(FIELD_NAMES.get(k, k))}</th><td>{e(plain(v))}</td><td class='muted'>"
                       f"{e(_source(v.get('source')) if isinstance(v, dict) else '')}</td></tr>"
                       for k, v in identity.items())
        body.append(f'<section class="card"><table class="kv" id="identity">{rows}</table>'
                    f'<p class="muted">来源机构：{e(plain(doc.get("agencies")))}</p></section>')
        for key, name in SECTION_NAMES.items():
            if doc.get(key):
                body.append(f"<h2>{name}</h2>{table(doc[key])}")
    else:
        body.append(error_box(gate_error(status, doc)))
    body.append(f'<p><a href="/console/persons/{e(ident)}/companions">同行人员</a></p>')
    body.append('<h2>关系图</h2>')
    if graph[0] == 200:
        depths = "".join(f'<a href="?depth={d}"{" class=on" if d == depth else ""}>{d} 层</a> ' for d in (1, 2, 3))
        g = graph[1]
        body.append(f'<p class="muted">深度：{depths} · {len(g.get("nodes") or [])} 人，'
                    f'{len(g.get("edges") or [])} 条关系'
                    f'</p><div class="legend">{legend()}</div>{graph_svg(g)}')
        names = {n["person_uid"]: n.get("label") or n["person_uid"] for n in g.get("nodes") or []}
        rows = [{"from": names.get(x["source"]), "to": names.get(x["target"]), "kind": kind_name(x["kind"]),
                 "count": x.get("count"), "weight": x.get("weight"),
                 "evidence": "；".join(_evidence(ev) for ev in (x.get("evidence") or [])[:3])}
                for x in g.get("edges") or []]
        body.append(table(rows, [("from", "人员"), ("to", "关系人"), ("kind", "关系"), ("count", "次数"),
                                 ("weight", "权重"), ("evidence", "证据（前 3 条）")], numeric=("count", "weight")))
    else:
        body.append(error_box(gate_error(*graph)))
    body.append("<h2>活动轨迹</h2>")
    if timeline[0] == 200:
        rows = [{"at": t.get("at"), "end": t.get("end"), "label": t.get("label"), "place": _place(t.get("place")),
                 "detail": plain(t.get("detail")), "source": f"{t.get('agency')} {t.get('entity')} {t.get('record')}"}
                for t in timeline[1].get("entries") or []]
        body.append(table(rows, [("at", "时间"), ("end", "结束"), ("label", "事项"), ("place", "地点"),
                                 ("detail", "详情"), ("source", "来源")]))
    else:
        body.append(error_box(gate_error(*timeline)))
    return layout("人员档案", "".join(body), session, agency_name=agency_name, active="search")


def _source(src: Any) -> str:
    if not isinstance(src, dict):
        return plain(src)
    return " · ".join(str(src[k]) for k in ("agency", "entity", "record") if src.get(k))


def _place(place: Any) -> str:
    if not isinstance(place, dict):
        return plain(place)
    return " ".join(str(place[k]) for k in ("name", "code", "division") if place.get(k))


def _evidence(ev: dict[str, Any]) -> str:
    recs = "、".join(f"{r.get('agency')} {r.get('entity')} {r.get('record')}" for r in ev.get("records") or [])
    extra = " ".join(str(v) for k, v in ev.items() if k != "records" and v)
    return f"{extra} [{recs}]" if extra else recs


def batches_page(session: Any, agency_name: str, rows: list[dict[str, Any]]) -> str:
    for r in rows:
        r["reject"] = f"{100 * float(r['reject_ratio']):.1f}%" if r.get("reject_ratio") is not None else ""
        if r.get("state") == "failed" and r.get("rows_in") is None:  # failed before its rows were validated
            r.update(rows_in="—", rows_loaded="—", rows_quarantined="—")
    cols = [("batch_id", "批次"), ("feed", "数据源"), ("state", "状态"), ("rows_in", "读入"), ("rows_loaded", "入库"),
            ("rows_quarantined", "隔离"), ("reject", "拒收率"), ("started_at", "开始"), ("error", "错误")]
    body = ("<h1>批次与校验报告</h1><p class='muted'>每个批次：读入 = 入库 + 隔离；“—”：批次在逐行校验之前失败"
            "（源文件无法读取或缺少映射列），不计行数。点批次查看其校验规则与结果。</p>"
            + table(rows, cols, numeric=("rows_in", "rows_loaded", "rows_quarantined", "reject"),
                    links={"batch_id": "/console/audit/batches/"}))
    return layout("批次", body, session, agency_name=agency_name, active="batches")


def batch_page(session: Any, agency_name: str, batch: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    info = [("batch_id", "批次"), ("feed", "数据源"), ("agency", "机构"), ("entity", "实体"), ("state", "状态"),
            ("rows_in", "读入"), ("rows_valid", "通过校验"), ("rows_loaded", "入库"), ("rows_quarantined", "隔离"),
            ("rows_flagged", "带标记入库"), ("fingerprint", "源数据指纹"), ("code_version", "代码版本"),
            ("started_at", "开始"), ("finished_at", "结束"), ("error", "错误")]
    kv = "".join(f"<tr><th>{t}</th><td>{e(batch.get(k))}</td></tr>" for k, t in info)
    notes = json.loads(batch.get("notes") or "[]")  # what the batch report says of the source as a whole
    if notes:
        kv += "<tr><th>整体说明</th><td><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul></td></tr>"
    for c in checks:
        c["result"] = "通过" if c.get("success") else "未通过"
    cols = [("seq", "#"), ("field", "字段"), ("rule", "规则"), ("expectation", "期望"), ("result", "结果"),
            ("element_count", "行数"), ("unexpected_count", "不符"), ("missing_count", "缺失"),
            ("sample_values", "样例（已脱敏）")]
    failed = sum(1 for c in checks if not c.get("success"))
    body = (f"<h1>校验报告</h1><section class='card'><table class='kv'>{kv}</table></section>"
            f"<h2>期望 {len(checks)} 条，未通过 {failed} 条</h2>"
            + table(checks, cols, numeric=("element_count", "unexpected_count", "missing_count")))
    return layout("校验报告", body, session, agency_name=agency_name, active="batches")


def access_page(session: Any, agency_name: str, rows: list[dict[str, Any]]) -> str:
    cols = [("accessed_at", "时间(UTC)"), ("agency", "机构"), ("user_id", "用户"), ("channel", "渠道"),
            ("purpose", "事由"), ("case_number", "案件编号"), ("what", "请求"), ("subject", "对象"),
            ("row_count", "结果数"), ("status", "状态"), ("outcome", "结果")]
    body = ("<h1>访问日志</h1><p class='muted'>每一次查询、档案与关系图请求（含被拒绝的）都在此，身份证号已脱敏。</p>"
            + table(rows, cols, numeric=("row_count",)))
    return layout("访问日志", body, session, agency_name=agency_name, active="access")


def ledger_page(session: Any, agency_name: str, check: dict[str, Any]) -> str:
    state = ('<p class="good" id="ledger-state">账本完整：哈希链与各审计表一致</p>' if check.get("ok") else
             '<p class="bad" id="ledger-state">账本校验失败</p>')
    problems = "".join(f"<li>{e(p)}</li>" for p in (check.get("problems") or []) + (check.get("mismatches") or []))
    body = (f"<h1>账本校验</h1><section class='card'>{state}<p>共 {e(check.get('entries'))} 条，"
            f"链头 #{e(check.get('head_seq'))}"
            f" <code>{e(check.get('head_hash'))}</code>；尚未封存的访问日志 {e(check.get('unsealed'))} 行。</p>"
            f"{'<ul>' + problems + '</ul>' if problems else ''}</section><h2>最近的账本记录</h2>"
            + table(check.get("recent") or [], [("seq", "#"), ("kind", "类型"), ("subject", "对象"),
                                                 ("recorded_at", "时间(UTC)"), ("hash", "哈希")]))
    return layout("账本校验", body, session, agency_name=agency_name, active="ledger")
