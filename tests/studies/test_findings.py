"""studies.findings: verdicts on the claims from runs with known values, in memory and through a real sqlite
MLflow store (`python -m studies.report --findings`), and FINDINGS.md rebuilt from its exports alone.
Every study's real smoke run is read by `--findings` in tests/studies/test_studies_smoke.py."""

import json

import pytest
import scipy.stats
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from studies import claims, findings, findings_runs, report
from studies.report_runs import StudyRuns, Trial

BUDGET = 8400
STEPS = (2100, 4200, 6300, 8400)
BCE = [0.5, 0.6, 0.7, 0.8]  # final scores per seed; a trial's score grows linearly to it
WGAN = [0.1, 0.2, 0.15, 0.12]
LSGAN = [0.55, 0.75, 0.62, 0.7]  # overlaps BCE: no detectable difference


def trial(setting: str, seed: int, final: float, status: str = "finished", last: int = BUDGET,
          early: float | None = None) -> Trial:
    """A trial whose score climbs to `final` at BUDGET (to `early` at half of it where given), ending at `last`."""
    scores = {s: final * s / BUDGET for s in STEPS if s <= last}
    if early is not None:
        scores[4200] = early
    labels = dict(part.split("=") for part in setting.split()) | {"seed": str(seed)}
    history = {"score": sorted(scores.items()), "modes_covered": [(s, 100 * v) for s, v in sorted(scores.items())]}
    return Trial("", f"{setting} seed={seed}", setting, str(seed), status, 0, {"max_steps": str(BUDGET)}, labels,
                 history)


def source(study: str, trials: list[Trial], started: int = 1, name: str | None = None) -> findings_runs.Source:
    runs = StudyRuns(study, "", "p", name or f"{study}-20260101-000000", {}, trials)
    return findings_runs.Source(runs, f"python -m studies.{study} --seeds 4", started, started + 60_000 * 42)


def loss_family(bce=BCE, wgan=WGAN, lsgan=LSGAN, overrides=None) -> findings_runs.Source:
    overrides = overrides or {}
    trials = [trial(f"loss={name}", seed, value, **overrides.get((name, seed), {}))
              for name, values in (("bce", bce), ("wgan", wgan), ("lsgan", lsgan))
              for seed, value in enumerate(values)]
    return source("loss_family", trials)


def part(cid: str, index: int = 0):
    return claims.CLAIMS[cid].parts[index]


def test_a_clear_win_supports_a_better_claim_with_the_reports_numbers():
    result = findings.evaluate(part("R15"), [loss_family()])  # BCE beats WGAN at the end
    assert result.step == BUDGET and result.verdict == "supported"
    assert result.a.mean == pytest.approx(sum(BCE) / 4) and result.b.mean == pytest.approx(sum(WGAN) / 4)
    assert result.comparison.p == 1.0  # every BCE seed above every WGAN seed
    assert result.comparison.p_value == pytest.approx(scipy.stats.mannwhitneyu(BCE, WGAN).pvalue)
    assert findings.claim_verdict([result]) == "supported"


def test_early_parts_read_half_the_budget():
    early = [0.3, 0.35, 0.32, 0.31]  # BCE at 4,200; WGAN's linear climb gives half its finals there
    src = loss_family(overrides={("bce", s): {"early": v} for s, v in enumerate(early)})
    result = findings.evaluate(part("R1", 0), [src])
    assert result.step == 4200 and result.a.mean == pytest.approx(sum(early) / 4)
    assert result.b.mean == pytest.approx(sum(WGAN) / 8) and result.verdict == "supported"


def test_expectations_map_each_comparison_to_a_verdict():
    same = findings.evaluate(part("R5"), [loss_family()])  # LSGAN and BCE overlap
    assert same.comparison.verdict.startswith("no detectable") and same.verdict == findings.UNDECIDED
    separated = findings.evaluate(part("R5"), [loss_family(lsgan=[0.05, 0.06, 0.07, 0.08])])
    assert separated.comparison.verdict == "worse" and separated.verdict == "contradicted"
    reversed_ = findings.evaluate(part("R15"), [loss_family(wgan=[0.9, 0.95, 0.91, 0.99])])
    assert reversed_.verdict == "contradicted"  # "better" claimed, "worse" measured
    not_worse = findings.evaluate(part("R1", 1), [loss_family(wgan=[0.55, 0.75, 0.62, 0.7])])
    assert not_worse.verdict == findings.UNDECIDED  # WGAN no better: consistent, not proven
    assert findings.claim_verdict([separated, same]) == "contradicted"
    assert findings.claim_verdict([findings.evaluate(part("R15"), [loss_family()]), same]) == "partly supported"


