"""Builds the PyTorch fixture of tests/transpose.rs: the output and the
gradients of a mean squared error with respect to every parameter and to
the input, through two small networks that grow their maps:

  image     Conv2d stride 2 (down), ReLU, ConvTranspose2d kernel 3 stride 2
            padding 1 output_padding 1 (the doubling), ReLU, a grouped
            ConvTranspose2d (2 groups) with stride (1, 2), dilation (2, 1),
            padding (1, 0) and output_padding (1, 1) (the row's below the
            dilation, not the stride), Upsample nearest (2, 1), Upsample
            bilinear 2 (align_corners=False), a depthwise ConvTranspose2d
            without bias, a 1x1 Conv2d head
  sequence  ConvTranspose1d kernel 4 stride 2 padding 1, ReLU, a grouped
            ConvTranspose1d dilation 2 padding 2 output_padding 1, Upsample
            linear 2 (align_corners=False), Upsample nearest 3, a 1x1
            Conv1d head

Writes into tests/fixtures/transpose/:
  image_state_dict.safetensors, sequence_state_dict.safetensors
      the weights (PyTorch's names and layouts: ConvTranspose2d
      [in, out/groups, kh, kw], ConvTranspose1d [in, out/groups, k],
      Conv2d [out, in, kh, kw], Conv1d [out, in, k])
  image_grads.safetensors, sequence_grads.safetensors
      `x` (NHWC, or batch x length x channels), `target`, `loss`, `output`
      (output and target flattened per example in NHWC order, as `predict`
      gives them), `dx` (in x's layout), and each parameter's gradient in
      *our* layout under our tensor's name (every weight 4-D, PyTorch's
      dims 2, 3, 1, 0: conv [kh, kw, in, out], transposed [kh, kw,
      out/groups, in]; a 1-D one with a height of 1)

  image.onnx
      `Image` exported by torch.onnx.export (opset 17, the TorchScript
      exporter, constant folding): ConvTranspose and Resize nodes as
      PyTorch writes them, for tests/onnx.rs to load

Run: /root/.venvs/torch/bin/python scripts/make_transpose_fixture.py
The test reads only the committed files.
"""

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(2025)
torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "transpose"


class Image(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
        self.g = nn.ConvTranspose2d(
            6, 4, (2, 3), stride=(1, 2), padding=(1, 0), output_padding=(1, 1),
            dilation=(2, 1), groups=2,
        )
        self.near = nn.Upsample(scale_factor=(2, 1), mode="nearest")
        self.bi = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dw = nn.ConvTranspose2d(4, 4, 3, padding=1, groups=4, bias=False)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        y = F.relu(self.down(x))
        y = F.relu(self.up(y))
        y = self.bi(self.near(self.g(y)))
        return self.head(self.dw(y))


class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.t1 = nn.ConvTranspose1d(3, 4, 4, stride=2, padding=1)
        self.t2 = nn.ConvTranspose1d(4, 6, 3, dilation=2, padding=2, output_padding=1, groups=2)
        self.lin = nn.Upsample(scale_factor=2, mode="linear", align_corners=False)
        self.near = nn.Upsample(scale_factor=3, mode="nearest")
        self.head = nn.Conv1d(6, 2, 1)

    def forward(self, x):
        y = F.relu(self.t1(x))
        y = self.near(self.lin(self.t2(y)))
        return self.head(y)


f32 = lambda t: t.detach().to(torch.float32).contiguous()


def weight(g):
    """Any weight in our layout: PyTorch's dims (2, 3, 1, 0), 1-D ones
    with a height of 1 ([a, b, k] -> [1, k, b, a])."""
    if g.dim() == 3:
        g = g.unsqueeze(2)
    return f32(g.permute(2, 3, 1, 0))


def run(name, net, x_shape, to_ours):
    with torch.no_grad():
        # What the test loads is float32: compute from exactly those values.
        for p in net.parameters():
            p.copy_(p.float().double())
    x = torch.randn(*x_shape).float().double().requires_grad_(True)
    out = net(x)
    target = torch.randn(*out.shape).float().double()
    loss = F.mse_loss(out, target)
    loss.backward()
    flat = lambda t: f32(to_ours(t).reshape(t.shape[0], -1))
    grads = {
        "x": f32(to_ours(x)),
        "target": flat(target),
        "loss": f32(loss.reshape(1)),
        "output": flat(out),
        "dx": f32(to_ours(x.grad)),
    }
    for key, p in net.named_parameters():
        grads[key] = weight(p.grad) if key.endswith(".weight") else f32(p.grad)
    state = {k: f32(v) for k, v in net.state_dict().items()}
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(state, str(OUT / f"{name}_state_dict.safetensors"))
    save_file(grads, str(OUT / f"{name}_grads.safetensors"))
    print(name, "output", tuple(out.shape), "loss", loss.item())


image = Image()
run("image", image, (3, 3, 5, 4), lambda t: t.permute(0, 2, 3, 1))
torch.onnx.export(
    image.float(),
    torch.zeros(1, 3, 5, 4, dtype=torch.float32),
    str(OUT / "image.onnx"),
    input_names=["input"],
    output_names=["output"],
    dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
    opset_version=17,
    do_constant_folding=True,
    dynamo=False,
)
run("sequence", Sequence(), (3, 3, 10), lambda t: t.permute(0, 2, 1))
