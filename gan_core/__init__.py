"""gan_core: GAN training in plain PyTorch (no Ray, no MLflow).

`TrainConfig` holds every knob; `train(config, report)` runs the loop and
hands each evaluation to the `report` callback as a plain dict.
"""

from gan_core.config import TrainConfig
from gan_core.train import train

__all__ = ["TrainConfig", "train"]