def test_fewer_than_four_seeds_never_give_a_verdict():
    result = findings.evaluate(part("R15"), [loss_family(bce=BCE[:3], wgan=WGAN[:3])])
    assert result.comparison.p == 1.0 and result.comparison.p_value == pytest.approx(0.1)
    assert result.verdict.startswith(findings.FEW) and "3 seeds" in result.verdict
    assert findings.claim_verdict([result]) == findings.FEW


def test_asha_stops_are_censored_and_collapses_carry_their_last_value():
    stopped = loss_family(overrides={("wgan", 0): {"status": "stopped_early", "last": 4200}})
    assert findings.evaluate(part("R15"), [stopped]).step == 4200  # never ranked against the end
    collapsed = loss_family(overrides={("wgan", 0): {"status": "collapsed", "last": 2100}})
    result = findings.evaluate(part("R15"), [collapsed])
    assert result.step == BUDGET and result.b.n == 4  # its value at 2,100 stands for its end
    assert result.b.mean == pytest.approx((WGAN[0] / 4 + sum(WGAN[1:])) / 4)
    diverged = loss_family(overrides={("wgan", 0): {"status": "diverged", "last": 2100}})
    assert findings.evaluate(part("R15"), [diverged]).b.n == 3  # no comparable value


def test_a_part_reads_the_newest_run_that_has_its_settings():
    old = loss_family(bce=[0.0] * 4)
    new = loss_family()
    new.started = 10
    assert findings.evaluate(part("R15"), [new, old]).a.mean == pytest.approx(sum(BCE) / 4)
    without_wgan = source("loss_family", [trial("loss=bce", s, v) for s, v in enumerate(BCE)], started=20)
    assert findings.evaluate(part("R15"), [old, without_wgan, new]).source_a is new
    missing = findings.evaluate(part("R3"), [new])
    assert missing.verdict == "not run yet" and "python -m studies.normalization --seeds 4" in findings.part_line(missing)


def test_runs_that_differ_only_in_their_seeds_pool_them():
    first = source("loss_family", [trial(f"loss={n}", s, v) for n, vs in (("bce", BCE), ("wgan", WGAN))
                                   for s, v in enumerate(vs[:2])], name="loss_family-20260101-000000")
    first.command = "python -m studies.loss_family"  # the default 2 seeds, 0 and 1
    more = source("loss_family", [trial(f"loss={n}", s, v) for n, vs in (("bce", BCE), ("wgan", WGAN))
                                  for s, v in enumerate(vs) if s >= 2], started=5, name="loss_family-20260102-000000")
    more.command = "python -m studies.loss_family --seeds 2,3"
    alone = findings.evaluate(part("R15"), [first])
    assert alone.verdict.startswith(findings.FEW) and alone.a.n == 2
    pooled = findings.evaluate(part("R15"), [first, more])
    assert pooled.sources_a == [more, first] and pooled.sources_b == [more, first]
    assert (pooled.a.n, pooled.b.n) == (4, 4) and pooled.a.mean == pytest.approx(sum(BCE) / 4)
    assert pooled.verdict == "supported"  # the four seeds' verdict, as one run of --seeds 4 gives it
    text = findings.document([first, more], "python -m studies.report")
    assert "runs read: loss_family-20260101-000000, loss_family-20260102-000000." in text
    # a seed run twice counts once, from the newer run
    rerun = source("loss_family", [trial("loss=bce", s, 0.0) for s in range(4)] +
                   [trial("loss=wgan", s, v) for s, v in enumerate(WGAN)], started=9)
    rerun.command = "python -m studies.loss_family --seeds=4"
    both = findings.evaluate(part("R15"), [first, more, rerun])
    assert both.a.n == 4 and both.a.mean == 0.0 and both.source_a is rerun
    # another command (another --set, or a budget of its own) is another experiment: never pooled
    for other in ("python -m studies.loss_family --seeds 2,3 --set lr_d=1e-4",
                  "python -m studies.loss_family --seeds 2,3 --max-steps 600"):
        more.command = other
        assert findings.evaluate(part("R15"), [first, more]).sources_a == [more]
    more.command = "python -m studies.loss_family --seeds 2,3"
    for t in more.runs.trials:
        t.params = {"max_steps": "4200"}  # the same command under an older default budget
    assert findings.evaluate(part("R15"), [first, more]).sources_a == [more]


