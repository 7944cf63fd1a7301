"""Builds the PyTorch fixture of tests/norms.rs: the output, and the
gradients of a mean squared error with respect to every parameter and to
the input, through nn.GroupNorm, torchvision's SqueezeExcitation (fc1 and
fc2 as 1x1 convolutions) and ConvNeXt's channels-last nn.LayerNorm.

Writes into tests/fixtures/norms/:
  state_dict.safetensors  the network's weights (PyTorch's names and layouts)
  model.onnx              the network in float32, exported with the
                          TorchScript exporter at opset 17 (GroupNorm as
                          InstanceNormalization + Mul + Add, LayerNorm as
                          LayerNormalization between Transposes)
  grads.safetensors       `x` [2, 6, 5, 4] (NHWC), `target` [2, 3], `loss`,
                          `output` [2, 3], `dx` [2, 6, 5, 4] (NHWC), and each
                          parameter's gradient in *our* layout, under our
                          tensor's name (conv [fh, fw, c_in, c_out], Linear
                          [in, out] with the input in (h, w, c) order, norms'
                          weight and bias as gamma and beta)

Run: /root/.venvs/torch/bin/python scripts/make_norms_fixture.py
The test reads only the committed files.
"""

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(25)
torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "norms"


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation, written out (same names)."""

    def __init__(self, c, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return s * x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 8, 3, padding=1)
        self.gn = nn.GroupNorm(4, 8)
        self.se = SqueezeExcitation(8, 2)
        self.ln = nn.LayerNorm(8, eps=1e-6)
        self.fc = nn.Linear(8 * 6 * 5, 3)

    def forward(self, x):
        y = F.relu(self.gn(self.conv1(x)))
        y = self.se(y)
        # ConvNeXt's LayerNorm: over the channels of each position.
        y = self.ln(y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.fc(torch.flatten(y, 1))


net = Net()
with torch.no_grad():
    for norm in (net.gn, net.ln):
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    # What the test loads is float32: compute from exactly those values.
    for p in net.parameters():
        p.copy_(p.float().double())
x = (2.0 + torch.randn(2, 4, 6, 5)).float().double().requires_grad_(True)
target = torch.randn(2, 3).float().double()
out = net(x)
loss = F.mse_loss(out, target)
loss.backward()

f32 = lambda t: t.detach().to(torch.float32).contiguous()
conv = lambda g: f32(g.permute(2, 3, 1, 0))  # [out, in, kh, kw] -> [kh, kw, in, out]
# Linear [out, c*h*w] -> [h*w*c, out]
fc = net.fc.weight.grad.reshape(3, 8, 6, 5).permute(2, 3, 1, 0).reshape(6 * 5 * 8, 3)
grads = {
    "x": f32(x.permute(0, 2, 3, 1)),
    "target": f32(target),
    "loss": f32(loss.reshape(1)),
    "output": f32(out),
    "dx": f32(x.grad.permute(0, 2, 3, 1)),
    "conv1.weight": conv(net.conv1.weight.grad),
    "conv1.bias": f32(net.conv1.bias.grad),
    "gn.gamma": f32(net.gn.weight.grad),
    "gn.beta": f32(net.gn.bias.grad),
    "se.fc1.weight": conv(net.se.fc1.weight.grad),
    "se.fc1.bias": f32(net.se.fc1.bias.grad),
    "se.fc2.weight": conv(net.se.fc2.weight.grad),
    "se.fc2.bias": f32(net.se.fc2.bias.grad),
    "ln.gamma": f32(net.ln.weight.grad),
    "ln.beta": f32(net.ln.bias.grad),
    "fc.weight": f32(fc),
    "fc.bias": f32(net.fc.bias.grad),
}
state = {k: f32(v) for k, v in net.state_dict().items()}
OUT.mkdir(parents=True, exist_ok=True)
save_file(state, str(OUT / "state_dict.safetensors"))
save_file(grads, str(OUT / "grads.safetensors"))
net = net.float().eval()
torch.onnx.export(
    net,
    (x.detach().float(),),
    str(OUT / "model.onnx"),
    opset_version=17,
    dynamo=False,
    input_names=["input"],
    output_names=["output"],
    dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
)
print("loss", loss.item())
