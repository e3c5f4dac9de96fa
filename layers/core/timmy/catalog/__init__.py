"""The catalog (``shared/catalog.yaml``): the one source of model prices, priced routes and
marketplace fees (:mod:`timmy.catalog.loader`); ``catalog()`` is the one this function reads."""

from timmy.catalog.settings import catalog

__all__ = ["catalog"]