def rung_run(seeds, rung_step, started, command, tolerance: float | None = 2.0):
    """A loss_family run whose wgan trials ASHA stopped at `rung_step`; its rung's tolerance as its parent
    records it (None: a run that records none)."""
    stopped = {"status": "stopped_early", "last": rung_step}
    src = source("loss_family", [trial(f"loss={n}", s, vs[s], **(stopped if n == "wgan" else {}))
                                 for n, vs in (("bce", BCE), ("wgan", WGAN)) for s in seeds],
                 started=started, name=f"loss_family-2026010{started}-000000")
    src.command = command
    if tolerance is not None:
        src.runs.parent_params["scheduler"] = str({"name": "asha", "grace_period": 3, "tolerance": tolerance})
    return src


def test_a_run_whose_rung_is_not_todays_default_names_the_grace_that_remakes_it_and_pools_only_with_its_like():
    run = rung_run

    # 4 evaluations: today's default rung is at the third (three fifths, rounded up)
    old = run((0, 1), 4200, 1, "python -m studies.loss_family")  # stopped at the second: the old half-budget rung
    new = run((2, 3), 6300, 2, "python -m studies.loss_family --seeds 2,3")
    assert findings_runs.rung_evaluation(old) == 2 and findings_runs.rung_evaluation(new) == 3
    assert findings_runs.rerun_command(old) == "python -m studies.loss_family --grace 2"
    assert findings_runs.rerun_command(new) == new.command and findings_runs.rerun_note(new) is None
    assert findings.evaluate(part("R15"), [old, new]).sources_a == [new]  # other rungs: another experiment
    text = findings.document([old, new], "python -m studies.report")
    assert ("- loss_family-20260101-000000 stopped trials at ASHA's rung at evaluation 2, not where today's "
            "default puts it: `python -m studies.loss_family --grace 2` makes the same run.") in text
    assert "loss_family-20260102-000000 stopped" not in text
    old.command = "python -m studies.loss_family --grace 2"  # a command that names its grace needs nothing added
    assert findings_runs.rerun_command(old) == old.command
    newer = run((2, 3), 4200, 3, "python -m studies.loss_family --seeds 2,3 --grace 2")
    assert findings.evaluate(part("R15"), [old, newer]).sources_a == [newer, old]


def test_a_run_whose_rung_kept_only_its_quota_names_the_tolerance_that_remakes_it():
    old = rung_run((0, 1), 6300, 1, "python -m studies.loss_family", tolerance=None)  # before the tolerance
    assert findings_runs.rung_tolerance(old) == 0.0
    assert findings_runs.rerun_command(old) == "python -m studies.loss_family --rung-tolerance 0"
    assert findings_runs.rerun_note(old) == (
        "loss_family-20260101-000000 stopped trials at ASHA's rung keeping only the rung's quota (today's default "
        "also keeps those within 2 standard errors of it): `python -m studies.loss_family --rung-tolerance 0` "
        "makes the same run.")
    older = rung_run((0, 1), 4200, 1, "python -m studies.loss_family", tolerance=None)  # and the half-budget rung
    assert findings_runs.rerun_command(older) == "python -m studies.loss_family --grace 2 --rung-tolerance 0"
    assert "rung at evaluation 2, not where today's default puts it, keeping only" in findings_runs.rerun_note(older)
    wide = rung_run((0, 1), 6300, 1, "python -m studies.loss_family", tolerance=3.0)
    assert findings_runs.rerun_command(wide) == "python -m studies.loss_family --rung-tolerance 3"
    named = rung_run((0, 1), 6300, 1, "python -m studies.loss_family --rung-tolerance 0", tolerance=0.0)
    assert findings_runs.rerun_command(named) == named.command and findings_runs.rerun_note(named) is None
    unstopped = rung_run((0, 1), 6300, 1, "python -m studies.loss_family", tolerance=None)
    for t in unstopped.runs.trials:
        t.status = "finished"
    assert findings_runs.rerun_command(unstopped) == unstopped.command  # no rung stopped a trial: any tolerance
    for t in older.runs.trials:
        t.params = {"max_steps": "0"}  # time was the budget: Tune's asynchronous ASHA, which has no tolerance
    assert findings_runs.rerun_command(older) == older.command
    new = rung_run((2, 3), 6300, 2, "python -m studies.loss_family --seeds 2,3")
    assert findings.evaluate(part("R15"), [old, new]).sources_a == [new]  # kept by another rule: not pooled
    newer = rung_run((2, 3), 6300, 3, "python -m studies.loss_family --seeds 2,3 --rung-tolerance 0")
    assert findings.evaluate(part("R15"), [old, newer]).sources_a == [newer, old]


