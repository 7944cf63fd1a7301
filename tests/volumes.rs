//! Volumes end to end: C3dSmall (the clips example's network and the
//! `c3d_train_b8` bench workload) declared on `input: [16, 32, 32, 1]`
//! with `Conv3d`, `MaxPool3d`, batch norm and global pooling takes `[batch,
//! d, h, w, c]` arrays, reproduces PyTorch's output, loss and gradients and
//! two SGD steps (`scripts/make_volume_fixture.py`, PyTorch's `Conv3d [out,
//! in, d, h, w]` weights loaded by `load_pytorch`), passes a
//! finite-difference check with every 3D kind, round-trips through a
//! checkpoint, refuses wrong shapes with an `Err`, and its `GRAPH` runs.

use std::path::PathBuf;

use crate::common::{assert_close, labels, random};
use cnn::ndarray::{Array5, ArrayD, Ix5};
use cnn::pass::Mode;
use cnn::prelude::*;

network! {
    /// `C3dSmall` of make_volume_fixture.py (and of the PyTorch peer), in
    /// its names; batch norm with PyTorch's defaults (momentum 0.1 is
    /// Keras's 0.9).
    pub struct C3dSmall {
        input: [16, 32, 32, 1],
        layers: [
            c1: Conv3d { filters: 16, kernel: 3, padding: 1 },
            b1: BatchNorm { momentum: 0.9, epsilon: 0.00001 },
            Relu,
            MaxPool3d { size: 2 },
            c2: Conv3d { filters: 32, kernel: 3, padding: 1 },
            b2: BatchNorm { momentum: 0.9, epsilon: 0.00001 },
            Relu,
            MaxPool3d { size: 2 },
            c3: Conv3d { filters: 64, kernel: 3, padding: 1 },
            b3: BatchNorm { momentum: 0.9, epsilon: 0.00001 },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 40 },
            Softmax,
        ],
    }
}

