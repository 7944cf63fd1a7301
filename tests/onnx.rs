//! ONNX in and out through the generated methods (feature `onnx`):
//!
//! - a network with every construct (grouped and depthwise convolutions,
//!   folded and standalone batch norms, residuals, a concatenation, 'same'
//!   pools, an aux head, a flatten before a dense layer) comes back from
//!   its own export with the same weights and the same predictions;
//! - `tests/fixtures/onnx/` holds a small PyTorch network exported with
//!   `torch.onnx.export` twice (batch norm folded into the convolutions by
//!   the default exporter, and kept as BatchNormalization nodes), with
//!   PyTorch's outputs: the same network declared here reproduces them
//!   from either file (`make_fixture.py` made them);
//! - dilated convolutions come back too, and a declaration without their
//!   dilation refuses the file;
//! - transposed convolutions and upsampling come back from their own
//!   export (a batch norm folded into one, an output padding at the
//!   stride), a declaration with another output padding refuses the file,
//!   and PyTorch's own export of `tests/transpose.rs`'s `Image`
//!   (`scripts/make_transpose_fixture.py`) loads and reproduces its output;
//! - files that do not fit (another declaration, not ONNX, cut short,
//!   bit-flipped) are errors naming the file, the node and the layer, and
//!   leave the weights as they were.
//!
//! That the exported models compute what `predict` does is checked by
//! ONNX Runtime in `.ci/run` (`scripts/onnx_check.py`). Networks on
//! volumes are in `onnx/volumes.rs`.

use crate::one_shot_example::nets as one_shot_nets;

// Networks on volumes (`onnx::volumes::..`, so `onnx::` selects them too).
mod volumes;

use std::path::{Path, PathBuf};

use crate::common::images;
use cnn::ndarray::{Array2, Array4};
use cnn::network;

