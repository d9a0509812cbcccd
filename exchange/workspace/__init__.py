"""The front doors of the exchange's capabilities, one module per component, each opened from the
workspace's settings and catalog and reached the same way from the CLI, the HTTP API and Airflow:

- ``exchange.runner`` — batches: run a feed through its stages, validate a file, reprocess quarantine;
- :mod:`exchange.workspace.persons` — the master person index, its review queue, a person's profile;
- :mod:`exchange.workspace.sharing` — grants, API keys, the access log, the consumers' catalogue,
  operator reads;
- :mod:`exchange.workspace.audit` — lineage of a row, the auditor's report, the ledger check, sealing;
- :mod:`exchange.workspace.exports` — rows to a file, on record;
- :mod:`exchange.workspace.demo` — the synthetic city end to end.

:mod:`exchange.workspace.record` holds what they share: the access-log rows every read leaves.
The faces (``exchange.cli``, ``exchange.api``, ``dags/``) import these, never the warehouse, audit
or access internals (an import contract in pyproject.toml checks it).
"""
