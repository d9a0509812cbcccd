"""The investigation tools over persons and activity events — element search, a person's timeline,
the relation graph — each reading through the caller's grant (``exchange.access.lens``).

A layer above the capabilities it combines: the master person index (``exchange.linking``), the
grants (``exchange.access``) and the warehouse tables; below the pipeline (whose runs bring the element
index up to their published batch) and the workspace (which opens it for the faces and logs every use).
"""
