"""The second reference of bench/load_vs_copy: dlt (pinned in requirements-dlt.txt, run in its own virtualenv)
loading the same CSV into the same PostgreSQL server through its Arrow path, with no validation at all.

    bench/load_vs_copy/.venv-dlt/bin/python bench/load_vs_copy/dlt_load.py FILE.csv POSTGRES_URL [csv|insert_values]

The file is read by pyarrow (every column as text) in 200,000-row batches handed to dlt as one resource;
dlt normalises them and loads them with the given loader file format (csv: PostgreSQL COPY). Prints the
seconds it took, from reading the file to the load committed."""

from __future__ import annotations

import sys
import tempfile
import time

import dlt
import pyarrow as pa
import pyarrow.csv as pv

CANONICAL = ["source_record_id", "name", "id_number", "gender", "birth_date", "ethnicity", "phone", "address",
             "division_code", "household_number"]
"""The columns of the benchmark's file, in order, by the names the feed maps them to."""


def main() -> None:
    path, url = sys.argv[1], sys.argv[2]
    fmt = sys.argv[3] if len(sys.argv) > 3 else "csv"
    t = time.perf_counter()

    with open(path, encoding="utf-8") as fh:
        names = fh.readline().rstrip("\n").split(",")

    @dlt.resource(name="person", write_disposition="append")
    def rows():
        reader = pv.open_csv(path, read_options=pv.ReadOptions(block_size=32 << 20),
                             convert_options=pv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())))
        for batch in reader:  # dlt's naming convention drops Chinese characters: the canonical names instead
            yield batch.rename_columns(CANONICAL)

    with tempfile.TemporaryDirectory(prefix="bench-dlt-") as home:
        pipeline = dlt.pipeline(pipeline_name="bench_dlt", destination=dlt.destinations.postgres(url),
                                dataset_name="dlt_bench", pipelines_dir=home)
        pipeline.run(rows(), loader_file_format=fmt)
    print(f"{time.perf_counter() - t:.3f}")


if __name__ == "__main__":
    main()
