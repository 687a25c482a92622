"""The search lifecycle, from the options a user gives to the study that holds the front.

::

    nas search / POST /api/searches / nas worker
            |
            v
    options.SearchOptions        every option, its default and its check (pydantic);
            |                    the CLI's flags and the service's schema are made from it
            v
    driver.run_search            validate space, data, storage and evaluator before any
            |                    write; open or resume the study (settings recorded in it)
            |
            +-- strategy.driver == "sampler" ---------------------------+
            |     evaluator built by nas.evaluators (supernet trained   |
            |     or loaded through nas.supernet.trained, zero-cost,    |
            |     table, ...);  workers > 1: pool.run_local_workers     |
            |     starts ``nas worker`` processes, each driver.run_worker
            |     loop.optimize_until_budget -> objective.TrialObjective|
            |                                                           |
            +-- strategy.driver == "gradient" (DARTS) ------------------+
                  darts.run_darts: one trial per search epoch           |
                                                                        v
                                  objective: one trial's attributes and values, written
                                  alike by every driver (arch, hash, accuracy, latency)

Lower parts (spaces, data, storage, supernet, hardware, evaluators, strategies) never import
this package; the service and the commands sit above it.
"""
