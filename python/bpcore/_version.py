"""The installed bpcore version, for the package (``bpcore.__version__``) and for the modules
that write it (model files, configurations, the command line) without importing the package's
``__init__``.

It is the version the loaded extension was built as (pyproject.toml's, handed to CMake by the
build), not a lookup in the installed distribution's metadata: ``importlib.metadata`` and what it
imports took 46 ms of a 130 ms ``import bpcore``, and the extension is what runs."""

from __future__ import annotations

from ._loader import core

__version__: str = core.__version__

__all__ = ["__version__"]
