"""A study's command line: `python -m studies.<name> [options]` -> a validated plan, then the run.

A study file declares a `Study` (`studies.declare.study`) and, run as a
program, calls `main(STUDY)`. This module turns the command line into a
validated plan (bad input: one line naming the option and the allowed values,
exit 2, before Ray starts), prints it for `--dry-run`, and otherwise runs it:
local Ray or `--address`, ASHA on the smoothed score plus a collapse stopper,
one MLflow parent run with a child run per trial, and a table of the trials at
the end (printed, and kept as artifacts of the parent run).

The same command works on a laptop and on a cluster: the tracking URI and the
Tune storage default to `MLFLOW_TRACKING_URI` and `GAN_STUDIES_STORAGE`, which
the cluster's nodes set (see cluster.yaml). `--resume` picks an interrupted
study up again with the options it was started with.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from gan_core.datasets import IMAGE_SIZES, FOLDER_PREFIX, dataset_choices, dataset_entry, is_dataset_name, load_dataset
from studies.declare import locations
from studies.report.claims import CLAIMS, LOOKS, parts_of
from studies.plan.plan import RUNG_TOLERANCE, Plan, describe
from studies.plan.plan import COLLAPSE_PERSISTENCE, COLLAPSE_STALL
from studies.declare.study import POINTS_BASE, Study, settings
from studies.declare.spaces import expand, label_columns, point_labels, points, sample_define_by_run, select
# a study written for images gets these when pointed at a 2-D dataset
class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line: `<study>: error: <message>`, exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive(kind, what):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value
    parse.__name__ = what
    return parse


FLAG_FIELDS = ("dataset", "data_root", "image_size", "max_steps", "max_seconds")  # knobs with options of their own


def blame(err: ValueError, args, sets: dict, otherwise: str) -> str:
    """A config error as one line naming what the user gave: the option, or --set, else `otherwise`."""
    field, _, rest = str(err).partition(": ")
    if field in FLAG_FIELDS and getattr(args, field, None) is not None:
        return f"--{field.replace('_', '-')}: {rest}"
    if field in sets:
        return f"--set: {err}"
    return f"{otherwise}: {rest if otherwise.startswith('--') else err}"


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0")
    return value


def looks_list(text: str) -> tuple[int, ...]:
    """`5,8,12` -> (5, 8, 12): increasing seed counts, at least 2."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or values[0] < 2 or any(b <= a for a, b in zip(values, values[1:])):
        raise argparse.ArgumentTypeError(f"{text!r} is not increasing seed counts >= 2 (5,8,12)")
    return values


def seed_list(text: str) -> list[int]:
    """`3` -> seeds 0, 1, 2; `0,4,7` -> those seeds."""
    try:
        values = [int(v) for v in text.split(",")] if "," in text else list(range(int(text)))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (3) or a comma list of seeds (0,4,7)")
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count >= 1 or a list of seeds >= 0")
    return values


