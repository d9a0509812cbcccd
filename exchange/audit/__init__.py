"""Audit records (``audit.*``) and what auditors do with them.

- ``ledger``: ``audit.batch`` as a state machine, ``audit.validation``, ``audit.feed_state``;
- ``chain``: the append-only, hash-chained ``audit.ledger`` — ``append`` and ``verify``;
- ``records``: the entries the batch stages append, and the cross-check of the tables above
  against them;
- ``lineage``: where one warehouse row came from;
- ``quarantine``: reprocessing quarantined rows (the runner composes it);
- ``report`` / ``report_html``: the auditors' self-contained HTML report.

This package does not import the warehouse, validation or the runner: tables and connections
are passed in.
"""
