"""Builds the PyTorch fixture of tests/sequences.rs: the output and the
gradients of a mean squared error with respect to every parameter and to
the input, through a small 1D network: Conv1d, batch norm in training mode
(the batch's statistics), ReLU, a residual block whose body strides by 2
and whose shortcut is a strided 1x1 Conv1d with batch norm, global average
pooling and a Linear.

Writes into tests/fixtures/sequence/:
  state_dict.safetensors  the network's weights (PyTorch's names and layouts:
                          Conv1d [out, in, k])
  grads.safetensors       `x` [2, 11, 3] (batch, length, channels), `target`
                          [2, 3], `loss`, `output` [2, 3], `dx` [2, 11, 3],
                          and each parameter's gradient in *our* layout under
                          our tensor's name (Conv1d [1, k, c_in, c_out],
                          Linear [in, out])

Run: /root/.venvs/torch/bin/python scripts/make_sequence_fixture.py
The test reads only the committed files.
"""

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(24)
torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sequence"


class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(4, 6, 3, stride=2, padding=1)
        self.b = nn.Conv1d(6, 6, 1, bias=False)
        self.p = nn.Conv1d(4, 6, 1, stride=2)
        self.pbn = nn.BatchNorm1d(6, eps=1e-3)

    def forward(self, x):
        return self.b(F.relu(self.a(x))) + self.pbn(self.p(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(3, 4, 5, padding=2)
        self.bn1 = nn.BatchNorm1d(4, eps=1e-3)
        self.res = Res()
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.res(y))
        return self.fc(y.mean(dim=2))


net = Net()
with torch.no_grad():
    for bn in (net.bn1, net.res.pbn):
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    # What the test loads is float32: compute from exactly those values.
    for p in net.parameters():
        p.copy_(p.float().double())
net.train()
x = torch.randn(2, 3, 11).float().double().requires_grad_(True)
target = torch.randn(2, 3).float().double()
out = net(x)
loss = F.mse_loss(out, target)
loss.backward()

f32 = lambda t: t.detach().to(torch.float32).contiguous()
conv = lambda g: f32(g.permute(2, 1, 0).unsqueeze(0))  # [out, in, k] -> [1, k, in, out]
grads = {
    "x": f32(x.permute(0, 2, 1)),
    "target": f32(target),
    "loss": f32(loss.reshape(1)),
    "output": f32(out),
    "dx": f32(x.grad.permute(0, 2, 1)),
    "conv1.weight": conv(net.conv1.weight.grad),
    "conv1.bias": f32(net.conv1.bias.grad),
    "bn1.gamma": f32(net.bn1.weight.grad),
    "bn1.beta": f32(net.bn1.bias.grad),
    "res.a.weight": conv(net.res.a.weight.grad),
    "res.a.bias": f32(net.res.a.bias.grad),
    "res.b.weight": conv(net.res.b.weight.grad),
    "res.p.weight": conv(net.res.p.weight.grad),
    "res.p.bias": f32(net.res.p.bias.grad),
    "res.pbn.gamma": f32(net.res.pbn.weight.grad),
    "res.pbn.beta": f32(net.res.pbn.bias.grad),
    "fc.weight": f32(net.fc.weight.grad.t()),
    "fc.bias": f32(net.fc.bias.grad),
}
state = {k: f32(v) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
OUT.mkdir(parents=True, exist_ok=True)
save_file(state, str(OUT / "state_dict.safetensors"))
save_file(grads, str(OUT / "grads.safetensors"))
print("loss", loss.item())
