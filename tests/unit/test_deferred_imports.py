"""GX imports SciPy's statistics and Altair at its own import, for expectations the exchange never compiles;
``exchange.validation`` defers them until first used (about a third of GX's import time at the start of every
validate stage and task). Checked in a fresh interpreter: the suite compiles and a chunk validates without
them; code that uses them later gets the real modules."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


def test_a_chunk_validates_without_loading_the_deferred_modules_and_they_work_when_used() -> None:
    got = _run("""
        import sys
        import pyarrow as pa
        from exchange.spec.catalog import load_catalog
        from exchange.validation import DEFERRED, _Deferred
        from exchange.validation.engine import BatchValidator
        from exchange.validation.suites import compile_suite

        catalog = load_catalog(__import__("pathlib").Path("."))
        schema = catalog.schemas["person"]
        compiled = compile_suite(schema, catalog)
        chunk = pa.table({f: pa.array(["x", None], pa.string()) for f in schema.fields})
        reasons = BatchValidator(compiled, feed_id="t.f").validate(chunk)
        assert reasons, "the chunk's bad values have reasons"
        print(",".join(type(sys.modules[n]).__name__ for n in DEFERRED))

        from scipy import stats            # the bindings GX made: the stand-ins, answering from the real modules
        import altair as alt
        assert abs(stats.entropy([0.5, 0.5], [0.9, 0.1]) - 0.5108256) < 1e-6 and alt.Chart.__name__ == "Chart"
        print(",".join(type(sys.modules[n]).__name__ for n in DEFERRED))
        import scipy.stats
        print(scipy.stats.norm.cdf(0))
    """)
    assert got.splitlines() == ["_Deferred,_Deferred", "module,module", "0.5"]