network! {
    /// Every 3D kind and what follows them: strided, `same`, dilated and
    /// grouped `Conv3d` with triples, both poolings, batch norm, dropout,
    /// `Flatten` of a volume.
    struct Every {
        input: [5, 6, 7, 2],
        layers: [
            c1: Conv3d { filters: 4, kernel: [2, 3, 3], stride: [1, 2, 1], padding: same },
            bn: BatchNorm,
            Tanh,
            g: Conv3d { filters: 4, kernel: 3, dilation: [2, 1, 1], padding: 1, groups: 2, bias: false },
            MaxPool3d { size: [1, 2, 2], stride: 1 },
            AvgPool3d { size: 2, stride: 1, padding: 1 },
            LeakyRelu { alpha: 0.1 },
            Dropout { rate: 0.2 },
            Flatten,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

fn fixture(name: &str) -> PathBuf {
    crate::common::fixture("volume", name)
}

fn temp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("volumes-{}-{name}", std::process::id()))
}

fn clips(n: usize, [d, h, w, c]: [usize; 4], seed: u64) -> Array5<f32> {
    Array5::from_shape_vec((n, d, h, w, c), random(n * d * h * w * c, seed)).unwrap()
}

#[test]
fn shapes_summary_and_the_api_speak_of_volumes() {
    assert_eq!(C3dSmall::INPUT_SHAPE, [16, 32, 32, 1]);
    let s = C3dSmall::summary();
    let row = |name: &str| s.rows.iter().find(|r| r.name == name).unwrap();
    assert_eq!(row("c1").output, "16x32x32x16");
    assert_eq!(row("c2").output, "8x16x16x32");
    assert_eq!(row("c3").output, "4x8x8x64");
    // 3 * 3 * 3 taps x 16 channels x 32 filters + 32 biases, as PyTorch's
    // Conv3d counts them; out_d * out_h * out_w * filters * 27 * c_in.
    assert_eq!(row("c2").params, 27 * 16 * 32 + 32);
    assert_eq!(row("c2").macs, 8 * 16 * 16 * 32 * 27 * 16);
    let text = s.to_string();
    assert!(
        text.contains("Conv3d") && text.contains("MaxPool3d"),
        "{text}"
    );
    // Receptive fields in frames too: c1 sees 3x3x3 from -1, the pool
    // 4 (jump 2), c2 4 + 2 * 2 = 8 from -1 - 2 = -3 along every axis.
    let c2 = C3dSmall::receptive_field("c2").unwrap();
    assert_eq!((c2.size, c2.jump, c2.start), ([8, 8], [2, 2], [-3, -3]));
    let frames = c2.frames.unwrap();
    assert_eq!((frames.size, frames.jump, frames.start), (8, 2, -3));
    assert!(text.contains(" 8x8x8 "), "{text}");
    // The PyTorch peer's C3dSmall holds 72,264 trainable parameters; batch
    // norm's 224 moving statistics make Keras's total.
    assert_eq!(C3dSmall::TRAINABLE_PARAMS, 72_488);
    assert_eq!(C3dSmall::PARAMS, 72_712);
    let x = clips(3, [16, 32, 32, 1], 2);
    let net = C3dSmall::new(1);
    assert_eq!(net.predict(x.view()).unwrap().shape(), [3, 40]);
    let wrong = clips(3, [16, 32, 31, 1], 2);
    let err = net.predict(wrong.view()).unwrap_err().to_string();
    assert!(err.contains("31") && err.contains("32"), "{err}");
}

#[test]
fn output_gradients_and_steps_match_pytorch() {
    let load = || {
        let mut net = C3dSmall::new(1);
        let report = net
            .load_pytorch(fixture("c3d_state_dict.safetensors"), |k| {
                Some(k.to_string())
            })
            .unwrap();
        assert!(report.is_complete(), "{report}");
        net
    };
    let file = cnn::io::load(&fixture("c3d_grads.safetensors")).unwrap();
    let get = |name: &str| file.tensor(name).unwrap();
    let (shape, x) = get("x");
    let x = ArrayD::from_shape_vec(shape, x)
        .unwrap()
        .into_dimensionality::<Ix5>()
        .unwrap();
    let mut net = load();
    // A held training pass: output, mean squared error, input gradient,
    // then every parameter's gradient.
    crate::common::assert_mse_pass(net.forward(x.view(), Mode::Train).unwrap(), &file, 1e-5);
    let mut checked = 0;
    for t in C3dSmall::TENSORS.iter().filter(|t| t.trainable) {
        assert_close(t.name, &net.grads()[t.range()], &get(t.name).1, 1e-5);
        checked += 1;
    }
    assert_eq!(checked, 14, "every weight, bias, gamma and beta");
    // Inference: the moving statistics (which a held pass leaves alone).
    let net = load();
    let predicted = net.predict(x.view()).unwrap();
    assert_close(
        "predict",
        predicted.as_slice().unwrap(),
        &get("eval_output").1,
        1e-5,
    );
    // Two SGD steps with momentum on the cross-entropy: the losses, then
    // every tensor (moving statistics included) after them.
    let mut net = load();
    let mut opt = Sgd::new(0.01).momentum(0.9);
    let y: Vec<usize> = get("labels").1.iter().map(|&l| l as usize).collect();
    let losses: Vec<f32> = (0..2)
        .map(|_| net.train_step(x.view(), &y, &mut opt).unwrap())
        .collect();
    assert_close("step losses", &losses, &get("step_losses").1, 1e-5);
    for t in C3dSmall::TENSORS {
        let after = get(&format!("after.{}", t.name)).1;
        // PyTorch moves the variance toward the batch's unbiased one (n /
        // (n - 1) times ours, as Keras keeps it): 0.1 of it differs by at
        // most 0.1 / 511 of the variance here (b3: n = 2 * 4 * 8 * 8).
        let tol = if t.name.ends_with("moving_variance") {
            4e-4
        } else {
            1e-5
        };
        assert_close(t.name, &net.params()[t.range()], &after, tol);
    }
}

#[test]
fn finite_differences_agree_with_backward() {
    // Central differences in f32 with step 1e-3; |a - n| <= 1e-3 + 2e-2 *
    // max(|a|, |n|), as in gradcheck_network.rs.
    let mut net = Every::new(3);
    let x = clips(3, [5, 6, 7, 2], 5);
    let y = labels(3, 3);
    let seed = 99;
    let checked = crate::assert_param_grads!(net: Every, x, y, seed, &[]);
    assert!(checked >= 25, "{checked} elements checked");
}

#[test]
fn a_checkpoint_round_trips_and_other_shapes_are_refused() {
    let path = temp("c3d.safetensors");
    let mut net = C3dSmall::new(4);
    let x = clips(2, [16, 32, 32, 1], 6);
    let mut opt = Sgd::new(0.05).momentum(0.9);
    net.train_step(x.view(), &[3, 17], &mut opt).unwrap();
    net.save(&path).unwrap();
    let back = C3dSmall::load(&path).unwrap();
    assert_eq!(back.params(), net.params());
    assert_eq!(
        back.predict(x.view()).unwrap(),
        net.predict(x.view()).unwrap()
    );
    // Conv3d weights are saved as [fd, fh, fw, c_in, filters].
    let file = cnn::io::load(&path).unwrap();
    assert_eq!(file.tensor("c2.weight").unwrap().0, [3, 3, 3, 16, 32]);
    // Another network's file names the first tensor that does not fit.
    let other = temp("every.safetensors");
    Every::new(1).save(&other).unwrap();
    let err = C3dSmall::load(&other).err().unwrap().to_string();
    assert!(err.contains("c1"), "{err}");
    // A batch of images, or clips of another length, is an `Err`.
    let short = clips(2, [8, 32, 32, 1], 6);
    let err = net.train_step(short.view(), &[0, 1], &mut opt).unwrap_err();
    assert!(err.to_string().contains("16"), "{err}");
    let err = net.forward(short.view(), Mode::Infer).err().unwrap();
    assert!(err.to_string().contains("16"), "{err}");
}

/// `GRAPH` describes the volume's layers: running it gives `predict`'s
/// output (tests/graph.rs holds every 3-D kind; tests/onnx/volumes.rs the
/// ONNX export and import).
#[test]
fn the_graph_runs_the_volume_network() {
    let net = C3dSmall::new(1);
    let x = clips(2, C3dSmall::INPUT_SHAPE, 12);
    let want = net.predict(x.view()).unwrap();
    let got = C3dSmall::GRAPH
        .run(C3dSmall::TENSORS, net.params(), 2, x.as_slice().unwrap())
        .unwrap();
    for (a, b) in got.iter().zip(want.iter()) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
}
