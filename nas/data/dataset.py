"""The in-memory data set record and the fixed train / validation / test split."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nas.data.checks import check_label_range
from nas.errors import DataError

SPLIT_SEED = 0  # splits are fixed, whatever the run's --seed, so results stay comparable


@dataclass(frozen=True)
class Dataset:
    """Images as float32 ``(N, C, H, W)`` arrays, labels as int64 ``(N,)``, three splits.

    ``classes`` names the labels where the source says (folder names, CIFAR-10's meta file);
    ``pixel_scale`` is what the source's pixel values were divided by to give the arrays here
    (255 for 8-bit images); ``preprocessing`` is set by :func:`nas.data.fit_to_space` and says
    what it did (channels, resize, normalisation), so an export can record it.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    classes: tuple[str, ...] = ()
    pixel_scale: float = 1.0
    preprocessing: dict[str, Any] = field(default_factory=dict)

    def class_names(self) -> list[str]:
        """A name per label: the source's, else the label's number."""
        if len(self.classes) == self.num_classes:
            return list(self.classes)
        return [str(i) for i in range(self.num_classes)]

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    def fingerprint(self) -> str:
        """Hash of the contents: the supernet checkpoint is reused only for the same data."""
        h = hashlib.sha256()
        for arr in (self.x_train, self.y_train, self.x_val, self.y_val):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]

    def summary(self) -> str:
        c, hh, ww = self.shape
        return (
            f"{self.name}: {len(self.y_train)} train / {len(self.y_val)} val / "
            f"{len(self.y_test)} test, {c}x{hh}x{ww}, {self.num_classes} classes"
        )


def to_nchw(x: np.ndarray, source: str) -> np.ndarray:
    """Accept ``(N, H, W)``, ``(N, C, H, W)`` or ``(N, H, W, C)`` with C in {1, 3}."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
            x = x.transpose(0, 3, 1, 2)
    else:
        raise DataError(
            f"{source}: images must have shape (N, H, W), (N, C, H, W) or (N, H, W, C); "
            f"got {tuple(x.shape)}"
        )
    if x.shape[1] not in (1, 3):
        raise DataError(f"{source}: images must have 1 or 3 channels, got {x.shape[1]}")
    if x.shape[2] < 4 or x.shape[3] < 4:
        raise DataError(f"{source}: images must be at least 4x4 pixels, got {x.shape[2:]}")
    return np.ascontiguousarray(x, dtype=np.float32)


def check_labels(y: np.ndarray, n: int, source: str) -> np.ndarray:
    """Integer labels ``0..K-1``, one per image."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{source}: expected {n} labels in a 1-D array, got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise DataError(f"{source}: labels must be whole numbers, got dtype {y.dtype}")
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.equal(np.mod(y, 1), 0)):
        raise DataError(f"{source}: labels must be whole numbers, got dtype {y.dtype}")
    check_label_range(y, source)  # before the cast: a float label of 1e30 is no int64
    y = y.astype(np.int64)
    if y.min() < 0:
        raise DataError(f"{source}: labels must be 0..K-1, found {int(y.min())}")
    return y


def split(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    fractions: tuple[float, float] = (0.6, 0.2),
    classes: tuple[str, ...] = (),
    pixel_scale: float = 1.0,
) -> Dataset:
    """Stratified fixed split into train / val / test (the rest goes to test)."""
    from sklearn.model_selection import train_test_split

    if len(y) < 10:
        raise DataError(f"{name}: need at least 10 labelled images, got {len(y)}")
    num_classes = int(y.max()) + 1
    counts = np.bincount(y, minlength=num_classes)
    stratify = y if counts.min() >= 3 else None  # sklearn needs >= 2 per class per split
    idx = np.arange(len(y))
    train_idx, rest = train_test_split(
        idx, train_size=fractions[0], random_state=SPLIT_SEED, stratify=stratify
    )
    val_share = fractions[1] / (1.0 - fractions[0])
    rest_strat = y[rest] if stratify is not None else None
    val_idx, test_idx = train_test_split(
        rest, train_size=val_share, random_state=SPLIT_SEED, stratify=rest_strat
    )
    return Dataset(
        name,
        x[train_idx],
        y[train_idx],
        x[val_idx],
        y[val_idx],
        x[test_idx],
        y[test_idx],
        num_classes,
        classes=classes,
        pixel_scale=pixel_scale,
    )


MAX_SUBSET = 10_000_000


def _stratified_first(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of a fixed stratified sample of ``n`` of the labels ``y`` (sorted)."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 and n >= len(counts) else None
    keep, _ = train_test_split(
        np.arange(len(y)), train_size=n, random_state=SPLIT_SEED, stratify=stratify
    )
    return np.sort(keep)


def subset(ds: Dataset, *, train: int | None = None, val: int | None = None) -> Dataset:
    """``ds`` with at most ``train`` training and ``val`` validation images (a fixed,
    stratified choice: the same images on every run and machine); the test split is kept."""
    from dataclasses import replace

    for what, n in (("train", train), ("validation", val)):
        if n is not None and not 10 <= n <= MAX_SUBSET:
            raise DataError(f"the {what} subset must hold 10..{MAX_SUBSET} images, got {n}")
    out = ds
    if train is not None and train < len(ds.y_train):
        idx = _stratified_first(ds.y_train, train)
        out = replace(out, x_train=ds.x_train[idx], y_train=ds.y_train[idx])
    if val is not None and val < len(ds.y_val):
        idx = _stratified_first(ds.y_val, val)
        out = replace(out, x_val=ds.x_val[idx], y_val=ds.y_val[idx])
    return out
