"""studies.report.findings: verdicts on the claims from runs with known values, in memory and through a real sqlite
MLflow store (`python -m studies.report --findings`), recomputed independently with scipy and statsmodels,
and FINDINGS.md rebuilt from its exports alone."""

import json

import numpy as np
import pytest
import scipy.stats
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from statsmodels.stats.weightstats import ttost_ind

from studies.report import claims, findings, findings_page, sources as findings_runs, build as report, verdicts
from studies.report.runs import StudyRuns, Trial

BUDGET = 8400
STEPS = (2100, 4200, 6300, 8400)
ALPHAS = verdicts.look_alphas(list(claims.LOOKS))
BCE = [0.30, 0.31, 0.29, 0.32, 0.28, 0.30, 0.31, 0.29, 0.30, 0.33, 0.28, 0.31, 0.30, 0.29, 0.32, 0.30]
WGAN = [0.10, 0.12, 0.09, 0.11, 0.13, 0.10, 0.12, 0.11, 0.10, 0.09, 0.12, 0.11, 0.10, 0.13, 0.10, 0.12]
LSGAN = [0.30, 0.29, 0.31, 0.30, 0.31, 0.29, 0.30, 0.32, 0.28, 0.30, 0.31, 0.29, 0.30, 0.31, 0.30, 0.29]


def trial(setting: str, seed: int, final: float, quality: float = 0.5, status: str = "finished",
          budget: int = BUDGET, take_off: int | None = None, **history) -> Trial:
    """A trial whose score climbs linearly to `final` at its budget; its quality is `quality` from `take_off`
    (default: the first evaluation) and 0.01 before."""
    steps = [s for s in range(300, budget + 1, 300)]
    rise = take_off if take_off is not None else steps[0]
    labels = dict(part.split("=", 1) for part in setting.split()) | {"seed": str(seed)}
    hist = {"score": [(s, final * s / budget) for s in steps],
            "quality": [(s, quality if s >= rise else 0.01) for s in steps],
            **{k: [(s, v) for s in steps] for k, v in history.items()}}
    return Trial("", f"{setting} seed={seed}", setting, str(seed), status, 0,
                 {"max_steps": str(budget), "d_steps": "1", "g_steps": "1"}, labels, hist, seconds=600.0,
                 machine="cpu-AVX512")


def source(study: str, trials: list[Trial], started: int = 1, name: str | None = None, scheduler: str = "fifo",
           code: str = "c0dec0dec0de") -> findings_runs.Source:
    params = {"scheduler": str({"name": scheduler})}
    runs = StudyRuns(study, "", "p", name or f"{study}-20260101-000000", params, trials)
    return findings_runs.Source(runs, f"python -m studies.{study} --decide", started, started + 60_000 * 42, code)


def loss_family(n: int = 16, bce=BCE, wgan=WGAN, lsgan=LSGAN, changes=None) -> findings_runs.Source:
    changes = changes or {}
    trials = [trial(f"loss={name}", seed, values[seed], **changes.get(name, {}))
              for name, values in (("bce", bce), ("wgan", wgan), ("lsgan", lsgan)) for seed in range(n)]
    return source("loss_family", trials)


def part(cid: str, index: int = 0):
    return claims.CLAIMS[cid].parts[index]


def test_a_clear_win_is_decided_at_the_first_look_as_an_independent_test_says():
    result = findings.evaluate("R15", part("R15"), [loss_family()])  # BCE beats WGAN at the end
    assert result.verdict == "supported" and result.look == 1 and result.alpha == pytest.approx(ALPHAS[0])
    a, b = BCE[:5], WGAN[:5]  # the first look reads the first five seeds of each side
    assert list(result.a.values.values()) == pytest.approx(a) and result.a.step == BUDGET
    exact = scipy.stats.permutation_test((a, b), lambda x, y: np.mean(x) - np.mean(y), permutation_type="independent",
                                         n_resamples=np.inf).pvalue
    assert result.decision.permutation_p == pytest.approx(exact) and exact < ALPHAS[0]
    assert result.decision.p == 1.0  # every BCE seed above every WGAN seed
    assert findings.claim_verdict([result]) == "supported"


