"""The study's two Tune stoppers: one that ends a trial stuck in mode collapse, one that ends
the whole study when its first trials all fail with the same error (the rest would only fail
the same way). Both are plain functions of the results Tune hands them.

A stop as `collapsed` is a verdict on a trial, so the collapse stopper's rule is the one that,
replayed on FIFO runs (every trial to its budget: `benchmarks/fifo_vs_asha.py --false-stops`),
ends none of the trials that FIFO shows escaping their collapse: gan_core's flag `collapsed` at
COLLAPSE_PERSISTENCE reports running, no new diversity high over the last COLLAPSE_STALL reports,
and COLLAPSE_GRACE_SHARE of the budget gone (or the ASHA grace, when that is later).

On the kept FIFO runs (120 trials, 2 seeds a setting, one CPU type) the rule before 2026-12-07
(the grace at ASHA's rung, three fifths of the budget; no stall window) ended 21 trials, 3 of
them falsely; this one ends 15, none falsely. Of the 18 that held collapsed it lets three run
out `mode_collapse`'s 3,000 updates (ema seed 0; mbstd seeds 0 and 1, whose diversity sets small
new highs on its plateau), stops that saved 600 updates or less each. The stall window spares
slow climbers, flagged in short runs between new highs: `dg_ratio`'s BCE 1:5 seed 1 (4 modes at
4,200 updates, 149 at the end; on another CPU type BCE 1:5 was seen past 300) and `mode_collapse`'s
pack seed 0 (past the collapse threshold at 3,150 updates in the 6,000-update run). The later
grace spares a take-off from a long flat collapse, which nothing in the history before it foretells:
`architecture`'s VAE seed 1, its diversity at 0.04 to 0.07 for 20 evaluations, then past the
threshold at 6,600 of 8,400 updates (from three quarters of the budget the stopper could have
acted one evaluation after its last flag; from four fifths, only had its collapse lasted three
evaluations longer).
"""

from __future__ import annotations

from ray import tune

from studies.plan.plan import COLLAPSE_PERSISTENCE, COLLAPSE_STALL  # noqa: F401  (the rule's defaults: the plan's)


class CollapseStopper(tune.Stopper):
    """Stop a trial once `collapsed` has held at `persistence` reports running, its `diversity` has set
    no new high over the last `stall` reports (each report's against every one before it; the first
    is a high, so it takes more than `stall` reports; 0: no such condition), and `result[time_attr]`
    has reached `grace`; remembers whom it stopped."""

    def __init__(self, time_attr: str, grace: float, persistence: int = COLLAPSE_PERSISTENCE,
                 stall: int = COLLAPSE_STALL):
        self.time_attr, self.grace, self.persistence, self.stall = time_attr, grace, persistence, stall
        self.streaks: dict[str, int] = {}
        self.since_high: dict[str, int] = {}  # reports since the trial's diversity last set a new high
        self.highs: dict[str, float] = {}
        self.stopped: set[str] = set()

    def __call__(self, trial_id, result):
        streak = self.streaks[trial_id] = self.streaks.get(trial_id, 0) + 1 if result.get("collapsed") else 0
        stalled = self._stalled(trial_id, result.get("diversity"))  # every report counts toward the window
        stop = streak >= self.persistence and stalled and result.get(self.time_attr, 0) >= self.grace
        if stop and not result.get("finished"):
            self.stopped.add(trial_id)
        return stop

    def _stalled(self, trial_id, diversity) -> bool:
        """Whether no report among the last `stall` set a new diversity high (this one counted)."""
        if diversity is not None:
            if trial_id not in self.highs or diversity > self.highs[trial_id]:
                self.highs[trial_id], self.since_high[trial_id] = diversity, 0
            else:
                self.since_high[trial_id] += 1
        return self.stall <= 0 or self.since_high.get(trial_id, -1) >= self.stall

    def stop_all(self):
        return False


class ErrorStopper(tune.Stopper):
    """Stops the whole study when the first `first` trials to end all ended in the same error:
    the rest would only fail the same way. `reason` then holds that error."""

    def __init__(self, first: int):
        self.first, self.ends, self.reason = first, {}, None  # trial id -> its error, None: no error

    def __call__(self, trial_id, result):
        if trial_id not in self.ends and any(result.get(k) for k in ("error", "finished", "diverged", "timed_out")):
            self.ends[trial_id] = result.get("error_message") if result.get("error") else None
            errors = set(list(self.ends.values())[:self.first])
            if len(self.ends) >= self.first and len(errors) == 1 and None not in errors:
                self.reason = next(iter(errors))
        return False

    def stop_all(self):
        return self.reason is not None
