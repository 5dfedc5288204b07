"""The installed bpcore version, for the modules that write it (model files, configurations, the
command line) without importing the package's ``__init__``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._loader import core

try:
    __version__: str = version("bpcore")
except PackageNotFoundError:  # running from a source tree
    __version__ = core.__version__

__all__ = ["__version__"]
