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