def parser(study: Study) -> OneLineParser:
    p = OneLineParser(prog=f"python -m studies.{study.name}", description=study.summary)
    a = p.add_argument
    a("--smoke", action="store_true", help="tiny budget: a few trials, done in about a minute on 2 CPU cores")
    a("--dataset", help=f"one of: {dataset_choices()} (an image folder, recursive, optional labels.csv)")
    a("--data-root", help="folder holding (or to download) mnist, cifar10, celeba in torchvision's layout "
                          "(default: $GAN_STUDIES_DATA, else <cache dir>/data)")
    a("--num-samples", type=positive(int, "an integer >= 1"),
      help=f"Tune samples: repeats of a grid, or Optuna trials (default {study.num_samples})")
    a("--image-size", type=int, choices=IMAGE_SIZES, help="image side (the 64x64 face studies of the reports)")
    a("--max-steps", type=count, help="training work per trial, in the study's budget unit (rounds, or D+G "
                                        "network updates); 0: none, --max-seconds is the budget")
    a("--max-seconds", type=float, help="wall-clock cap per trial in seconds (0: none); a safety net, or the "
                                        "budget with --max-steps 0 (then results depend on the machine)")
    a("--seeds", type=seed_list, help="a count (3: seeds 0,1,2) or a list (0,4,7)")
    a("--only", action="append", default=[], metavar="KEY=VALUE[,VALUE...]",
      help="run only the settings whose label has one of these values (repeatable, each KEY narrows further): "
           "--only ratio=1:1,1:5 --only loss=bce")
    a("--scheduler", choices=["asha", "fifo", "pbt"], default="pbt" if study.population else "asha",
      help="asha: ASHA and the collapse stopper end poor and collapsed trials early; fifo: every trial runs to "
           "the end; pbt (studies that declare a population): the weak and the collapsed copy the strong")
    a("--grace", type=positive(float, "a number > 0"),
      help="ASHA grace period in evaluations (in seconds when time is the budget, --max-steps 0); "
           "default: three fifths of the budget")
    a("--rung-tolerance", type=float, default=RUNG_TOLERANCE,
      help="a trial below a rung's cut goes on too when it has taken off and its smoothed score is within this "
           "many standard errors of the last trial kept (0: the cut alone); the synchronous rungs of a grid on a "
           "work budget only")
    a("--collapse-grace", type=float,
      help="how long (same unit as --grace) before a collapsed trial may be stopped (default: four fifths of the "
           "budget, or the ASHA grace when that is later)")
    a("--collapse-persistence", type=positive(int, "an integer >= 1"), default=COLLAPSE_PERSISTENCE,
      help="evaluations in a row that must report collapsed before the stopper acts (each needs diversity low "
           f"twice running; default {COLLAPSE_PERSISTENCE})")
    a("--collapse-stall", type=count, default=COLLAPSE_STALL,
      help="evaluations over which diversity must have set no new high before the stopper acts (a trial climbing "
           f"out of its collapse sets new highs; default {COLLAPSE_STALL}, 0: no such condition)")
    a("--smoothing", type=float, default=0.5, help="weight of the newest score in score_smooth, in (0, 1]")
    a("--cpus-per-trial", type=positive(float, "a number > 0"), default=1.0,
      help="CPUs per trial; a trial runs as many torch threads (at least one)")
    a("--gpus-per-trial", type=float, default=0.0,
      help="GPUs per trial: a fraction (0.25 packs four trials on a GPU) or a whole number")
    a("--max-failures", type=int, default=3,
      help="restarts of a trial from its last checkpoint when its process or node dies")
    a("--address", help="join a running Ray cluster (e.g. auto); default: start Ray locally")
    a("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
      help="set a TrainConfig field on every trial (repeatable): --set lr_d=1e-4 --set metrics=prdc,fd "
           "--set real_label=0.9,0.9; fields the search space varies are refused")
    a("--tracking-uri", default=locations.default_tracking_uri(),
      help="MLflow tracking URI; a relative sqlite or file path is made absolute here "
           "(default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in this directory)")
    a("--storage", default=locations.default_storage(),
      help="Tune storage: a path (shared by all nodes on a cluster) or a URI such as s3://bucket/prefix "
           "(default: $GAN_STUDIES_STORAGE, else ./ray_results)")
    a("--resume", nargs="?", const="", metavar="NAME",
      help="resume the newest unfinished run of this study under --storage (or the run NAME) "
           "with the options it was started with")
    a("--decide", nargs="?", const="all", metavar="R4,R10",
      help="run the settings the classic claims' comparisons name (studies.report.claims; all of this study's, or those "
           "of the claims given) under fifo, adding seeds in looks (--looks) a side until each comparison is "
           "decided")
    a("--looks", type=looks_list, default=LOOKS, metavar="5,8,12",
      help=f"--decide's seeds a side at each look, the last the cap (default {','.join(map(str, LOOKS))})")
    a("--no-reuse", action="store_true",
      help="under fifo, train every trial even when the store holds a finished run of the very same trial "
           "(same config, seed, budget, gan_core code and machine kind), which is otherwise copied")
    a("--dry-run", action="store_true", help="print the resolved plan and exit without starting Ray")
    return p


RESUME_KEEPS = {"resume", "address", "storage", "dry_run"}  # the options --resume may be given with


