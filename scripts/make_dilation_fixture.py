"""Builds the PyTorch fixture of tests/dilation.rs: the output and the
gradients of a mean squared error with respect to every parameter and to
the input, through two small networks with dilated convolutions:

  image     Conv2d dilation 2 with padding 'same', ReLU, a depthwise Conv2d
            (groups = in channels, 2 filters each) dilated (2, 1) with
            padding 1, a grouped Conv2d (2 groups) dilated (1, 2) with
            stride 2, ReLU, global average pooling, Linear
  sequence  Conv1d dilation 3 with padding 'same' (an even kernel: the odd
            padding goes after), ReLU, Conv1d dilation 4 with stride 2 and
            padding 1, ReLU, global average pooling, Linear

Writes into tests/fixtures/dilation/:
  image_state_dict.safetensors, sequence_state_dict.safetensors
      the weights (PyTorch's names and layouts: Conv2d [out, in/groups, kh, kw],
      Conv1d [out, in, k])
  image_grads.safetensors, sequence_grads.safetensors
      `x` (NHWC, or batch x length x channels), `target`, `loss`, `output`,
      `dx` (in x's layout), and each parameter's gradient in *our* layout under
      our tensor's name (conv [kh, kw, in/groups, out], Conv1d [1, k, in, out],
      Linear [in, out])

Run: /root/.venvs/torch/bin/python scripts/make_dilation_fixture.py
The test reads only the committed files.
"""

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(2024)
torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "dilation"


class Image(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, dilation=2, padding="same")
        self.dw = nn.Conv2d(4, 8, 3, dilation=(2, 1), padding=1, groups=4)
        self.g = nn.Conv2d(8, 6, (2, 3), stride=2, dilation=(1, 2), groups=2)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        y = F.relu(self.conv1(x))
        y = F.relu(self.g(self.dw(y)))
        return self.fc(y.mean(dim=(2, 3)))


class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(3, 4, 2, dilation=3, padding="same")
        self.c2 = nn.Conv1d(4, 5, 3, stride=2, padding=1, dilation=4)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        y = F.relu(self.c1(x))
        y = F.relu(self.c2(y))
        return self.fc(y.mean(dim=2))


f32 = lambda t: t.detach().to(torch.float32).contiguous()
conv2d = lambda g: f32(g.permute(2, 3, 1, 0))  # [out, in, kh, kw] -> [kh, kw, in, out]
conv1d = lambda g: f32(g.permute(2, 1, 0).unsqueeze(0))  # [out, in, k] -> [1, k, in, out]


def run(name, net, x_shape, to_ours, conv):
    with torch.no_grad():
        # What the test loads is float32: compute from exactly those values.
        for p in net.parameters():
            p.copy_(p.float().double())
    x = torch.randn(*x_shape).float().double().requires_grad_(True)
    out = net(x)
    target = torch.randn(*out.shape).float().double()
    loss = F.mse_loss(out, target)
    loss.backward()
    grads = {
        "x": f32(to_ours(x)),
        "target": f32(target),
        "loss": f32(loss.reshape(1)),
        "output": f32(out),
        "dx": f32(to_ours(x.grad)),
    }
    for key, p in net.named_parameters():
        if key == "fc.weight":
            grads[key] = f32(p.grad.t())
        elif key.endswith(".weight"):
            grads[key] = conv(p.grad)
        else:
            grads[key] = f32(p.grad)
    state = {k: f32(v) for k, v in net.state_dict().items()}
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(state, str(OUT / f"{name}_state_dict.safetensors"))
    save_file(grads, str(OUT / f"{name}_grads.safetensors"))
    print(name, "output", tuple(out.shape), "loss", loss.item())


run("image", Image(), (2, 3, 9, 8), lambda t: t.permute(0, 2, 3, 1), conv2d)
run("sequence", Sequence(), (3, 3, 16), lambda t: t.permute(0, 2, 1), conv1d)
