"""What a trial's child run records of its setting: its name, its params and its full config.

A child run is named by its label's values, the seed as `sN` (`loss=bce ratio=1:5 seed=0` -> `bce 1:5 s0`),
short enough for MLflow's runs table to show whole. Its params are only the knobs that tell it apart
(`child_params`: the label's names and values, the seed, and the config fields the command line set), so
the cards MLflow heads with a run's params (the image card among them) stay short. Its full resolved
config is its `gan.config` tag (JSON), read back by `config_params` as strings, the way params read; a run
made before that tag logged every config field as a param, and reads as it did.

Nothing here imports MLflow: the trainable, the tracking layer and the report share it.
"""

from __future__ import annotations

import json
import re

TAG_CONFIG = "gan.config"  # on a child run: its full resolved TrainConfig as JSON (the params hold only what varies)
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def labels(setting: str) -> dict[str, str]:
    """`loss=bce ratio=1:5 seed=0` -> {"loss": "bce", "ratio": "1:5", "seed": "0"}."""
    return dict(part.split("=", 1) for part in setting.split() if "=" in part)


def run_name(setting: str) -> str:
    """A child run's name: the label's values, the seed as `sN`, a value that is a bare number with its name
    (alone it would not say what it is).
    `loss=bce ratio=1:5 seed=0` -> `bce 1:5 s0`; `lr_d=0.0002 ratio=2:1 seed=3` -> `lr_d=0.0002 2:1 s3`."""
    parts = []
    for part in setting.split():
        name, eq, value = part.partition("=")
        if not eq:
            parts.append(part)
        elif name == "seed":
            parts.append(f"s{value}")
        else:
            parts.append(part if NUMBER.match(value) else value)
    return " ".join(parts)


def child_params(setting: str, config: dict, overrides=()) -> dict[str, str]:
    """A child run's params: its label (names and values, the seed among them) and the config fields in
    `overrides` (those the command line set: its options and `--set`)."""
    params = {name: str(config[name]) for name in overrides if name in config}
    return {**params, **labels(setting)}


def config_tag(config: dict) -> str:
    """The full config as the `gan.config` tag: compact JSON, keys sorted."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)


def config_params(tags: dict[str, str], params: dict[str, str]) -> dict[str, str]:
    """A child run's config as params read it (`str` of each value: `(0.5, 0.999)`, `True`): from its
    `gan.config` tag where it has one, over the params it logged; a run made before the tag, its params."""
    text = tags.get(TAG_CONFIG)
    if not text:
        return dict(params)
    try:
        config = json.loads(text)
    except ValueError:
        return dict(params)
    return {**params, **{k: str(tuple(v) if isinstance(v, list) else v) for k, v in config.items()}}
