"""The claims of the classic GAN reports (R1-R16), each as the comparisons over seeds that test it.

A claim is one or more parts. A part compares two sides: a side is a study,
the labels that pick its setting (a trial's `gan.setting` without the seed),
and the metric read from its trials. `expect` is what the claim says:

    better      a beats b             (supported when the report's verdict is "better")
    same        no difference         (contradicted by any detectable difference)
    not_worse   a is no worse than b  (contradicted only by "worse")

`at` is the budget of the comparison: "early" is half a trial's work (before
ASHA's rung, so every trial reaches it), "end" the largest step every compared
trial reached (a trial ASHA stopped is censored there, never ranked against one
that ran on). Where our knobs cannot state a claim as the report made it, the
nearest setting stands in and `caveat` says so: a finding is only as good as
what it compared.

    CLAIMS["R1"].parts[0].a     # Side(study="loss_family", labels=(("loss", "bce"),), metric="score")
    command("loss_family")      # python -m studies.loss_family --seeds 4
"""

from __future__ import annotations

from dataclasses import dataclass

SEEDS = 4  # the fewest seeds a side at which the exact test can reject "no difference" at 5% (2 / 70)
EXPECT = ("better", "same", "not_worse")
AT = ("early", "end")


@dataclass(frozen=True)
class Side:
    study: str
    labels: tuple[tuple[str, str], ...]  # (name, value) pairs of the setting's label
    metric: str = "score"

    @property
    def setting(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.labels)

    def __str__(self) -> str:
        return f"{self.setting}" + ("" if self.metric == "score" else f" ({self.metric})")


@dataclass(frozen=True)
class Part:
    question: str
    a: Side
    b: Side
    expect: str  # one of EXPECT
    at: str = "end"  # one of AT


@dataclass(frozen=True)
class Claim:
    text: str
    parts: tuple[Part, ...]
    caveat: str

    @property
    def studies(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.study for p in self.parts for s in (p.a, p.b)))


def side(study: str, setting: str, metric: str = "score") -> Side:
    """side("dg_ratio", "loss=bce ratio=1:1") -> the side of that setting's score."""
    return Side(study, tuple(tuple(part.split("=", 1)) for part in setting.split()), metric)


def command(study: str) -> str:
    """The command whose run a claim's part reads."""
    return f"python -m studies.{study} --seeds {SEEDS}"


DIGITS = "embedded 32x32 stacked digits stand in for the reports' 64x64 faces"
SINGLE = "embedded single digits (sklearn's 8x8 digits at 32x32) stand in for the reports' 64x64 faces"
BCE, WGAN, LSGAN = (side("loss_family", f"loss={name}") for name in ("bce", "wgan", "lsgan"))
TIPS = {name: side("training_tips", f"tip={name}") for name in
        ("baseline", "latent-uniform", "sgd-d", "sgd-both", "adaptive-d", "g-first")}
RATIO = {name: side("dg_ratio", f"loss={name}") for name in
         ("bce ratio=1:1", "bce ratio=2:1", "bce ratio=5:1", "wgan-gp ratio=1:5", "wgan-gp ratio=5:1")}
ARCH = {name: side("architecture", f"arch={name}") for name in ("dcgan", "dcgan-deep", "vae")}

