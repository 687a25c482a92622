"""The version of nas (a leaf: what records and exports stamp without importing nas)."""

__version__ = "0.1.0"
