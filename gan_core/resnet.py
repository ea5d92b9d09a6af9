"""The small SNGAN-style ResNet generator and discriminator (Miyato et al.
2018, the CIFAR-10 models; Gulrajani et al. 2017 before them).

G: z -> Linear -> 4x4 x ch, then one up-block per doubling (BN, ReLU, nearest
x2, 3x3 conv, BN, ReLU, 3x3 conv, plus a 1x1-conv shortcut), then BN, ReLU,
3x3 conv, tanh. ch = 4 * ngf (256 for the paper's ngf 64).

D: an "optimized" first down-block (conv, ReLU, conv, avg-pool, with a pooled
1x1 shortcut), down-blocks until 8x8, two plain blocks, ReLU and a global sum
pool: features (N, ch), ch = 2 * ndf (128 for ndf 64). The linear head (and
spectral norm when `norm_d` is spectral, the paper's setting) come from
`gan_core.heads`. Weights: Xavier uniform (gain sqrt(2) in the residual
paths, 1 in the shortcuts), as in the paper's code.
"""

from __future__ import annotations

import math

from torch import nn
import torch.nn.functional as F

from gan_core.layers import D_NORMS, G_NORMS, doublings


def _xavier(module: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


class UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int, norm: str):
        super().__init__()
        n = G_NORMS[norm]
        self.n1, self.n2 = n(cin, 2), n(cout, 2)
        self.c1 = _xavier(nn.Conv2d(cin, cout, 3, 1, 1), math.sqrt(2))
        self.c2 = _xavier(nn.Conv2d(cout, cout, 3, 1, 1), math.sqrt(2))
        self.skip = _xavier(nn.Conv2d(cin, cout, 1), 1.0)

    def forward(self, x):
        h = F.interpolate(F.relu(self.n1(x)), scale_factor=2, mode="nearest")
        h = self.c2(F.relu(self.n2(self.c1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, norm: str, down: bool, first: bool = False):
        super().__init__()
        n = D_NORMS[norm]
        self.first, self.down = first, down
        self.n1, self.n2 = (nn.Identity() if first else n(cin, 2)), n(cout, 2)
        self.c1 = _xavier(nn.Conv2d(cin, cout, 3, 1, 1), math.sqrt(2))
        self.c2 = _xavier(nn.Conv2d(cout, cout, 3, 1, 1), math.sqrt(2))
        self.skip = _xavier(nn.Conv2d(cin, cout, 1), 1.0) if (cin != cout or down) else None

    def forward(self, x):
        h = x if self.first else F.relu(self.n1(x))
        h = self.c2(F.relu(self.n2(self.c1(h))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x if self.skip is None else self.skip(x)  # a 1x1 conv commutes with the average pool
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class ResNetG(nn.Module):
    def __init__(self, nz_in: int, ch: int, channels: int, size: int, norm: str):
        super().__init__()
        self.ch = ch
        self.linear = _xavier(nn.Linear(nz_in, 16 * ch), 1.0)
        self.blocks = nn.Sequential(*[UpBlock(ch, ch, norm) for _ in range(doublings(size))])
        self.out_norm = G_NORMS[norm](ch, 2)
        self.out = _xavier(nn.Conv2d(ch, channels, 3, 1, 1), 1.0)

    def forward(self, z):
        h = self.blocks(self.linear(z).reshape(z.shape[0], self.ch, 4, 4))
        return self.out(F.relu(self.out_norm(h))).tanh()


class SumPool(nn.Module):
    """ReLU then a global sum over H and W: (N, C, H, W) -> (N, C)."""

    def forward(self, x):
        return F.relu(x).sum(dim=(2, 3))


def resnet_g(c, shape, nz_in: int) -> nn.Module:
    return ResNetG(nz_in, 4 * c.ngf, shape[0], shape[1], c.norm_g)


def resnet_d(c, shape):
    ch, size = 2 * c.ndf, shape[1]
    blocks = [DownBlock(shape[0], ch, c.norm_d, down=True, first=True)]
    res = size // 2
    while res > 8:
        blocks.append(DownBlock(ch, ch, c.norm_d, down=True))
        res //= 2
    blocks += [DownBlock(ch, ch, c.norm_d, down=False), DownBlock(ch, ch, c.norm_d, down=False), SumPool()]
    return nn.Sequential(*blocks), (ch,)