CLAIMS: dict[str, Claim] = {
    "R1": Claim(
        "The WGAN loss (weight clipping 0.01, RMSprop 5e-5) learns more slowly than the BCE DCGAN and its "
        "samples are no better.",
        (Part("BCE ahead of WGAN at half the budget (WGAN learns more slowly)", BCE, WGAN, "better", "early"),
         Part("WGAN no better than BCE at the end", BCE, WGAN, "not_worse")),
        f"{DIGITS}; BCE trains with the DCGAN paper's Adam 2e-4 (0.5, 0.999), not the report's 1e-4; WGAN at "
        "its paper's 5 critic steps, all trials at the same 8,400 network updates."),
    "R2": Claim(
        "A BCE DCGAN falls into mode collapse late in training; switching to the WGAN loss while keeping Adam "
        "and the step budget eases it.",
        (Part("WGAN-GP covers more modes than the collapsing BCE setting", side("mode_collapse", "mitigation=wgan-gp",
              "modes_covered"), side("mode_collapse", "mitigation=none", "modes_covered"), "better"),),
        f"{DIGITS} (1,000 known modes, counted by a classifier); WGAN-GP (Adam, the same step budget) stands in "
        "for weight-clipped WGAN; the baseline is the study's collapsing BCE setting (D a quarter of G's width, "
        "D:G 1:2), 3,000 updates."),
    "R3": Claim(
        "Normalizing inputs with ImageNet's per-channel mean/std instead of scaling to [-1, 1] makes training "
        "fail outright.",
        (Part("[-1, 1] inputs score higher than ImageNet-normalized ones", side("normalization", "norm_d=batch "
              "input_norm=tanh"), side("normalization", "norm_d=batch input_norm=imagenet"), "better"),),
        f"{DIGITS}; batch-norm D, the DCGAN default, on both sides."),
    "R4": Claim(
        "Training D more often than G (D:G 3:1) gives clearer images earlier than 1:1, and about the same "
        "result at the end.",
        (Part("2:1 ahead of 1:1 at half the budget", RATIO["bce ratio=2:1"], RATIO["bce ratio=1:1"], "better", "early"),
         Part("2:1 and 1:1 alike at the end", RATIO["bce ratio=2:1"], RATIO["bce ratio=1:1"], "same")),
        f"{DIGITS}; 2:1, the grid's nearest ratio, stands in for 3:1; both at the same network updates, so 2:1 "
        "makes fewer G updates."),
    "R5": Claim(
        "LSGAN looks about the same as the BCE DCGAN.",
        (Part("LSGAN and BCE alike at the end", LSGAN, BCE, "same"),),
        f"{DIGITS}; LSGAN at 1:1 with Adam 2e-4 (its paper's), not at the report's 3:1."),
    "R6": Claim(
        "z from U(-1, 1) and z from N(0, I) make no difference.",
        (Part("uniform and normal latents alike at the end", TIPS["latent-uniform"], TIPS["baseline"], "same"),),
        DIGITS + "."),
    "R7": Claim(
        "Soft labels (real 0.7-1.2, fake 0.0-0.3) change neither training nor results much.",
        (Part("two-sided soft labels and none alike at the end", side("label_smoothing", "preset=two-sided"),
              side("label_smoothing", "preset=none"), "same"),),
        DIGITS + "; BCE DCGAN."),
    "R8": Claim(
        "SGD on both nets does not train at all; SGD on D only (Adam on G) makes D too strong and results poor.",
        (Part("Adam on both beats SGD on both", TIPS["baseline"], TIPS["sgd-both"], "better"),
         Part("Adam on both beats SGD on D only", TIPS["baseline"], TIPS["sgd-d"], "better")),
        DIGITS + "; plain SGD at lr 0.01 (Adam's 2e-4 would not move it)."),
    "R9": Claim(
        "In a conditional DCGAN, the matching-aware D loss (a real image with a wrong label counts as fake) "
        "makes G follow the label.",
        (Part("matching-aware cGAN follows its label more often than plain cGAN (independent classifier)",
              side("conditional", "conditioning=cgan matching_aware=True", "cond_acc"),
              side("conditional", "conditioning=cgan", "cond_acc"), "better"),),
        f"{SINGLE} with their digit as the label; our cGAN embeds the label in both nets, so the report's "
        "un-embedded variant is not tested."),
    "R10": Claim(
        "Always strengthening D (more D steps throughout) ends in mode collapse; skipping D updates while its "
        "loss is low trains best.",
        (Part("1:1 covers more modes than a fixed 5:1", side("dg_ratio", "loss=bce ratio=1:1", "modes_covered"),
              side("dg_ratio", "loss=bce ratio=5:1", "modes_covered"), "better"),
         Part("adaptive D (skip below 0.3) beats a fixed 5:1", TIPS["adaptive-d"], RATIO["bce ratio=5:1"],
              "better")),
        f"{DIGITS}; the second part compares two studies' trials (the same base config, dataset and budget); "
        "skip threshold 0.3, without the report's hflip and smoothing."),
    "R11": Claim(
        "WGAN at D:G 1:5 collapses and converges slowly; WGAN-GP at D:G 5:1 trains well.",
        (Part("WGAN-GP at 5:1 beats it at 1:5", RATIO["wgan-gp ratio=5:1"], RATIO["wgan-gp ratio=1:5"], "better"),),
        f"{DIGITS}, unconditional; WGAN-GP at 1:5 stands in for the report's conditional weight-clipped WGAN."),
    "R12": Claim(
        "Updating G before D in each round gives a worse GAN than D first.",
        (Part("D first beats G first", TIPS["baseline"], TIPS["g-first"], "better"),),
        DIGITS + "; BCE DCGAN at 1:1."),
    "R13": Claim(
        "An extra 3x3 block in G and D of the DCGAN gives no clear difference overall.",
        (Part("deeper and plain DCGAN alike at the end", ARCH["dcgan-deep"], ARCH["dcgan"], "same"),),
        DIGITS + " at 32x32, where the extra block is a larger share of the nets than at 64x64."),
    "R14": Claim(
        "VAE samples are blurrier than a GAN's but never fall apart.",
        (Part("the GAN's samples of higher quality (sharper) than the VAE's", side("architecture", "arch=dcgan",
              "quality"), side("architecture", "arch=vae", "quality"), "better"),
         Part("the VAE covers no fewer modes than the GAN", side("architecture", "arch=vae", "modes_covered"),
              side("architecture", "arch=dcgan", "modes_covered"), "not_worse")),
        f"{DIGITS}; quality is the digit classifier's confidence, a proxy for sharpness; at equal work a VAE "
        "round is one joint encoder-decoder update and a DCGAN round one D and one G update, so at the same "
        "step the VAE's decoder has had twice the DCGAN's G updates."),
    "R15": Claim(
        "WGAN plus label smoothing did not beat the plain DCGAN; it was worse.",
        (Part("BCE beats WGAN at the end", BCE, WGAN, "better"),),
        f"{DIGITS}; the Wasserstein critic has no targets to smooth (gan_core refuses the combination), so "
        "this tests WGAN against BCE; the smoothing half of the claim is not testable as stated."),
    "R16": Claim(
        "An ACGAN's auxiliary accuracy on its own samples shows that G learned the attribute.",
        (Part("the auxiliary head's accuracy on fakes agrees with an independent classifier's",
              side("conditional", "conditioning=acgan", "aux_acc_fake"),
              side("conditional", "conditioning=acgan", "cond_acc"), "same"),),
        f"{SINGLE}; the digit is the attribute; both accuracies on the same trials' samples."),
}
