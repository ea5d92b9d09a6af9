"""Successive halving with synchronous rungs: ASHA's rule, without its dependence on timing.

Tune's ASHA decides at a rung by comparing a trial with the trials that
happened to reach that rung before it, so who gets stopped changes with the
machine's speed, the load beside it and the order trials start in. Here a
trial that reaches a rung (an evaluation count; every trial evaluates at the
same training work) is paused, with its checkpoint, until every trial of the
study has either reached the rung too or ended before it. Then rung k keeps
successive halving's share of the whole study, the best
`ceil(N / reduction_factor**(k + 1))` of its N trials: a trial that ended
before the rung (stopped as collapsed, diverged, failed) ranks below every
trial at it, so it counts toward the cut, and a rung that the collapse stopper
has thinned stops fewer of the trials that reach it (halving those that
arrive would stop the best of few). Ties go to the earlier trial. The last
trial to arrive needs no pause.

A cut inside evaluation noise is a coin toss, so the rung also keeps, as a
racing rule would (Maron and Moore's Hoeffding races, Birattari's F-race: drop
a candidate only when it is shown worse), every trial below the cut that has
taken off (its sample quality at the rung reaches the plausible-samples bar)
and whose smoothed score is within `tolerance` standard errors of the last
trial kept. A trial's standard error is its own: the spread of its last
evaluations' changes of the raw score, scaled to the moving average the rung
ranks. Trials that have not taken off are all alike near zero, so their ties
do not count. `tolerance` 0 keeps the quota alone (the rule of the runs
whose parent run records no `tolerance` in its scheduler).

On the CPU a trial is deterministic for its seed, so the same command gives
the same trials, the same rung decisions and the same table on any machine.

The rungs are ASHA's: `grace_period * reduction_factor**k` below `max_t`. A
paused trial restarts from the checkpoint it reported at the rung (Tune
reuses the worker process), exactly where it stopped. After a driver restart
(`--resume`) the values at each rung are read back from MLflow through
`history`, so decisions made before the restart are made again identically.
"""

from __future__ import annotations

import math
from typing import Callable

from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

ENDING_KEYS = ("error", "finished", "diverged", "timed_out")  # a result after which the trial ends by itself
NOISE_WINDOW = 5  # the evaluations up to a rung whose changes give a trial's evaluation noise


def rungs(grace_period: float, reduction_factor: float, max_t: float) -> list[int]:
    """ASHA's milestones, in evaluations: grace, grace * rf, ... below max_t."""
    out, t = [], grace_period
    while t < max_t:
        out.append(int(math.ceil(t)))
        t *= reduction_factor
    return sorted(set(out))


class SyncHalving(FIFOScheduler):
    """Synchronous successive halving on `metric` (maximised) over `trials` trials."""

    def __init__(self, metric: str, max_t: float, grace_period: float, reduction_factor: float, trials: int,
                 history: Callable[[], dict] | None = None, raw: str = "score", smoothing: float = 1.0,
                 tolerance: float = 0.0, take_off: float = 0.0):
        """`metric` is the moving average of `raw` with weight `smoothing` on the newest value; `history`
        gives {metric name: {trial id: {evaluation: value}}} for `metric`, `raw` and `quality`; a trial
        has taken off once its `quality` reaches `take_off`."""
        super().__init__()
        self._metric, self.raw, self.smoothing, self.tolerance, self.take_off = \
            metric, raw, smoothing, tolerance, take_off
        self._supports_buffered_results = False  # decide on each result as it comes
        self.milestones = rungs(grace_period, reduction_factor, max_t)
        self.rf, self.total, self.history_source = reduction_factor, trials, history
        self.values: dict[str, dict[int, float]] = {}  # trial id -> {evaluation: metric}
        self.raws: dict[str, dict[int, float]] = {}  # trial id -> {evaluation: raw}
        self.quality: dict[str, dict[int, float]] = {}  # trial id -> {evaluation: quality}
        self.order: list[str] = []  # trial ids as added: ties go to the earlier
        self.ended: set[str] = set()
        self.kept: dict[int, set[str]] = {}  # milestone -> trial ids that go on past it
        self.waiting: dict[str, Trial] = {}  # paused at a rung, waiting for its decision
        self.released: set[str] = set()  # paused trials that won their rung
        self.restored = False

    def on_trial_add(self, tune_controller, trial: Trial):
        if trial.trial_id not in self.order:
            self.order.append(trial.trial_id)
        if (trial.last_result or {}).get("training_iteration"):
            self.restored = True  # a resumed study: read the earlier rung values before deciding
        if trial.status in (Trial.TERMINATED, Trial.ERROR):
            self.ended.add(trial.trial_id)

    def on_trial_result(self, tune_controller, trial: Trial, result: dict) -> str:
        self._load_history()
        tid, it = trial.trial_id, int(result["training_iteration"])
        if any(result.get(key) for key in ENDING_KEYS):
            return TrialScheduler.CONTINUE
        self.values.setdefault(tid, {})[it] = _value(result.get(self._metric))
        self.raws.setdefault(tid, {})[it] = _value(result.get(self.raw))
        self.quality.setdefault(tid, {})[it] = _value(result.get("quality"))
        for milestone in (m for m in self.milestones if m <= it):
            self.values[tid].setdefault(milestone, self.values[tid][it])  # only after a restore skipped it
            if milestone not in self.kept and not self._decide(tune_controller, milestone, current=tid):
                self.waiting[tid] = trial
                return TrialScheduler.PAUSE
            if tid not in self.kept[milestone]:
                return TrialScheduler.STOP
        self.released.discard(tid)
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller, trial: Trial, result: dict):
        self._end(tune_controller, trial)

    def on_trial_error(self, tune_controller, trial: Trial):
        self._end(tune_controller, trial)

    def on_trial_remove(self, tune_controller, trial: Trial):
        self._end(tune_controller, trial)

    def choose_trial_to_run(self, tune_controller) -> Trial | None:
        trials = tune_controller.get_trials()
        for trial in trials:
            if trial.status == Trial.PENDING:
                return trial
        for trial in trials:
            if trial.status == Trial.PAUSED and trial.trial_id in self.released:
                return trial
        return None

    def debug_string(self) -> str:
        def said(m: int) -> str:
            extra = len(self.kept[m]) - self._quota(m)
            return f"{m}: {len(self.kept[m])} go on" + (f" ({extra} of them within noise of the cut)" if extra > 0 else "")
        done = ", ".join(said(m) for m in sorted(self.kept))
        return f"Synchronous successive halving at evaluations {self.milestones} ({done or 'no rung decided yet'})"

    def _end(self, tune_controller, trial: Trial):
        self._load_history()
        self.ended.add(trial.trial_id)
        self.waiting.pop(trial.trial_id, None)
        self.released.discard(trial.trial_id)
        for milestone in self.milestones:
            if milestone not in self.kept:
                self._decide(tune_controller, milestone)

    def _decide(self, tune_controller, milestone: int, current: str | None = None) -> bool:
        """Decide the rung once every trial has reached it or ended; stop or release those waiting."""
        at = {t: v[milestone] for t, v in self.values.items() if milestone in v}
        out = self.ended - set(at)
        if len(at) + len(out) < self.total:
            return False
        spread = {t: noise(self.raws.get(t, {}), milestone, self.smoothing) for t in at}
        taken_off = {t for t in at if self.quality.get(t, {}).get(milestone, -math.inf) >= self.take_off}
        self.kept[milestone] = keep(at, self.order, self._quota(milestone),
                                    spread, self.tolerance, taken_off)
        for tid, trial in list(self.waiting.items()):
            if tid == current or self.values.get(tid, {}).get(milestone) is None:
                continue
            del self.waiting[tid]
            if tid in self.kept[milestone]:
                self.released.add(tid)
            else:
                stop_paused(tune_controller, trial)
        return True

    def _quota(self, milestone: int) -> int:
        return quota(self.total, self.rf, self.milestones.index(milestone))

    def _load_history(self):
        """After a restore, the metric at every evaluation each trial already logged."""
        if self.restored and self.history_source is not None:
            history = self.history_source()
            for name, store in ((self._metric, self.values), (self.raw, self.raws), ("quality", self.quality)):
                for tid, values in history.get(name, {}).items():
                    for it, value in values.items():
                        store.setdefault(tid, {}).setdefault(it, _value(value))
            self.history_source = None


