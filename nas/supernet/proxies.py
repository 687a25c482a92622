"""Zero-cost proxies: score an untrained network from one batch, or from no data at all.

Each proxy is a small function of (a private copy of the network, one batch or only its shape,
a seeded generator) -> a float, higher meaning *predicted* more accurate after training:

- ``params``, ``flops``: the baselines every zero-cost paper reports against.
- ``synflow`` (Tanaka et al., "Pruning neural networks without any data by iteratively
  conserving synaptic flow", NeurIPS 2020), as a NAS proxy in Abdelfattah et al., "Zero-Cost
  Proxies for Lightweight NAS", ICLR 2021; data-free.
- ``snip`` (Lee et al., "SNIP: single-shot network pruning based on connection sensitivity",
  ICLR 2019) and ``grad_norm``, as in Abdelfattah et al. 2021.
- ``naswot`` (Mellor et al., "Neural Architecture Search without Training", ICML 2021): the
  log-determinant of the kernel of binary activation codes.
- ``jacob_cov`` (Mellor et al., arXiv v1 2020, as in Abdelfattah et al. 2021): the spread of the
  input Jacobians' correlation spectrum.
- ``zen`` (Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition", ICCV
  2021); data-free.

:func:`compute_proxy` runs one on a deep copy of the caller's network (its weights and
BatchNorm statistics are never touched). Data-free proxies need only an input shape; the
others read ``x`` (and ``y`` for the loss-based ones) as given: they are deterministic in the
network, the batch and the seed. :func:`default_init` re-initialises a network from a seed, so
that a network built by ``create_subnet`` (global RNG) scores the same in every process.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import OptionError

_WEIGHTED = (nn.Conv2d, nn.Linear)  # the layers the zero-cost papers sum over
_BN = nn.modules.batchnorm._BatchNorm
_RELUS = (nn.ReLU, nn.ReLU6)
JACOB_COV_K = 1e-5  # Abdelfattah et al.'s (and Mellor et al.'s) regulariser of the spectrum
ZEN_MIXUP_GAMMA = 1e-2  # Lin et al.'s perturbation size


@dataclass(frozen=True)
class Batch:
    """What a proxy is given: the input shape ``(B, C, H, W)``, and the batch where there is
    one (``x`` images, ``y`` labels ``(B,)``)."""

    shape: tuple[int, ...]
    x: torch.Tensor | None = None
    y: torch.Tensor | None = None


ProxyFn = Callable[[nn.Module, Batch, torch.Generator], float]


@dataclass(frozen=True)
class ProxySpec:
    """A registered proxy.

    ``log_scale``: the score is positive and spans orders of magnitude, so an ensemble
    compares its logarithm (``naswot``, ``jacob_cov`` and ``zen`` are logarithms already).
    """

    name: str
    fn: ProxyFn
    data_free: bool
    paper: str
    needs_labels: bool = False
    log_scale: bool = False


def _weighted(net: nn.Module) -> Iterator[nn.Conv2d | nn.Linear]:
    return (m for m in net.modules() if isinstance(m, _WEIGHTED))


def _replace(
    net: nn.Module, match: Callable[[nn.Module], bool], make: Callable[[], nn.Module]
) -> None:
    """Replace, in place, every sub-module for which ``match`` holds by ``make()``."""
    for name, child in list(net.named_children()):
        if match(child):
            setattr(net, name, make())
        else:
            _replace(child, match, make)


# ---- the proxies -----------------------------------------------------------------------------


def params(net: nn.Module, batch: Batch, gen: torch.Generator) -> float:
    """Number of parameters (every tensor of ``net.parameters()``, BatchNorm's included)."""
    return float(sum(p.numel() for p in net.parameters()))


def flops(net: nn.Module, batch: Batch, gen: torch.Generator) -> float:
    """FLOPs of one forward pass of *one* image (1 MAC = 2 FLOPs).

    torch's own per-operator formulas, the ones ``nas.hardware.cost.count_flops`` applies
    (tests check the two agree); that module is a higher tier than this one, so its counter is
    not imported here but torch's ``FlopCounterMode`` is used directly.
    """
    from torch.utils.flop_counter import FlopCounterMode

    net.eval()
    x = torch.zeros(1, *batch.shape[1:], device=_device(net))
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(x)
    return float(counter.get_total_flops())


def synflow(net: nn.Module, batch: Batch, gen: torch.Generator) -> float:
    """Synaptic flow: ``sum |theta * dR/dtheta|`` over conv and linear weights, where ``R`` is
    the sum of the outputs of the network with every parameter replaced by its absolute value,
    for an all-ones input (Tanaka et al. 2020; Abdelfattah et al. 2021). Data-free.

    As in Abdelfattah et al.'s code (``synflow`` with ``bn=False``) BatchNorm is removed, and
    the pass runs in double precision so that deep networks do not overflow. ReLU6 becomes ReLU:
    synaptic flow is conserved only through positively homogeneous activations, and with
    positive weights and inputs every unit lies far above 6, where ReLU6 passes no gradient.
    """
    _replace(net, lambda m: isinstance(m, _BN), nn.Identity)
    _replace(net, lambda m: isinstance(m, nn.ReLU6), lambda: nn.ReLU(inplace=False))
    net.double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    x = torch.ones(1, *batch.shape[1:], dtype=torch.float64, device=_device(net))
    net(x).sum().backward()
    with torch.no_grad():
        score = float(sum(float((w * g).abs().sum()) for w, g in _weight_grads(net)))
    if not math.isfinite(score):
        raise OverflowError("synflow overflowed double precision on this network")
    return score


def _loss_backward(net: nn.Module, batch: Batch) -> None:
    """Cross-entropy of ``batch`` through ``net`` (train mode, as the papers), backward."""
    assert batch.x is not None and batch.y is not None
    net.train()
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(batch.x), batch.y).backward()


