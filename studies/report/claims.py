"""The claims of the classic GAN reports (R1-R16), each as the comparisons over seeds that test it.

A claim is one or more parts. A part compares two sides; a side is a study,
the exact label of its setting (a trial's `gan.setting` without the seed),
any config values its trials run with beyond the study's own (`sets`: a
longer budget, another dataset, a metric to log; they join the label), the
metric read, and the step (training work) it is read at, by default the end
of the trials' budget. Claim trials run under FIFO (`--decide`), so every
side reaches the step it is read at: nothing is censored.

`expect` is what the claim says, and each part declares the smallest
difference that matters (`margin`, in the metric's unit) and why:

    better      a beats b: supported when a test finds a ahead, contradicted when it
                finds a behind or the two equivalent within +-margin
    same        no difference that matters: equivalent within +-margin (TOST), or different
    not_worse   a is no worse than b by more than the margin (non-inferiority)

Metrics: any metric the trials log, and `take_off` (the training work at
which sample quality first reaches the plausible-samples bar; later than the
budget for a trial that never does), `take_off_g` (the same in G updates),
for which lower is better (`LOWER_IS_BETTER`).

A side whose samples have not taken off by the step compared (mean quality
never at the plausible-samples bar) cannot support or contradict a claim,
unless the claim is itself about failing to train (`about_failure`, R3 and
R8): that part is not testable at the budget.
Where our knobs cannot state a claim as the report made it, the nearest
setting stands in and `caveat` says so.

    CLAIMS["R4"].parts[0].a     # Side("dg_ratio", (("loss", "bce"), ("ratio", "3:1")), ...)
    command("dg_ratio")         # python -m studies.dg_ratio --decide
"""

from __future__ import annotations

from dataclasses import dataclass

EXPECT = ("better", "same", "not_worse")
LOOKS = (5, 8, 12)  # seeds a side at each look of --decide, the last the cap (5: the fewest at which the
#                    exact test can reach the first look's level, 0.027)
LOWER_IS_BETTER = ("take_off", "take_off_g", "collapsed", "fd")
DERIVED = ("take_off", "take_off_g")  # read from a trial's quality curve, not logged


@dataclass(frozen=True)
class Side:
    study: str
    labels: tuple[tuple[str, str], ...]  # (name, value) pairs of the setting's label, `sets` last
    metric: str = "score"
    at: int | None = None  # the training work it is read at; None: the end of its trials' budget
    sets: tuple[tuple[str, object], ...] = ()  # config values its trials run with beyond the study's own

    @property
    def setting(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.labels)

    def __str__(self) -> str:
        extra = [] if self.metric == "score" else [self.metric]
        extra += [] if self.at is None else [f"at {self.at:,}"]
        return self.setting + (f" ({', '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Part:
    question: str
    a: Side
    b: Side
    expect: str  # one of EXPECT
    margin: float  # the smallest difference that matters, in the metric's unit
    reason: str  # why that margin
    paired: bool = False  # a and b are the same trials (two metrics, or two steps, of them)


@dataclass(frozen=True)
class Claim:
    text: str
    parts: tuple[Part, ...]
    caveat: str
    about_failure: bool = False  # the claim says a side fails to train: a side that never takes off is its answer

    @property
    def studies(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.study for p in self.parts for s in (p.a, p.b)))


def side(study: str, setting: str, metric: str = "score", at: int | None = None, **sets) -> Side:
    """side("dg_ratio", "loss=bce ratio=3:1", max_steps=16800) -> that setting's score at its budget's end;
    `sets` join the label as the trials show it (`... max_steps=16800`)."""
    labels = tuple(tuple(part.split("=", 1)) for part in setting.split())
    labels += tuple((k, label_value(v)) for k, v in sets.items())
    return Side(study, labels, metric, at, tuple(sets.items()))


def label_value(value) -> str:
    """A config value as a trial's label shows it (`studies.declare.spaces.label`)."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def command(study: str) -> str:
    """The command whose run a claim's parts read."""
    return f"python -m studies.{study} --decide"


def parts_of(study: str, ids: list[str] | None = None) -> list[tuple[str, int, Part]]:
    """(claim id, part index, part) of every part both of whose sides are in `study` (of `ids` only, if given)."""
    return [(cid, i, part) for cid, claim in CLAIMS.items() if ids is None or cid in ids
            for i, part in enumerate(claim.parts) if part.a.study == part.b.study == study]


