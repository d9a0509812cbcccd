"""Declarative specs: shared schemas, feeds, settings, and loading them with clear errors."""
