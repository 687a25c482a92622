"""Errors a person can act on.

Every exception here means *bad input*: the command line prints its one-line message and exits
with status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

# exit statuses of the command line: done, failed, bad input, interrupted
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class NasInputError(Exception):
    """Bad input from the user (file, option, data, storage); the message says what to do."""


class SpaceError(NasInputError):
    """A search-space file or name that cannot be used."""


class ArchitectureError(NasInputError):
    """An architecture that is not a member of its search space."""


class DataError(NasInputError):
    """A data set that cannot be read or does not fit the search space."""


class StorageError(NasInputError):
    """A storage URL that cannot be opened or a study that does not fit the request."""


class OptionError(NasInputError):
    """A command-line or library option with a value outside its range."""


class Cancelled(KeyboardInterrupt):
    """A search cancelled through the service; stops it like Ctrl-C, recorded as "cancelled".

    A ``KeyboardInterrupt`` so that every place that stops cleanly on Ctrl-C (Optuna failing
    the running trial, :func:`nas.search.driver.run_search` returning what it has) does the
    same here.
    """
