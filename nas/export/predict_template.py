"""Classify images with this export's model.onnx: numpy and onnxruntime only, no nas, no torch.

    python predict.py IMAGES.npz [--model model.onnx] [--batch 256]

``--model`` names a file in the current folder or, failing that, beside this script
(``--model model.int8.onnx`` after ``nas compress``, from anywhere). A file that is in neither
place, or images that cannot be read, get one line on stderr and exit status 2.

IMAGES.npz holds ``x``: images as (N, H, W), (N, C, H, W) or (N, H, W, C), with pixel values
as the search's data set stored them (``preprocessing.pixel_scale`` in architecture.json says
what they are divided by: 255 for 8-bit images, 16 for scikit-learn's digits, 1 for values
already in [0, 1]); and optionally ``y``, integer labels, to print the accuracy. Without ``y``
it prints one class name per image.

The preprocessing is the one nas applied in the search (architecture.json, "preprocessing"):
divide by pixel_scale; repeat a grayscale channel to three if the model takes three; resize to
``resize`` with bilinear interpolation, half-pixel centres, no antialias (torch's
``interpolate(mode="bilinear", align_corners=False)``); subtract ``mean`` and divide by
``std`` per channel; float32, NCHW. Then:

    session = onnxruntime.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"input": x})[0]   # (N, classes); argmax is the class

This file was written by nas export and is self-contained; copy it with the folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _nchw(x: np.ndarray) -> np.ndarray:
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise SystemExit(f"images must be (N, H, W), (N, C, H, W) or (N, H, W, C); got {x.shape}")
    return x.astype(np.float32)


def _axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of bilinear resizing along one axis (half-pixel centres)."""
    scale = np.float32(n_in) / np.float32(n_out)
    src = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    src = np.maximum(src, np.float32(0.0))
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = (src - i0).astype(np.float32)
    return i0, i1, w1


def resize_bilinear(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(N, C, H, W) -> (N, C, height, width)``, as torch's bilinear, align_corners=False."""
    if x.shape[2:] == (height, width):
        return x
    r0, r1, rw = _axis_weights(x.shape[2], height)
    c0, c1, cw = _axis_weights(x.shape[3], width)
    rw, cw = rw[:, None], cw[None, :]
    top = x[:, :, r0][:, :, :, c0] * (1 - cw) + x[:, :, r0][:, :, :, c1] * cw
    bottom = x[:, :, r1][:, :, :, c0] * (1 - cw) + x[:, :, r1][:, :, :, c1] * cw
    return (top * (1 - rw) + bottom * rw).astype(np.float32)


def preprocess(x: np.ndarray, pre: dict) -> np.ndarray:
    """Raw images -> the model's input, exactly as recorded in architecture.json."""
    x = _nchw(np.asarray(x)) / np.float32(pre["pixel_scale"])
    if x.shape[1] != pre["channels"]:
        if x.shape[1] != 1:
            raise SystemExit(f"the model takes {pre['channels']} channels, got {x.shape[1]}")
        x = np.repeat(x, pre["channels"], axis=1)
    x = resize_bilinear(x.astype(np.float32), *pre["resize"])
    mean = np.asarray(pre["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(pre["std"], dtype=np.float32).reshape(1, -1, 1, 1)
    return np.ascontiguousarray((x - mean) / std, dtype=np.float32)


def predict(x: np.ndarray, model: Path, batch: int = 256) -> np.ndarray:
    """Class indices of raw images ``x`` (see the module docstring)."""
    import onnxruntime

    meta = json.loads((HERE / "architecture.json").read_text())
    inputs = preprocess(x, meta["preprocessing"])
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    out = [
        session.run(["logits"], {"input": inputs[i : i + batch]})[0].argmax(axis=1)
        for i in range(0, len(inputs), batch)
    ]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def model_path(name: str) -> Path:
    """``name`` as given where it is a file, else beside this script (``model.int8.onnx``)."""
    given = Path(name)
    if given.is_file() or given.is_absolute() or not (HERE / given).is_file():
        return given
    return HERE / given


class BadInput(Exception):
    """A model or image file that cannot be used; main prints it as one line."""


def _images(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as f:
            return f["x"], (f["y"] if "y" in f.files else None)
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(f"cannot read images {path}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images", help=".npz with x (and optionally y)")
    p.add_argument(
        "--model",
        default=str(HERE / "model.onnx"),
        help="ONNX file, in the current folder or beside this script (default: model.onnx here)",
    )
    p.add_argument("--batch", type=int, default=256)
    args = p.parse_args(argv)
    try:
        model = model_path(args.model)
        if not model.is_file():
            raise BadInput(
                f"no model {args.model} in {Path.cwd()} or beside predict.py ({HERE}); "
                f"the export's models: {', '.join(sorted(q.name for q in HERE.glob('*.onnx')))}"
            )
        x, y = _images(args.images)
    except BadInput as exc:
        print(f"predict.py: error: {exc}", file=sys.stderr)
        return 2
    classes = json.loads((HERE / "architecture.json").read_text())["classes"]
    pred = predict(x, model, max(1, args.batch))
    if y is None:
        for k in pred:
            print(classes[int(k)])
    else:
        right = int((pred == np.asarray(y)).sum())
        print(f"accuracy {right}/{len(pred)} = {right / max(1, len(pred)):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
