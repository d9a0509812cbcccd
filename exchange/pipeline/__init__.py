"""The stage pipeline of a batch: one module per stage, one driver.

- :mod:`~exchange.pipeline.order` — the stages in order, declared once (the DAG factory reads it too);
- :mod:`~exchange.pipeline.records` — what passes between stages: ``Extracted``, ``Validated``,
  the outcome of a batch (the sealed manifest is :class:`exchange.staging.Manifest`);
- :mod:`~exchange.pipeline.driver` — :class:`BatchRun`: skip-if-done, resume point, timing,
  ledger state and failure handling, done once for every stage;
- :mod:`~exchange.pipeline.checking` — mapping, validation and the valid/rejected split of rows;
- :mod:`~exchange.pipeline.extract`, :mod:`~exchange.pipeline.validate`, :mod:`~exchange.pipeline.seal`,
  :mod:`~exchange.pipeline.load`, :mod:`~exchange.pipeline.publish` — each stage's own work;
- :mod:`~exchange.pipeline.plans` — the feed pipeline (a connector source and those stages);
- :mod:`~exchange.pipeline.reprocess` — its variant for quarantine reprocessing (a quarantine source,
  a resolving validation and load), run by the same driver.

This package's ``__init__`` and :mod:`~exchange.pipeline.order` import nothing heavy: an Airflow DAG
file reads the stage list at parse time.
"""