def snip(net: nn.Module, batch: Batch, gen: torch.Generator) -> float:
    """Connection sensitivity ``sum |theta * dL/dtheta|`` over conv and linear weights, for the
    cross-entropy loss of one batch (Lee et al. 2019; Abdelfattah et al. 2021). This is
    ``|dL/dmask|`` at mask 1, the paper's form, without building the masks."""
    _loss_backward(net, batch)
    with torch.no_grad():
        return float(sum(float((w * g).abs().sum()) for w, g in _weight_grads(net)))


def grad_norm(net: nn.Module, batch: Batch, gen: torch.Generator) -> float:
    """Sum over conv and linear layers of the Euclidean norm of the loss gradient of their
    weights, for one batch (Abdelfattah et al. 2021)."""
    _loss_backward(net, batch)
    return float(sum(float(g.norm()) for _, g in _weight_grads(net)))


def naswot(net: nn.Module, batch: Batch, gen: torch.Generator) -> float:
    """``log |det K|`` of the kernel of binary activation codes (Mellor et al. 2021).

    Every ReLU-family unit gives each image one bit (its input is positive); ``K[i, j]`` counts
    the units where images ``i`` and ``j`` agree. Mellor et al. hook every module whose type
    name contains "ReLU", which includes the ReLU6 of the MBConv networks; a ReLU6 unit is
    "on" when its input is positive, as a ReLU's. Train mode (batch statistics), as their code.
    """
    assert batch.x is not None
    b = batch.x.shape[0]
    kernel = torch.zeros(b, b, dtype=torch.float64)

    def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        code = (args[0].detach().reshape(b, -1) > 0).double().cpu()  # (B, units)
        kernel.add_(code @ code.t() + (1.0 - code) @ (1.0 - code).t())

    handles = [m.register_forward_pre_hook(hook) for m in net.modules() if isinstance(m, _RELUS)]
    try:
        net.train()
        with torch.no_grad():
            net(batch.x)
    finally:
        for h in handles:
            h.remove()
    return float(torch.linalg.slogdet(kernel)[1])


def jacob_cov(net: nn.Module, batch: Batch, gen: torch.Generator) -> float:
    """``-sum(log(v + k) + 1 / (v + k))`` over the eigenvalues ``v`` of the correlation matrix
    of the per-image input Jacobians (Mellor et al. 2020, v1; Abdelfattah et al. 2021), with
    ``k = 1e-5``; train mode, the gradient of the summed logits."""
    assert batch.x is not None
    x = batch.x.detach().clone().requires_grad_(True)
    net.train()
    out = net(x)
    out.backward(torch.ones_like(out))
    assert x.grad is not None
    jac = x.grad.reshape(x.shape[0], -1).double()  # (B, C*H*W)
    corr = torch.corrcoef(jac)
    v = torch.linalg.eigvalsh(corr)
    score = float(-(torch.log(v + JACOB_COV_K) + 1.0 / (v + JACOB_COV_K)).sum())
    if not math.isfinite(score):  # a constant Jacobian row (NaN correlations): no signal
        raise ValueError("jacob_cov is undefined: an image's input gradient is constant")
    return score


def zen(net: nn.Module, batch: Batch, gen: torch.Generator) -> float:
    """Zen-score (Lin et al. 2021): ``log E||f(x) - f(x + 0.01 e)||_1`` of the feature map
    before global average pooling, plus ``sum log sqrt(mean(sigma^2))`` over BatchNorm layers;
    Gaussian weights (N(0, 1)), Gaussian inputs. Data-free.

    The pre-pooling map is the last 4-D output of a module in the forward pass (the networks
    here pool with ``mean`` and then classify). BatchNorm runs in train mode with momentum 1,
    so its running variance is the batch's: the sigma of the paper's variance correction
    (Lin et al.'s code reads ``running_var`` after its forward passes).
    """
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, _WEIGHTED):
                nn.init.normal_(m.weight, generator=gen)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, _BN):
                m.momentum = 1.0
                if m.affine:
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
    device = _device(net)
    x = torch.randn(batch.shape, generator=gen).to(device)  # (B, C, H, W)
    mixed = x + ZEN_MIXUP_GAMMA * torch.randn(batch.shape, generator=gen).to(device)
    last: list[torch.Tensor] = []  # the latest 4-D output only: earlier maps can be freed

    def hook(module: nn.Module, args: object, out: object) -> None:
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            last[:] = [out]

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    try:
        net.train()
        with torch.no_grad():
            net(x)
            f1 = last[0]
            net(mixed)
            f2 = last[0]
    finally:
        for h in handles:
            h.remove()
    diff = (f1 - f2).abs().sum(dim=(1, 2, 3)).mean()
    log_bn = sum(
        float(torch.log(torch.sqrt(m.running_var.mean())))
        for m in net.modules()
        if isinstance(m, _BN) and m.running_var is not None
    )
    return float(torch.log(diff)) + log_bn


