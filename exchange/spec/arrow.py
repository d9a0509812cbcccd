"""Schema compiler, Arrow side: a canonical schema → the pyarrow schema of its rows.

Validated rows arrive as normalised strings; ``to_typed`` casts them to this schema.
Validation has already proven every value castable, so a cast failure here is a bug and
raises instead of altering a value.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from exchange.spec.schema import (
    DECIMAL_DIGITS,
    FLAGS,
    SOURCE_AGENCY,
    EntitySchema,
    FieldSpec,
    FieldType,
    unverified_column,
)

ARROW_TYPES: dict[FieldType, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("s"),
    "boolean": pa.bool_(),
}


def arrow_type(f: FieldSpec) -> pa.DataType:
    """The Arrow type of a field (a decimal's precision and scale follow its ``scale``)."""
    if f.type == "decimal":
        return pa.decimal128(DECIMAL_DIGITS + f.decimal_scale, f.decimal_scale)
    return ARROW_TYPES[f.type]

# Lineage columns a staged row carries after the schema's own fields (the batch id, the
# agency and the load time are added when the batch is loaded).
LINEAGE = pa.schema([
    pa.field("_source_file", pa.string()),
    pa.field("_source_row", pa.int64()),
    pa.field("_row_hash", pa.string(), nullable=False),
])


def arrow_schema(schema: EntitySchema) -> pa.Schema:
    """``source_agency`` + the schema's fields, typed, in declaration order."""
    fields = [pa.field(SOURCE_AGENCY, pa.string(), nullable=False)]
    for name, f in schema.fields.items():
        fields.append(pa.field(name, arrow_type(f), nullable=f.nullable,
                               metadata={"pii": f.pii, "description": f.description}))
    return pa.schema(fields, metadata={"schema": schema.name, "version": schema.version})


def flag_fields(schema: EntitySchema) -> list[pa.Field]:
    """The unverified value of each flagged field, and the row's flags (see ``exchange.flagging``)."""
    return [*(pa.field(unverified_column(n), pa.string()) for n in schema.flagged_fields), pa.field(FLAGS, pa.string())]


def staged_schema(schema: EntitySchema) -> pa.Schema:
    """What a staged Parquet file of valid rows holds: typed fields, flags + lineage."""
    base = arrow_schema(schema)
    return pa.schema(list(base)[1:] + flag_fields(schema) + list(LINEAGE), metadata=base.metadata)


def to_typed(table: pa.Table, schema: EntitySchema) -> pa.Table:
    """Cast the canonical string columns of validated rows to their schema types."""
    arrays = []
    for name, f in schema.fields.items():
        col = table.column(name)
        if f.type == "datetime":
            col = pc.strptime(col, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=False)
        elif f.type != "string":
            col = pc.cast(col, arrow_type(f))
        arrays.append(col)
    return pa.table(arrays, schema=pa.schema([pa.field(n, arrow_type(f)) for n, f in
                                              schema.fields.items()]))
