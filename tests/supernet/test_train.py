from __future__ import annotations

import random

import torch

from nas.supernet import create_supernet
from nas.supernet.score import accuracy, calibration_batches, extract_scored
from nas.supernet.train import TrainConfig, sandwich, train_supernet


def test_sandwich_has_largest_smallest_and_random(tiny_space) -> None:
    paths = sandwich(tiny_space, random.Random(0), 2)
    assert paths[0] == tiny_space.largest()
    assert paths[1] == tiny_space.smallest()
    assert len(paths) == 4
    without = sandwich(tiny_space, random.Random(0), 2, with_smallest=False)
    assert without[0] == tiny_space.largest() and len(without) == 4
    assert tiny_space.smallest() not in without[1:2]


def test_the_smallest_path_trains_on_every_fourth_step_only(
    tiny_space, tiny_data, monkeypatch
) -> None:
    # the rule the proxy benchmark measured (nas/supernet/train.py): the largest path is the
    # teacher on every step, the smallest only on every smallest_every-th
    import nas.supernet.train as train

    steps: list[list] = []
    real = train.sandwich

    def spy(space, rng, n_random, *, with_smallest=True):  # type: ignore[no-untyped-def]
        steps.append(real(space, rng, n_random, with_smallest=with_smallest))
        return steps[-1]

    monkeypatch.setattr(train, "sandwich", spy)
    torch.manual_seed(0)
    net = create_supernet(tiny_space, tiny_data.num_classes)
    cfg = TrainConfig(epochs=1, batch_size=32, seed=0, sampling="sandwich")
    train_supernet(net, tiny_data, cfg)
    n_steps = -(-len(tiny_data.y_train) // cfg.batch_size)
    assert len(steps) == n_steps >= 8
    assert all(paths[0] == tiny_space.largest() and len(paths) == 4 for paths in steps)
    every_fourth = [paths for k, paths in enumerate(steps, 1) if k % 4 == 0]
    assert all(paths[1] == tiny_space.smallest() for paths in every_fourth)
    # on the other steps the smallest path appears only when a random draw happens to be it
    others = [paths for k, paths in enumerate(steps, 1) if k % 4]
    assert sum(tiny_space.smallest() in paths[1:] for paths in others) < len(others) / 2


def test_sandwich_training_lowers_loss_and_beats_chance(tiny_space, tiny_data) -> None:
    torch.manual_seed(0)
    net = create_supernet(tiny_space, tiny_data.num_classes)
    history = train_supernet(net, tiny_data, TrainConfig(epochs=4, batch_size=64, lr=0.1))
    assert len(history) == 4
    assert history[-1] < 0.7 * history[0]
    calib = calibration_batches(tiny_data.x_train, n_batches=2, batch_size=64, seed=0)
    for arch in (tiny_space.largest(), tiny_space.smallest()):
        sub, acc = extract_scored(net, arch, calib, tiny_data.x_val, tiny_data.y_val)
        assert acc > 0.5  # ten classes: chance is 0.1
        assert acc == accuracy(sub, tiny_data.x_val, tiny_data.y_val)


def test_training_is_reproducible(tiny_space, tiny_data) -> None:
    def run() -> list[float]:
        torch.manual_seed(0)
        net = create_supernet(tiny_space, tiny_data.num_classes)
        return train_supernet(net, tiny_data, TrainConfig(epochs=1, batch_size=128, seed=3))

    assert run() == run()


def test_standalone_training_lowers_loss(tiny_space, tiny_data) -> None:
    from nas.supernet import create_subnet
    from nas.supernet.train import train_module

    torch.manual_seed(0)
    net = create_subnet(tiny_space, tiny_space.smallest(), tiny_data.num_classes)
    history = train_module(net, tiny_data, TrainConfig(epochs=3, batch_size=64, lr=0.1))
    assert history[-1] < 0.7 * history[0]
    assert not net.training


def test_fair_paths_use_every_value_of_every_choice_equally_often() -> None:
    # FairNAS's strict fairness: over one step's paths every option of every choice appears
    # the same number of times (here every choice of mobile has 3 options: once each)
    from collections import Counter

    from nas.spaces import load_space
    from nas.supernet.train import fair_paths

    space = load_space("mobile")
    rng = random.Random(0)
    for _ in range(5):
        paths = fair_paths(space, rng)
        assert len(paths) == 3
        for label in ("stage0.depth", "stage1.width", "stage3.depth"):
            assert Counter(p[label] for p in paths) == Counter(space.choice(label).options)
        # a layer's choices count over the paths in which the layer is active
        assert len({space.hash(p) for p in paths}) == 3


def test_fair_sampling_trains_and_is_part_of_the_schedule(tiny_space, tiny_data) -> None:
    import pytest

    from nas.errors import OptionError

    torch.manual_seed(0)
    net = create_supernet(tiny_space, tiny_data.num_classes)
    history = train_supernet(net, tiny_data, TrainConfig(epochs=2, batch_size=64, sampling="fair"))
    assert history[-1] < history[0]
    with pytest.raises(OptionError, match="sampling must be one of"):
        TrainConfig(sampling="unfair")
