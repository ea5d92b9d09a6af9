"""A module imported on first use: `torch = lazy("torch")` at the top of a module whose registry
facts (names, what each entry takes) must be readable without the heavy imports its code needs, so
that a command line can print its help or list its choices without loading torch."""

from __future__ import annotations

import importlib


class lazy:
    """Stands for the module `name`; the first attribute read imports it (then a dict lookup per read)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
