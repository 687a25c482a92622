"""``nas serve``: searches submitted over HTTP, queued in the database, run by worker processes.

- :mod:`nas.service.queue`: the queue table's operations (submit, claim, heartbeat, cancel).
- :mod:`nas.service.runner`: a queue worker, what ``nas worker --queue`` and each slot of
  ``nas serve --slots K`` run.
- :mod:`nas.service.app`: the FastAPI application, assembled from :mod:`~nas.service.auth`,
  :mod:`~nas.service.paths`, :mod:`~nas.service.uploads`, :mod:`~nas.service.progress` and
  :mod:`~nas.service.routes`.
"""
