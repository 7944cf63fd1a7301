"""The state_dict keys and shapes of torchvision's models, for cnn::models.

For each model of the zoo, writes tests/fixtures/models/<name>.txt: a
first line `# trainable <count>` (the sum of numel over the parameters
that require a gradient, torchvision's published figure) and one line per
state_dict entry, `<key> <d0>x<d1>x..` (scalars as `-`). No weights are
downloaded: the models are built with `weights=None`. cnn-macros's test
`models` matches every one of our tensors of each model, after PyTorch's
layout conversion, to these keys one to one.

Run: python scripts/make_model_keys.py   (torch and torchvision)
"""

import os

import torch
import torchvision.models as tvm

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "models")

MODELS = {
    "alexnet": lambda: tvm.alexnet(),
    "vgg11": lambda: tvm.vgg11(),
    "vgg16": lambda: tvm.vgg16(),
    "vgg19": lambda: tvm.vgg19(),
    "vgg16_bn": lambda: tvm.vgg16_bn(),
    "resnet18": lambda: tvm.resnet18(),
    "resnet34": lambda: tvm.resnet34(),
    "resnet50": lambda: tvm.resnet50(),
    "resnet101": lambda: tvm.resnet101(),
    "resnet152": lambda: tvm.resnet152(),
    "resnext50_32x4d": lambda: tvm.resnext50_32x4d(),
    "wide_resnet50_2": lambda: tvm.wide_resnet50_2(),
    "googlenet": lambda: tvm.googlenet(aux_logits=False, init_weights=True),
    "googlenet_aux": lambda: tvm.googlenet(aux_logits=True, init_weights=True),
    "inception_v3": lambda: tvm.inception_v3(aux_logits=False, init_weights=True),
    "inception_v3_aux": lambda: tvm.inception_v3(aux_logits=True, init_weights=True),
    "mobilenet_v2": lambda: tvm.mobilenet_v2(),
    "mobilenet_v3_small": lambda: tvm.mobilenet_v3_small(),
    "mobilenet_v3_large": lambda: tvm.mobilenet_v3_large(),
    "efficientnet_b0": lambda: tvm.efficientnet_b0(),
    "densenet121": lambda: tvm.densenet121(),
    "squeezenet1_1": lambda: tvm.squeezenet1_1(),
    "regnet_y_400mf": lambda: tvm.regnet_y_400mf(),
    "convnext_tiny": lambda: tvm.convnext_tiny(),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    for name, make in MODELS.items():
        model = make()
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        lines = [f"# trainable {trainable}"]
        for key, t in model.state_dict().items():
            shape = "x".join(str(d) for d in t.shape) or "-"
            lines.append(f"{key} {shape}")
        with open(os.path.join(OUT, f"{name}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{name}: {trainable:,} trainable, {len(lines) - 1} tensors")


if __name__ == "__main__":
    main()
