from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nas.errors import SpaceError
from nas.spaces import builtin_names, load_space
from nas.spaces.base import Space
from nas.spaces.chain import ChainSpace
from tests.conftest import TINY


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_space_loads_and_samples(name: str) -> None:
    import random

    space = load_space(name)
    assert space.name == name
    arch = space.sample(random.Random(0))
    assert space.canonical(arch) == arch
    assert space.size() > 1


def test_mobile_space_matches_the_spec() -> None:
    space = load_space("mobile")
    # one network, one input: latency at the shape candidates are scored at
    assert space.latency_input.shape == (1, 3, 28, 28) == space.scoring_input.shape
    assert not _latency_is_proxy(space)
    assert len(space.stages) == 4
    assert space.choice("stage0.depth").options == (1, 2, 3)
    assert space.choice("stage0.width").options == (8, 16, 24)
    assert space.choice("stage0.layer0.kernel").options == (3, 5, 7)
    assert space.choice("stage0.layer0.expand").options == (1, 3, 6)
    # every stage's width is a choice, and the narrowest network is genuinely small
    assert all(s.elastic_width for s in space.stages)
    assert space.widths(space.smallest()) == [8, 12, 16, 24]
    assert space.widths(space.largest()) == [24, 40, 56, 64]


def test_mobile_strides_adapt_so_the_last_stage_sees_4x4() -> None:
    space = load_space("mobile")
    assert _feature_maps(space) == [14, 7, 4, 4, 4]
    big = space_with(space, train_resolution=224)  # full size: the file's strides
    assert big.stem_stride == 2 and [s.stride for s in big.stages] == [2, 2, 2, 1]
    assert _feature_maps(big)[-1] == 14  # 224 / 16: four stride-2 layers


def test_latency_input_is_an_explicit_proxy() -> None:
    from nas.spaces.base import LatencyInput

    space = load_space("mobile")
    proxy = space.with_latency_input(LatencyInput.parse("1x3x224x224"))
    assert _latency_is_proxy(proxy) and proxy.latency_input.text == "1x3x224x224"
    assert proxy.digest == space.digest  # the same network: only where latency is taken moves
    with pytest.raises(Exception, match="BxCxHxW"):
        LatencyInput.parse("224x224")


def _latency_is_proxy(space: Space) -> bool:
    """Latency measured at another shape than accuracy (train small, deploy large)."""
    li, si = space.latency_input, space.scoring_input
    return (li.channels, li.height, li.width) != (si.channels, si.height, si.width)


def _feature_maps(space: ChainSpace) -> list[int]:
    """Side of each stage's output map at the scoring resolution (stem first)."""
    n = -(-space.train_resolution // space.stem_stride)
    sizes = [n]
    for stage in space.stages:
        n = -(-n // stage.stride)
        sizes.append(n)
    return sizes


def space_with(space, **changes):  # type: ignore[no-untyped-def]
    from nas.spaces.loader import space_from_dict

    return space_from_dict({**space.model.model_dump(exclude_none=True), **changes})


def test_unknown_name_lists_known_spaces() -> None:
    with pytest.raises(SpaceError) as exc:
        load_space("nosuchspace")
    assert "unknown space 'nosuchspace'" in str(exc.value)
    assert "mobile" in str(exc.value)


def test_missing_file() -> None:
    with pytest.raises(SpaceError, match="does not exist"):
        load_space("/nonexistent/space.yaml")


def _write(tmp_path: Path, data: object) -> str:
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return str(p)


def _tiny() -> dict:
    return yaml.safe_load(TINY.read_text())


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("stages"), "field 'stages': Field required"),
        (lambda d: d.update(kind="blob"), "field 'kind': expected one of"),
        (lambda d: d["stages"][0].update(stride=3), "field 'stages.0.stride'"),
        (lambda d: d["layer_choices"].update(kernel=[4]), "field 'layer_choices'"),
        (lambda d: d.update(depht=[1]), "field 'depht': unknown field"),
        (lambda d: d.update(train_resolution=-1), "field 'train_resolution'"),
        (
            lambda d: d.update(latency_input={"channels": 1, "height": 8, "width": 8}),
            "latency_input.channels",
        ),
        (lambda d: d.update(depth=[2, 2]), "field 'depth'"),
        (lambda d: d["stages"][0].update(channels=[8, 8]), "width options must be"),
        (lambda d: d["stages"][0].update(channels=[8, 0]), "field 'stages.0.channels"),
        (lambda d: d["stages"][0].update(channels=[8, 10**9]), "field 'stages.0.channels"),
    ],
)
def test_bad_files_name_file_and_field(tmp_path: Path, mutate, expected: str) -> None:
    data = _tiny()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(SpaceError) as exc:
        load_space(path)
    msg = str(exc.value)
    assert msg.startswith(path), msg
    assert expected in msg, msg
    assert "\n" not in msg


def test_invalid_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: [unclosed\n")
    with pytest.raises(SpaceError, match="is not valid YAML"):
        load_space(path)


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="expected a mapping"):
        load_space(_write(tmp_path, "- 1\n- 2\n"))
