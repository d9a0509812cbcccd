"""The common warehouse: namespaces core, quarantine, mdm and audit on one database.

Embedded default: SQLite (``sqlite:///var/exchange.db``), where each namespace is an
attached database file so users see the same names (``core.person``) as on PostgreSQL.
"""