def test_sides_hold_only_trials_with_exactly_their_label():
    """R9's un-embedded cGAN side must not pick up the matching-aware trials, whose label includes its own."""
    plain, aware = (f"conditioning=cgan {extra}label_input=onehot dataset=stacked-digits"
                    for extra in ("", "matching_aware=True "))
    trials = [trial(plain, s, 0.5, cond_acc=0.5) for s in range(6)] + \
             [trial(aware, s, 0.9, cond_acc=0.9) for s in range(6)]
    result = findings.evaluate("R9", part("R9", 1), [source("conditional", trials)])
    assert set(result.b.values.values()) == {0.5} and set(result.a.values.values()) == {0.9}
    assert result.a.n == result.b.n == claims.LOOKS[0] and result.verdict == "supported"


def test_an_undecided_comparison_gets_its_verdict_at_the_look_whose_seeds_decide_it():
    close = [v - 0.01 + (0.03 if i % 2 else -0.03) for i, v in enumerate(BCE)]  # 0.01 under BCE, noisier
    result = findings.evaluate("R5", part("R5"), [loss_family(lsgan=close, n=5)])
    assert result.verdict == "undecided" and result.look == 1
    assert findings.verdict_words(result) == f"undecided: needs about {result.decision.seeds_needed} seeds a side"
    full = findings.evaluate("R5", part("R5"), [loss_family(lsgan=close)])
    assert full.verdict == "supported" and full.look == 3 and findings.verdict_words(full) == "equivalent within ±0.05"
    x, y = close[:claims.LOOKS[full.look - 1]], BCE[:claims.LOOKS[full.look - 1]]
    tost = ttost_ind(x, y, -0.05, 0.05, usevar="unequal")[0]
    assert full.decision.equivalence_p == pytest.approx(tost) and tost < full.alpha


def test_a_sameness_claim_reads_different_when_the_sides_differ():
    result = findings.evaluate("R5", part("R5"), [loss_family(lsgan=WGAN)])
    assert result.verdict == "contradicted" and findings.verdict_words(result) == "different"
    assert findings.claim_verdict([result]) == "contradicted"


def test_a_side_that_never_took_off_makes_a_part_not_testable_unless_the_claim_is_about_failing():
    grounded = loss_family(changes={"wgan": {"quality": 0.05}})
    result = findings.evaluate("R15", part("R15"), [grounded])
    assert result.verdict == findings.NOT_TESTABLE and result.decision is None
    assert [s.side.setting for s in result.grounded] == ["loss=wgan"]
    line = findings_page.part_line(result)
    assert "loss=wgan (mean quality at most 0.05 up to 8,400) has not taken off" in line
    assert "no sign of taking off" in line
    tips = source("training_tips", [trial("tip=baseline", s, 0.3) for s in range(6)]
                  + [trial("tip=sgd-both", s, 0.001, quality=0.002) for s in range(6)])
    failing = findings.evaluate("R8", part("R8", 0), [tips])  # R8 says SGD fails: that it never took off is the answer
    assert failing.verdict == "supported" and [s.side.setting for s in failing.grounded] == ["tip=sgd-both"]


