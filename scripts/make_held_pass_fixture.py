"""Builds the PyTorch fixture of tests/held_pass_pytorch.rs: the gradients
of a mean squared error with respect to every parameter and to the input,
through a small network with convolutions, batch norm in training mode (the
batch's statistics), a residual block and a flatten in front of a Linear.

Writes into tests/fixtures/held_pass/:
  state_dict.safetensors  the network's weights (PyTorch's names and layouts)
  grads.safetensors       `x` [2, 6, 5, 3] (NHWC), `target` [2, 4], `loss`,
                          `output` [2, 4], `dx` [2, 6, 5, 3] (NHWC), and each
                          parameter's gradient in *our* layout, under our
                          tensor's name (conv [fh, fw, c_in, c_out], Linear
                          [in, out] with the input in (h, w, c) order)

Run: /path/to/python-with-torch scripts/make_held_pass_fixture.py
The test reads only the committed files.
"""

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "held_pass"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4, eps=1e-3)
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1, bias=False)
        self.fc = nn.Linear(4 * 6 * 5, 4)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        r = self.b(F.relu(self.a(y)))
        y = F.relu(y + r)
        return self.fc(torch.flatten(y, 1))


net = Net()
with torch.no_grad():
    net.bn1.weight.uniform_(0.5, 1.5)
    net.bn1.bias.uniform_(-0.5, 0.5)
    # What the test loads is float32: compute from exactly those values.
    for p in net.parameters():
        p.copy_(p.float().double())
net.train()
x = torch.randn(2, 3, 6, 5).float().double().requires_grad_(True)
target = torch.randn(2, 4).float().double()
out = net(x)
loss = F.mse_loss(out, target)
loss.backward()

f32 = lambda t: t.detach().to(torch.float32).contiguous()
conv = lambda g: f32(g.permute(2, 3, 1, 0))  # [out, in, kh, kw] -> [kh, kw, in, out]
# Linear [out, c*h*w] -> [h*w*c, out]
fc = net.fc.weight.grad.reshape(4, 4, 6, 5).permute(2, 3, 1, 0).reshape(6 * 5 * 4, 4)
grads = {
    "x": f32(x.permute(0, 2, 3, 1)),
    "target": f32(target),
    "loss": f32(loss.reshape(1)),
    "output": f32(out),
    "dx": f32(x.grad.permute(0, 2, 3, 1)),
    "conv1.weight": conv(net.conv1.weight.grad),
    "conv1.bias": f32(net.conv1.bias.grad),
    "bn1.gamma": f32(net.bn1.weight.grad),
    "bn1.beta": f32(net.bn1.bias.grad),
    "res.a.weight": conv(net.a.weight.grad),
    "res.a.bias": f32(net.a.bias.grad),
    "res.b.weight": conv(net.b.weight.grad),
    "fc.weight": f32(fc),
    "fc.bias": f32(net.fc.bias.grad),
}
state = {k: f32(v) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
OUT.mkdir(parents=True, exist_ok=True)
save_file(state, str(OUT / "state_dict.safetensors"))
save_file(grads, str(OUT / "grads.safetensors"))
print("loss", loss.item())
