"""The local compute backend: jobs as real processes on this host (see backend.py)."""

from adapters.local.backend import LocalBackend
from adapters.local.node import LocalSettings

__all__ = ["LocalBackend", "LocalSettings"]