network! {
    block Unit(filters, stride: 1) = [
        Residual {
            body: [
                c1: Conv2d { filters: filters, kernel: 3, stride: stride, padding: 1, bias: false },
                bn1: BatchNorm,
                Relu,
                c2: Conv2d { filters: filters, kernel: 3, padding: same, groups: 2 },
                bn2: BatchNorm,
            ],
            shortcut: if stride != 1 { [p: Conv2d { filters: filters, kernel: 1, stride: stride }] } else { [] },
        },
        Relu,
    ];

    struct Everything {
        input: [12, 11, 3],
        layers: [
            stem: Conv2d { filters: 4, kernel: 3, padding: same },
            stem_bn: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            u1: Unit { filters: 4 },
            aux: AuxHead { weight: 0.3, layers: [GlobalAvgPool, Dense { units: 3 }, Softmax] },
            u2: Unit { filters: 6, stride: 2 },
            inc: Concat { branches: [
                [Conv2d { filters: 2, kernel: 1 }, Tanh],
                [MaxPool2d { size: 3, stride: 1, padding: same }],
                [AvgPool2d { size: 2, stride: 1, padding: same }, DepthwiseConv2d { kernel: 3, padding: same }],
            ] },
            BatchNorm,
            Sigmoid,
            MaxPool2d { size: 2 },
            Flatten,
            Dropout { rate: 0.3 },
            d1: Dense { units: 7 },
            Relu,
            d2: Dense { units: 3 },
            Softmax,
        ],
    }

    /// Dilated dense, depthwise and grouped convolutions, and the same
    /// layers undilated (the same shapes: every padding is `same`).
    struct Dilated {
        input: [10, 9, 4],
        layers: [
            d1: Conv2d { filters: 6, kernel: 3, dilation: 3, padding: same },
            bn: BatchNorm,
            Relu,
            dw: DepthwiseConv2d { kernel: 3, dilation: [2, 1], stride: 2, padding: same },
            g: Conv2d { filters: 4, kernel: 2, dilation: 2, groups: 2, padding: same },
            GlobalAvgPool,
            fc: Dense { units: 3 },
        ],
    }
    struct Undilated {
        input: [10, 9, 4],
        layers: [
            d1: Conv2d { filters: 6, kernel: 3, padding: same },
            bn: BatchNorm,
            Relu,
            dw: DepthwiseConv2d { kernel: 3, stride: 2, padding: same },
            g: Conv2d { filters: 4, kernel: 2, groups: 2, padding: same },
            GlobalAvgPool,
            fc: Dense { units: 3 },
        ],
    }

    /// Transposed convolutions (one with a batch norm after it, one whose
    /// output padding is at the stride, below the dilation), upsampling.
    struct Decoder {
        input: [5, 4, 3],
        layers: [
            up: ConvTranspose2d { filters: 6, kernel: 3, stride: 2, padding: 1, output_padding: 1 },
            bn: BatchNorm,
            Relu,
            g: ConvTranspose2d { filters: 4, kernel: 3, dilation: 2, padding: 2, output_padding: 1, groups: 2 },
            Upsample { scale: 2, mode: bilinear },
            Upsample { scale: [1, 2] },
            GlobalAvgPool,
            fc: Dense { units: 3 },
        ],
    }
    struct DecoderWithoutOutputPadding {
        input: [5, 4, 3],
        layers: [
            up: ConvTranspose2d { filters: 6, kernel: 3, stride: 2, padding: 1, output_padding: [1, 0] },
            bn: BatchNorm,
            Relu,
            g: ConvTranspose2d { filters: 4, kernel: 3, dilation: 2, padding: 2, output_padding: 1, groups: 2 },
            Upsample { scale: 2, mode: bilinear },
            Upsample { scale: [1, 2] },
            GlobalAvgPool,
            fc: Dense { units: 3 },
        ],
    }

    /// A batch norm on a flattened image, an addition of one.
    struct AfterFlatten {
        input: [6, 5, 2],
        layers: [
            Conv2d { filters: 3, kernel: 3, padding: same },
            Flatten,
            BatchNorm,
            Relu,
            res: Residual { body: [Flatten, Dense { units: 90 }], shortcut: [Flatten] },
            Dense { units: 4 },
            Softmax,
        ],
    }

    /// make_fixture.py's `Net`; names do not matter to the ONNX import.
    struct TorchNet {
        input: [10, 8, 3],
        layers: [
            conv1: Conv2d { filters: 8, kernel: 3, padding: 1 },
            Relu,
            conv2: Conv2d { filters: 8, kernel: 3, padding: 1, bias: false },
            bn2: BatchNorm { epsilon: 0.00001 },
            Relu,
            layer1: Residual {
                body: [
                    conv1: Conv2d { filters: 12, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 12, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
                shortcut: [downsample: Sequential { layers: [
                    Conv2d { filters: 12, kernel: 1, stride: 2, bias: false },
                    BatchNorm { epsilon: 0.00001 },
                ] }],
            },
            Relu,
            Flatten,
            fc: Dense { units: 10 },
        ],
    }

    /// TorchNet with Keras's batch norm epsilon (1e-3, the default).
    struct TorchNetKerasEpsilon {
        input: [10, 8, 3],
        layers: [
            conv1: Conv2d { filters: 8, kernel: 3, padding: 1 },
            Relu,
            conv2: Conv2d { filters: 8, kernel: 3, padding: 1, bias: false },
            bn2: BatchNorm,
            Relu,
            layer1: Residual {
                body: [
                    conv1: Conv2d { filters: 12, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 12, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
                shortcut: [downsample: Sequential { layers: [
                    Conv2d { filters: 12, kernel: 1, stride: 2, bias: false },
                    BatchNorm,
                ] }],
            },
            Relu,
            Flatten,
            fc: Dense { units: 10 },
        ],
    }

    /// TorchNet with 16 filters where PyTorch's layer1.conv1 has 12.
    struct TorchNetWider {
        input: [10, 8, 3],
        layers: [
            conv1: Conv2d { filters: 8, kernel: 3, padding: 1 },
            Relu,
            conv2: Conv2d { filters: 8, kernel: 3, padding: 1, bias: false },
            bn2: BatchNorm { epsilon: 0.00001 },
            Relu,
            layer1: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 12, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
                shortcut: [downsample: Sequential { layers: [
                    Conv2d { filters: 12, kernel: 1, stride: 2, bias: false },
                    BatchNorm { epsilon: 0.00001 },
                ] }],
            },
            Relu,
            Flatten,
            fc: Dense { units: 10 },
        ],
    }

    /// TorchNet with its dense layer before the last convolution's batch
    /// norm: a Gemm comes where the declaration has a batch norm.
    struct TorchNetShort {
        input: [10, 8, 3],
        layers: [
            conv1: Conv2d { filters: 8, kernel: 3, padding: 1 },
            Relu,
            conv2: Conv2d { filters: 8, kernel: 3, padding: 1, bias: false },
            bn2: BatchNorm { epsilon: 0.00001 },
            Relu,
            Flatten,
            fc: Dense { units: 10 },
        ],
    }
}

fn fixture(name: &str) -> PathBuf {
    crate::common::fixture("onnx", name)
}

fn temp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("onnx-{}-{name}", std::process::id()))
}

/// The inputs (NHWC) and PyTorch's outputs.
fn inputs_outputs() -> (Array4<f32>, Array2<f32>) {
    let file = cnn::io::load(&fixture("inputs_outputs.safetensors")).unwrap();
    let (shape, x) = file.tensor("x").unwrap();
    let x = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), x).unwrap();
    let (shape, y) = file.tensor("logits").unwrap();
    let y = Array2::from_shape_vec((shape[0], shape[1]), y).unwrap();
    (x, y)
}

