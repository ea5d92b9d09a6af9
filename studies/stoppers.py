"""The study's two Tune stoppers: one that ends a trial stuck in mode collapse, one that ends
the whole study when its first trials all fail with the same error (the rest would only fail
the same way). Both are plain functions of the results Tune hands them."""

from __future__ import annotations

from ray import tune


class CollapseStopper(tune.Stopper):
    """Stop a trial once `collapsed` has held at `persistence` evaluations running
    and `result[time_attr]` has reached `grace`; remembers whom it stopped."""

    def __init__(self, time_attr: str, grace: float, persistence: int = 1):
        self.time_attr, self.grace, self.persistence = time_attr, grace, persistence
        self.streaks: dict[str, int] = {}
        self.stopped: set[str] = set()

    def __call__(self, trial_id, result):
        streak = self.streaks[trial_id] = self.streaks.get(trial_id, 0) + 1 if result.get("collapsed") else 0
        stop = streak >= self.persistence and result.get(self.time_attr, 0) >= self.grace
        if stop and not result.get("finished"):
            self.stopped.add(trial_id)
        return stop

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
