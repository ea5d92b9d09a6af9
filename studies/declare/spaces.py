"""Search spaces as data: the grid points of a Tune param space merged onto a
study's base config, the labels that tell trials apart, and random draws from
an Optuna define-by-run space (to validate it before Ray starts).

A grid entry is a domain over one field, or over bundles of fields set
together (`{"_ratio": "1:5", "d_steps": 1, "g_steps": 5}`); names starting
with "_" are labels of a choice, not config fields. A narrowed grid (`--only`,
trials left to train) is one grid under SELECTED over whole trial points, each
the original keys' choices plus the seed, so its labels read as the full grid's
do. This module is what the driver and every Ray worker share: it imports
neither argparse nor Ray.
"""

from __future__ import annotations

import itertools
from typing import Callable


def expand(base: dict, space: dict) -> list[dict]:
    """Every grid point of the space merged onto the base (bundles flattened);
    a random domain contributes each of its categories, or one sample."""
    keys = list(space)
    choices = [options(space[k]) for k in keys]
    return [merge(base, dict(zip(keys, combo))) for combo in itertools.product(*choices)]


SELECTED = "selected"  # the one key of a narrowed grid: whole trial points (see `select`)


def merge(base: dict, choices: dict) -> dict:
    """A trial's TrainConfig values: the base, then each chosen value. A dict is a
    bundle of fields set together (or a narrowed grid's point, bundles inside) and is
    merged in; names starting with "_" are search choices that are not fields
    themselves (a preset's name) and are skipped."""
    values = dict(base)
    for key, value in choices.items():
        if key.startswith("_"):
            continue
        if isinstance(value, dict):
            values = merge(values, value)
        else:
            values[key] = value
    return values


def points(space: dict) -> list[dict]:
    """Every grid point of a space as {key: chosen option} (seed included when the space has it)."""
    if SELECTED in space:
        return [dict(point) for point in options(space[SELECTED])]
    keys = list(space)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(options(space[k]) for k in keys))]


def select(chosen: list[dict]) -> dict:
    """A narrowed grid: one grid over the chosen points (each {key: option}, seed included)."""
    return {SELECTED: {"grid_search": [dict(point) for point in chosen]}}


def point_labels(columns: dict[str, str], point: dict) -> dict[str, str]:
    """{label name: value} of one grid point, as `label` shows them (`ratio` -> `1:5`)."""
    return dict(part.split("=", 1) for part in label(columns, point).split())


def sample_define_by_run(base: dict, space_fn: Callable, n: int = 64) -> list[dict]:
    """n configs drawn at random from a define-by-run space (with Optuna's own
    trial objects), merged onto the base: enough to catch a typo or an invalid
    branch before Ray starts."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    configs = []
    for _ in range(n):
        trial = study.ask()
        constants = space_fn(trial) or {}
        configs.append(merge(base, {**trial.params, **constants}))
        study.tell(trial, 0.0)
    return configs


def options(domain) -> list:
    if isinstance(domain, dict) and set(domain) == {"grid_search"}:
        return list(domain["grid_search"])
    if hasattr(domain, "categories"):
        return list(domain.categories)
    if hasattr(domain, "sample"):
        return [domain.sample()]
    return [domain]


def label_columns(space, grid: dict | None = None) -> dict[str, str]:
    """The Tune parameter paths that tell trials apart -> short names, for the
    progress table and the final table. A bundle shows its first field plus any
    field its first field does not determine (a loss bundle shows `loss` only,
    a ratio bundle `d_steps` and `g_steps`). A narrowed grid (`select`) shows
    the labels of `grid`, the full grid it came from, so a trial reads the same
    whether or not its study was narrowed, then any config value a point sets
    beyond the grid's keys (`--decide`'s claim sides: `max_steps=16800`)."""
    columns = {}
    if isinstance(space, dict) and SELECTED in space:  # a narrowed grid: the labels of the grid it narrows
        if grid is None or SELECTED in grid:
            raise ValueError("a narrowed grid's labels are its full grid's: pass the grid it was selected from")
        columns = {f"{SELECTED}/{path}": name for path, name in label_columns(grid).items()}
        seed = {k: columns.pop(k) for k in [f"{SELECTED}/seed"] if k in columns}
        extra = dict.fromkeys(k for point in options(space[SELECTED]) for k in point if k not in grid)
        return {**columns, **{f"{SELECTED}/{k}": k.lstrip("_") for k in extra}, **seed}  # values a point sets itself
    if callable(space):  # define-by-run: every name the space suggests
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(64):
            trial = study.ask()
            space(trial)
            columns.update({k: k.lstrip("_") for k in trial.params})
            study.tell(trial, 0.0)
        return columns
    for key, domain in space.items():
        choices = options(domain)
        if choices and all(isinstance(o, dict) for o in choices):
            lead, *rest = list(dict.fromkeys(f for option in choices for f in option))
            shown = [lead] + [f for f in rest if not _determines(choices, lead, f)]
            columns.update({f"{key}/{f}": f.lstrip("_") for f in shown})
        else:
            columns[key] = key.lstrip("_")
    return columns


def _determines(options: list[dict], lead: str, other: str) -> bool:
    seen = {}
    for option in options:
        if seen.setdefault(repr(option.get(lead)), option.get(other)) != option.get(other):
            return False
    return True


def label(columns: dict[str, str], trial_config: dict) -> str:
    """`loss=bce d_steps=1 g_steps=5 seed=0` for one trial's Tune config."""
    parts = []
    for path, name in columns.items():
        value = trial_config
        for part in path.split("/"):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            parts.append(f"{name}={_short(value)}")
    return " ".join(parts)


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
