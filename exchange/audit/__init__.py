"""Audit records: the batch ledger and validation results (``audit.*``)."""