def make_plan(study: Study, argv: list[str] | None) -> Plan:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = parser(study)
    args = p.parse_args(argv)  # --help ends here: its text loads no torch and no Ray
    from gan_core.config import TrainConfig
    from studies.declare.overrides import parse_sets, varied_fields

    if args.resume is not None:
        return resume_plan(study, p, args)
    if args.dataset is not None and not is_dataset_name(args.dataset):
        p.error(f"--dataset: {args.dataset!r} is not one of {dataset_choices()}")
    if args.max_seconds is not None and args.max_seconds < 0:
        p.error(f"--max-seconds: {args.max_seconds!r} is not a number of seconds >= 0")
    if not 0 < args.smoothing <= 1:
        p.error(f"--smoothing: {args.smoothing!r} is not in (0, 1]")
    if args.rung_tolerance < 0:
        p.error(f"--rung-tolerance: {args.rung_tolerance!r} is not a number >= 0")
    if args.collapse_grace is not None and args.collapse_grace < 0:
        p.error(f"--collapse-grace: {args.collapse_grace!r} is not a number >= 0")
    if args.gpus_per_trial < 0 or (args.gpus_per_trial > 1 and not args.gpus_per_trial.is_integer()):
        p.error(f"--gpus-per-trial: {args.gpus_per_trial!r} is not a fraction in [0, 1] or a whole number of GPUs")
    if args.max_failures < 0:
        p.error(f"--max-failures: {args.max_failures!r} is not an integer >= 0")
    if args.scheduler == "pbt" and study.population is None:
        p.error(f"--scheduler: study {study.name} declares no population; use asha or fifo")
    if args.decide is not None:
        check_decide(study, p, args, argv)
    if args.only and (study.search == "optuna" or args.scheduler == "pbt"):
        why = "searches with Optuna" if study.search == "optuna" else "trains one PBT population"
        p.error(f"--only: study {study.name} {why}; --only narrows a grid under asha or fifo")
    # --decide picks its settings from the full grid, also with --smoke's tiny nets and budget
    space_fn = (study.smoke_space or study.space) if args.smoke and args.decide is None else study.space
    try:
        sets = parse_sets(args.sets, varied_fields(space_fn if study.search == "optuna" else space_fn()))
    except ValueError as err:
        p.error(f"--set: {err}")
    try:
        base = base_config(study, args, sets)
    except ValueError as err:  # "dataset: ..." (a bad image folder) or "data_root: ..." (files not found)
        p.error(blame(err, args, sets, "--" + str(err).partition(": ")[0].replace("_", "-")))
    kind = dataset_entry(base["dataset"]).kind
    if kind not in study.data_kinds:
        p.error(f"--dataset: {base['dataset']!r} holds {kind}; study {study.name} asks its question of "
                f"{' or '.join(study.data_kinds)} data")
    num_samples = args.num_samples or (study.smoke_num_samples if args.smoke else study.num_samples)
    grid = None  # the full grid, when --only narrows it
    try:
        if study.search == "optuna":
            if args.seeds and len(args.seeds) > 1:
                p.error(f"--seeds: study {study.name} searches with Optuna; give one seed, not {len(args.seeds)}")
            base["seed"] = args.seeds[0] if args.seeds else base["seed"]
            space, configs = space_fn, [TrainConfig.from_dict(v) for v in sample_define_by_run(base, space_fn)]
        else:
            seeds = args.seeds or list(range(study.smoke_seeds if args.smoke else study.seeds))
            space = {**space_fn(), "seed": {"grid_search": seeds}}
            grid, space = (space, narrow(space, parse_only(args.only), study.name)) if args.only else (None, space)
            configs = [TrainConfig.from_dict(values) for values in expand(base, space)]
    except OnlyError as err:
        p.error(f"--only: {err}")
    except ValueError as err:
        p.error(blame(err, args, sets, "search space"))
    plan = Plan(study, base, space, configs, num_samples, args.scheduler,
                args.grace, args.collapse_grace, args.collapse_persistence, args.smoothing,
                args.cpus_per_trial, args.gpus_per_trial, args.max_failures, args.address,
                locations.tracking_uri(args.tracking_uri), locations.storage_location(args.storage), args.dry_run,
                tuple(argv), sets=sets, overrides=overrides(args, sets),
                population=settings(study.population, args.smoke) if args.scheduler == "pbt" else None,
                rung_tolerance=args.rung_tolerance, grid=grid, reuse=not args.no_reuse,
                collapse_stall=args.collapse_stall)
    if args.decide is not None:
        try:
            plan = decide_plan(dataclasses.replace(plan, looks=args.looks),
                               None if args.decide == "all" else args.decide.split(","))
        except ValueError as err:
            p.error(f"--decide: {err}")
    if plan.population and plan.time_attr != "training_iteration":
        p.error("--max-steps: 0 makes time the budget; PBT perturbs at evaluations of a work budget")
    if plan.grace is not None and plan.grace > plan.max_t:
        unit = "seconds" if plan.time_attr == "time_total_s" else "evaluations"
        p.error(f"--grace: {plan.grace:g} is more than a trial's whole budget ({plan.max_t:g} {unit})")
    return plan


