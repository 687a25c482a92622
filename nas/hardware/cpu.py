"""The local CPU target: torch eager inference with a fixed thread count."""

from __future__ import annotations

import torch
from torch import nn

from nas.errors import OptionError
from nas.hardware.allocator import retain_freed_memory
from nas.hardware.fingerprint import host_fingerprint
from nas.hardware.target import Shape, Target
from nas.hardware.timing import LatencyStats, TimingConfig, time_runs


class CpuTarget(Target):
    """Batch inference on this machine's CPU with torch eager, ``threads`` intra-op threads."""

    name = "cpu"

    def __init__(self, *, threads: int | None = None, timing: TimingConfig | None = None) -> None:
        if threads is not None and threads < 1:
            raise OptionError(f"threads must be >= 1, got {threads}")
        self.threads = threads or torch.get_num_threads()
        self.timing = timing or TimingConfig()
        # torch eager frees activations to malloc after every layer; see nas.hardware.allocator
        self.allocator = retain_freed_memory()

    def fingerprint(self) -> dict[str, str | int]:
        return {
            **host_fingerprint(),
            "target": self.name,
            "runtime": f"torch {torch.__version__}",
            "threads": self.threads,
            "allocator": self.allocator,
            **({"clock": self.timing.clock} if self.timing.clock != "wall" else {}),
        }

    @torch.inference_mode()
    def measure(self, module: nn.Module, input_shape: Shape) -> LatencyStats:
        module.eval()
        x = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
        saved = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return time_runs(lambda: module(x), self.timing)
        finally:
            torch.set_num_threads(saved)
