"""Alembic migrations of the warehouse's fixed tables (``audit.*``)."""