def quota(trials: int, reduction_factor: float, rung: int) -> int:
    """How many of a study's `trials` go on past rung `rung` (0 = the first): successive halving's
    ceil(N / rf**(rung + 1)), at least one."""
    return max(1, math.ceil(trials / reduction_factor ** (rung + 1)))


def keep(at: dict[str, float], order: list[str], count: int, spread: dict[str, float] | None = None,
         tolerance: float = 0.0, taken_off: set[str] | None = None) -> set[str]:
    """The best `count` trials by their value at the rung (all of them when fewer arrived), ties to the
    trial added first; then every trial below them, of those in `taken_off` (all when None), whose value
    is within `tolerance` standard errors (`spread`, each trial's own, combined) of the last one kept."""
    def rank(t):
        return -at[t], order.index(t) if t in order else len(order)
    ranked = sorted(at, key=rank)
    kept = ranked[:count]
    if kept and tolerance > 0 and spread is not None:
        last = kept[-1]
        kept += [t for t in ranked[count:] if (taken_off is None or t in taken_off)
                 and at[last] - at[t] <= tolerance * math.hypot(spread.get(t, 0.0), spread.get(last, 0.0))]
    return set(kept)


def noise(raw: dict[int, float], milestone: int, smoothing: float, window: int = NOISE_WINDOW) -> float:
    """The standard error of a trial's smoothed score at `milestone`, from its own raw scores: the
    standard deviation of their changes over the last `window` evaluations up to the rung (a change is
    the difference of two noisy evaluations, hence the sqrt(2); a steady climb is taken out with the
    mean change), scaled to an exponential moving average with weight `smoothing`
    (sqrt(a / (2 - a)) of one evaluation's noise). 0 with fewer than three evaluations to go on."""
    values = [raw.get(e) for e in range(max(1, milestone - window + 1), milestone + 1)]
    if any(v is None or not math.isfinite(v) for v in values) or len(values) < 3:
        return 0.0
    changes = [b - a for a, b in zip(values, values[1:])]
    mean = sum(changes) / len(changes)
    var = sum((c - mean) ** 2 for c in changes) / (len(changes) - 1)
    return math.sqrt(var / 2) * math.sqrt(smoothing / (2 - smoothing))


def stop_paused(tune_controller, trial: Trial) -> None:
    """Stop a paused trial. Tune marks a trial for its saved experiment state only when it has a
    live actor, so a paused trial stopped without one would be saved as PAUSED (and run again by
    --resume); marking it here keeps the saved state true. The end-to-end study tests fail if a
    Ray upgrade moves this."""
    tune_controller.stop_trial(trial)
    # Tune hands schedulers a wrapper that warns on the first private call; the controller behind it
    controller = getattr(tune_controller, "_tune_controller", tune_controller)
    controller._mark_trial_to_checkpoint(trial)


def _value(value) -> float:
    """The metric as a number to rank; a missing or NaN value ranks last."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return -math.inf
    return value if math.isfinite(value) else -math.inf
