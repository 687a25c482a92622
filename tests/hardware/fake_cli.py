"""``python -m tests.hardware.fake_cli ARGS``: the nas CLI with ``--target fake`` and
``fake-busy`` (:mod:`tests.hardware.fake_targets`), for tests that run it in a terminal or
with its output in a file, where a monkeypatch in the test process cannot reach."""

from __future__ import annotations

import sys

from nas.cli import main
from nas.hardware import target as registry
from tests.hardware.fake_targets import SizeTarget

if __name__ == "__main__":
    registry.target_names()  # the built-ins first, so they do not replace these later
    registry._TARGETS["fake"] = lambda **o: SizeTarget(**o)
    registry._TARGETS["fake-busy"] = lambda **o: SizeTarget(busy=True, **o)
    sys.exit(main(sys.argv[1:]))