def overrides(args, sets: dict) -> tuple[str, ...]:
    """The config fields the command line set: the options of FLAG_FIELDS given, and every --set."""
    return tuple(dict.fromkeys([*(f for f in FLAG_FIELDS if getattr(args, f, None) is not None), *sets]))


class OnlyError(ValueError):
    """A bad --only: its message is the line after `--only: `."""


def parse_only(items: list[str]) -> dict[str, set[str]]:
    """`["ratio=1:1,1:5", "loss=bce"]` -> {"ratio": {"1:1", "1:5"}, "loss": {"bce"}}; a key given twice takes both."""
    wanted: dict[str, set[str]] = {}
    for item in items:
        key, eq, text = item.partition("=")
        values = {v.strip() for v in text.split(",") if v.strip()}
        if not eq or not key.strip() or not values:
            raise OnlyError(f"{item!r} is not KEY=VALUE[,VALUE...]")
        wanted.setdefault(key.strip(), set()).update(values)
    return wanted


def narrow(space: dict, wanted: dict[str, set[str]], study: str) -> dict:
    """The grid points of `space` whose labels have, for each key of `wanted`, one of its values; a key
    or value the study's labels do not have is refused (OnlyError)."""
    columns = label_columns(space)
    labelled = [(point, point_labels(columns, point)) for point in points(space)]
    names = sorted({n for _, labels in labelled for n in labels} - {"seed"})
    for key, values in wanted.items():
        if key == "seed":
            raise OnlyError("seed is not a setting; --seeds picks the seeds")
        if key not in names:
            raise OnlyError(f"{key!r} is not a label of study {study}; its labels: {', '.join(names)}")
        known = list(dict.fromkeys(labels[key] for _, labels in labelled if key in labels))
        unknown = sorted(values - set(known))
        if unknown:
            raise OnlyError(f"{key}={unknown[0]} is not a setting of study {study}; {key} takes {', '.join(known)}")
    chosen = [point for point, labels in labelled if all(labels.get(k) in v for k, v in wanted.items())]
    if not chosen:
        raise OnlyError(f"no setting of study {study} has all of "
                        + " ".join(f"{k}={','.join(sorted(v))}" for k, v in wanted.items()))
    return select(chosen)


def check_decide(study: Study, p: OneLineParser, args, argv: list[str]) -> None:
    """--decide runs the claims' settings under FIFO with its own seeds: refuse what would contradict that."""
    ids = None if args.decide == "all" else [c.strip() for c in args.decide.split(",")]
    unknown = sorted(set(ids or ()) - set(CLAIMS))
    if unknown:
        p.error(f"--decide: {unknown[0]!r} is not a claim; claims: {', '.join(CLAIMS)}")
    if not parts_of(study.name, ids):
        answered = sorted({cid for cid in CLAIMS if parts_of(study.name, [cid])}, key=lambda c: int(c[1:]))
        p.error(f"--decide: study {study.name} answers no part of {args.decide if ids else 'any claim'}"
                + (f"; it answers {', '.join(answered)}" if answered else ""))
    for option, given in (("--seeds", args.seeds), ("--only", args.only), ("--num-samples", args.num_samples)):
        if given:
            p.error(f"--decide: picks the settings and seeds itself; drop {option}")
    if any(a == "--scheduler" or a.startswith("--scheduler=") for a in argv) and args.scheduler != "fifo":
        p.error(f"--decide: runs every trial to its budget (fifo); --scheduler {args.scheduler} would stop "
                "claim trials early")
    args.scheduler = "fifo"


