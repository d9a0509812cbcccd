"""A small hotel-stay feed loaded twice, the second time with a corrected check-in in another month, a
changed room and a new stay: what the event-table tests check on each warehouse (an event table is
partitioned by month on PostgreSQL and has no unique index on the record id alone there)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import text

from exchange.runner import run_feed
from exchange.warehouse.engine import make_engine
from tests.conftest import REPO, write

TODAY = dt.date(2026, 12, 1)
HEADER = "lsh,zjhm,xm,lgbm,lgmc,fh,rzsj,tfsj,qhdm,jd,wd\n"
FIRST = ["LY1,11010519491231002X,张三,LG610902001,汉江宾馆,301,2026-10-30 21:00:00,2026-10-31 09:00:00,"
         "610902001001,109.030000,32.680000",
         "LY2,11010519491231002X,张三,LG610902001,汉江宾馆,302,2026-11-20 22:10:00,,610902001001,109.03,32.68",
         "LY3,11010519491231002X,张三,LG610902001,汉江宾馆,303,2026-11-21 08:00:00,,610902001001,109.03,32.68"]
SECOND = [FIRST[0].replace("2026-10-30 21:00:00", "2026-11-02 21:00:00"),   # corrected into November
          FIRST[1].replace(",302,", ",305,"),                               # another room
          FIRST[2],                                                          # unchanged
          "LY4,11010519491231002X,张三,LG610902001,汉江宾馆,306,2026-11-25 20:00:00,,610902001001,109.03,32.68"]


def load_twice(project: Path, settings: Any) -> tuple[Any, Any, Any]:
    (project / "feeds" / "police").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "feeds" / "police" / "hotel_stays.yaml", project / "feeds" / "police" / "hotel_stays.yaml")
    landing = settings.landing_dir / "police" / "hotel_stays"
    write(landing / "a.csv", HEADER + "\n".join(FIRST) + "\n")
    first = run_feed("police.hotel_stays", settings=settings, today=TODAY)
    (landing / "a.csv").unlink()
    write(landing / "b.csv", HEADER + "\n".join(SECOND) + "\n")
    second = run_feed("police.hotel_stays", settings=settings, today=TODAY)
    engine = make_engine(settings.warehouse_url, root=settings.root)
    return first, second, engine


def check(first: Any, second: Any, engine: Any) -> None:
    assert (first.rows_loaded, first.inserted) == (3, 3)
    assert (second.inserted, second.updated, second.unchanged) == (1, 2, 1)
    with engine.connect() as conn:
        rows = {r[0]: (str(r[1])[:19], r[2]) for r in conn.execute(text(
            "SELECT source_record_id, check_in, room FROM core.hotel_stay"))}
        history = sorted((r[0], r[1]) for r in conn.execute(text(
            "SELECT source_record_id, room FROM core.hotel_stay_history")))
    assert rows == {"LY1": ("2026-11-02 21:00:00", "301"), "LY2": ("2026-11-20 22:10:00", "305"),
                    "LY3": ("2026-11-21 08:00:00", "303"), "LY4": ("2026-11-25 20:00:00", "306")}
    assert history == [("LY1", "301"), ("LY2", "302")]