def _weight_grads(net: nn.Module) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(weight, its gradient)`` of every conv and linear layer the backward pass reached."""
    for m in _weighted(net):
        if m.weight.grad is not None:
            yield m.weight, m.weight.grad


def _device(net: nn.Module) -> torch.device:
    p = next(net.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


_ABDELFATTAH = "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021"
PROXIES: dict[str, ProxySpec] = {
    s.name: s
    for s in (
        ProxySpec("params", params, True, _ABDELFATTAH + " (baseline)", log_scale=True),
        ProxySpec("flops", flops, True, _ABDELFATTAH + " (baseline)", log_scale=True),
        ProxySpec(
            "synflow",
            synflow,
            True,
            "Tanaka et al., NeurIPS 2020; " + _ABDELFATTAH,
            log_scale=True,
        ),
        ProxySpec(
            "snip",
            snip,
            False,
            "Lee et al., ICLR 2019; " + _ABDELFATTAH,
            needs_labels=True,
            log_scale=True,
        ),
        ProxySpec("grad_norm", grad_norm, False, _ABDELFATTAH, needs_labels=True, log_scale=True),
        ProxySpec("naswot", naswot, False, "Mellor et al., NAS without Training, ICML 2021"),
        ProxySpec("jacob_cov", jacob_cov, False, "Mellor et al. 2020 (v1); " + _ABDELFATTAH),
        ProxySpec("zen", zen, True, "Lin et al., Zen-NAS, ICCV 2021"),
    )
}


def proxy_spec(name: str) -> ProxySpec:
    """The registered proxy ``name``.

    Raises:
        OptionError: no proxy of that name (the message lists the known ones).
    """
    if name not in PROXIES:
        raise OptionError(f"unknown zero-cost proxy {name!r}; known proxies: {', '.join(PROXIES)}")
    return PROXIES[name]


def compute_proxy(
    name: str,
    net: nn.Module,
    x: torch.Tensor | None,
    y: torch.Tensor | None,
    *,
    seed: int = 0,
    input_shape: tuple[int, ...] | None = None,
    copy_net: bool = True,
) -> float:
    """The zero-cost proxy ``name`` of ``net`` (higher = predicted better).

    Args:
        name: a key of :data:`PROXIES`.
        net: the network; it is deep-copied, so its weights, BatchNorm statistics, gradients
            and train/eval mode are left as they were.
        x: one batch ``(B, C, H, W)``; data-free proxies read only its shape.
        y: its labels ``(B,)`` (``snip``, ``grad_norm``).
        seed: seeds the proxy's own generator (``zen``'s weights and inputs): same network,
            same batch, same seed -> same score.
        input_shape: ``(B, C, H, W)`` for a data-free proxy called without ``x``.
        copy_net: False scores ``net`` itself, which the proxy may then change (its weights,
            its layers): for a caller that built the network only to score it (the deep copy
            costs more than ``params`` itself).

    Raises:
        OptionError: unknown proxy, or a batch, labels or shape the proxy needs are missing.
    """
    spec = proxy_spec(name)
    shape = tuple(x.shape) if x is not None else input_shape
    if shape is None or len(shape) != 4:
        raise OptionError(f"proxy {name!r} needs an input of shape (B, C, H, W), got {shape}")
    if not spec.data_free and x is None:
        raise OptionError(f"proxy {name!r} needs a batch of images (it is not data-free)")
    if spec.needs_labels and y is None:
        raise OptionError(f"proxy {name!r} needs the batch's labels")
    work = copy.deepcopy(net) if copy_net else net
    device = _device(work)
    batch = Batch(
        tuple(int(s) for s in shape),
        None if x is None else x.detach().to(device),
        None if y is None else y.detach().to(device),
    )
    gen = torch.Generator().manual_seed(seed)
    # a caller inside no_grad or inference mode still gets gradients on the private copy
    with torch.inference_mode(False), torch.enable_grad():
        return spec.fn(work, batch, gen)


def default_init(net: nn.Module, seed: int) -> nn.Module:
    """Re-initialise ``net`` in place as PyTorch's constructors do (conv and linear:
    Kaiming-uniform weights with ``a = sqrt(5)``, uniform biases in +-1/sqrt(fan_in);
    BatchNorm: weight 1, bias 0, fresh statistics), from a generator seeded with ``seed``
    instead of the global one. Returns ``net``."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, _WEIGHTED):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
                if m.bias is not None:
                    fan_in = m.weight[0].numel()
                    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    nn.init.uniform_(m.bias, -bound, bound, generator=gen)
            elif isinstance(m, _BN):
                m.reset_parameters()
    return net
