"""The CUDA target: torch eager on a GPU, timed with CUDA events after synchronising.

CUDA launches are asynchronous, so a host clock would time the launch, not the kernel: each
timed run records a start and an end event on the current stream and waits for the end event.
"""

from __future__ import annotations

import time

from torch import nn

from nas.errors import OptionError
from nas.hardware.fingerprint import host_fingerprint
from nas.hardware.target import Shape, Target
from nas.hardware.timing import LatencyStats, TimingConfig, time_samples

NO_DEVICE = (
    "target cuda: no CUDA device on this machine (torch.cuda.is_available() is False); "
    "use --target cpu or onnxruntime"
)


class CudaTarget(Target):
    """Batch inference on CUDA device ``device`` (index) with torch eager."""

    name = "cuda"

    def __init__(
        self,
        *,
        device: int = 0,
        threads: int | None = None,  # host threads do not matter for GPU kernels
        timing: TimingConfig | None = None,
    ) -> None:
        import torch

        if not torch.cuda.is_available():
            raise OptionError(NO_DEVICE)
        if not 0 <= device < torch.cuda.device_count():
            raise OptionError(
                f"target cuda: device {device} does not exist "
                f"({torch.cuda.device_count()} device(s))"
            )
        self.device = torch.device("cuda", device)
        self.timing = timing or TimingConfig()
        if self.timing.clock != "wall":
            raise OptionError("--clock cpu does not apply to cuda: CUDA events time the GPU")

    def fingerprint(self) -> dict[str, str | int]:
        import torch

        props = torch.cuda.get_device_properties(self.device)
        return {
            **host_fingerprint(),
            "target": self.name,
            "runtime": f"torch {torch.__version__} cuda {torch.version.cuda}",
            "gpu": props.name,
            "gpu_memory_mb": int(props.total_memory // 2**20),
            "capability": f"{props.major}.{props.minor}",
        }

    def measure(self, module: nn.Module, input_shape: Shape) -> LatencyStats:
        import copy

        import torch

        # A copy: the caller keeps its module on the CPU (cost metrics run there afterwards).
        module = copy.deepcopy(module).to(self.device).eval()
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(*input_shape, generator=gen).to(self.device)
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)

        def timed() -> float:
            start.record()
            module(x)
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))

        with torch.inference_mode():
            for _ in range(self.timing.warmup):
                module(x)
            torch.cuda.synchronize(self.device)
            return time_samples(timed, self.timing, clock=time.perf_counter, warmed_up=True)
