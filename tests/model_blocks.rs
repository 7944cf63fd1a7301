//! The zoo's blocks against torchvision's own block classes: a MobileNet
//! v2 inverted residual, an EfficientNet-B0 MBConv (SiLU, its
//! squeeze-and-excitation gate, the shortcut), two DenseNet-121 dense
//! layers and a transition, and a ConvNeXt block (its layer scale), each
//! declared with `cnn::models`' templates at reduced width. torchvision's
//! `state_dict` goes in through `load_pytorch` unchanged; then `predict`
//! must give torchvision's eval-mode output (running statistics), and a
//! training-mode pass its output (batch statistics) and the gradients of
//! `loss = sum(output * r)` with respect to the input and every trainable
//! parameter. The fixtures are `tests/fixtures/blocks/`, made by
//! `scripts/make_block_fixtures.py`; torchvision's gradients, saved in
//! PyTorch's layout under its keys, are brought to ours by `load_pytorch`
//! too, into a second network, and compared tensor by tensor.

use std::path::PathBuf;

use cnn::ndarray::{Array4, ArrayView4};
use cnn::pass::{Grads, Mode};
use cnn::prelude::*;

network! {
    /// torchvision's `InvertedResidual(8, 8, stride=1, expand_ratio=6)`.
    struct MobileNetBlock {
        input: [12, 12, 8],
        layers: cnn::models::InvertedResidual { hidden: 48, filters: 8, stride: 1, residual: true },
    }

    /// torchvision's `MBConv(MBConvConfig(6, 5, 1, 8, 8, 1))`: hidden
    /// `8 * 6`, squeeze `8 // 4`.
    struct EfficientNetBlock {
        input: [12, 12, 8],
        layers: cnn::models::MBConv { hidden: 48, kernel: 5, filters: 8, stride: 1, squeeze: 2, residual: true },
    }

    /// torchvision's `_DenseBlock(2, 16, bn_size=4, growth_rate=8)` and
    /// `_Transition(32, 16)`, as `denseblock` and `transition`.
    struct DenseNetBlock {
        input: [8, 8, 16],
        layers: [
            denseblock: Sequential { layers: [
                denselayer1: cnn::models::DenseLayer { growth: 8 },
                denselayer2: cnn::models::DenseLayer { growth: 8 },
            ] },
            transition: cnn::models::Transition { filters: 16 },
        ],
    }

    /// torchvision's `CNBlock(16, layer_scale=1e-6, stochastic_depth_prob=0)`.
    struct ConvNextBlock {
        input: [10, 10, 16],
        layers: cnn::models::CNBlock { dim: 16 },
    }
}

fn fixture(name: &str) -> PathBuf {
    crate::common::fixture("blocks", name)
}

/// Element by element, `|ours - theirs| <= 1e-4 * max(|theirs|, rms)`,
/// `rms` the root mean square of `theirs`: relative, except where a value
/// is small next to the others (a sum that nearly cancels), where it is
/// relative to the tensor's scale. f32 against PyTorch's f64.
fn assert_close(what: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    let rms = (theirs.iter().map(|v| (v * v) as f64).sum::<f64>() / theirs.len().max(1) as f64)
        .sqrt() as f32;
    assert!(rms > 0.0, "{what}: torchvision's values are all zero");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * b.abs().max(rms),
            "{what}[{i}]: ours {a}, torchvision {b} (rms {rms})"
        );
    }
}

/// `x` of the fixture as `[n, h, w, c]`.
fn images(file: &cnn::io::Checkpoint, name: &str) -> Array4<f32> {
    let (shape, values) = file.tensor(name).unwrap();
    Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), values).unwrap()
}

/// Loads torchvision's state_dict `<name>_state_dict.safetensors` into
/// `$ty`, then checks `predict` against the eval-mode output, and a
/// training-mode pass's output, input gradient and parameter gradients
/// against `<name>.safetensors`.
macro_rules! check_block {
    ($ty:ty, $name:expr) => {{
        let name: &str = $name;
        let mut net = <$ty>::new(1);
        let report = net
            .load_pytorch(fixture(&format!("{name}_state_dict.safetensors")), |k| {
                Some(k.to_string())
            })
            .unwrap();
        // Every tensor of ours from the file; only the counters left over.
        assert!(report.is_complete(), "{name}: {report}");
        assert!(
            report
                .unused
                .iter()
                .all(|k| k.ends_with(".num_batches_tracked")),
            "{name}: {report}"
        );
        let file = cnn::io::load(&fixture(&format!("{name}.safetensors"))).unwrap();
        let x = images(&file, "x");
        let r = images(&file, "r");

        let predicted = net.predict(x.view()).unwrap();
        assert_close(
            &format!("{name}: eval output"),
            predicted.as_slice().unwrap(),
            &file.tensor("eval").unwrap().1,
        );

        let mut pass = net.forward(x.view(), Mode::Train).unwrap();
        let output: ArrayView4<f32> = pass.output();
        assert_close(
            &format!("{name}: train output"),
            output.as_standard_layout().as_slice().unwrap(),
            &file.tensor("train").unwrap().1,
        );
        pass.backward(Grads::new().output(r.view()).input())
            .unwrap();
        assert_close(
            &format!("{name}: dx"),
            pass.input_grad()
                .unwrap()
                .as_standard_layout()
                .as_slice()
                .unwrap(),
            &file.tensor("dx").unwrap().1,
        );
        drop(pass);

        // torchvision's gradients, in our layout: loaded as weights.
        let mut theirs = <$ty>::new(2);
        theirs.params_mut().fill(f32::NAN);
        theirs
            .load_pytorch(fixture(&format!("{name}.safetensors")), |k| {
                k.strip_prefix("grad.").map(str::to_string)
            })
            .unwrap();
        let mut checked = 0;
        for t in <$ty>::TENSORS.iter().filter(|t| t.trainable) {
            assert_close(
                &format!("{name}: d {}", t.name),
                &net.grads()[t.range()],
                &theirs.params()[t.range()],
            );
            checked += 1;
        }
        checked
    }};
}

#[test]
fn mobilenet_v2_inverted_residual_is_torchvisions() {
    // Expansion, depthwise and projection weights; three batch norms.
    assert_eq!(check_block!(MobileNetBlock, "mobilenet_v2"), 3 + 3 * 2);
}

#[test]
fn efficientnet_mbconv_is_torchvisions() {
    // Three convolutions and batch norms, the gate's fc1 and fc2.
    assert_eq!(
        check_block!(EfficientNetBlock, "efficientnet"),
        3 + 3 * 2 + 4
    );
}

#[test]
fn densenet_dense_layers_and_transition_are_torchvisions() {
    // Two layers of two convolutions and two batch norms; a transition's
    // convolution and batch norm.
    assert_eq!(
        check_block!(DenseNetBlock, "densenet"),
        2 * (2 + 2 * 2) + 1 + 2
    );
}

#[test]
fn convnext_block_is_torchvisions() {
    // Three convolutions with biases, the layer norm, the layer scale.
    assert_eq!(check_block!(ConvNextBlock, "convnext"), 3 * 2 + 2 + 1);
}
