"""DARTS: architecture weights learn, the latency term bites, a run records one trial per epoch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
import yaml
from optuna.trial import TrialState

from nas.errors import OptionError
from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.spaces import space_from_dict
from nas.storage import keys
from nas.supernet import create_supernet
from nas.supernet.darts_search import DartsConfig, DartsSearch, op_latency_table
from nas.supernet.mixed import CellSupernet, MixedOp, Zero


def _toy_space(ops: list[str], **kw):
    raw = {
        "name": "toy201",
        "kind": "nb201",
        "train_resolution": 8,
        "latency_input": {"batch": 1, "channels": 3, "height": 8, "width": 8},
        "operations": ops,
        "stem_channels": 4,
        "cells_per_stage": 1,
        "stages": 1,
        **kw,
    }
    return space_from_dict(raw), raw


def _toy_data(n: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes told apart by the sign of channel 0: any path that sees the input can."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int64)
    x = rng.normal(0, 0.3, (n, 3, 8, 8)).astype(np.float32)
    x[:, 0] += np.where(y == 1, 1.0, -1.0)[:, None, None]
    return x, y


def _search(space, cfg: DartsConfig, table=None, epochs: int = 1) -> DartsSearch:
    torch.manual_seed(0)
    net = create_supernet(space, 2)
    search = DartsSearch(net, space.mixed_edges(), cfg, table)
    xw, yw = _toy_data(seed=1)
    xa, ya = _toy_data(seed=2)
    for _ in range(epochs):
        search.train_epoch((xw, yw), (xa, ya))
    return search


class _Noise(torch.nn.Module):
    """An uninformative operation: fresh noise of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.randn_like(x)


class _ToyNet(CellSupernet):
    """One mixed edge between the input and a linear classifier (no BatchNorm, which would
    make an edge's scale meaningless): ``skip_connect`` carries the signal, ``none`` nothing,
    ``noise`` only noise. The clearly better operation is ``skip_connect``."""

    OPS = ("none", "skip_connect", "noise")

    def __init__(self, space) -> None:
        super().__init__(space, 2)
        self.edge = MixedOp(
            {"none": Zero(), "skip_connect": torch.nn.Identity(), "noise": _Noise()}
        )
        self.head = torch.nn.Linear(3, 2)

    def forward(self, x, arch):
        return self.head(self.edge(x, arch["e"]).mean(dim=(2, 3)))

    def forward_weighted(self, x, weights):
        return self.head(self.edge.forward_weighted(x, weights["e"]).mean(dim=(2, 3)))

    def mixed_ops(self):
        return [("e", self.edge)]

    def extract(self, arch):
        raise NotImplementedError


@pytest.mark.parametrize("order", [1, 2])
def test_arch_weights_move_toward_the_clearly_better_operation(order: int) -> None:
    space, _ = _toy_space(["none", "skip_connect"])
    torch.manual_seed(0)
    net = _ToyNet(space)
    cfg = DartsConfig(epochs=6, batch_size=32, lr=0.5, arch_lr=0.05, order=order, seed=0)
    search = DartsSearch(net, [("e", _ToyNet.OPS)], cfg)
    before = search.probabilities()["e"]
    xw, yw = _toy_data(seed=1)
    xa, ya = _toy_data(seed=2)
    for _ in range(6):
        search.train_epoch((xw, yw), (xa, ya))
    after = search.probabilities()["e"]
    assert max(abs(b - 1 / 3) for b in before) < 0.01  # started near uniform
    assert after[1] > 0.55 and after[1] == max(after)  # skip_connect won
    assert after[2] < before[2] and after[0] < before[0]


def test_latency_term_lowers_the_expected_latency() -> None:
    space, _ = _toy_space(["none", "skip_connect", "nor_conv_3x3"])
    table = {k: [0.0, 0.1, 5.0] for k, _ in space.mixed_edges()}  # the conv is slow
    base = DartsConfig(epochs=2, batch_size=32, arch_lr=0.05, seed=0)
    start = DartsSearch(create_supernet(space, 2), space.mixed_edges(), base, table)
    plain = _search(space, base, table, epochs=2)
    aware = _search(space, DartsConfig(**{**base.__dict__, "latency_weight": 1.0}), table, 2)
    e0 = float(start.expected_latency())
    e_plain, e_aware = float(plain.expected_latency()), float(aware.expected_latency())
    assert e_aware < e0 - 1.0  # the term pulled probability away from the slow op
    assert e_aware < e_plain - 1.0


def test_latency_table_sums_each_operation_over_the_cells_sharing_an_edge_key() -> None:
    space, _ = _toy_space(["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"], stages=2)
    space_2cells, _ = _toy_space(
        ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"], stages=2, cells_per_stage=2
    )
    calls: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []

    def fake(name: str, op: torch.nn.Module, shape: tuple[int, ...], out: tuple[int, ...]):
        calls.append((name, shape, out))
        return float(shape[1])  # "latency" = channels, so sums are checkable

    net = create_supernet(space_2cells, 10)
    table = op_latency_table(net, space_2cells.mixed_edges(), (1, 3, 8, 8), fake)
    # 3 non-none ops on every edge of 4 cells (stage 0: 4 ch at 8x8, stage 1: 8 ch at 4x4)
    assert {(1, 4, 8, 8), (1, 8, 4, 4)} == {s for _, s, _ in calls}
    assert all(out == shape for _, shape, out in calls)  # nb201 ops keep the shape
    assert {n for n, _, _ in calls} == {"skip_connect", "nor_conv_1x1", "nor_conv_3x3"}
    # per edge key: none 0; others summed over the 2 cells of each stage: 2 * 4 + 2 * 8
    for key, _ in space.mixed_edges():
        assert table[key] == [0.0, 24.0, 24.0, 24.0], key


