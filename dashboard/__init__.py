"""Web dashboard and static reports of nas studies (see docs/dashboard.md).

Reads studies only through :mod:`nas.storage`; never imports torch, the supernet, strategies,
hardware or the search. Dash and Plotly are imported by :mod:`dashboard.app` and
:mod:`dashboard.figures` only, so ``import dashboard`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dash import Dash


def create_app(url: str, *, refresh_seconds: float = 5.0) -> Dash:
    """The dashboard for the storage at ``url``; see :func:`dashboard.app.create_app`."""
    from dashboard.app import create_app as _create

    return _create(url, refresh_seconds=refresh_seconds)


__all__ = ["create_app"]