def test_a_side_that_took_off_and_fell_back_is_compared():
    """A late collapse: quality 0.5 up to half the budget, then 0.01. The side trained; its end is its result."""
    fell = [trial("loss=wgan", s, 0.02) for s in range(6)]
    for t in fell:
        t.history["quality"] = [(s, 0.5 if s <= BUDGET // 2 else 0.01) for s, _ in t.history["quality"]]
    runs = source("loss_family", [trial("loss=bce", s, 0.3) for s in range(6)] + fell)
    result = findings.evaluate("R1", part("R1", 1), [runs])
    assert result.b.quality == 0.01 and result.b.peak == 0.5 and not result.grounded
    assert result.verdict == "supported"  # WGAN no better than BCE at the end: it fell apart
    never = [trial("loss=wgan", s, 0.02, quality=0.05) for s in range(6)]
    assert findings.evaluate("R1", part("R1", 1), [source("loss_family", runs.runs.trials[:6] + never)]
                             ).verdict == findings.NOT_TESTABLE


def test_take_off_is_read_off_the_quality_curve_and_later_is_worse():
    runs = source("loss_family", [trial("loss=bce", s, 0.3, take_off=1800 + 300 * (s % 2)) for s in range(6)]
                  + [trial("loss=wgan", s, 0.3, take_off=4500 + 300 * (s % 3)) for s in range(6)])
    result = findings.evaluate("R1", part("R1", 0), [runs])
    assert sorted(result.a.values.values()) == [1800.0] * 3 + [2100.0] * 2
    assert result.verdict == "supported"  # BCE takes off sooner: WGAN learns more slowly
    never = source("loss_family", [trial("loss=bce", s, 0.3) for s in range(6)]
                   + [trial("loss=wgan", s, 0.3, take_off=99_999) for s in range(6)])
    censored = findings.evaluate("R1", part("R1", 0), [never])
    assert set(censored.b.values.values()) == {float(BUDGET + 300)}  # one evaluation past the budget
    assert censored.verdict == findings.NOT_TESTABLE  # and it never took off: nothing to compare


def test_parts_read_their_own_steps_and_budgets():
    ratio = source("dg_ratio", [trial("loss=bce ratio=3:1 max_steps=16800", s, 0.3, budget=16800) for s in range(6)]
                   + [trial("loss=bce ratio=1:1", s, 0.3) for s in range(6)])
    matched = findings.evaluate("R4", part("R4", 2), [ratio])  # at 8,400 network updates
    assert matched.a.step == 8400 and matched.b.step == BUDGET
    assert list(matched.a.values.values()) == pytest.approx([0.3 * 8400 / 16800] * 5)
    g_updates = findings.evaluate("R4", part("R4", 3), [ratio])  # the 3:1 trials at their end
    assert g_updates.a.step == 16800 and set(g_updates.a.values.values()) == {0.3}


def test_two_metrics_of_the_same_trials_are_paired():
    trials = [trial("conditioning=acgan dataset=stacked-digits", s, 0.5, aux_acc_fake=0.95, cond_acc=0.4 + 0.01 * s)
              for s in range(10)]
    result = findings.evaluate("R16", part("R16"), [source("conditional", trials)])
    assert result.decision.paired and result.verdict == "contradicted"
    assert findings.verdict_words(result) == "different"
    # five pairs cannot decide at the first look's level (the exact test's least p is 2/32): the second does
    assert result.look == 2 and 2 / 2 ** 5 > ALPHAS[0]
    diffs = [0.95 - (0.4 + 0.01 * s) for s in range(8)]
    exact = scipy.stats.wilcoxon(diffs, method="exact").pvalue
    assert result.decision.permutation_p == pytest.approx(exact)


@pytest.mark.parametrize("spoil, words", [
    (lambda a, b: setattr(b, "runs", StudyRuns("loss_family", "", "p", b.runs.parent_name,
                                               {"scheduler": str({"name": "asha"})}, b.runs.trials)), "ran under asha"),
    (lambda a, b: setattr(b, "code", "another"), "different gan_core code"),
    (lambda a, b: [t.params.update(max_steps="4200") for t in b.runs.trials], "ran different budgets"),
])
def test_runs_that_cannot_be_pooled_are_refused(spoil, words):
    first = source("loss_family", [trial(f"loss={n}", s, 0.3) for s in range(6) for n in ("bce", "wgan")], started=1)
    more = source("loss_family", [trial("loss=bce", s, 0.3) for s in range(6, 10)], started=2,
                  name="loss_family-20260102-000000")
    spoil(first, more)
    with pytest.raises(findings.FindingsError, match=words):
        findings.evaluate("R15", part("R15"), [first, more])


def test_the_document_lists_every_claim_run_and_caveat():
    text = findings_page.document([loss_family()], "python -m studies.report --findings findings/x.json")
    for cid, claim in claims.CLAIMS.items():
        assert f"| [{cid}](#{cid.lower()}) |" in text and f"## {cid}\n" in text and claim.caveat in text
    assert "| [R15](#r15) | supported | supported |" in text and "| [R3](#r3) | not run yet |" in text
    assert "| loss_family-20260101-000000 | `python -m studies.loss_family --decide` | 48 | 48 | 0 | 16 | " \
           "cpu-AVX512 | c0dec0dec0de | 8.0 | 42 min |" in text
    assert "Training took 8.0 CPU-hours in all" in text and "(8.0 together); the other 0.0 trained" in text


def test_the_cpu_hours_count_each_training_once_copies_at_their_originals_cost():
    """A reused trial costs its original's training, once however many runs copy it; the table's CPU-hours stay
    what each run trained itself."""
    first = loss_family(n=5)  # 15 trials trained here, 600 s each
    for t in first.runs.trials:
        t.origin = f"id-{t.name}"
    copies = []
    for t in first.runs.trials[:3]:  # copied from the first run: already counted
        copies.append(trial(t.setting, int(t.seed), 0.3))
        copies[-1].origin, copies[-1].trained_seconds, copies[-1].reused_from = t.origin, 600.0, "loss_family-x"
    for seed in (5, 6):  # copied from a run not listed, whose trainings took 1,800 s each
        copies.append(trial("loss=bce", seed, 0.3))
        copies[-1].origin, copies[-1].trained_seconds, copies[-1].reused_from = f"old-{seed}", 1800.0, "old-run"
    for t in copies:
        t.seconds = 3.0  # a copy's own wall time
    second = source("loss_family", copies, started=2, name="loss_family-20260102-000000")
    assert second.trial_hours == 0 and len(second.trainings()) == 5
    text = findings_page.document([first, second], "python -m studies.report --findings findings/x.json")
    assert "Training took 3.5 CPU-hours in all" in text  # 15 x 600 s + 2 x 1,800 s
    assert "(2.5 together); the other 1.0 trained, in earlier runs" in text
    exported = findings_runs.from_export_data(json.loads(json.dumps(findings_runs.export(second))))
    assert exported.trainings() == second.trainings()


# --- through a real store ---

def log_study(client, exp_id, name, values_by_setting, start):
    parent = client.create_run(exp_id, run_name=name, start_time=start, tags={
        "role": "study", "study": "loss_family", "gan.code": "c0de" * 3,
        "gan.command": "python -m studies.loss_family --decide"}).info.run_id
    client.log_param(parent, "scheduler", str({"name": "fifo"}))
    for setting, values in values_by_setting.items():
        for seed, final in enumerate(values):
            rid = client.create_run(exp_id, run_name=f"{setting} seed={seed}", start_time=start + 1, tags={
                "mlflow.parentRunId": parent, "gan.setting": f"{setting} seed={seed}", "gan.group": setting,
                "gan.status": "finished", "gan.machine": "cpu-AVX512"}).info.run_id
            client.log_param(rid, "max_steps", BUDGET)
            client.log_batch(rid, metrics=[Metric(k, v, 0, s) for s in STEPS
                                           for k, v in (("score", final * s / BUDGET), ("quality", 0.5))])
            client.set_terminated(rid, end_time=start + 1 + 600_000)
    client.set_terminated(parent, end_time=start + 30 * 60_000)
    return parent


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("findings")
    uri = f"sqlite:///{folder / 'm.db'}"
    client = MlflowClient(uri)
    exp_id = client.create_experiment("loss_family", artifact_location=(folder / "a").as_uri())
    parent = log_study(client, exp_id, "loss_family-20260102-000000",
                       {"loss=bce": BCE[:5], "loss=wgan": WGAN[:5], "loss=lsgan": LSGAN[:5]}, 2_000)
    return uri, parent, folder


def test_findings_from_the_store_then_from_the_exports_alone(store, tmp_path, capsys):
    uri, parent, _ = store
    out = tmp_path / "one" / "FINDINGS.md"
    out.parent.mkdir()
    assert report.main(["--findings", "loss_family-20260102-000000", "--tracking-uri", uri, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "16 claims from 1 runs" in printed and str(out) in printed
    text = out.read_text()
    assert "| [R15](#r15) | supported |" in text
    assert "`python -m studies.loss_family --decide` | 15 | 15 | 0 | 5 | cpu-AVX512 | c0dec0dec0de | 2.5 | 30 min |" in text
    exported = out.parent / "findings" / "loss_family-20260102-000000.json"
    data = json.loads(exported.read_text())
    assert data["parent_id"] == parent and len(data["trials"]) == 15 and data["code"] == "c0de" * 3
    assert data["scheduler"] == "fifo" and data["trials"][0]["machine"] == "cpu-AVX512"
    again = tmp_path / "two" / "FINDINGS.md"  # by id: the same document; from the export alone: the same again
    again.parent.mkdir()
    assert report.main(["--findings", parent, "--tracking-uri", uri, "--out", str(again)]) == 0
    third = tmp_path / "three" / "FINDINGS.md"
    third.parent.mkdir()
    assert report.main(["--findings", str(exported), "--tracking-uri", "sqlite:////nonexistent/x.db",
                        "--out", str(third)]) == 0
    body = text.split("\n", 3)[3]  # past the header line that names the command
    assert again.read_text().split("\n", 3)[3] == body and third.read_text().split("\n", 3)[3] == body


def test_a_run_of_copies_costs_its_originals_training_once(tmp_path):
    """Read from a real store: a run whose every trial reuse copied (2 s each) from a run not listed costs
    nothing in its own row, and the originals' 10 minutes each in the total; the export keeps both."""
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(uri)
    exp_id = client.create_experiment("loss_family", artifact_location=(tmp_path / "a").as_uri())
    values = {"loss=bce": BCE[:5], "loss=wgan": WGAN[:5]}
    old = log_study(client, exp_id, "loss_family-20260101-000000", values, 1_000)
    new = log_study(client, exp_id, "loss_family-20260102-000000", values, 2_000_000)
    originals = {r.info.run_name: r.info.run_id for r in client.search_runs(
        [exp_id], f"tags.mlflow.parentRunId = '{old}'")}
    for run in client.search_runs([exp_id], f"tags.mlflow.parentRunId = '{new}'"):
        client.set_tag(run.info.run_id, "gan.reused_from", originals[run.info.run_name])
        client.set_tag(run.info.run_id, "gan.reused_from_run", "loss_family-20260101-000000")
        client.set_terminated(run.info.run_id, end_time=run.info.start_time + 2_000)
    out = tmp_path / "FINDINGS.md"
    assert report.main(["--findings", "loss_family-20260102-000000", "--tracking-uri", uri, "--out", str(out)]) == 0
    text = out.read_text()
    assert "| 10 | 0 | 10 | 5 | cpu-AVX512 | c0dec0dec0de | 0.0 |" in text  # trained none; copies of AVX-512 trials
    assert "Training took 1.7 CPU-hours in all" in text and "(0.0 together); the other 1.7 trained" in text
    trials = json.loads((tmp_path / "findings" / "loss_family-20260102-000000.json").read_text())["trials"]
    assert {(t["origin"], t["trained_seconds"], t["seconds"]) for t in trials} == {
        (originals[t["name"]], 600.0, 2.0) for t in trials}


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


def test_runs_that_cannot_be_pooled_are_one_line_and_exit_2(store, capsys, tmp_path):
    uri, _, _ = store
    exported = tmp_path / "findings" / "loss_family-20260102-000000.json"
    assert report.main(["--findings", "loss_family-20260102-000000", "--tracking-uri", uri,
                        "--out", str(tmp_path / "FINDINGS.md")]) == 0
    data = json.loads(exported.read_text())
    data.update(parent_name="loss_family-20260103-000000", started=data["started"] + 1, code="another")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    capsys.readouterr()
    assert report.main(["--findings", str(exported), str(other), "--out", str(tmp_path / "F.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "different gan_core code" in err and not (tmp_path / "F.md").exists()


def test_a_study_or_findings_not_both(capsys):
    with pytest.raises(SystemExit) as stop:
        report.main([])
    assert stop.value.code == 2 and "--findings" in capsys.readouterr().err


def test_runs_on_another_kind_of_cpu_are_compared_apart_not_pooled():
    primary = loss_family()
    avx2 = loss_family(bce=[v + 0.005 for v in BCE])  # other digits, the same verdicts
    avx2.runs = StudyRuns("loss_family", "", "q", "loss_family-20260102-000000", avx2.runs.parent_params,
                          avx2.runs.trials)
    for t in avx2.runs.trials:
        t.machine = "cpu-AVX2"
    avx2.started = 5
    with pytest.raises(findings.FindingsError, match="different kinds of machine"):
        findings.evaluate("R15", part("R15"), [primary, avx2])
    text = findings_page.document([primary, avx2, loss_family()], "python -m studies.report --findings x")
    assert "The verdicts below are read on cpu-AVX512." in text
    assert "## Verdicts on another kind of CPU: cpu-AVX2" in text
    assert "| [R15](#r15) part 1 | supported (look 1, n = 5 and 5) | supported | yes |" in text
    line = findings_page.summary([primary, avx2])[0]  # the terminal's counts: the claims table's, not a refusal
    assert line.startswith("16 claims from 1 runs on cpu-AVX512 (and 1 on another kind of CPU): ")


def test_the_command_a_run_records_loses_the_options_that_name_where_it_stored():
    from studies.report.sources import portable
    assert portable("python -m studies.loss_family --decide --tracking-uri sqlite:////data/m.db --storage /data/r "
                    "--address=10.0.0.1:6379 --seeds 3") == "python -m studies.loss_family --decide --seeds 3"
    assert portable("python -m studies.dg_ratio") == "python -m studies.dg_ratio"