fn max_diff(ours: &Array2<f32>, theirs: &Array2<f32>) -> f32 {
    assert_eq!(ours.shape(), theirs.shape());
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// Moving statistics away from their initial values, so that a batch norm
/// read back wrong shows.
pub(crate) fn stir(params: &mut [f32], tensors: &[cnn::net::TensorInfo]) {
    for t in tensors {
        let v = &mut params[t.range()];
        if t.name.ends_with("moving_variance") {
            v.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.5 + 0.1 * i as f32);
        } else if t.name.ends_with("moving_mean") || t.name.ends_with("beta") {
            v.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.05 * i as f32 - 0.1);
        }
    }
}

/// `$net::new($seed)` with stirred weights, exported to `temp($file)` and
/// read back with `from_onnx`: every weight comes back bit for bit and,
/// given an input `$x`, predicts the same. Gives the file.
macro_rules! round_trip {
    ($net:ty, $seed:expr, $file:expr $(, $x:expr)?) => {{
        let mut net = <$net>::new($seed);
        stir(net.params_mut(), <$net>::TENSORS);
        let path = temp($file);
        net.export_onnx(&path).unwrap();
        let back = <$net>::from_onnx(&path).unwrap();
        assert_eq!(back.params(), net.params());
        $(
            let x = $x;
            assert_eq!(back.predict(x.view()).unwrap(), net.predict(x.view()).unwrap());
        )?
        path
    }};
}

