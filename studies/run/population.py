"""Population-based training for studies that declare a `Population`: Tune's
`PopulationBasedTraining`, synchronous, on `score_smooth`, counted in evaluations.

Every member pauses (with its checkpoint) at each perturbation point until the
whole population has reached it; then the bottom `quantile` of members, and any
member flagged collapsed, copy the state of a member of the top `quantile`
(exploit) and go on with its learning rates and D:G ratio moved to a neighbour
in the study's lists (explore). Synchronous, so that a clone restores the
donor's checkpoint taken at the very evaluation where the clone itself paused:
its run's history goes on at the next step with nothing to overwrite (see
`studies.run.trainable`), and the decisions depend only on the scores, as with the
synchronous rungs of `studies.run.halving` (Python's `random`, which PBT draws
from, is seeded with the study's seed).

Collapse under PBT: a member whose `collapsed` flag has held at `persistence`
evaluations running, past the collapse grace, is not stopped (that would shrink
the population for good) but replaced by a clone of a top member at the next
perturbation point, whatever its rank.
"""

from __future__ import annotations

import math
import random

from ray.tune.experiment import Trial
from ray.tune.schedulers import PopulationBasedTraining, TrialScheduler

from studies.declare.study import Population  # noqa: F401  (what a study declares; PBT runs it)

ENDING_KEYS = ("error", "finished", "diverged", "timed_out")  # a result after which the member ends by itself


def checkpoints_to_keep(interval: int) -> int:
    """A donor runs at most `interval` evaluations past a perturbation point before its clones have
    restored the checkpoint taken there (it pauses at the next point), so that many and two spare."""
    return interval + 2


class CollapsePBT(PopulationBasedTraining):
    """Synchronous PBT on `score_smooth` per evaluation that also replaces collapsed members."""

    def __init__(self, pbt: dict, persistence: int, grace: float, seed: int):
        super().__init__(time_attr="training_iteration", metric="score_smooth", mode="max",
                         perturbation_interval=pbt["interval"], burn_in_period=pbt["burn_in"],
                         hyperparam_mutations=pbt["mutations"], quantile_fraction=pbt["quantile"],
                         resample_probability=pbt["resample"], synch=True)
        self.persistence, self.grace = persistence, grace
        self.streaks: dict[str, int] = {}  # trial id -> collapsed reports in a row
        self.ended: set[str] = set()
        self.exploits = 0
        random.seed(seed)

    def on_trial_result(self, tune_controller, trial: Trial, result: dict) -> str:
        if any(result.get(key) for key in ENDING_KEYS):
            return TrialScheduler.CONTINUE  # it ends now: no pause, no exploit at its last evaluation
        collapsed = result.get("collapsed") and result.get("training_iteration", 0) >= self.grace
        self.streaks[trial.trial_id] = self.streaks.get(trial.trial_id, 0) + 1 if collapsed else 0
        return super().on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial: Trial, result: dict):
        self._ended(tune_controller, trial)

    def on_trial_error(self, tune_controller, trial: Trial):
        self._ended(tune_controller, trial)

    def on_trial_remove(self, tune_controller, trial: Trial):
        self._ended(tune_controller, trial)

    def _ended(self, tune_controller, trial: Trial):
        """A member ended: if every member left is waiting at the perturbation point, it was the one
        they waited for, so perturb now (Tune's PBT would wait for a result that never comes)."""
        self.ended.add(trial.trial_id)
        live = [t for t in tune_controller.get_live_trials() if t.trial_id not in self.ended]
        if not live or any(t.status != Trial.PAUSED or self._trial_state[t].last_train_time
                           < self._next_perturbation_sync for t in live):
            return
        lower, upper = self._quantiles()
        for t in upper + [t for t in live if t not in upper and t not in lower] + lower:
            self._trial_state[t].last_perturbation_time = self._next_perturbation_sync
            self._checkpoint_or_exploit(t, tune_controller, upper, lower)
        self._next_perturbation_sync = max(self._next_perturbation_sync + self._perturbation_interval,
                                           max(self._trial_state[t].last_train_time for t in live))

    def _quantiles(self) -> tuple[list, list]:
        """(bottom, top) of the members still training, by their score at the perturbation point;
        members flagged collapsed outside the top join the bottom."""
        ranked = sorted((t for t, s in self._trial_state.items() if s.last_score is not None
                         and not math.isnan(s.last_score) and not t.is_finished() and t.trial_id not in self.ended),
                        key=lambda t: self._trial_state[t].last_score)
        if len(ranked) <= 1:
            return [], []
        n = min(int(math.ceil(len(ranked) * self._quantile_fraction)), len(ranked) // 2)
        if n == 0:
            return [], []
        lower, upper = ranked[:n], ranked[len(ranked) - n:]
        collapsed = [t for t in ranked[n:len(ranked) - n] if self.streaks.get(t.trial_id, 0) >= self.persistence]
        return lower + collapsed, upper

    def _exploit(self, tune_controller, trial: Trial, trial_to_clone: Trial):
        super()._exploit(tune_controller, trial, trial_to_clone)
        self.streaks[trial.trial_id] = 0  # it holds the donor's weights now
        self.exploits += 1

    def debug_string(self) -> str:
        return (f"Synchronous PBT: {self.exploits} exploits; next perturbation at evaluation "
                f"{self._next_perturbation_sync}")
