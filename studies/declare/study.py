"""What a study is: a plain declaration (base config, search space, seeds, smoke budget, the
metrics of its question, a population for PBT) and the base configs studies share. A study file
declares one `Study` and hands it to `studies.declare.cli.main`; nothing here parses, plans or runs,
and nothing here imports torch or Ray, so listing the studies costs no heavy import.

    from studies.declare.study import CPU_IMAGES, SMOKE, Study
    STUDY = Study(name="dg_ratio", summary="...", base=CPU_IMAGES, space=dg_ratio.space, smoke=SMOKE)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

POINTS_BASE = {"arch": "mlp", "nz": 8, "ngf": 128, "ndf": 128, "batch_size": 256,
               "norm_g": "none", "norm_d": "none", "eval_samples": 2500}

# The embedded default most studies share: a 32x32 DCGAN small enough to learn
# stacked-digits on one CPU thread. The budget is training work, never seconds, so
# the same command gives the same trials anywhere: 8,400 network updates (4,200
# rounds at 1:1, 1,400 at 5:1). Measured, the 1:1 DCGAN takes off (hundreds of modes)
# after 2,000-2,800 updates, so ASHA's one rung, at three fifths of the budget, comes after it.
# Batch 32: take-off comes at about the same round whatever the batch, and sooner in
# seconds. The wall-clock cap is only a safety net, far above a trial's expected time.
CPU_IMAGES = dict(dataset="stacked-digits", arch="dcgan", image_size=32, nz=64, ngf=32, ndf=32, batch_size=32,
                  budget="updates", max_steps=8400, eval_every=300, max_seconds=3600.0, eval_samples=1000)
# --smoke: tiny nets, five evaluations, seconds per trial: it checks the path, not the answer
SMOKE = dict(ngf=16, ndf=16, nz=32, batch_size=32, max_steps=60, eval_every=12, max_seconds=600.0, eval_samples=500)

@dataclass(frozen=True)
class Study:
    name: str
    summary: str  # one line, shown by `python -m studies`
    base: dict  # TrainConfig fields every trial shares
    space: Callable  # grid: `space() -> {field: domain, or bundle: grid of field dicts}`;
    #                  optuna: define-by-run `space(trial)` that suggests fields (names
    #                  starting with "_" are choices that are not fields themselves)
    seeds: int = 2  # repeats of the whole space over seeds 0..seeds-1 (grid only)
    smoke: dict = field(default_factory=dict)  # base overrides for --smoke
    smoke_space: Callable | None = None  # a smaller space for --smoke
    smoke_seeds: int = 1
    search: str = "grid"  # "grid": every point of space(); "optuna": TPE over space(trial)
    num_samples: int = 1  # Tune samples: repeats of a grid, or the number of Optuna trials
    smoke_num_samples: int = 1
    data_kinds: tuple = ("images", "points")  # the kinds of --dataset the question makes sense for
    columns: tuple = ()  # metrics of the question shown in the final table beside the common ones
    population: Population | None = None  # train the grid as one PBT population (studies.run.population), not under ASHA


@dataclass(frozen=True)
class Population:
    """What a study declares to train under PBT instead of ASHA."""
    mutations: Callable  # `mutations() -> {trial config key: ordered list of values}`: explore moves to a neighbour
    burn_in: int  # evaluations before the first exploit (after take-off: before it every score is noise)
    interval: int  # evaluations between perturbation points
    quantile: float = 0.25  # share of members that copy (bottom) and that are copied (top)
    resample: float = 0.25  # chance that explore draws a value from the whole list instead of a neighbour
    smoke_burn_in: int = 2  # --smoke: five evaluations in all, so exploits at 2 and 4
    smoke_interval: int = 2


def settings(population: Population, smoke: bool) -> dict:
    """The resolved PBT settings a plan records: what `--dry-run` prints and `scheduler` builds from."""
    return {"burn_in": population.smoke_burn_in if smoke else population.burn_in,
            "interval": population.smoke_interval if smoke else population.interval,
            "quantile": population.quantile, "resample": population.resample,
            "mutations": population.mutations()}