#[test]
fn a_network_comes_back_from_its_own_export() {
    let mut net = Everything::new(3);
    stir(net.params_mut(), Everything::TENSORS);
    let path = temp("everything.onnx");
    net.export_onnx(&path).unwrap();
    let back = Everything::from_onnx(&path).unwrap();
    // Every tensor predict reads comes back bit for bit; the aux head's are
    // not in the model, so they are new(0)'s.
    let fresh = Everything::new(0);
    for t in Everything::TENSORS {
        let want = if t.name.starts_with("aux.") {
            fresh.tensor(t.name)
        } else {
            net.tensor(t.name)
        };
        assert_eq!(back.tensor(t.name), want, "{}", t.name);
    }
    let x = images(3, 12, 11, 3, 9);
    assert_eq!(
        back.predict(x.view()).unwrap(),
        net.predict(x.view()).unwrap()
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn the_one_shot_encoder_exports_like_any_other_network() {
    use one_shot_nets::Encoder;
    let path = round_trip!(
        Encoder,
        6,
        "one-shot-encoder.onnx",
        images(2, 32, 32, 1, 10)
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn dilated_convolutions_come_back_and_an_undilated_declaration_refuses_them() {
    let path = round_trip!(Dilated, 7, "dilated.onnx", images(2, 10, 9, 4, 11));
    let mut plain = Undilated::new(1);
    let err = refused(
        &mut plain,
        &path,
        |n, p| n.load_onnx(p),
        |n| n.params().to_vec(),
    );
    assert!(
        err.ends_with("node d1: dilations 3x3, but d1 has dilation 1x1"),
        "{err}"
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn transposed_convolutions_and_upsampling_come_back() {
    let path = round_trip!(Decoder, 7, "decoder.onnx", images(2, 5, 4, 3, 12));
    let mut other = DecoderWithoutOutputPadding::new(1);
    let err = refused(
        &mut other,
        &path,
        |n, p| n.load_onnx(p),
        |n| n.params().to_vec(),
    );
    assert!(
        err.contains("node up: kernel [3, 3], strides [2, 2], dilations [1, 1], pads [1, 1, 1, 1] and output_padding [1, 1], but up has"),
        "{err}"
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn pytorchs_export_of_transposed_convolutions_and_upsampling_loads() {
    let file = crate::common::fixture("transpose", "image.onnx");
    let net = crate::transpose::Image::from_onnx(&file).unwrap();
    let grads = cnn::io::load(&crate::common::fixture(
        "transpose",
        "image_grads.safetensors",
    ))
    .unwrap();
    let (shape, x) = grads.tensor("x").unwrap();
    let x = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), x).unwrap();
    let ours = net.predict(x.view()).unwrap();
    crate::common::assert_close(
        "predict from PyTorch's ONNX",
        ours.as_slice().unwrap(),
        &grads.tensor("output").unwrap().1,
        1e-5,
    );
}

#[test]
fn a_batch_norm_on_a_flattened_image_comes_back() {
    let path = round_trip!(AfterFlatten, 5, "after-flatten.onnx");
    std::fs::remove_file(&path).ok();
}

#[test]
fn pytorch_exports_load_with_batch_norm_folded_or_not() {
    let (x, expected) = inputs_outputs();
    for file in ["folded.onnx", "batchnorm.onnx"] {
        let net = TorchNet::from_onnx(fixture(file)).unwrap();
        let diff = max_diff(&net.predict(x.view()).unwrap(), &expected);
        // make_fixture.py: ONNX Runtime on these files is 4e-7 from PyTorch.
        assert!(diff < 1e-5, "{file}: max |ours - pytorch| = {diff}");
    }
}

#[test]
fn another_batch_norm_epsilon_is_taken_into_account() {
    let (x, expected) = inputs_outputs();
    let net = TorchNetKerasEpsilon::from_onnx(fixture("batchnorm.onnx")).unwrap();
    let diff = max_diff(&net.predict(x.view()).unwrap(), &expected);
    assert!(diff < 1e-5, "max |ours - pytorch| = {diff}");
}

/// The error of loading `path` into `net`, after which its weights must
/// be unchanged.
pub(crate) fn refused<N>(
    net: &mut N,
    path: &Path,
    load: fn(&mut N, &Path) -> cnn::Result<()>,
    params: fn(&N) -> Vec<f32>,
) -> String {
    let before = params(net);
    let err = load(net, path)
        .expect_err("the load should fail")
        .to_string();
    assert_eq!(
        params(net),
        before,
        "weights changed by a failed load: {err}"
    );
    err
}

#[test]
fn a_declaration_that_does_not_fit_is_an_error_naming_node_and_layer() {
    let mut wider = TorchNetWider::new(1);
    let err = refused(
        &mut wider,
        &fixture("batchnorm.onnx"),
        |n, p| n.load_onnx(p),
        |n| n.params().to_vec(),
    );
    assert_eq!(
        err,
        format!(
            "{}: node /layer1/conv1/Conv: weight 12x8x3x3 does not fit layer1.conv1, which takes \
             3x3x8 -> 16 (16x8x3x3 in ONNX's layout)",
            fixture("batchnorm.onnx").display()
        )
    );
    let mut short = TorchNetShort::new(1);
    let err = refused(
        &mut short,
        &fixture("batchnorm.onnx"),
        |n, p| n.load_onnx(p),
        |n| n.params().to_vec(),
    );
    assert!(
        err.ends_with(
            "node /layer1/conv1/Conv: a Conv where the declaration has fc, a dense layer; \
             the layers with weights must come in the same order in both"
        ),
        "{err}"
    );
}

#[test]
fn bad_files_are_errors_and_change_nothing() {
    let mut net = TorchNet::new(1);
    let load = |n: &mut TorchNet, p: &Path| n.load_onnx(p);
    let params = |n: &TorchNet| n.params().to_vec();
    let missing = refused(&mut net, &temp("missing.onnx"), load, params);
    assert!(missing.contains("missing.onnx"), "{missing}");
    // A safetensors file is not ONNX.
    let err = refused(
        &mut net,
        &fixture("inputs_outputs.safetensors"),
        load,
        params,
    );
    assert!(
        err.contains("inputs_outputs.safetensors: not an ONNX model"),
        "{err}"
    );

    let good = std::fs::read(fixture("batchnorm.onnx")).unwrap();
    let path = temp("bad.onnx");
    // Cut short anywhere (every 97th length, and the last bytes).
    let cuts = (0..good.len())
        .step_by(97)
        .chain(good.len() - 8..good.len());
    for len in cuts {
        std::fs::write(&path, &good[..len]).unwrap();
        let err = refused(&mut net, &path, load, params);
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }
    // A flipped bit (one per 7 bytes, a different bit each time): an error
    // that changes nothing, or weights read; never a panic.
    let (mut errors, mut loaded) = (0, 0);
    for i in (0..good.len()).step_by(7) {
        let mut b = good.clone();
        b[i] ^= 1 << (i % 8);
        std::fs::write(&path, &b).unwrap();
        let before = net.params().to_vec();
        match net.load_onnx(&path) {
            Err(_) => {
                assert_eq!(net.params(), &before[..]);
                errors += 1;
            }
            Ok(()) => loaded += 1,
        }
    }
    // Most flips land in the weights' bytes and load as other weights; the
    // rest hit the structure, and are refused.
    assert!(errors > 0 && loaded > 0, "{errors} errors, {loaded} loads");
    std::fs::remove_file(&path).ok();
}