def test_operation_latencies_are_lookup_table_entries_measured_once_per_target(
    tmp_path: Path,
) -> None:
    from nas.hardware.lut.cells import cell_op_table
    from nas.storage import Store
    from nas.storage.latency_lut import LatencyTableStore, parse_key
    from tests.hardware.fake_targets import SizeTarget

    space, _ = _toy_space(
        ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"], stages=2, cells_per_stage=2
    )
    store = Store(f"sqlite:///{tmp_path / 'studies.db'}")
    net, target = create_supernet(space, 10), SizeTarget()
    table, measured = cell_op_table(net, space.mixed_edges(), space, target, store)
    # 3 distinct operations at 2 distinct shapes: each measured once, not once per cell
    assert measured == target.calls == 6
    entries = LatencyTableStore(store).entries(space.digest, target.fingerprint_id())
    keys = {parse_key(k) for k in entries}
    assert None not in keys and len(keys) == 6
    assert {(k.kind, k.kernel, k.in_ch, k.height) for k in keys if k is not None} == {
        (op, kernel, ch, size)
        for op, kernel in (("skip_connect", 0), ("nor_conv_1x1", 1), ("nor_conv_3x3", 3))
        for ch, size in ((4, 8), (8, 4))
    }
    again, measured_again = cell_op_table(net, space.mixed_edges(), space, target, store)
    assert measured_again == 0 and target.calls == 6 and again == table


def _darts_opts(tmp_path: Path, storage_url: str, **kw) -> SearchOptions:
    _, raw = _toy_space(["none", "skip_connect", "nor_conv_3x3", "avg_pool_3x3"], stages=2)
    path = tmp_path / "toy201.yaml"
    path.write_text(yaml.safe_dump(raw))
    base = dict(
        space=str(path),
        strategy="darts",
        storage=storage_url,
        study="d",
        calib_batches=1,
        batch_size=64,
        darts_latency_weight=0.01,
    )
    return SearchOptions(**{**base, **kw})


def test_darts_run_records_one_trial_per_epoch(tmp_path: Path, storage_url: str) -> None:
    result = run_search(_darts_opts(tmp_path, storage_url, budget=2))
    assert result.completed == 2 and result.supernet == "darts"
    study = optuna.load_study(study_name="d", storage=storage_url)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == len(study.trials) == 2
    assert [t.user_attrs[keys.DARTS_EPOCH] for t in trials] == [1, 2]
    space = space_from_dict(yaml.safe_load((tmp_path / "toy201.yaml").read_text()))
    edges = dict(space.mixed_edges())
    for t in trials:
        ua = t.user_attrs
        assert t.values == [ua[keys.ACCURACY], ua[keys.LATENCY_MS]]
        assert ua[keys.LATENCY]["median_ms"] == ua[keys.LATENCY_MS] > 0
        assert ua[keys.ARCH] == space.canonical(t.params)
        assert ua[keys.ARCH_HASH] == space.hash(ua[keys.ARCH])
        assert ua[keys.ARCH_STR] == space.describe(ua[keys.ARCH])
        w = ua[keys.ARCH_WEIGHTS]
        assert set(w) == set(edges)
        for k, probs in w.items():
            assert len(probs) == len(edges[k]) and sum(probs) == pytest.approx(1, abs=1e-4)
        assert ua[keys.ARCH] == space.derive(w)
        assert ua[keys.EXPECTED_LATENCY_MS] > 0
    assert set(study.user_attrs[keys.DARTS_LATENCY_TABLE]) == set(edges)
    # the supernet of the last epoch is checkpointed, so nas export rebuilds any recorded cell
    # as a standalone network with its weights (the export itself: tests/export)
    import torch

    from nas.storage import Store
    from nas.supernet.trained import load_checkpoint

    key = study.user_attrs[keys.DARTS_CHECKPOINT]
    net, path = load_checkpoint(Store(storage_url), key, space, num_classes=10)
    assert path.parent == tmp_path / "nas_checkpoints"
    for t in trials:
        cell = net.extract(t.user_attrs[keys.ARCH]).eval()
        with torch.no_grad():
            assert cell(torch.zeros(space.latency_input.shape)).shape == (1, 10)
    # a finished run is not repeated; a partial one cannot be continued
    again = run_search(_darts_opts(tmp_path, storage_url, budget=2))
    assert again.completed == 2 and again.supernet == ""
    with pytest.raises(OptionError, match="cannot be resumed midway"):
        run_search(_darts_opts(tmp_path, storage_url, budget=3))
    assert len(optuna.load_study(study_name="d", storage=storage_url).trials) == 2
    # and nas export writes the knee cell as a standalone network (docs/darts.md)
    import nas
    from nas.export.study_export import ExportOptions, export_study

    done = export_study(ExportOptions(study="d", out=str(tmp_path / "cell"), storage=storage_url))
    assert done.trial in {t.number for t in trials}
    assert (tmp_path / "cell" / "model.onnx").is_file()
    with torch.no_grad():
        assert nas.load(tmp_path / "cell")(torch.zeros(space.latency_input.shape)).shape == (1, 10)


def test_darts_refuses_a_space_without_mixed_edges(tmp_path: Path, storage_url: str) -> None:
    with pytest.raises(OptionError, match="needs a cell space"):
        run_search(_darts_opts(tmp_path, storage_url, budget=1, space="resnet"))
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("darts_order", 3, "--darts-order must be 1 or 2"),
        ("darts_latency_weight", -1.0, "--darts-latency-weight must be >= 0"),
        ("darts_arch_lr", 0.0, "--darts-arch-lr must be > 0"),
    ],
)
def test_darts_options_are_validated(field: str, value: object, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        SearchOptions(**{field: value})
