"""A study's resolved plan: what `--dry-run` prints, what the parent run records and
what the driver (`studies.run.execute`) runs. Built from the command line by
`studies.declare.cli.make_plan`; this module parses nothing and starts nothing.
"""

from __future__ import annotations

import ast
import inspect
import json
from dataclasses import dataclass, field

from studies.report.claims import LOOKS
from studies.declare.spaces import SELECTED, label, label_columns, options
from studies.declare.study import Study



# the collapse stopper's rule (studies.run.stoppers says why these values)
COLLAPSE_PERSISTENCE = 2  # reports in a row with `collapsed` (--collapse-persistence's default)
COLLAPSE_STALL = 6  # reports over which diversity set no new high (--collapse-stall's default; 0: no such condition)
COLLAPSE_GRACE_SHARE = 4 / 5  # share of a trial's budget before the stopper may act (--collapse-grace's default)


def default_collapse_grace(max_t: float, rung_grace: float = 0.0) -> float:
    """The collapse stopper's grace when --collapse-grace is not given: four fifths of a trial's budget
    (`max_t`, in the unit of `time_attr`), or ASHA's grace (`rung_grace`) when that is later."""
    return max(round(max_t * COLLAPSE_GRACE_SHARE, 9), rung_grace, 1)  # 22.4, not 22.400000000000002


REDUCTION_FACTOR = 2  # ASHA keeps half the trials at a rung
RUNG_TOLERANCE = 2.0  # --rung-tolerance's default: a cut inside twice the noise of a difference is a coin toss


