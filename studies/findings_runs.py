"""The study runs FINDINGS.md reads (`studies.findings`): a parent run and its trials from the
tracking store, or a file `--findings` exported, so the document can be rebuilt when the store is gone.
An export holds each trial's setting, seed, outcome, budget and metric histories, and the run's command,
times and `gan.code` digest (where it recorded one)."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass

from studies import tracking
from studies.plan import RUNG_TOLERANCE, default_grace, recorded_tolerance
from studies.report_runs import StudyRuns, Trial, load_study

KEYS = ("score", "diversity", "quality", "modes_covered", "cond_acc", "aux_acc_real", "aux_acc_fake", "collapsed")
PARENT_NAME = re.compile(r"^(?P<study>[a-z_]+)-\d{8}-\d{6}$")


@dataclass
class Source:
    """One study run: its trials, the command that made it, when it ran."""
    runs: StudyRuns
    command: str
    started: int  # ms since the epoch
    ended: int | None
    code: str | None = None  # digest of the gan_core that trained it (reuse.code_digest); None: not recorded

    @property
    def wall_minutes(self) -> float | None:
        return (self.ended - self.started) / 60_000 if self.ended else None

    @property
    def seeds(self) -> int:
        return len({t.seed for t in self.runs.trials})


def rung_evaluation(source: Source) -> int | None:
    """The evaluation at which ASHA's first rung stopped some of this run's trials (the fewest evaluations
    a trial that ended `stopped_early` logged); None when ASHA stopped none."""
    ends = [len(t.history.get("score", [])) for t in source.runs.trials if t.status == "stopped_early"]
    return min(ends) if ends else None


def rerun_grace(source: Source) -> int | None:
    """The `--grace` the run's command needs to make the same run today: the evaluation of its ASHA rung,
    when that is not where today's default grace puts it (the default moved from half to three fifths of
    the budget) and the command does not name one; None when the command alone makes it."""
    rung = rung_evaluation(source)
    budget = max((len(t.history.get("score", [])) for t in source.runs.trials), default=0)
    if rung is None or names(source.command, "--grace") or timed(source) or rung == math.ceil(default_grace(budget)):
        return None
    return rung


def names(command: str, option: str) -> bool:
    """Whether `command` gives `option` (`--x V` or `--x=V`)."""
    return any(w == option or w.startswith(option + "=") for w in command.split())


def timed(source: Source) -> bool:
    """Whether time was the run's budget (--max-steps 0): its rung is in seconds."""
    return any(t.params.get("max_steps") == "0" for t in source.runs.trials)


def rung_tolerance(source: Source) -> float:
    """The `--rung-tolerance` the run's rungs decided with, from its parent's scheduler: 0 for a run that
    records none (made before the rung kept trials within noise of its cut)."""
    return recorded_tolerance(source.runs.parent_params.get("scheduler", "{}"))


def rerun_tolerance(source: Source) -> float | None:
    """The `--rung-tolerance` the run's command needs to make the same run today: the run's own, where
    a rung stopped trials, the command names none and today's default differs; None when not needed."""
    tolerance = rung_tolerance(source)
    asynchronous = timed(source) or source.runs.searched  # Tune's own ASHA: no tolerance to name
    if rung_evaluation(source) is None or names(source.command, "--rung-tolerance") or asynchronous \
            or tolerance == RUNG_TOLERANCE:
        return None
    return tolerance


def rerun_command(source: Source) -> str:
    """The command that makes the same run today."""
    grace, tolerance = rerun_grace(source), rerun_tolerance(source)
    return (source.command + (f" --grace {grace}" if grace is not None else "")
            + (f" --rung-tolerance {tolerance:g}" if tolerance is not None else ""))


