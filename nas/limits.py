"""Every cap on input from outside, in one place, and the helpers that apply them.

Numbers and sizes that come from a user (options, space files, data sets, tables, names) are
checked against these bounds *before* anything is allocated or written, and a value beyond one
is refused with one line that names the cap. The caps are generous for real use (ImageNet at
224 pixels, 1,000 classes, a 20-stage chain, a budget of a million trials) and small enough that
nothing within them exhausts the memory of a laptop while it is being checked.

This module imports nothing but :mod:`nas.errors`, so any layer (spaces, storage, data) may use it.
"""

from __future__ import annotations

import unicodedata

from nas.errors import NasInputError

# ---- search spaces (nas.spaces) --------------------------------------------------------------
MAX_SPACE_FILE_BYTES = 1 << 20  # a space file is a page of YAML, not a data set
MAX_YAML_NODES = 100_000  # nodes of a space file once its aliases are expanded (billion laughs)
MAX_CHANNELS = 8192  # any channel count (stem, stage, head, width option)
MAX_RESOLUTION = 1024  # train_resolution and the latency input's height and width
MAX_LATENCY_BATCH = 1024  # latency_input.batch
MAX_STAGES = 64  # stages of a chain or ResNet space; stages of an nb201 macro skeleton
MAX_DEPTH = 64  # any depth option (layers or cells per stage, DARTS cells)
MAX_CHOICES = 4096  # labels of a space (all stages, all layers)
MAX_OPTIONS = 64  # values of one choice (operations, widths, depth options)

# ---- data sets (nas.data) --------------------------------------------------------------------
MAX_IMAGES = 2_000_000  # images of a data set
MAX_IMAGE_SIDE = 4096  # height or width of a stored image (a header may say anything)
MAX_DATA_BYTES = 4 << 30  # the decoded float32 array of a data set
MAX_CLASSES = 100_000  # largest label + 1
MAX_DATA_FILE_BYTES = 8 << 30  # one .npz, CIFAR batch or image file on disk
# the arrays of one .npz once unpacked, read from its zip directory and .npy headers before
# anything is decompressed: a zip bomb (3 MB on disk, 3 GB unpacked) is refused, not unpacked
MAX_NPZ_UNPACKED_BYTES = 2 << 30

# ---- tables and names ------------------------------------------------------------------------
MAX_TABLE_BYTES = 1 << 30  # a tabular benchmark's CSV file
MAX_NAME_CHARS = 128  # a study name (PostgreSQL's column holds 512; a person reads it)
MAX_ECHO_CHARS = 80  # how much of a bad value a message shows

# ---- search options (nas.search.driver) ---------------------------------------------
MAX_BUDGET = 1_000_000
MAX_SEED = 2**32 - 1  # numpy's and Optuna's samplers take 0..2**32-1
MAX_WORKERS = 256
MAX_THREADS = 1024
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 65_536
MAX_CALIB_BATCHES = 10_000
MAX_LATENCY_MS = 3_600_000.0  # an hour per inference: any latency option beyond it is a typo
MAX_ABS_LATENCY_WEIGHT = 10.0  # the weighted objective's exponent (MnasNet: -0.07)
MAX_ARCH_LR = 10.0
MAX_WARM_START_POOL = 100_000  # --warm-start's pool: each is a network built and scored


class LimitError(NasInputError):
    """An input beyond one of the caps above, or a number that is not finite."""


def shorten(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """``repr(value)`` for a message: terminal controls escaped, at most ``limit`` characters.

    Never calls ``repr`` on a container larger than the cap (a YAML alias bomb is a list whose
    repr would not fit in memory): long sequences are summarised by their length.
    """
    if isinstance(value, list | tuple | dict | set) and len(value) > limit:
        return f"<{type(value).__name__} of {len(value)} items>"
    if isinstance(value, str) and len(value) > 4 * limit:
        value = value[: 4 * limit]
    text = printable(repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clip(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``text``, terminal controls escaped, cut to ``limit`` characters (``...`` marks a cut)."""
    text = printable(text[: 4 * limit])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    """``text`` with every control or format character written as an escape (``\\x1b``,
    ``\\n``, ``\\u202e``), so a name from outside cannot move the cursor, clear the screen,
    reorder a line or start a new one when a terminal shows it."""
    out = []
    for ch in text:
        if unicodedata.category(ch)[0] == "C":  # Cc control, Cf format, Cs, Co, Cn
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def check_name(name: str, what: str = "study name") -> str:
    """A name that will be stored and shown: 1..MAX_NAME_CHARS printable characters.

    Raises:
        LimitError: empty, too long, or holding control characters (escapes, newlines).
    """
    if not name or not name.strip():
        raise LimitError(f"the {what} must not be empty")
    if len(name) > MAX_NAME_CHARS:
        raise LimitError(
            f"the {what} has {len(name)} characters; at most {MAX_NAME_CHARS} are allowed"
        )
    if printable(name) != name:
        raise LimitError(
            f"the {what} {shorten(name)} holds control characters (escapes, newlines, tabs); "
            "use letters, digits and punctuation"
        )
    return name