@dataclass(frozen=True)
class Plan:
    study: Study
    base: dict
    space: dict
    configs: list  # one TrainConfig per grid point (seed included), or sampled Optuna trials, validated
    num_samples: int
    scheduler: str
    grace: float | None  # ASHA grace period in units of time_attr; None: three fifths of max_t (default_grace)
    collapse_grace: float | None  # time_attr units before the collapse stopper may act; None: default_collapse_grace
    collapse_persistence: int  # reports in a row with `collapsed` before the stopper acts
    smoothing: float  # weight of the newest score in score_smooth
    cpus_per_trial: float
    gpus_per_trial: float
    max_failures: int  # restarts of a trial from its last checkpoint after its process or node dies
    address: str | None
    tracking_uri: str
    storage: str  # an absolute path or a URI (s3://...)
    dry_run: bool
    argv: tuple = ()  # the command line, saved with the study for --resume
    resume: dict | None = None  # the saved study state (experiment folder, MLflow ids) when resuming
    sets: dict = field(default_factory=dict)  # the --set overrides (already in base)
    overrides: tuple = ()  # the config fields the command line set (its options and --set): a child run's params
    population: dict | None = None  # PBT settings (studies.declare.study.settings) when the scheduler is pbt
    rung_tolerance: float = RUNG_TOLERANCE  # standard errors within which a trial below a rung's cut goes on too (halving.keep)
    grid: dict | None = None  # the study's full grid when `space` narrows it (--only): trials keep its labels
    reuse: bool = True  # under FIFO, copy a trial already trained in the store instead of training it (studies.run.reuse)
    decide: tuple = ()  # --decide: the claim parts ("R4.1", ...) whose settings run, seeds added until decided
    looks: tuple = LOOKS  # --decide: seeds a side at each look, the last the cap
    collapse_stall: int = COLLAPSE_STALL  # reports without a new diversity high before the stopper acts (0: none)

    @property
    def reuses(self) -> bool:
        """Whether trials already trained are copied: under FIFO only (ASHA's and PBT's decisions depend on
        every trial), unless --no-reuse."""
        return self.reuse and self.scheduler == "fifo"

    @property
    def columns(self) -> dict[str, str]:
        """Tune parameter paths -> label names: how every table and child run names a trial's setting."""
        return label_columns(self.space, self.grid)

    @property
    def time_attr(self) -> str:
        """Evaluations (each at the same work in every trial), or seconds when time is the budget (max_steps 0)."""
        return "time_total_s" if not self.base["max_steps"] else "training_iteration"

    @property
    def max_t(self) -> float:
        b = self.base
        return b["max_seconds"] if self.time_attr == "time_total_s" else -(-b["max_steps"] // b["eval_every"])

    @property
    def synchronous_rungs(self) -> bool:
        """ASHA's rungs wait for every trial (studies.run.halving): a grid on a work budget. An Optuna search
        or a time budget keeps Tune's asynchronous ASHA, which has no tolerance."""
        return self.study.search == "grid" and self.time_attr == "training_iteration"

    @property
    def grace_period(self) -> float:
        return self.grace or default_grace(self.max_t)

    @property
    def collapse_grace_period(self) -> float:
        """The collapse stopper's grace: --collapse-grace, else four fifths of the budget or the ASHA grace,
        whichever is later (`studies.run.stoppers`: a stop as collapsed is a verdict, and late take-offs happen)."""
        if self.collapse_grace is None:
            return default_collapse_grace(self.max_t, self.grace_period)
        return self.collapse_grace

    @property
    def pbt_collapse_grace(self) -> float:
        """Under PBT a collapsed member may be replaced from the burn-in on, unless --collapse-grace says otherwise."""
        return self.population["burn_in"] if self.collapse_grace is None else self.collapse_grace

    @property
    def trials(self) -> int:
        return self.num_samples if self.study.search == "optuna" else len(self.configs) * self.num_samples


def default_grace(max_t: float) -> float:
    """ASHA's grace period when --grace is not given: three fifths of a trial's budget (max_t)."""
    # GAN scores stay near 0 until a trial takes off (its samples reach the plausible-samples
    # bar), and some settings take off late: ranking (or calling a run collapsed) before then
    # is noise. At half the budget, benchmarks/fifo_vs_asha.py found the default mode_collapse
    # study's rung before pack seed 1 took off (1,650 of 3,000 updates) and stopped the third
    # best trial; at three fifths (1,800) the rung stops none of FIFO's top quarter (README:
    # FIFO against ASHA, where a study whose settings tie shows what no rung can avoid).
    return max(max_t * 3 / 5, 1)


def describe(plan: Plan) -> str:
    """The resolved plan as `--dry-run` prints it: one line per setting."""
    lines = []
    for key, value in plan_dict(plan).items():
        if isinstance(value, dict) and key in ("base_config", "search_space"):
            lines.append(f"{key}:")
            for k, v in value.items():
                text = v if isinstance(v, str) and "\n" in v else json.dumps(v, default=str)
                lines.append(f"  {k} = {text}")
        else:
            lines.append(f"{key}: {json.dumps(value, default=str)}")
    return "\n".join(lines)


def recorded_tolerance(scheduler: str) -> float:
    """The rung tolerance a parent run's `scheduler` param records: 0 where it records none (a run made
    before the rungs kept trials within noise of their cut, or one whose rungs are not synchronous)."""
    try:
        params = ast.literal_eval(scheduler)
    except (ValueError, SyntaxError):
        return 0.0
    return float(params.get("tolerance", 0.0)) if isinstance(params, dict) else 0.0


def plan_dict(plan: Plan) -> dict:
    scheduler = ({"name": "asha", "metric": "score_smooth", "mode": "max", "time_attr": plan.time_attr,
                  "max_t": plan.max_t, "grace_period": plan.grace_period, "reduction_factor": REDUCTION_FACTOR}
                 if plan.scheduler == "asha" else {"name": "fifo"})
    if plan.scheduler == "asha" and plan.synchronous_rungs:
        scheduler.update(synchronous=True, tolerance=plan.rung_tolerance)
    collapse = ({"metric": "collapsed", "time_attr": plan.time_attr, "grace": plan.collapse_grace_period,
                 "persistence": plan.collapse_persistence, "stall": plan.collapse_stall}
                if plan.scheduler == "asha" else None)
    if plan.population:
        scheduler = {"name": "pbt", "synchronous": True, "metric": "score_smooth", "mode": "max",
                     "time_attr": "training_iteration", **plan.population}
        collapse = {"metric": "collapsed", "action": "replaced by a clone of a top member at the next perturbation",
                    "grace": plan.pbt_collapse_grace, "persistence": plan.collapse_persistence}
    shown = plan.grid if plan.grid is not None else plan.space
    space = ({k: options(v) for k, v in shown.items()} if not callable(shown)
             else {"optuna_tpe": inspect.getsource(shown)})
    return {
        "study": plan.study.name,
        "base_config": plan.base,
        "search_space": space,
        **({"settings": sorted({label(plan.columns, {SELECTED: point}).rsplit(" seed=", 1)[0]
                            for point in options(plan.space[SELECTED])})} if plan.grid is not None else {}),
        "trials": plan.trials,
        **({"decide": {"parts": list(plan.decide), "looks": list(plan.looks), "cap_trials": plan.trials // plan.looks[0] * plan.looks[-1]}} if plan.decide else {}),
        "scheduler": scheduler,
        "collapse_stopper": collapse,
        "score_smoothing": plan.smoothing,
        "resources_per_trial": {"cpu": plan.cpus_per_trial, "gpu": plan.gpus_per_trial},
        "max_failures": plan.max_failures,
        "reuse": plan.reuses,
        "set": plan.sets,
        "ray": plan.address or "local",
        "tracking_uri": plan.tracking_uri,
        "storage": plan.storage,
        **({"resume": plan.resume["folder"]} if plan.resume else {}),
    }