def rerun_note(source: Source) -> str | None:
    """Where the run's command alone no longer makes the same run: what does."""
    grace, tolerance = rerun_grace(source), rerun_tolerance(source)
    if grace is None and tolerance is None:
        return None
    how = []
    if grace is not None:
        how.append(f" at evaluation {grace}, not where today's default puts it")
    if tolerance is not None:
        kept = ("only the rung's quota" if tolerance == 0 else
                f"trials within {tolerance:g} standard errors of the cut")
        how.append(f" keeping {kept} (today's default also keeps those within {RUNG_TOLERANCE:g} standard errors "
                   f"of it)" if tolerance < RUNG_TOLERANCE else f" keeping {kept} (today's default: {RUNG_TOLERANCE:g})")
    return (f"{source.runs.parent_name} stopped trials at ASHA's rung{','.join(how)}: "
            f"`{rerun_command(source)}` makes the same run.")


def guessed_command(runs: StudyRuns, default_seeds: int) -> str:
    """The command of a run made before runs recorded theirs: the study, its seeds and its --set values."""
    words = [f"python -m studies.{runs.study}"]
    seeds = len({t.seed for t in runs.trials})
    if seeds != default_seeds:
        words.append(f"--seeds {seeds}")
    sets = runs.parent_params.get("set", "{}")
    try:
        parsed = json.loads(sets.replace("'", '"'))
    except ValueError:
        parsed = {}
    words += [f"--set {k}={v}" for k, v in parsed.items()]
    return " ".join(words)


def study_seeds(study: str) -> int:
    import importlib

    try:
        return importlib.import_module(f"studies.{study}").STUDY.seeds
    except (ImportError, AttributeError):
        return 2


def from_store(client, ref: str) -> Source:
    """The run `ref` (a parent run's name, `<study>-<date>-<time>`, or its id) from the tracking store."""
    match = PARENT_NAME.match(ref)
    if match:
        study = match.group("study")
    else:
        try:
            study = client.get_run(ref).data.tags.get("study", "")
        except Exception as err:  # noqa: BLE001  an id the store does not know
            raise ValueError(f"--findings: no parent run named or with id {ref!r} in this tracking store") from err
    try:
        runs = load_study(client, study, ref, KEYS)
    except ValueError as err:
        raise ValueError(f"--findings: {err}") from err
    parent = client.get_run(runs.parent_id)
    command = parent.data.tags.get(tracking.TAG_COMMAND) or guessed_command(runs, study_seeds(study))
    return Source(runs, command, parent.info.start_time, parent.info.end_time,
                  parent.data.tags.get(tracking.TAG_CODE))


def export(source: Source) -> dict:
    runs = source.runs
    code = {"code": source.code} if source.code else {}
    return {**code, "study": runs.study, "parent_name": runs.parent_name, "parent_id": runs.parent_id,
            "command": source.command, "started": source.started, "ended": source.ended,
            "parent_params": {k: runs.parent_params[k] for k in ("set", "trials", "scheduler")
                              if k in runs.parent_params},
            "trials": [{"name": t.name, "setting": t.setting, "seed": t.seed, "status": t.status,
                        "labels": t.labels, "params": {k: t.params[k] for k in ("max_steps", "budget") if k in t.params},
                        "history": {k: [list(p) for p in v] for k, v in t.history.items()}}
                       for t in runs.trials]}


def from_export(path: str) -> Source:
    with open(path) as f:
        return from_export_data(json.load(f))


def from_export_data(data: dict) -> Source:
    trials = [Trial("", t["name"], t["setting"], t["seed"], t["status"], 0, t["params"], t["labels"],
                    {k: [tuple(p) for p in v] for k, v in t["history"].items()}) for t in data["trials"]]
    runs = StudyRuns(data["study"], "", data["parent_id"], data["parent_name"], data["parent_params"], trials)
    return Source(runs, data["command"], data["started"], data["ended"], data.get("code"))


def load_sources(client_factory, refs: list[str]) -> list[Source]:
    """Each ref: an exported file (ends in .json) or a parent run in the store (client_factory() opens it)."""
    client = None
    sources = []
    for ref in refs:
        if ref.endswith(".json"):
            if not os.path.isfile(ref):
                raise ValueError(f"--findings: no exported run at {ref}")
            sources.append(from_export(ref))
        else:
            client = client or client_factory()
            sources.append(from_store(client, ref))
    return sources
