"""Fit a data set to a space: channel count, training resolution, normalisation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nas.data.dataset import Dataset
from nas.errors import DataError


def fit_to_space(ds: Dataset, *, channels: int, resolution: int) -> Dataset:
    """Return ``ds`` with ``channels`` channels, ``resolution`` pixels a side, normalised.

    Grayscale images are repeated to three channels when the space expects RGB (the usual way
    to feed grayscale data to an RGB network); any other channel mismatch is an error.
    Normalisation uses the training split's per-channel mean and standard deviation.
    """
    import torch
    import torch.nn.functional as F

    c = ds.shape[0]
    if c != channels and not (c == 1 and channels == 3):
        raise DataError(f"{ds.name}: images have {c} channels but the space expects {channels}")
    if len(ds.y_train) == 0 or len(ds.y_val) == 0:
        raise DataError(f"{ds.name}: the training or validation split is empty")

    def fit(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(x))
        if t.shape[1] != channels:
            t = t.expand(-1, channels, -1, -1)
        if t.shape[2] != resolution or t.shape[3] != resolution:
            t = F.interpolate(
                t, size=(resolution, resolution), mode="bilinear", align_corners=False
            )
        return t.contiguous().numpy()

    x_train = fit(ds.x_train)
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-6

    def norm(x: np.ndarray) -> np.ndarray:
        return ((x - mean) / std).astype(np.float32)

    done = {
        "source_channels": c,
        "channels": channels,  # grayscale repeated to three channels when they differ
        "source_size": list(ds.shape[1:]),
        "resize": [resolution, resolution],
        "resize_method": "bilinear, half-pixel centres (torch align_corners=False), no antialias",
        "resized": list(ds.shape[1:]) != [resolution, resolution],
        "mean": [float(v) for v in mean.ravel()],
        "std": [float(v) for v in std.ravel()],
        "pixel_scale": ds.pixel_scale,
    }
    return replace(
        ds,
        preprocessing=done,
        x_train=norm(x_train),
        x_val=norm(fit(ds.x_val)),
        x_test=norm(fit(ds.x_test)) if len(ds.y_test) else ds.x_test,
    )