# --- margins: the smallest difference that matters ------------------------------------------

SCORE = (0.05, "a sixth of the baseline DCGAN's score at the end of its budget (about 0.3); the differences "
               "the reports saw by eye were larger (1:1 against 5:1: 0.3 against 0.05)")
TAKE_OFF = (600, "two evaluations (300 updates apart): the finest 'earlier' the curves resolve")
TAKE_OFF_G = (300, "two evaluations of a 1:1 trial, in G updates")
ACCURACY = (0.05, "one sample in twenty following its label more or less often")
MODES = (50, "5% of stacked digits' 1,000 modes, about three times the spread of a real set of 1,000 "
             "samples drawn twice")
FIDELITY = (0.05, "a twentieth of the precision scale, the share of samples inside the real manifold")
RATE = (0.2, "one seed in five collapsing more often: rarer collapses cannot be told apart within the cap of "
             "12 seeds a side")

DIGITS = "embedded 32x32 stacked digits stand in for the reports' 64x64 faces"
STACKED_TAGS = ("conditional, on stacked digits with their three digits as 30 multi-hot tags (a stand-in "
                "for face attributes such as hair and eye colour); cond_acc is the share of the asked-for "
                "tags an independent classifier reads in the samples")
BCE, WGAN, LSGAN = (side("loss_family", f"loss={name}") for name in ("bce", "wgan", "lsgan"))
TIPS = {name: side("training_tips", f"tip={name}") for name in
        ("baseline", "latent-uniform", "sgd-d", "sgd-both", "adaptive-d", "g-first")}
LONG = 16800  # twice the default budget: 3:1 at 4,200 G updates, the G updates 1:1 makes in 8,400 network updates
EARLY = 2400  # a conditional trial's label-following is still rising here (stacked digits: 0.4-0.9)
COND = {name: side("conditional", setting, "cond_acc", dataset="stacked-digits") for name, setting in (
    ("cgan", "conditioning=cgan"), ("onehot", "conditioning=cgan label_input=onehot"),
    ("onehot-ma", "conditioning=cgan matching_aware=True label_input=onehot"))}


def cond(name: str, at: int | None = None) -> Side:
    return Side(COND[name].study, COND[name].labels, COND[name].metric, at, COND[name].sets)


