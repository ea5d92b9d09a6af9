"""gan_core: GAN training in plain PyTorch (no Ray, no MLflow).

`TrainConfig` holds every knob; `gan_core.train.train(config, report)` runs the
loop and hands each evaluation to the `report` callback as a plain dict.
`TrainConfig` loads on first use, so reading a registry's facts
(`gan_core.datasets.DATASETS`) does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gan_core.config import TrainConfig

__all__ = ["TrainConfig"]


def __getattr__(name: str):
    if name == "TrainConfig":
        from gan_core.config import TrainConfig
        return TrainConfig
    raise AttributeError(f"module 'gan_core' has no attribute {name!r}")
