"""Exports torchvision's ResNet-18 or ResNet-50 as ONNX, for
examples/onnx_resnet.rs (docs/weights.md, "ONNX": torchvision's ResNet).

    python3 scripts/torchvision_to_onnx.py resnet50 out/tv            # pretrained weights (downloads them)
    python3 scripts/torchvision_to_onnx.py resnet18 out/tv --random   # random weights, no download

Writes OUT/<arch>.onnx with torch.onnx.export (the default exporter, which
folds batch norm into the convolutions; `--keep-batchnorm` uses the
TorchScript exporter without constant folding, which keeps the
BatchNormalization nodes), a dynamic batch, and for the example's
`--check OUT`: OUT/input.npy, two random normalised images [2, 3, 224, 224],
and OUT/output.npy, the softmax of the model's logits on them (our
declaration ends in Softmax). With `--random` the batch norms get random
statistics too, so that reading them wrong shows.

Needs torch, torchvision, onnx and onnxscript (pip install).
"""

import argparse
from pathlib import Path

import numpy as np
import torch
import torchvision


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("arch", choices=["resnet18", "resnet50"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--random", action="store_true", help="random weights instead of the pretrained ones")
    parser.add_argument("--keep-batchnorm", action="store_true", help="BatchNormalization nodes apart")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(weights=None if args.random else "DEFAULT")
    if args.random:
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 2.0)
    model.eval()

    path = args.out / f"{args.arch}.onnx"
    example = (torch.randn(1, 3, 224, 224),)
    if args.keep_batchnorm:
        torch.onnx.export(
            model, example, str(path), dynamo=False, do_constant_folding=False,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        )
    else:
        torch.onnx.export(
            model, example, str(path), input_names=["input"], output_names=["logits"],
            dynamic_shapes=({0: torch.export.Dim("N")},), external_data=False,
        )

    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)
    np.save(args.out / "input.npy", x.numpy().astype(np.float32))
    np.save(args.out / "output.npy", probs.numpy().astype(np.float32))
    print(f"wrote {path}, input.npy and output.npy (max probability {probs.max():.3f})")


if __name__ == "__main__":
    main()
