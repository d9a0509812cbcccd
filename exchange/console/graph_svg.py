"""The relation graph drawn as a graph: an SVG the server computes (no script, no library), the person
in the centre, each further depth on a wider ring, a depth's nodes placed near the node that brought
them in, one coloured line (curved when a pair has several) per edge with its kind and count, every
node a link to its person page."""

from __future__ import annotations

import math
from collections import defaultdict
from html import escape
from typing import Any

KIND_NAMES = {"household": "同户", "case": "同案", "dispute": "纠纷双方", "phone": "共用电话", "address": "同一住址",
              "hotel_room": "同住旅馆房间", "vehicle": "同一车辆", "co_presence": "多次同时同地"}
KIND_COLOURS = {"household": "#1b7f3b", "case": "#b3261e", "dispute": "#c26a00", "phone": "#6a3fb5",
                "address": "#5b6b7a", "hotel_room": "#0b6e99", "vehicle": "#8a5a00", "co_presence": "#d0368a"}
RING = 170
NODE_R, ROOT_R = 20, 28


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


def _positions(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], centre: float
               ) -> dict[str, tuple[float, float]]:
    depth = {n["person_uid"]: int(n.get("depth") or 0) for n in nodes}
    angle: dict[str, float] = {}
    pos: dict[str, tuple[float, float]] = {}
    neighbours: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        neighbours[e["source"]].append(e["target"])
        neighbours[e["target"]].append(e["source"])
    for d in range(0, max(depth.values(), default=0) + 1):
        ring = [n["person_uid"] for n in nodes if depth[n["person_uid"]] == d]
        if d == 0:
            for uid in ring:
                pos[uid], angle[uid] = (centre, centre), 0.0
            continue
        # a node sits near the nodes of the previous depth it is tied to (the mean of their angles)
        def wanted(uid: str, d: int = d) -> float:
            parents = [angle[p] for p in neighbours[uid] if depth.get(p) == d - 1 and p in angle]
            if not parents:
                return 0.0
            return math.atan2(sum(math.sin(a) for a in parents), sum(math.cos(a) for a in parents))

        ordered = sorted(ring, key=lambda u: (wanted(u), u))
        step = 2 * math.pi / max(len(ordered), 1)
        start = wanted(ordered[0]) if d > 1 else -math.pi / 2
        for i, uid in enumerate(ordered):
            a = start + i * step
            angle[uid] = a
            pos[uid] = (centre + RING * d * math.cos(a), centre + RING * d * math.sin(a))
    return pos


def graph_svg(graph: dict[str, Any], link: str = "/console/persons/") -> str:
    """The SVG of a graph answer (``nodes``, ``edges`` as the graph tool returns them)."""
    nodes, edges = graph.get("nodes") or [], graph.get("edges") or []
    depth = max((int(n.get("depth") or 0) for n in nodes), default=0)
    size = 2 * (RING * max(depth, 1) + 90)
    centre = size / 2
    pos = _positions(nodes, edges, centre)
    out = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size:.0f} {size:.0f}" '
           f'width="{size:.0f}" height="{size:.0f}" '
           f'role="img" aria-label="关系图：{len(nodes)} 人，{len(edges)} 条关系">']
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in edges:
        pairs[tuple(sorted((e["source"], e["target"])))].append(e)  # type: ignore[index]
    for (a, b), group in sorted(pairs.items()):
        if a not in pos or b not in pos:
            continue
        (x1, y1), (x2, y2) = pos[a], pos[b]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        nx, ny = -(y2 - y1) / length, (x2 - x1) / length
        for i, e in enumerate(group):
            bend = (i - (len(group) - 1) / 2) * 34
            cx, cy = (x1 + x2) / 2 + nx * bend, (y1 + y2) / 2 + ny * bend
            colour = KIND_COLOURS.get(e["kind"], "#444")
            width = min(1.5 + float(e.get("weight") or 1) / 2, 6)
            label = f"{kind_name(e['kind'])}×{e.get('count', 1)}"
            out.append(f'<g class="edge" data-kind="{escape(e["kind"])}"><title>{escape(label)}，权重 '
                       f'{escape(str(e.get("weight")))}</title><path d="M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} '
                       f'{x2:.1f},{y2:.1f}" stroke="{colour}" stroke-width="{width:.1f}" fill="none"/>'
                       f'<text x="{(x1 + 2 * cx + x2) / 4:.1f}" y="{(y1 + 2 * cy + y2) / 4 - 4:.1f}" '
                       f'fill="{colour}">{escape(label)}</text></g>')
    for n in nodes:
        uid = n["person_uid"]
        if uid not in pos:
            continue
        x, y = pos[uid]
        root = int(n.get("depth") or 0) == 0
        r = ROOT_R if root else NODE_R
        label = str(n.get("label") or uid)
        out.append(f'<a class="node{" root" if root else ""}" href="{escape(link + uid)}" data-uid="{escape(uid)}">'
                   f'<title>{escape(label)} {escape(uid)}</title><circle cx="{x:.1f}" cy="{y:.1f}" r="{r}"/>'
                   f'<text x="{x:.1f}" y="{y + r + 16:.1f}" text-anchor="middle">{escape(label)}</text></a>')
    out.append("</svg>")
    return "".join(out)


def legend() -> str:
    """The edge kinds in their colours (classes of the stylesheet: the pages' policy allows no inline style)."""
    return "".join(f'<span class="kind kind-{k}">{escape(v)}</span>' for k, v in KIND_NAMES.items())


def legend_css() -> str:
    return "".join(f".legend .kind-{k} {{ border-color:{c}; color:{c}; }}\n" for k, c in KIND_COLOURS.items())
