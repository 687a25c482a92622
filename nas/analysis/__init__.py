"""Analysis of stored trials: the Pareto front and knee, anytime curves, study summaries.

Pure functions over trials read through :mod:`nas.storage`; no torch here, so the dashboard,
``nas show`` and the service use them alike.
"""
