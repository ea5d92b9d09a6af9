"""`--set KEY=VALUE`: any `TrainConfig` field on a study's base, from the command line.

A value is parsed by the type of the field's default: `true`/`false` for a
flag, an integer, a number, a pair of numbers (`real_label=0.9,0.9`), or
text (`metrics=prdc,fd`). A field the study's search space varies (or the
seed, which `--seeds` sets) is refused: the space would overwrite it.
Validation of the value itself is `TrainConfig`'s, with its one-line errors.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from gan_core.config import TrainConfig

FIELDS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def parse_value(name: str, text: str):
    """`text` as a value of field `name`; ValueError (one line) when it cannot be one."""
    default = FIELDS[name]
    if isinstance(default, bool):
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise ValueError(f"{name}: {text!r} is not one of true, false")
    if isinstance(default, tuple):
        parts = text.split(",")
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            values = ()
        if len(values) != len(default):
            raise ValueError(f"{name}: {text!r} is not a pair of numbers such as {','.join(map(str, default))}")
        return values
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name}: {text!r} is not an integer") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name}: {text!r} is not a number") from None
    return text


def parse_sets(items: list[str], varied: set[str]) -> dict:
    """`["lr_d=1e-4", ...]` -> `{"lr_d": 0.0001, ...}`; ValueError naming the bad item."""
    values = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq:
            raise ValueError(f"{item!r} is not KEY=VALUE")
        if name not in FIELDS:
            raise ValueError(f"{name!r} is not a TrainConfig field; allowed: {', '.join(sorted(FIELDS))}")
        if name in varied:
            hint = "--seeds sets it" if name == "seed" else "the study's search space varies it"
            raise ValueError(f"{name}: {hint}, so it cannot be set for every trial")
        values[name] = parse_value(name, text.strip())
    return values


def varied_fields(space) -> set[str]:
    """TrainConfig fields a search space sets per trial (and `seed`): grid keys and the
    fields of their bundles, or every name a define-by-run space suggests or returns."""
    names = {"seed"}
    if callable(space):
        names |= _define_by_run_fields(space)
        return names & set(FIELDS)
    for key, domain in space.items():
        options = domain["grid_search"] if isinstance(domain, dict) and "grid_search" in domain else [domain]
        for option in options:
            names |= set(option) if isinstance(option, dict) else {key}
    return names & set(FIELDS)


def _define_by_run_fields(space: Callable) -> set[str]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    names = set()
    for _ in range(64):
        trial = study.ask()
        constants = space(trial) or {}
        names |= set(trial.params) | set(constants)
        study.tell(trial, 0.0)
    return names