def decide_plan(plan: Plan, ids: list[str] | None) -> Plan:
    from studies.plan.looks import decide_plan as make

    return make(plan, ids)


def resume_plan(study: Study, p: OneLineParser, args) -> Plan:
    """The plan of the study run being resumed: its saved command line, with this
    invocation's --storage and --dry-run, and its --address when given."""
    defaults = vars(p.parse_args([]))
    extra = sorted(f"--{k.replace('_', '-')}" for k, v in vars(args).items()
                   if k not in RESUME_KEEPS and v != defaults[k])
    if extra:
        p.error(f"--resume: runs the study with the options it was started with; only --address, --storage "
                f"and --dry-run may be given with it, not {', '.join(extra)}")
    from studies.run import resume  # pyarrow, only when resuming
    storage = locations.storage_location(args.storage)
    try:
        folder, state = resume.find(storage, study.name, args.resume or None)
    except ValueError as err:
        p.error(f"--resume: {err}")
    saved = [a for a in state["argv"] if a != "--dry-run"]
    if "--decide" in saved or any(a.startswith("--decide=") for a in saved):
        p.error(f"--resume: {folder} is a --decide run; run its command again to continue it (its finished "
                "trials are reused, not trained again)")
    plan = make_plan(study, [*saved, "--tracking-uri", state["tracking_uri"]])
    return dataclasses.replace(plan, address=args.address or plan.address, storage=storage, dry_run=args.dry_run,
                               argv=tuple(saved), resume={**state, "folder": folder})


def base_config(study: Study, args, sets: dict | None = None) -> dict:
    """The study's base with the command line's overrides (the options, then --set), paths made
    absolute where the user typed them (trials run in folders of their own)."""
    from gan_core.config import TrainConfig

    base = {**TrainConfig().to_dict(), **study.base, **(study.smoke if args.smoke else {})}
    for key in ("image_size", "data_root", "dataset"):
        if getattr(args, key):
            base[key] = getattr(args, key)
    if args.dataset:
        if dataset_entry(absolute_dataset(base["dataset"])).kind == "points" and base["arch"] != "mlp":
            base.update(POINTS_BASE)
    base.update(sets or {})
    if args.max_steps is not None:
        base["max_steps"] = args.max_steps
    if args.max_seconds is not None:
        base["max_seconds"] = args.max_seconds
    base["data_root"], base["dataset"] = _root(base["data_root"]), absolute_dataset(base["dataset"])
    # the one look at the files before Ray starts (validation reads declared facts only): a missing
    # data root or an empty image folder stops the study here with its one-line error
    load_dataset(base["dataset"], base["image_size"], base["data_root"])
    if base["max_steps"]:
        base["eval_every"] = min(base["eval_every"], base["max_steps"])
    return base


def _root(data_root: str) -> str:
    return locations.absolute_path(data_root) if data_root else ""


def absolute_dataset(name: str) -> str:
    """`folder:PATH` with PATH made absolute; other names as they are."""
    if name.startswith(FOLDER_PREFIX) and name != FOLDER_PREFIX:
        return FOLDER_PREFIX + locations.absolute_path(name[len(FOLDER_PREFIX):])
    return name


def main(study: Study, argv: list[str] | None = None) -> int:
    """Run the study from the command line: plan, or dry-run, or run; the exit code."""
    plan = make_plan(study, argv)
    if plan.dry_run:
        print(describe(plan))
        return 0
    from studies.run import stores  # MLflow and Ray load only when a study really runs
    try:
        stores.check_server(plan.tracking_uri)
    except ValueError as err:
        print(f"python -m studies.{study.name}: error: --tracking-uri: {err}", file=sys.stderr)
        return 2
    if plan.decide:
        from studies.run import decide
        return decide.run(plan)
    from studies.run.execute import execute
    return execute(plan)
