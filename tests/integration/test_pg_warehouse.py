"""The warehouse on the real PostgreSQL: loads, idempotent reloads, history, migrations and
the per-feed lock. (SIGKILL at every stage of a run: test_crash_recovery.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from exchange.errors import ConfigError, TransientError
from exchange.runner import run_feed
from exchange.spec.settings import Settings
from tests.conftest import write
from tests.integration.crash import FEED, Children, make_rows, q, wait_for


def test_load_reload_and_history_on_postgres(pg_project: Settings) -> None:
    csv, bad = make_rows(5000)
    write(pg_project.landing_dir / "police" / "r.csv", csv)
    out = run_feed("police.residents", settings=pg_project)
    assert (out.state, out.rows_in, out.rows_loaded, out.rows_quarantined) == ("published", 5000, 5000 - bad, bad)
    assert q(pg_project, "SELECT count(*), count(DISTINCT source_record_id) FROM core.person") == [(4950, 4950)]
    again = run_feed("police.residents", settings=pg_project)
    assert again.already_loaded
    assert q(pg_project, "SELECT count(*) FROM core.person") == [(4950,)]
    # change three names: three new versions, three superseded ones kept
    lines = csv.splitlines()
    for i in (1, 2, 3):
        lines[i] = lines[i].replace(f"居民{i - 1},", f"居民{i - 1}改,")
    lines.append(lines[4].replace("R0000003,", "R9000000,", 1))  # and one record the first export lacked
    write(pg_project.landing_dir / "police" / "r.csv", "\n".join(lines) + "\n")
    changed = run_feed("police.residents", settings=pg_project)
    assert (changed.inserted, changed.updated, changed.unchanged) == (1, 3, 4947)
    assert q(pg_project, "SELECT count(*) FROM core.person") == [(4951,)]
    assert q(pg_project, "SELECT count(*) FROM core.person_history") == [(3,)]
    assert q(pg_project, "SELECT name FROM core.person_history ORDER BY source_record_id") == [
        ("居民0",), ("居民1",), ("居民2",)]
    assert q(pg_project, "SELECT name FROM core.person WHERE source_record_id = 'R0000000'") == [("居民0改",)]
    states = q(pg_project, "SELECT state, rows_in, rows_valid + rows_quarantined FROM audit.batch ORDER BY started_at")
    assert [s[0] for s in states] == ["published", "published"] and all(s[1] == s[2] for s in states)


def test_existing_warehouse_is_migrated_additively(pg_project: Settings) -> None:
    csv, _ = make_rows(200, bad_every=0)
    write(pg_project.landing_dir / "police" / "r.csv", csv)
    run_feed("police.residents", settings=pg_project)
    path = pg_project.root / "schemas" / "person.yaml"
    schema = yaml.safe_load(path.read_text(encoding="utf-8"))
    schema["version"] = "2.1.0"
    schema["fields"]["nickname"] = {"type": "string", "pii": "direct_identifier", "description": "Nickname."}
    path.write_text(yaml.safe_dump(schema, allow_unicode=True), encoding="utf-8")
    write(pg_project.landing_dir / "police" / "r.csv", csv.replace("R0000001,居民1", "R0000001,居民一"))
    run_feed("police.residents", settings=pg_project)
    assert q(pg_project, "SELECT count(*), count(nickname) FROM core.person") == [(200, 0)]
    # a breaking change is refused and nothing is altered
    schema["version"] = "3.0.0"
    schema["fields"]["ethnicity"]["type"] = "integer"
    path.write_text(yaml.safe_dump(schema, allow_unicode=True), encoding="utf-8")
    feed = pg_project.root / "feeds" / "police" / "residents.yaml"
    feed.write_text(FEED.replace("person@2", "person@3"), encoding="utf-8")
    (pg_project.root / "feeds" / "justice" / "other.yaml").unlink()
    with pytest.raises(ConfigError, match=r"core\.person\.ethnicity: type TEXT → BIGINT"):
        run_feed("police.residents", settings=pg_project)
    assert q(pg_project, "SELECT data_type FROM information_schema.columns WHERE table_schema='core' "
                         "AND table_name='person' AND column_name='ethnicity'") == [("text",)]


def test_second_run_of_a_feed_is_refused_while_other_feeds_proceed(pg_project: Settings, tmp_path: Path,
                                                                   children: Children) -> None:
    csv, _ = make_rows(3000, bad_every=0)
    write(pg_project.landing_dir / "police" / "r.csv", csv)
    write(pg_project.landing_dir / "other" / "r.csv", csv)
    marker = tmp_path / "held"
    proc = children.spawn("police.residents", point="load.copy", marker=marker)
    try:
        wait_for(marker, proc)
        with pytest.raises(TransientError, match="another run holds its lock"):
            run_feed("police.residents", settings=pg_project)
        other = run_feed("justice.other", settings=pg_project)  # a different feed is not blocked
        assert other.state == "published"
    finally:
        children.reap()  # SIGKILL: the lock goes with the session
    out = run_feed("police.residents", settings=pg_project)
    assert out.state == "published"
    assert q(pg_project, "SELECT source_agency, count(*) FROM core.person GROUP BY 1 ORDER BY 1") == [
        ("justice", 3000), ("police", 3000)]
