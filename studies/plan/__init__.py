"""The plan: what a study will run, resolved and validated before anything starts (`plan`: the
trials, scheduler, stopper and resources; `looks`: the seeds of each look of a `--decide` run)."""
