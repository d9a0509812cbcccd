"""Sharing: grants (``grants/<consumer>.yaml``), the masked ``share_<consumer>`` views that enforce
them on PostgreSQL, per-agency API keys, the access log (``audit.access``) and the consumers'
catalogue. Engines and the ledger writer are passed in; this package imports neither the
warehouse nor the audit modules (the runner composes them).
"""
