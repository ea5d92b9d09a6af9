"""One update each: the D step, the G step, the VAE step, and a round of them.

Every random draw comes from the run's generators, so a run is deterministic
for its seed: data order and labels from `run.gen` (on the CPU), latents,
label targets, augmentation, penalty interpolation and VAE noise from
`run.rand`, made where it lives (on CUDA a generator on the device, so nothing
is drawn on the host and copied per update; on the CPU `run.gen` itself, one
stream as it always was). Batches drawn on the CPU reach a GPU through pinned
memory without blocking (`gan_core.utils.to_device`). Per-update values are
summed into `run.sums` (tensors, no host sync) and averaged at the next
evaluation.

The D step, for a batch of real images x with labels y (when conditioned):
  fake = G(z, y); D sees real and fake through DiffAugment when it is on
  (real data is first flipped left-right when `hflip`);
  loss_d = loss.d(D(real), D(fake), targets)          # targets: label smoothing and flips
         [matching-aware cgan: mean of that and loss.d(D(real), D(real, wrong y))]
         + gp_weight * GP   (wgan-gp: on interpolates of real and fake)
         + r1_weight / 2 * R1 (Mescheder et al. 2018: E ||grad D(real)||^2)
         + aux_weight * (CE(aux(real), y) + CE(aux(fake), y))   (acgan)
  adaptive D: the update is skipped while the adversarial part of loss_d is
  below `d_skip_below` (D is already winning; counted in `d_skip_rate`).
The G step: loss_g = loss.g(D(G(z, y))) [+ aux_weight * CE(aux(fake), y)],
then the EMA copy of G moves toward G when `ema` > 0.

Mixed precision (`run.amp`, see `gan_core.devices.use_bf16`): forward passes
run under bf16 autocast, D's outputs and every loss in fp32; bf16 keeps
fp32's range, so no loss scaling. Channels-last (`run.channels_last`): real
batches are made NHWC like the weights; G's output follows its weights.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

from gan_core.augment import diff_augment, hflip
from gan_core.losses import gradient_penalty, r1_penalty
from gan_core.models import ARCHS
from gan_core.utils import to_device
from gan_core.vae import vae_loss

# --- data space <-> model space -------------------------------------------------

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _stats(run):
    c = run.data.shape[0]
    mean = IMAGENET_MEAN if c == 3 else (sum(IMAGENET_MEAN) / 3,) * c
    std = IMAGENET_STD if c == 3 else (sum(IMAGENET_STD) / 3,) * c
    view = lambda v: torch.tensor(v, device=run.device).view(1, c, 1, 1)
    return view(mean), view(std)


def to_model(run, x: torch.Tensor) -> torch.Tensor:
    """Real data as D sees it: points raw; images [0, 1] -> [-1, 1] or ImageNet-standardised."""
    if run.data.kind == "points":
        return x
    if run.config.input_norm == "tanh":
        return x * 2 - 1
    mean, std = _stats(run)
    return (x - mean) / std


def to_data(run, y: torch.Tensor) -> torch.Tensor:
    """G output back in the dataset's space (images clamped to [0, 1]) for scoring and pictures."""
    if run.data.kind == "points":
        return y
    if run.config.input_norm == "tanh":
        return ((y + 1) / 2).clamp(0, 1)
    mean, std = _stats(run)
    return (y * std + mean).clamp(0, 1)


# --- random inputs ----------------------------------------------------------------

def latent(config, n: int, gen: torch.Generator) -> torch.Tensor:
    """z for G on the generator's device: normal N(0, I), uniform U(-1, 1), or sphere (normal scaled to
    norm sqrt(nz))."""
    if config.latent == "uniform":
        return torch.rand(n, config.nz, generator=gen, device=gen.device) * 2 - 1
    z = torch.randn(n, config.nz, generator=gen, device=gen.device)
    if config.latent == "sphere":
        z = z / z.norm(dim=1, keepdim=True).clamp(min=1e-8) * math.sqrt(config.nz)
    return z


