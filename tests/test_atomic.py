"""The atomic-write helper: all or nothing, no temporary files left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.atomic import atomic_path, write_bytes, write_text


def test_write_replaces_whole_file_and_leaves_no_temporaries(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "table.json"
    write_text(out, "first")
    write_bytes(out, b"second")
    assert out.read_bytes() == b"second"
    assert [p.name for p in out.parent.iterdir()] == ["table.json"]


def test_failure_while_writing_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "weights.safetensors"
    out.write_bytes(b"old and complete")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_bytes(b"half wri")
        raise RuntimeError("crash in the middle")
    assert out.read_bytes() == b"old and complete"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.safetensors"]


def test_checkpoint_saving_goes_through_the_helper() -> None:
    import inspect

    import nas.supernet.trained

    src = inspect.getsource(nas.supernet.trained)
    assert "atomic_path(" in src and "os.replace" not in src and "save_file(state, str(tmp)" in src
