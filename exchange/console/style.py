"""The console's one stylesheet, served by the server itself (``/console/static/console.css``): agencies
run on closed networks, so nothing is loaded from elsewhere (no CDN, no web font)."""

CSS = """
:root { --ink:#1d2330; --muted:#5b6474; --line:#d9dee7; --accent:#0b5cad; --bad:#b3261e; --ok:#1b7f3b; }
* { box-sizing: border-box; }
body { margin:0;
       font: 15px/1.5 "Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC","WenQuanYi Micro Hei",
             sans-serif;
       color:var(--ink); background:#f4f6f9; }
header.bar { display:flex; gap:1.5em; align-items:center; padding:.6em 1.5em; background:#10305a; color:#fff; }
header.bar a { color:#fff; text-decoration:none; }
header.bar .brand { font-weight:700; font-size:1.1em; }
header.bar nav { display:flex; gap:1em; flex:1; }
header.bar nav a.on { border-bottom:2px solid #fff; }
header.bar .who { font-size:.9em; opacity:.9; }
header.bar form { margin:0; }
header.bar button { background:transparent; color:#fff; border:1px solid #fff8; border-radius:4px; padding:.2em .7em;
                    cursor:pointer; }
.purpose { background:#fff7e0; border-bottom:1px solid #f0d890; padding:.4em 1.5em; font-size:.9em; }
main { padding:1.2em 1.5em 3em; max-width:1280px; }
h1 { font-size:1.4em; margin:.2em 0 .6em; }
h2 { font-size:1.15em; margin:1.4em 0 .5em; }
section.card, form.card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:1em 1.2em;
                          margin:0 0 1em; }
table { border-collapse:collapse; width:100%; background:#fff; font-size:.92em; }
th, td { border-bottom:1px solid var(--line); padding:.35em .6em; text-align:left; vertical-align:top; }
th { background:#eef2f7; font-weight:600; white-space:nowrap; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.muted { color:var(--muted); font-size:.9em; }
.error { background:#fdecea; border:1px solid #f5c2bd; color:var(--bad); padding:.6em 1em; border-radius:6px; }
.good { color:var(--ok); font-weight:600; } .bad { color:var(--bad); font-weight:600; }
input[type=text], input[type=password], input[type=search], select, textarea {
  font:inherit; padding:.4em .6em; border:1px solid #b8c1cf; border-radius:4px; min-width:16em; }
button.primary { font:inherit; background:var(--accent); color:#fff; border:0; border-radius:4px; padding:.45em 1.2em;
                 cursor:pointer; }
label { display:block; margin:.6em 0 .2em; font-weight:600; }
form.card.login { max-width:26em; margin:6em auto; }
.group h3 { margin:0 0 .4em; font-size:1.05em; }
.group .tag { display:inline-block; font-size:.8em; padding:0 .5em; border-radius:3px; background:#eef2f7;
              color:var(--muted); margin-left:.5em; }
svg.graph { max-width:100%; height:auto; background:#fff; border:1px solid var(--line);
            border-radius:6px; }
svg.graph .node circle { fill:#dbe8f7; stroke:#0b5cad; stroke-width:2; }
svg.graph .node.root circle { fill:#0b5cad; }
svg.graph .node text { font-size:13px; fill:#1d2330; }
svg.graph .edge text { font-size:11px; }
.legend .kind { display:inline-block; border:1px solid; border-radius:3px; padding:0 .4em; margin:0 .3em .3em 0;
                font-size:.85em; }
.kv th { width:9em; }
form.inline { display:inline; margin:0; }
form.inline button { font:inherit; font-size:.85em; white-space:nowrap; margin:0 .2em .2em 0; padding:.15em .6em;
                     border:1px solid #b8c1cf; border-radius:4px; background:#fff; cursor:pointer; }
table.links td:last-child { white-space:nowrap; }
.mapbox { background:#fff; border:1px solid var(--line); border-radius:6px; padding:.6em; margin:.8em 0;
          max-width:760px; }
svg.map { width:100%; height:auto; display:block; }
svg.map text, svg.map circle { pointer-events:none; }
svg.map a.county path:hover { stroke:#c0392b; stroke-width:2.4; }
svg.map text.name { font-size:13px; fill:#1d2330; paint-order:stroke; stroke:#fff; stroke-width:3px; }
svg.map text.count { font-size:12px; font-weight:600; fill:#1d2330; paint-order:stroke; stroke:#fff;
                     stroke-width:3px; }
svg.map circle.pt { stroke:#fff; stroke-width:.6; opacity:.85; }
.legend span { display:inline-flex; align-items:center; margin:0 .8em .2em 0; font-size:.85em; }
.legend svg.swatch { margin-right:.3em; }
a.export { margin-left:.6em; }
"""
