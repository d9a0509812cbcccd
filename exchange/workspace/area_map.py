"""The map component (犯罪制图): counts of cases by type and disputes by intake window per area and period
(``exchange.investigate.area_counts``), through a grant and on record in ``audit.access``; its table as
CSV or XLSX through the export writer (``exchange.export``). ``exchange map`` is the operator's use (as an
agency with ``--agency``); ``GET /map``, ``GET /map/export`` and ``/console/map`` go through the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exchange.errors import ConfigError
from exchange.investigate.areas import LEVELS, REST
from exchange.spec.settings import Settings
from exchange.warehouse.engine import reading
from exchange.workspace.investigate import operator_tool
from exchange.workspace.record import _operator_record

TOOL = "map"
EXPORT_FORMATS = ("csv", "xlsx")
LEVEL_NAMES = {"city": "市", "district": "区县", "town": "乡镇街道", "community": "社区村", "compound": "小区"}


__all__ = ["LEVELS", "LEVEL_NAMES", "REST"]  # the faces read the levels here (they never import the core)


def city_outlines(root: Path) -> Any:
    """The city's county boundaries (``exchange.investigate.boundaries.CityMap``), for the map page."""
    from exchange.investigate.boundaries import city_map

    return city_map(root)


def described(params: dict[str, Any]) -> str:
    parts = [f"map {params.get('kind') or 'case'}", f"period {params.get('period') or 'last month'}",
             f"level {params.get('level') or 'district'}"]
    parts += [f"{k} {params[k]}" for k in ("by", "inside") if params.get(k)]
    if params.get("format"):
        parts.append(f"export {params['format']}")
    return " ".join(parts)


def run_map(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any], int, None]:
    from exchange.formats import load_division_codes
    from exchange.investigate import area_counts, boundaries
    from exchange.pipeline.stamps import now

    city = ws.cached("map.city", lambda: boundaries.city_map(ws.settings.root))
    kind = params.get("kind") or "case"
    spec = area_counts.KINDS.get(kind)
    if spec is None:
        raise ConfigError(f"map: kind {kind!r} — one of {', '.join(area_counts.KINDS)}")
    by = params.get("by") or spec.by[0]
    labels = {}
    for column in spec.by:
        field = ws.catalog.schemas[spec.entity].fields[column]
        codes = ws.catalog.codes.get(field.code_list) if field.code_list else None
        labels[column] = dict(codes.values) if codes is not None else {}
    period = area_counts.parse_period(params.get("period"), now().date())
    inside = params.get("inside") or None
    if inside is not None and not (inside.isdigit() and len(inside) in (6, 9, 12) and inside.startswith(city.prefix)):
        raise ConfigError(f"map: inside {inside!r} — a district (6 digits), town (9) or community (12) of "
                          f"{city.city}")
    with reading(engine) as conn:
        out = area_counts.area_map(conn, lens, kind, by=by, period=period, level=params.get("level") or "district",
                                   inside=inside, divisions=load_division_codes(), labels=labels,
                                   city=city.prefix, districts=tuple(a.code for a in city.counties))
        if params.get("points") and out["level"] not in ("city", "district"):
            out["points"] = area_counts.points(conn, lens, kind, period, inside)
    out["city"] = {"code": city.city, "source": city.source}
    return out, len(out["areas"]), None


def table(answer: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The answer as one table (the console's, the export's): suppressed counts as ``<min_count``."""
    k = answer["min_count"]

    def shown(v: Any) -> Any:
        return f"<{k}" if v is None else v

    types = answer["types"]
    columns = ["区划代码", "名称", "层级", "常住人口", f"{answer['period']['label']} 数量", "每万人",
               f"{answer['previous']['label']} 数量", "变化", "变化率%", *types.values()]
    rows = []
    for r in answer["areas"]:
        rows.append([r["code"], r["name"] + ("（仅辖区部分）" if r.get("partial") else ""),
                     LEVEL_NAMES.get(r["level"], r["level"]), r["residents"],
                     shown(r["count"]), r["rate"] if r["rate"] is not None else "", shown(r["previous"]),
                     r["change"] if r["change"] is not None else "", r["change_pct"] if r["change_pct"] is not None
                     else "", *(shown(r["by_type"].get(t)) for t in types)])
    return columns, rows


def write_table(answer: dict[str, Any], out: Path, fmt: str | None = None) -> Any:
    """The answer's table to CSV or XLSX (formula injection neutralised as every export)."""
    from exchange import export

    kind = export.export_format(out, fmt)
    columns, rows = table(answer)
    return export.write_export(out, columns, rows, fmt=kind,
                               source=f"map {answer['kind']} {answer['level']} {answer['period']['label']}")


MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def download(answer: dict[str, Any], fmt: str) -> tuple[bytes, str, dict[str, str]]:
    """The table as a download (the API's and the console's): the file's bytes, its media type and the
    header that names it."""
    import tempfile

    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"map export: format {fmt!r} — csv or xlsx")
    with tempfile.TemporaryDirectory(prefix="exchange-map-") as folder:
        path = Path(folder) / f"map.{fmt}"
        write_table(answer, path, fmt)
        body = path.read_bytes()
    inside = f"-{answer['inside']}" if answer.get("inside") else ""
    name = f"map-{answer['kind']}-{answer['level']}{inside}-{answer['period']['label']}.{fmt}"
    return body, MEDIA_TYPES[fmt], {"Content-Disposition": f'attachment; filename="{name}"'}


def area_map(kind: str = "case", *, period: str | None = None, level: str = "district", by: str | None = None,
             inside: str | None = None, out: Path | None = None, agency: str | None = None,
             settings: Settings | None = None, purpose: str | None = None,
             case_number: str | None = None) -> dict[str, Any]:
    """``exchange map``: the operator's use (as ``agency`` sees it when given), on record; with ``out`` the
    table is written to that CSV/XLSX file too."""
    params = {"kind": kind, "period": period, "level": level, "by": by, "inside": inside,
              "format": out.suffix.lstrip(".").lower() if out else None}
    record = _operator_record("cli", described(params) + (f" as {agency}" if agency else ""), TOOL, purpose,
                              case_number)
    found = operator_tool(record, settings, agency, lambda engine, ws, lens: run_map(engine, ws, lens, params))
    if out is not None:
        found["written"] = str(write_table(found, out).path)
    return found

