"""Timmy's shared Lambda layer: domain logic, data access and integrations."""

__version__ = "0.1.0"
