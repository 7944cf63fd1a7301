"""Builds the PyTorch fixture of tests/volumes_grow.rs: a small volume
encoder-decoder that halves and regrows its map with the layers that grow
volumes:

  decoder   Conv3d kernel 3 stride 2 padding 1 (down), ReLU,
            ConvTranspose3d kernel 3 stride 2 padding 1 output_padding 1
            (the doubling), ReLU, a grouped ConvTranspose3d (2 groups,
            kernel 2, dilation (2, 1, 1), padding (1, 0, 1),
            output_padding (1, 0, 0): the depth's below the dilation, not
            the stride), Upsample nearest (1, 1, 2), Upsample trilinear 2
            (align_corners=False), a 1x1x1 Conv3d head

on two volumes of 3 frames of 4x4 with 2 channels.

Writes into tests/fixtures/volume/:
  decoder_state_dict.safetensors
      the weights (PyTorch's names and layouts: ConvTranspose3d [in,
      out/groups, kd, kh, kw], Conv3d [out, in, kd, kh, kw])
  decoder_grads.safetensors
      `x` (NDHWC), `target`, the mean squared error `loss`, `output`
      (output and target flattened per example in NDHWC order, as
      `predict` gives them), `dx` (NDHWC), and each parameter's gradient
      in *our* layout under our tensor's name (PyTorch's dims 2, 3, 4, 1,
      0: Conv3d [kd, kh, kw, in, out], ConvTranspose3d [kd, kh, kw,
      out/groups, in])

Run: /root/.venvs/torch/bin/python scripts/make_volume_transpose_fixture.py
The test reads only the committed files.
"""

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(2412)
torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "volume"


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv3d(2, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose3d(4, 6, 3, stride=2, padding=1, output_padding=1)
        self.g = nn.ConvTranspose3d(
            6, 4, 2, padding=(1, 0, 1), output_padding=(1, 0, 0), dilation=(2, 1, 1), groups=2
        )
        self.near = nn.Upsample(scale_factor=(1, 1, 2), mode="nearest")
        self.tri = nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False)
        self.head = nn.Conv3d(4, 2, 1)

    def forward(self, x):
        y = F.relu(self.down(x))
        y = F.relu(self.up(y))
        y = self.tri(self.near(self.g(y)))
        return self.head(y)


f32 = lambda t: t.detach().to(torch.float32).contiguous()
ndhwc = lambda t: t.permute(0, 2, 3, 4, 1)


def weight(g):
    """A 3-D (transposed) convolution's weight in our layout: PyTorch's
    dims (2, 3, 4, 1, 0)."""
    return f32(g.permute(2, 3, 4, 1, 0))


net = Decoder()
with torch.no_grad():
    # What the test loads is float32: compute from exactly those values.
    for p in net.parameters():
        p.copy_(p.float().double())
x = torch.randn(2, 2, 3, 4, 4).float().double().requires_grad_(True)
out = net(x)
target = torch.randn(*out.shape).float().double()
loss = F.mse_loss(out, target)
loss.backward()
flat = lambda t: f32(ndhwc(t).reshape(t.shape[0], -1))
grads = {
    "x": f32(ndhwc(x)),
    "target": flat(target),
    "loss": f32(loss.reshape(1)),
    "output": flat(out),
    "dx": f32(ndhwc(x.grad)),
}
for key, p in net.named_parameters():
    grads[key] = weight(p.grad) if key.endswith(".weight") else f32(p.grad)
state = {k: f32(v) for k, v in net.state_dict().items()}
OUT.mkdir(parents=True, exist_ok=True)
save_file(state, str(OUT / "decoder_state_dict.safetensors"))
save_file(grads, str(OUT / "decoder_grads.safetensors"))
print("decoder output", tuple(out.shape), "loss", loss.item())
