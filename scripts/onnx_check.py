"""Runs models exported by `export_onnx` in ONNX Runtime and compares their
outputs with what `predict` returned on the same inputs.

Each directory under DIR (the example `onnx_export` writes them) holds
model.onnx, input.npy (NCHW float32, NCDHW for a volume, or [n, features])
and output.npy (predict's [n, outputs]); labels.npy where there are labels.
For each model:

- where the `onnx` package is installed, onnx.checker (full check, with
  shape inference) must accept the model;
- its input must be float32 with a symbolic batch dimension;
- ONNX Runtime (CPU) on the whole batch, and on the first example alone
  (the dynamic batch), must match predict within 1e-5: |ort - ours| <=
  1e-5 * max(1, |ours|), absolute for outputs up to 1, relative above;
- predict's outputs must vary (their spread across outputs at least 100
  times the tolerance), or matching them would prove little.

Prints one line per model, then `N passed, M failed`; exits 1 if any model
failed or none was found.

    python3 scripts/onnx_check.py out/onnx
"""

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

TOLERANCE = 1e-5


def check(directory):
    model = directory / "model.onnx"
    x = np.load(directory / "input.npy")
    ours = np.load(directory / "output.npy")
    notes = []
    try:
        import onnx
    except ImportError:
        notes.append("onnx.checker skipped (no onnx package)")
    else:
        onnx.checker.check_model(onnx.load(str(model)), full_check=True)
        notes.append("onnx.checker ok")

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    if inp.type != "tensor(float)" or isinstance(inp.shape[0], int):
        raise AssertionError(f"input {inp.name} is {inp.type} {inp.shape}, not float with a symbolic batch")
    if list(inp.shape[1:]) != list(x.shape[1:]):
        raise AssertionError(f"input shape {inp.shape} does not take input.npy's {list(x.shape)}")

    worst = 0.0
    for batch in (x, x[:1]):
        (theirs,) = session.run([out.name], {inp.name: batch})
        expected = ours[: len(batch)]
        if theirs.shape != expected.shape:
            raise AssertionError(f"output {theirs.shape} where predict gave {expected.shape}")
        excess = np.abs(theirs - expected) / np.maximum(1.0, np.abs(expected))
        worst = max(worst, float(excess.max()))
    diff = float(np.abs(session.run([out.name], {inp.name: x})[0] - ours).max())
    spread = float(ours.std(axis=1).mean())
    if spread < 100 * TOLERANCE:
        raise AssertionError(f"predict's outputs hardly vary (spread {spread:.1e}): nothing to compare")
    line = (
        f"{directory.name}: input {inp.name} {inp.shape}, batches {len(x)} and 1; "
        f"max |ort - predict| = {diff:.1e}, scaled {worst:.1e} (tolerance {TOLERANCE:.0e}, "
        f"outputs' spread {spread:.1e}); "
        + ", ".join(notes)
    )
    labels = directory / "labels.npy"
    if labels.exists():
        y = np.load(labels).astype(np.int64)
        (theirs,) = session.run([out.name], {inp.name: x})
        line += f"; accuracy {np.mean(theirs.argmax(1) == y) * 100:.1f}% (ort) and {np.mean(ours.argmax(1) == y) * 100:.1f}% (predict)"
    return worst <= TOLERANCE, line


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = Path(sys.argv[1])
    dirs = sorted(p.parent for p in root.glob("*/model.onnx"))
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}: {len(dirs)} models under {root}")
    passed = failed = 0
    for d in dirs:
        try:
            ok, line = check(d)
        except Exception as e:  # any failure of one model is reported, and the others still run
            ok, line = False, f"{d.name}: {type(e).__name__}: {e}"
        print(("ok     " if ok else "FAILED ") + line)
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 0 if passed > 0 and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
