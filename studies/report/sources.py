"""The study runs FINDINGS.md reads (`studies.report.findings`): a parent run and its trials from the
tracking store, or a file `--findings` exported, so the document can be rebuilt when the store is gone.

An export holds the run's command, times, scheduler (name, ASHA grace and rung tolerance where it had
them), the looks of a `--decide` run, and the `gan.code` digest; and per trial its setting, seed,
outcome, budget, D:G steps, wall time, machine kind, the run it was copied from (a reused trial) and
its metric histories."""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass

from studies.run import reuse, tracking
from studies.report.runs import StudyRuns, Trial, load_study, wall_seconds

KEYS = ("score", "diversity", "quality", "modes_covered", "cond_acc", "aux_acc_real", "aux_acc_fake", "collapsed",
        "precision")
PARAMS = ("max_steps", "budget", "d_steps", "g_steps", "collapse_quality", "dataset", "metrics")
PARENT_NAME = re.compile(r"^(?P<study>[a-z_]+)-\d{8}-\d{6}$")
LOCATION_OPTIONS = ("--tracking-uri", "--storage", "--address")  # where a run was stored, not what it ran


def portable(command: str) -> str:
    """`command` without the options that name where it stored its runs (a path of one machine), so that
    FINDINGS.md and its exports say what ran, and the reader points it at a store of their own."""
    words, out = command.split(), []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in LOCATION_OPTIONS:
            skip = True
        elif not word.startswith(tuple(f"{o}=" for o in LOCATION_OPTIONS)):
            out.append(word)
    return " ".join(out)


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

    @property
    def schedule(self) -> dict:
        """The parent run's scheduler param: {"name": "fifo"}, or ASHA's with its grace and tolerance."""
        try:
            found = ast.literal_eval(self.runs.parent_params.get("scheduler", "{}"))
        except (ValueError, SyntaxError):
            found = {}
        return found if isinstance(found, dict) else {}

    @property
    def scheduler(self) -> str:
        return str(self.schedule.get("name", "unknown"))

    @property
    def looks(self) -> tuple[int, ...]:
        """The seeds a side at each look of a --decide run (its parent's `decide` param); the claims' default
        for a run that records none."""
        from studies.report.claims import LOOKS

        try:
            found = ast.literal_eval(self.runs.parent_params.get("decide", "{}"))
        except (ValueError, SyntaxError):
            found = {}
        return tuple(found.get("looks", LOOKS)) if isinstance(found, dict) else LOOKS

    @staticmethod
    def reused(trial: Trial) -> bool:
        return bool(trial.reused_from)

    @property
    def machine(self) -> str:
        """The kind of machine its trials' digits come from (a reused trial is a copy made on the same kind)."""
        kinds = sorted({t.machine for t in self.runs.trials if t.machine})
        return ", ".join(kinds) or "?"

    @property
    def machines(self) -> list[str]:
        return sorted({t.machine for t in self.runs.trials if t.machine and not t.reused_from})

    def trainings(self) -> dict[str, float]:
        """Each training its trials stand for (the child run that trained it; where an export names none, the
        trial itself) and its wall time in seconds; a reused trial stands for its original's."""
        found = {}
        for t in self.runs.trials:
            seconds = t.trained_seconds if t.reused_from else t.seconds
            if seconds is not None:
                found[t.origin or f"{self.runs.parent_name}/{t.name}"] = seconds
        return found

    @property
    def trial_hours(self) -> float:
        """Hours of training: the wall times of the trials this run trained (not the ones it copied)."""
        return sum(t.seconds or 0.0 for t in self.runs.trials if not t.reused_from) / 3600


def original_seconds(client, run_id: str) -> float | None:
    """The wall time of the child run a reused trial was copied from; None where the store no longer has it."""
    try:
        return wall_seconds(tracking.retry(client.get_run, run_id))
    except Exception:  # noqa: BLE001  deleted, or another store's id
        return None


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
    if parent.info.status != "FINISHED":  # stopped (Ctrl-C), failed or still running: not a whole study
        raise ValueError(f"--findings: {ref} did not finish (its status is {parent.info.status}): finish it first "
                         f"(`--resume`; a `--decide` run: the same command again), then name the run that finished")
    for trial in runs.trials:  # a copy costs what its original's training took
        if trial.reused_from:
            trial.trained_seconds = original_seconds(client, trial.origin)
    command = portable(parent.data.tags.get(tracking.TAG_COMMAND) or f"python -m studies.{study}")
    return Source(runs, command, parent.info.start_time, parent.info.end_time,
                  parent.data.tags.get(reuse.TAG_CODE))


def export(source: Source) -> dict:
    runs = source.runs
    schedule = source.schedule
    return {"code": source.code, "study": runs.study, "parent_name": runs.parent_name, "parent_id": runs.parent_id,
            "command": source.command, "started": source.started, "ended": source.ended,
            "scheduler": source.scheduler, "grace": schedule.get("grace_period"),
            "rung_tolerance": schedule.get("tolerance"),
            "parent_params": {k: runs.parent_params[k] for k in ("set", "trials", "scheduler", "decide")
                              if k in runs.parent_params},
            "trials": [{"name": t.name, "setting": t.setting, "seed": t.seed, "status": t.status,
                        "labels": t.labels, "params": {k: t.params[k] for k in PARAMS if k in t.params},
                        "seconds": t.seconds, "machine": t.machine, "reused_from": t.reused_from,
                        "origin": t.origin, "trained_seconds": t.trained_seconds,
                        "history": {k: [list(p) for p in v] for k, v in t.history.items()}}
                       for t in runs.trials]}


def from_export(path: str) -> Source:
    with open(path) as f:
        return from_export_data(json.load(f))


def from_export_data(data: dict) -> Source:
    trials = [Trial("", t["name"], t["setting"], t["seed"], t["status"], 0, t["params"], t["labels"],
                    {k: [tuple(p) for p in v] for k, v in t["history"].items()}, {}, t.get("seconds"),
                    t.get("reused_from"), t.get("machine"), t.get("origin", ""), t.get("trained_seconds"))
              for t in data["trials"]]
    runs = StudyRuns(data["study"], "", data["parent_id"], data["parent_name"], data["parent_params"], trials)
    return Source(runs, portable(data["command"]), data["started"], data["ended"], data.get("code"))


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