CLAIMS: dict[str, Claim] = {
    "R1": Claim(
        "The WGAN loss (weight clipping 0.01, RMSprop 5e-5) learns more slowly than the BCE DCGAN and its "
        "samples are no better.",
        (Part("WGAN's samples take off later than BCE's (it learns more slowly)",
              side("loss_family", "loss=bce", "take_off"), side("loss_family", "loss=wgan", "take_off"),
              "better", *TAKE_OFF),
         Part("WGAN's samples no better than BCE's at the end", BCE, WGAN, "not_worse", *SCORE)),
        f"{DIGITS}; BCE trains with the DCGAN paper's Adam 2e-4 (0.5, 0.999), not the report's 1e-4; WGAN at "
        "its paper's 5 critic steps, all trials at the same 8,400 network updates."),
    "R2": Claim(
        "A BCE DCGAN falls into mode collapse late in training; switching to the WGAN loss while keeping Adam "
        "and the step budget eases it.",
        (Part("WGAN-GP covers more modes than the collapsing BCE setting at the end",
              side("mode_collapse", "mitigation=wgan-gp", "modes_covered"),
              side("mode_collapse", "mitigation=none", "modes_covered"), "better", *MODES),),
        f"{DIGITS} (1,000 known modes, counted by a classifier); WGAN-GP (Adam, the same step budget) stands in "
        "for weight-clipped WGAN with Adam; the baseline is the study's collapsing BCE setting (D a quarter of "
        "G's width, D:G 1:2), 3,000 updates."),
    "R3": Claim(
        "Normalizing inputs with ImageNet's per-channel mean/std instead of scaling to [-1, 1] makes training "
        "fail outright.",
        (Part("[-1, 1] inputs score higher than ImageNet-normalized ones at the end",
              side("normalization", "norm_d=batch input_norm=tanh"),
              side("normalization", "norm_d=batch input_norm=imagenet"), "better", *SCORE),),
        f"{DIGITS}; batch-norm D, the DCGAN default, on both sides.", about_failure=True),
    "R4": Claim(
        "Training D three times per G step (D:G 3:1) gives clearer images earlier than 1:1, and about the same "
        "result at the end.",
        (Part("3:1 takes off sooner than 1:1, in network updates",
              side("dg_ratio", "loss=bce ratio=3:1", "take_off", max_steps=LONG),
              side("dg_ratio", "loss=bce ratio=1:1", "take_off"), "better", *TAKE_OFF),
         Part("3:1 takes off sooner than 1:1, in G updates",
              side("dg_ratio", "loss=bce ratio=3:1", "take_off_g", max_steps=LONG),
              side("dg_ratio", "loss=bce ratio=1:1", "take_off_g"), "better", *TAKE_OFF_G),
         Part("3:1 and 1:1 alike at matched network updates (8,400)",
              side("dg_ratio", "loss=bce ratio=3:1", at=8400, max_steps=LONG),
              side("dg_ratio", "loss=bce ratio=1:1"), "same", *SCORE),
         Part("3:1 and 1:1 alike at matched G updates (4,200: 16,800 and 8,400 network updates)",
              side("dg_ratio", "loss=bce ratio=3:1", max_steps=LONG),
              side("dg_ratio", "loss=bce ratio=1:1"), "same", *SCORE)),
        f"{DIGITS}; 'clearer images earlier' is read as sample quality reaching the plausible-samples bar "
        "sooner; the 3:1 trials run 16,800 network updates, read at 8,400 and at their end."),
    "R5": Claim(
        "LSGAN looks about the same as the BCE DCGAN.",
        (Part("LSGAN and BCE alike at the end", LSGAN, BCE, "same", *SCORE),),
        f"{DIGITS}; LSGAN at 1:1 with Adam 2e-4 (its paper's), not at the report's 3:1."),
    "R6": Claim(
        "z from U(-1, 1) and z from N(0, I) make no difference.",
        (Part("uniform and normal latents alike at the end", TIPS["latent-uniform"], TIPS["baseline"], "same",
              *SCORE),),
        DIGITS + "."),
    "R7": Claim(
        "Soft labels (real 0.7-1.2, fake 0.0-0.3) change neither training nor results much.",
        (Part("two-sided soft labels and none take off alike",
              side("label_smoothing", "preset=two-sided", "take_off"),
              side("label_smoothing", "preset=none", "take_off"), "same", *TAKE_OFF),
         Part("two-sided soft labels and none alike at the end", side("label_smoothing", "preset=two-sided"),
              side("label_smoothing", "preset=none"), "same", *SCORE)),
        DIGITS + "; BCE DCGAN."),
    "R8": Claim(
        "SGD on both nets does not train at all; SGD on D only (Adam on G) makes D too strong and results poor.",
        (Part("Adam on both beats SGD on both at the end", TIPS["baseline"], TIPS["sgd-both"], "better", *SCORE),
         Part("Adam on both beats SGD on D only at the end", TIPS["baseline"], TIPS["sgd-d"], "better", *SCORE)),
        DIGITS + "; plain SGD at lr 0.01 (Adam's 2e-4 would not move it).", about_failure=True),
    "R9": Claim(
        "In a conditional DCGAN, a label fed in with z without its own embedding layer is ignored; the "
        "matching-aware D loss (a real image with a wrong label counts as fake) makes G follow the label.",
        (Part("the label without an embedding is ignored: the embedded cGAN follows its label more at the end",
              cond("cgan"), cond("onehot"), "better", *ACCURACY),
         Part("matching-aware D makes the un-embedded cGAN follow its label more, early",
              cond("onehot-ma", EARLY), cond("onehot", EARLY), "better", *ACCURACY),
         Part("matching-aware D makes the un-embedded cGAN follow its label more, at the end",
              cond("onehot-ma"), cond("onehot"), "better", *ACCURACY)),
        f"{STACKED_TAGS}; the un-embedded label is the raw multi-hot vector beside z in G and as input channels "
        "in D (label_input=onehot); early is 2,400 of 8,400 updates, where label-following is still rising."),
    "R10": Claim(
        "Always strengthening D (more D steps throughout) ends in mode collapse; skipping D updates while its "
        "loss is under a threshold (0.5), with hflip and smoothing (real 0.9-1.1, fake 0.0-0.2), trains best.",
        (Part("1:1 covers more modes than a fixed 5:1 at the end", side("dg_ratio", "loss=bce ratio=1:1",
              "modes_covered"), side("dg_ratio", "loss=bce ratio=5:1", "modes_covered"), "better", *MODES),
         Part("adaptive D (skip below 0.5, hflip, smoothing) beats the baseline at the end",
              TIPS["adaptive-d"], TIPS["baseline"], "better", *SCORE)),
        f"{DIGITS}; 'trains best' is tested against the baseline DCGAN, the best the studies have; hflip "
        "mirrors digits, which the reference classifier then reads less confidently, so it costs quality "
        "here that it would not cost on faces."),
    "R11": Claim(
        "WGAN at D:G 1:5 collapses and converges slowly; WGAN-GP at D:G 5:1 trains well.",
        (Part("WGAN-GP at 5:1 beats it at 1:5 at the end", side("dg_ratio", "loss=wgan-gp ratio=5:1"),
              side("dg_ratio", "loss=wgan-gp ratio=1:5"), "better", *SCORE),),
        f"{DIGITS}, unconditional; WGAN-GP at 1:5 stands in for the report's conditional weight-clipped WGAN."),
    "R12": Claim(
        "Updating G before D in each round gives a worse GAN than D first.",
        (Part("D first beats G first at the end", TIPS["baseline"], TIPS["g-first"], "better", *SCORE),),
        DIGITS + "; BCE DCGAN at 1:1."),
    "R13": Claim(
        "An extra 3x3 block in G and D of the DCGAN gives no clear difference overall.",
        (Part("deeper and plain DCGAN alike at the end", side("architecture", "arch=dcgan-deep"),
              side("architecture", "arch=dcgan"), "same", *SCORE),),
        DIGITS + " at 32x32, where the extra block is a larger share of the nets than at 64x64."),
    "R14": Claim(
        "VAE samples are blurrier than a GAN's but never fall apart.",
        (Part("the GAN's samples are of higher fidelity (precision) than the VAE's, at matched G updates",
              side("architecture", "arch=dcgan", "precision", metrics="prdc"),
              side("architecture", "arch=vae", "precision", at=4200, metrics="prdc"), "better", *FIDELITY),
         Part("the VAE collapses no more often than the GAN, at matched G updates",
              side("architecture", "arch=vae", "collapsed", at=4200, metrics="prdc"),
              side("architecture", "arch=dcgan", "collapsed", metrics="prdc"), "not_worse", *RATE)),
        f"{DIGITS}; fidelity is precision (Naeem et al. 2020, k = 5) in the reference classifier's feature "
        "space, not the classifier's confidence; a VAE update is one decoder update and a DCGAN round one D "
        "and one G update, so the VAE is read at 4,200 updates and the DCGAN at 8,400 (4,200 G updates each); "
        "the VAE keeps the learning rate usual for VAEs (Adam 1e-3)."),
    "R15": Claim(
        "WGAN plus label smoothing did not beat the plain DCGAN; it was worse.",
        (Part("BCE beats WGAN at the end", BCE, WGAN, "better", *SCORE),),
        f"{DIGITS}; the Wasserstein critic has no targets to smooth (gan_core refuses the combination), so "
        "this tests WGAN against BCE; the smoothing half of the claim is not testable as stated."),
    "R16": Claim(
        "An ACGAN's auxiliary attribute accuracy of 0.8-1.0 shows that G learned the attribute.",
        (Part("the auxiliary head's accuracy on fakes agrees with an independent classifier's",
              side("conditional", "conditioning=acgan", "aux_acc_fake", dataset="stacked-digits"),
              side("conditional", "conditioning=acgan", "cond_acc", dataset="stacked-digits"), "same",
              0.1, "the claim reads 0.8-1.0 as learned: a tenth of the scale", paired=True),),
        f"{STACKED_TAGS}; both accuracies on the same trials' samples, compared pairwise; the auxiliary "
        "accuracy is per tag (logit above 0), so with 3 of the 30 tags present a head that calls every tag "
        "absent scores 0.9."),
}
