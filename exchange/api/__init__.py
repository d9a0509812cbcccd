"""The HTTP surface of the exchange (FastAPI): ``GET /persons/{id}`` serves the person profile.

The app is built by :func:`create_app` from functions passed in (how to read a profile, who
the caller is), so this module imports neither the warehouse nor the linking code; ``exchange.api.serve.api_app``
composes them from the core's components.
"""

from exchange.api.app import Caller, admin_key_authorizer, create_app

__all__ = ["Caller", "admin_key_authorizer", "create_app"]
