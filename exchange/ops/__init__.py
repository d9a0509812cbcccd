"""Operating the exchange: feed health (fresh, late, failing, degraded — against each feed's declared or
learned expectations), alert messages and the channels that carry them (e-mail over SMTP, webhooks).
Pure logic and delivery only; :mod:`exchange.workspace.ops` reads the ledger and records alerts."""
