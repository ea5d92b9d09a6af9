"""What follows from the device a run trains on, as small pure decisions.

  * `pick_device(name)`: `auto` is CUDA when torch sees it, else the CPU (a
    study's trial never passes `auto`: it passes the device Ray gave it).
  * `use_bf16(precision, device_type, capability)`: bf16 autocast for
    `auto` only on CUDA devices of compute capability 8.0 and later (bf16
    tensor cores; older GPUs emulate it, slowly), fp32 elsewhere; `fp32` and
    `bf16` as asked.
  * `use_channels_last(config, device_type, data_kind)`: NHWC image tensors
    and conv weights for `memory_format` auto on CUDA, and on the CPU where
    the training loop was measured faster so (benchmarks/channels_last.py):
    the image archs of CPU_CHANNELS_LAST_ARCHS, but for a D update that
    differentiates through a gradient (WGAN-GP's penalty, R1), where the
    gain was gone; as asked otherwise; never for 2-D points.
  * `data_budget(total_bytes, share)`: what a run's dataset copy may take on
    a device: DATA_SHARE of the run's share of the device's memory (a
    trial's GPU fraction), the rest being room for the networks.
  * `device_generator(device, seed, gen)`: the generator of the per-update
    draws (latents, targets, augmentation, penalty interpolation, VAE noise):
    on CUDA one on the device, seeded with the config's seed, so nothing is
    drawn on the host and copied per update; on the CPU the run's own
    generator, so a CPU run draws exactly as it always has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from gan_core.losses import LOSSES

if TYPE_CHECKING:
    from gan_core.config import TrainConfig

BF16_CAPABILITY = (8, 0)  # CUDA compute capability from which bf16 runs natively (Ampere)
DATA_SHARE = 0.5  # of a run's share of the device memory, what its dataset copy may take; the rest is room for
#                   the networks, their activations and optimizer state, the evaluation and the CUDA context
# image archs whose training rounds on the CPU were measured faster channels-last (benchmarks/channels_last.py)
CPU_CHANNELS_LAST_ARCHS = frozenset({"dcgan", "dcgan-deep", "upsample", "resnet", "vae"})


def pick_device(name: str) -> torch.device:
    """`auto`, `cpu` or `cuda` as a torch device; `cuda` where torch sees none is a ValueError."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' asked for but torch sees no CUDA device; use auto or cpu")
    return torch.device(name)


def use_bf16(precision: str, device_type: str, capability: tuple[int, int] | None) -> bool:
    """Whether forward passes run under bf16 autocast: `fp32` never, `bf16` always (as asked), `auto` on
    CUDA devices of compute capability >= 8.0 only (bf16 tensor cores; older GPUs emulate it, slowly):
    fp32 on the CPU and on older GPUs. `capability` is the CUDA device's (major, minor), else None."""
    if precision != "auto":
        return precision == "bf16"
    return device_type == "cuda" and capability is not None and tuple(capability) >= BF16_CAPABILITY


def use_channels_last(config: TrainConfig, device_type: str, data_kind: str) -> bool:
    """Whether image tensors and conv weights are channels-last (NHWC): as `memory_format` asks, or for
    `auto` on CUDA, and on the CPU for the archs measured faster so (CPU_CHANNELS_LAST_ARCHS) unless D's
    update takes a double backward. 2-D points have no channels: never."""
    if data_kind != "images" or config.memory_format == "contiguous":
        return False
    if config.memory_format == "channels_last" or device_type == "cuda":
        return True
    return device_type == "cpu" and config.arch in CPU_CHANNELS_LAST_ARCHS and not double_backward(config)


def double_backward(config: TrainConfig) -> bool:
    """Whether D's update differentiates through a gradient of D: WGAN-GP's penalty, or R1."""
    return LOSSES[config.loss].penalty == "gp" or config.r1_weight > 0


def data_budget(total_bytes: int, share: float) -> int:
    """Bytes a run's dataset copy may take on a device of `total_bytes` of which the run holds `share`
    (a trial's GPU fraction; more than one device counts as one): DATA_SHARE of its share."""
    return max(0, int(total_bytes * min(max(share, 0.0), 1.0) * DATA_SHARE))


def device_memory(device: torch.device) -> int:
    """Total bytes of a CUDA device; 0 for any other (the CPU: nothing is copied)."""
    return torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0


def capability(device: torch.device) -> tuple[int, int] | None:
    """(major, minor) compute capability of a CUDA device; None for any other."""
    return torch.cuda.get_device_capability(device) if device.type == "cuda" else None


def device_generator(device: torch.device, seed: int, gen: torch.Generator) -> torch.Generator:
    """The generator of the per-update draws: on CUDA one on the device, seeded with `seed` (no copy per
    update); elsewhere `gen` itself, so a CPU run draws exactly as it always has."""
    return torch.Generator(device=device).manual_seed(seed) if device.type == "cuda" else gen