def test_pooled_runs_trained_by_different_code_are_named_in_a_warning():
    def runs(seeds, started, name, command):
        src = source("loss_family", [trial(f"loss={n}", s, v) for n, vs in (("bce", BCE), ("wgan", WGAN))
                                     for s, v in enumerate(vs) if s in seeds], started=started, name=name)
        src.command = command
        return src
    first = runs((0, 1), 1, "loss_family-20260101-000000", "python -m studies.loss_family")
    more = runs((2, 3), 5, "loss_family-20260102-000000", "python -m studies.loss_family --seeds 2,3")
    r15 = claims.CLAIMS["R15"].parts

    def warnings():
        return findings.code_warning([findings.evaluate(p, [first, more]) for p in r15])
    assert warnings() == []  # neither run recorded its code: nothing to compare
    first.code, more.code = "aaaaaaaaaaaa", "aaaaaaaaaaaa"
    assert warnings() == []
    more.code = "bbbbbbbbbbbb"
    (line,) = warnings()  # both sides pool the same two runs: one line, not one per side
    assert "loss_family-20260102-000000: bbbbbbbbbbbb, loss_family-20260101-000000: aaaaaaaaaaaa" in line
    assert line in findings.document([first, more], "python -m studies.report")
    assert findings_runs.from_export_data(findings_runs.export(more)).code == "bbbbbbbbbbbb"
    more.code = None  # an export from before runs recorded their code reads back without one
    assert "code" not in findings_runs.export(more) and findings_runs.from_export_data(findings_runs.export(more)).code is None


def test_a_part_may_compare_two_studies():
    tips = source("training_tips", [trial("tip=adaptive-d", s, v) for s, v in enumerate(BCE)])
    ratio = source("dg_ratio", [trial("loss=bce ratio=5:1", s, v) for s, v in enumerate(WGAN)])
    result = findings.evaluate(part("R10", 1), [tips, ratio])
    assert (result.source_a, result.source_b) == (tips, ratio) and result.verdict == "supported"


def with_quality(src: findings_runs.Source, setting: str, quality: float) -> findings_runs.Source:
    """The source with every trial logging `quality` at each evaluation: `quality` for `setting`, 0.5 elsewhere."""
    for t in src.runs.trials:
        t.history["quality"] = [(step, quality if t.setting == setting else 0.5) for step, _ in t.history["score"]]
    return src


def test_a_side_that_has_not_taken_off_is_named_beside_the_verdict():
    grounded = findings.evaluate(part("R15"), [with_quality(loss_family(), "loss=wgan", 0.05)])
    assert grounded.verdict == "supported" and [(s.setting, q) for s, q in grounded.grounded] == [("loss=wgan", 0.05)]
    line = findings.part_line(grounded)
    assert "Note: loss=wgan (mean quality 0.05) has not taken off by step 8,400" in line
    assert "needs a budget in which it takes off" in line  # an end part: the claim is about how training ends
    early = findings.part_line(findings.evaluate(part("R1", 0), [with_quality(loss_family(), "loss=wgan", 0.05)]))
    assert early.endswith("so this compares how soon it learns.")  # an early part: that is the question
    plausible = findings.evaluate(part("R15"), [with_quality(loss_family(), "loss=wgan", 0.1)])
    assert plausible.grounded == () and "Note" not in findings.part_line(plausible)
    text = findings.document([with_quality(loss_family(), "loss=wgan", 0.05)], "python -m studies.report")
    assert "| [R15](#r15) | supported (a side had not taken off: see the note) |" in text
    assert "| [R5](#r5) | no detectable difference at this budget |" in text