def noise(run, n: int) -> torch.Tensor:
    return latent(run.config, n, run.rand)


def real_batch(run, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n real samples in model space (flipped when hflip), with labels when conditioned."""
    if run.config.conditioning != "none":
        x, y = run.data.sample_labeled(n, run.gen)
        y = to_device(y, run.device)
    else:
        x, y = run.data.sample(n, run.gen), None
    x = to_model(run, to_device(x, run.device))
    x = hflip(x, run.rand) if run.config.hflip else x
    return in_layout(run, x), y


def in_layout(run, x: torch.Tensor) -> torch.Tensor:
    """Real images in the networks' memory format (channels-last or as they come)."""
    return x.contiguous(memory_format=torch.channels_last) if run.channels_last else x


def fake_labels(run, n: int) -> torch.Tensor | None:
    """Labels for G drawn from the data's label distribution (None when unconditioned)."""
    if run.config.conditioning == "none":
        return None
    return to_device(run.data.sample_labeled(n, run.gen)[1], run.device)


def mismatched(run, y: torch.Tensor) -> torch.Tensor:
    """Wrong labels for matching-aware D: another class for ids, another example's tags for multi-hot."""
    if run.data.multi_label:
        return y.roll(1, dims=0)
    shift = torch.randint(1, run.data.n_classes, y.shape, generator=run.rand, device=run.rand.device).to(y.device)
    return (y + shift) % run.data.n_classes


def targets(run, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example D targets drawn from the label ranges, with random real/fake flips."""
    c = run.config
    u = torch.rand(3, n, generator=run.rand, device=run.rand.device)
    real_t = c.real_label[0] + (c.real_label[1] - c.real_label[0]) * u[0]
    fake_t = c.fake_label[0] + (c.fake_label[1] - c.fake_label[0]) * u[1]
    flip = u[2] < c.label_flip
    real_t, fake_t = torch.where(flip, fake_t, real_t), torch.where(flip, real_t, fake_t)
    return real_t.to(run.device), fake_t.to(run.device)


def augment(run, x: torch.Tensor) -> torch.Tensor:
    return diff_augment(x, run.policy, run.rand) if run.policy else x


# --- bookkeeping ----------------------------------------------------------------

def add(run, **values: torch.Tensor) -> None:
    for key, value in values.items():
        total, count = run.sums.get(key, (0.0, 0))
        run.sums[key] = (total + value.detach().float(), count + 1)


def aux_loss(logits: torch.Tensor, y: torch.Tensor, multi_label: bool) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, y.float()) if multi_label else F.cross_entropy(logits, y)


def aux_accuracy(logits: torch.Tensor, y: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """Class ids: argmax accuracy. Tags: per-tag accuracy at logit 0."""
    if multi_label:
        return ((logits > 0) == (y > 0.5)).float().mean()
    return (logits.argmax(1) == y).float().mean()


# --- the updates ----------------------------------------------------------------

def autocast(run):
    """bf16 autocast around forward passes when the run uses mixed precision, else nothing."""
    return torch.autocast(run.device.type, dtype=torch.bfloat16) if run.amp else contextlib.nullcontext()


def d_loss(run) -> tuple[torch.Tensor, torch.Tensor]:
    """D's loss on one batch and its adversarial part; the batch's metrics are recorded."""
    c, n, multi = run.config, run.config.batch_size, run.data.multi_label
    real, y = real_batch(run, n)
    with torch.no_grad():
        fake = run.g(noise(run, n), y)
    real_in, fake_in = augment(run, real), augment(run, fake)
    if c.r1_weight > 0:
        real_in = real_in.detach().requires_grad_(True)
    (real_out, real_aux), (fake_out, fake_aux) = run.d(real_in, y), run.d(fake_in, y)
    real_out, fake_out = real_out.float(), fake_out.float()  # losses in fp32 under mixed precision
    real_t, fake_t = targets(run, real_out.shape[0]) if run.loss.smoothing else (None, None)
    adversarial = run.loss.d(real_out, fake_out, real_t, fake_t)
    if c.matching_aware:
        wrong_out = run.d(real_in, mismatched(run, y))[0].float()
        adversarial = 0.5 * (adversarial + run.loss.d(real_out, wrong_out, real_t, fake_t))
    loss = adversarial
    if run.loss.penalty == "gp":
        penalty = gradient_penalty(lambda x: run.d(x, y)[0].float(), real_in.detach(), fake_in, run.rand)
        loss = loss + c.gp_weight * penalty
        add(run, penalty=penalty)
    if c.r1_weight > 0:
        r1 = r1_penalty(real_out, real_in)
        loss = loss + 0.5 * c.r1_weight * r1
        add(run, r1=r1)
    if c.conditioning == "acgan":
        real_aux, fake_aux = real_aux.float(), fake_aux.float()
        loss = loss + c.aux_weight * (aux_loss(real_aux, y, multi) + aux_loss(fake_aux, y, multi))
        add(run, aux_acc_real=aux_accuracy(real_aux, y, multi), aux_acc_fake=aux_accuracy(fake_aux, y, multi))
    squash = torch.sigmoid if run.loss.prob else (lambda t: t)
    add(run, loss_d=loss, d_real=squash(real_out).mean(), d_fake=squash(fake_out).mean())
    return loss, adversarial


def d_step(run) -> None:
    with autocast(run):
        loss, adversarial = d_loss(run)
    if run.config.d_skip_below > 0 and float(adversarial.detach()) < run.config.d_skip_below:
        run.d_skipped += 1  # adaptive D: D is ahead, let G catch up
        return
    run.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    run.opt_d.step()
    if run.loss.clip:
        with torch.no_grad():
            for p in run.d.parameters():
                p.clamp_(-run.config.clip_value, run.config.clip_value)
    run.d_updates += 1


def g_step(run) -> None:
    c, n = run.config, run.config.batch_size
    with autocast(run):
        y = fake_labels(run, n)
        out, aux = run.d(augment(run, run.g(noise(run, n), y)), y)
        loss = run.loss.g(out.float())
        if c.conditioning == "acgan":
            loss = loss + c.aux_weight * aux_loss(aux.float(), y, run.data.multi_label)
    run.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    run.opt_g.step()
    if run.g_ema is not None:
        update_ema(run.g_ema, run.g, c.ema)
    add(run, loss_g=loss)
    run.g_updates += 1


@torch.no_grad()
def update_ema(ema: torch.nn.Module, g: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * g for weights; buffers (BN statistics) copied."""
    for pe, p in zip(ema.parameters(), g.parameters()):
        pe.lerp_(p, 1.0 - decay)
    for be, b in zip(ema.buffers(), g.buffers()):
        be.copy_(b)


def vae_step(run) -> None:
    x = in_layout(run, to_model(run, to_device(run.data.sample(run.config.batch_size, run.gen), run.device)))
    with autocast(run):
        loss, recon, kl = vae_loss(run.g, run.d, x, run.rand, run.config.kl_weight)
    run.opt_g.zero_grad(set_to_none=True)
    run.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    run.opt_g.step()
    run.opt_d.step()
    if run.g_ema is not None:
        update_ema(run.g_ema, run.g, run.config.ema)
    add(run, loss_vae=loss, loss_recon=recon, loss_kl=kl)
    run.g_updates += 1
    run.d_updates += 1


def one_round(run) -> None:
    c = run.config
    if not ARCHS[c.arch].adversarial:
        vae_step(run)
    else:
        phases = [(d_step, c.d_steps), (g_step, c.g_steps)]
        for fn, times in phases if c.order == "d_first" else phases[::-1]:
            for _ in range(times):
                fn(run)
    run.step += 1
