"""Makes the fixture of the style-transfer test (tests/style.rs), in
tests/fixtures/style/:

- net.safetensors: the state_dict of a small VGG-like network (an
  nn.Sequential called `features`: conv 3->8, relu, conv 8->8, relu, max
  pool, conv 8->16, relu, conv 16->16, relu, max pool, conv 16->32, relu;
  3x3 convolutions with padding 1), He-normal weights and small random
  biases from a fixed seed, saved as PyTorch saves it;
- costs.safetensors: three 64x64 RGB pictures in 0..1 (content C, style S,
  generated G = C + noise, clipped), stored NHWC `[1, 64, 64, 3]`; the
  course's costs with content layer features.8 (relu2_2) and style layers
  features.1, features.6, features.11 (relu1_1, relu2_1, relu3_1) weighted
  0.5, 0.3, 0.2: `J_content`, `J_style`, `J = 10 J_content + 40 J_style`,
  their gradients with respect to G (NHWC), and the Gram matrix of S at
  features.1.

The costs are the course's (week 4; docs/style.md):
J_content = 1/(4 nH nW nC) sum (a(C) - a(G))^2,
J_style[l] = 1/(2 nH nW nC)^2 sum (G(S) - G(G))^2, G = A^T A.
Everything is computed in float64 from the float32 values that are saved,
so the reference carries no float32 rounding of its own.

Run: /root/.venvs/torch/bin/python scripts/make_style_fixture.py
"""

import os

import torch
import torch.nn as nn
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "style")
CONTENT = "features.8"
STYLE = [("features.1", 0.5), ("features.6", 0.3), ("features.11", 0.2)]
ALPHA, BETA = 10.0, 40.0


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        cfg, layers, cin = [8, 8, "M", 16, 16, "M", 32], [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)

    def taps(self, x):
        out = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            out[f"features.{i}"] = x
        return out


def gram(a):
    # a: [1, c, h, w] -> [c, c]
    _, c, h, w = a.shape
    f = a.reshape(c, h * w)
    return f @ f.T


def content_cost(ac, ag):
    _, c, h, w = ac.shape
    return ((ac - ag) ** 2).sum() / (4 * h * w * c)


def style_cost(gs, ag):
    _, c, h, w = ag.shape
    return ((gs - gram(ag)) ** 2).sum() / (2 * h * w * c) ** 2


def nhwc(x):
    return x.permute(0, 2, 3, 1).contiguous()


def main():
    torch.manual_seed(2015)  # Gatys et al.'s year
    net = Net()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.uniform_(m.bias, -0.1, 0.1)
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, os.path.join(OUT, "net.safetensors"))

    g = torch.Generator().manual_seed(4)
    content = torch.rand(1, 3, 64, 64, generator=g)
    style = torch.rand(1, 3, 64, 64, generator=g)
    generated = (content + (torch.rand(1, 3, 64, 64, generator=g) - 0.5) * 0.5).clamp(0, 1)

    net64 = Net().double()
    net64.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    with torch.no_grad():
        tc = net64.taps(content.double())[CONTENT]
        ts = {k: gram(v) for k, v in net64.taps(style.double()).items() if k in dict(STYLE)}
    out = {}
    for name in ["content", "style", "total"]:
        x = generated.double().clone().requires_grad_(True)
        t = net64.taps(x)
        jc = content_cost(tc, t[CONTENT])
        js = sum(w * style_cost(ts[k], t[k]) for k, w in STYLE)
        j = {"content": jc, "style": js, "total": ALPHA * jc + BETA * js}[name]
        j.backward()
        out[f"j_{name}"] = j.detach().float().reshape(1)
        out[f"grad_{name}"] = nhwc(x.grad).float()
    out["content"] = nhwc(content)
    out["style"] = nhwc(style)
    out["generated"] = nhwc(generated)
    out["gram_style_features.1"] = ts["features.1"].float()
    save_file(out, os.path.join(OUT, "costs.safetensors"))
    for k in ["j_content", "j_style", "j_total"]:
        print(k, out[k].item())


if __name__ == "__main__":
    main()