def test_the_document_lists_every_claim_run_and_caveat():
    text = findings.document([loss_family()], "python -m studies.report --findings findings/x.json")
    for cid, claim in claims.CLAIMS.items():
        assert f"| [{cid}](#{cid.lower()}) |" in text and f"## {cid}\n" in text and claim.caveat in text
    assert "| [R15](#r15) | supported |" in text and "| [R3](#r3) | not run yet |" in text
    assert "| loss_family-20260101-000000 | `python -m studies.loss_family --seeds 4` | 12 | 4 | 42 min |" in text


# --- through a real store ---

def log_study(client, exp_id, name, values_by_setting, start):
    parent = client.create_run(exp_id, run_name=name, start_time=start, tags={"role": "study",
                               "study": "loss_family", "gan.code": "c0de" * 3}).info.run_id
    client.log_param(parent, "set", "{}")
    for setting, values in values_by_setting.items():
        for seed, final in enumerate(values):
            rid = client.create_run(exp_id, run_name=f"{setting} seed={seed}", start_time=start + 1, tags={
                "mlflow.parentRunId": parent, "gan.setting": f"{setting} seed={seed}", "gan.group": setting,
                "gan.status": "finished"}).info.run_id
            client.log_param(rid, "max_steps", BUDGET)
            client.log_batch(rid, metrics=[Metric("score", final * s / BUDGET, 0, s) for s in STEPS])
            client.set_terminated(rid)
    client.set_terminated(parent, end_time=start + 30 * 60_000)
    return parent


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("findings")
    uri = f"sqlite:///{folder / 'm.db'}"
    client = MlflowClient(uri)
    exp_id = client.create_experiment("loss_family", artifact_location=(folder / "a").as_uri())
    log_study(client, exp_id, "loss_family-20260101-000000", {"loss=bce": [0.0] * 4}, 1_000)  # older
    parent = log_study(client, exp_id, "loss_family-20260102-000000",
                       {"loss=bce": BCE, "loss=wgan": WGAN, "loss=lsgan": LSGAN}, 2_000)
    return uri, parent, folder


def test_findings_from_the_store_then_from_the_exports_alone(store, tmp_path, capsys):
    uri, parent, _ = store
    out = tmp_path / "one" / "FINDINGS.md"
    out.parent.mkdir()
    assert report.main(["--findings", "loss_family-20260102-000000", "--tracking-uri", uri, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "16 claims from 1 runs" in printed and str(out) in printed
    text = out.read_text()
    assert "| [R15](#r15) | supported |" in text and "| [R5](#r5) | no detectable difference at this budget |" in text
    assert "`python -m studies.loss_family --seeds 4` | 12 | 4 | 30 min |" in text  # its command, guessed
    exported = out.parent / "findings" / "loss_family-20260102-000000.json"
    data = json.loads(exported.read_text())
    assert data["parent_id"] == parent and len(data["trials"]) == 12 and data["code"] == "c0de" * 3
    # by id, the same document; from the export with no store at all, the same document again
    again = tmp_path / "two" / "FINDINGS.md"
    again.parent.mkdir()
    assert report.main(["--findings", parent, "--tracking-uri", uri, "--out", str(again)]) == 0
    third = tmp_path / "three" / "FINDINGS.md"
    third.parent.mkdir()
    assert report.main(["--findings", str(exported), "--tracking-uri", "sqlite:////nonexistent/x.db",
                        "--out", str(third)]) == 0
    body = text.split("\n", 3)[3]  # past the header line that names the command
    assert again.read_text().split("\n", 3)[3] == body and third.read_text().split("\n", 3)[3] == body


@pytest.mark.parametrize("argv, words", [
    (["--findings", "loss_family-20991231-000000"], "loss_family-20991231-000000"),
    (["--findings", "no-such-run-id"], "no-such-run-id"),
    (["--findings", "missing.json"], "missing.json"),
])
def test_a_run_that_is_not_there_is_one_line_and_exit_2(store, argv, words, capsys, tmp_path):
    uri, _, _ = store
    assert report.main(argv + ["--tracking-uri", uri, "--out", str(tmp_path / "F.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "--findings" in err
    assert not (tmp_path / "F.md").exists()


def test_a_study_or_findings_not_both(capsys):
    with pytest.raises(SystemExit) as stop:
        report.main([])
    assert stop.value.code == 2 and "--findings" in capsys.readouterr().err
