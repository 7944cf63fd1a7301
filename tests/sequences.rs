//! Sequences end to end: a network declared on `input: [l, c]` with
//! `Conv1d`, pooling, batch norm, a residual block and global pooling
//! takes `(batch, l, c)` arrays, reproduces PyTorch's output and gradients
//! (`scripts/make_sequence_fixture.py`, PyTorch's `Conv1d [out, in, k]`
//! weights loaded by `load_pytorch`), passes a finite-difference check, and
//! trains through `Model::fit` on a `Dataset` of sequences.

use std::path::PathBuf;

use crate::common::{labels, random};
use cnn::ndarray::Array3;
use cnn::pass::Mode;
use cnn::prelude::*;
use cnn::train::{Dataset, Fit, Model};
use cnn_runtime::optim::Adam;

network! {
    /// `Net` of make_sequence_fixture.py, in our names.
    struct Seq {
        input: [11, 3],
        layers: [
            conv1: Conv1d { filters: 4, kernel: 5, padding: 2 },
            bn1: BatchNorm { epsilon: 0.001 },
            Relu,
            res: Residual {
                body: [
                    a: Conv1d { filters: 6, kernel: 3, stride: 2, padding: 1 },
                    Relu,
                    b: Conv1d { filters: 6, kernel: 1, bias: false },
                ],
                shortcut: [p: Conv1d { filters: 6, kernel: 1, stride: 2 }, pbn: BatchNorm { epsilon: 0.001 }],
            },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 3 },
        ],
    }
}

network! {
    /// Every kind on sequences: strided, `same`, grouped and 1x1 Conv1d,
    /// both poolings, batch norm, concatenation, dropout, flatten.
    struct Every {
        input: [13, 4],
        layers: [
            c1: Conv1d { filters: 6, kernel: 4, stride: 2, padding: same },
            bn: BatchNorm,
            Tanh,
            g: Conv1d { filters: 6, kernel: 3, groups: 2, padding: 1, bias: false },
            MaxPool1d { size: 2, stride: 1 },
            cat: Concat { branches: [
                [k1: Conv1d { filters: 2, kernel: 1 }, Sigmoid],
                [AvgPool1d { size: 3, stride: 1, padding: same }],
            ] },
            LeakyRelu { alpha: 0.1 },
            Dropout { rate: 0.2 },
            Flatten,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

fn fixture(name: &str) -> PathBuf {
    crate::common::fixture("sequence", name)
}

/// `|ours - theirs| <= 1e-5 * (1 + |theirs|)`, element by element.
fn assert_matches(what: &str, ours: &[f32], theirs: &[f32]) {
    crate::common::assert_close(what, ours, theirs, 1e-5);
}

fn sequences(n: usize, l: usize, c: usize, seed: u64) -> Array3<f32> {
    Array3::from_shape_vec((n, l, c), random(n * l * c, seed)).unwrap()
}

#[test]
fn shapes_summary_and_the_api_speak_of_sequences() {
    assert_eq!(Seq::INPUT_SHAPE, [11, 3]);
    let s = Seq::summary();
    let conv1 = s.rows.iter().find(|r| r.name == "conv1").unwrap();
    assert_eq!(conv1.output, "11x4");
    let text = s.to_string();
    assert!(text.contains("Conv1d"), "{text}");
    let a = s.rows.iter().find(|r| r.name == "res.a").unwrap();
    assert_eq!(a.output, "6x6");
    // 3 taps x 4 channels x 6 filters + 6 biases, as PyTorch counts them.
    assert_eq!(a.params, 3 * 4 * 6 + 6);
    // Receptive fields along the sequence: conv1 sees 5 steps from -2;
    // res.a (3, stride 2, padding 1) 5 + 2 = 7 from -3, jump 2.
    let a = Seq::receptive_field("res.a").unwrap();
    assert_eq!((a.size, a.jump, a.start), ([1, 7], [1, 2], [0, -3]));
    assert!(a.sequence && a.frames.is_none());
    assert_eq!(a.size_text(), "7");
    let net = Seq::new(1);
    let out = net.predict(sequences(5, 11, 3, 2).view()).unwrap();
    assert_eq!(out.shape(), [5, 3]);
    let wrong = net.predict(sequences(5, 3, 11, 2).view()).unwrap_err();
    assert!(wrong.to_string().contains("11"), "{wrong}");
}

#[test]
fn output_and_gradients_match_pytorch() {
    let mut net = Seq::new(1);
    let report = net
        .load_pytorch(fixture("state_dict.safetensors"), |k| Some(k.to_string()))
        .unwrap();
    assert!(report.is_complete(), "{report}");
    let file = cnn::io::load(&fixture("grads.safetensors")).unwrap();
    let get = |name: &str| file.tensor(name).unwrap();
    let (shape, x) = get("x");
    let x = Array3::from_shape_vec((shape[0], shape[1], shape[2]), x).unwrap();
    crate::common::assert_mse_pass(net.forward(x.view(), Mode::Train).unwrap(), &file, 1e-5);
    for t in Seq::TENSORS.iter().filter(|t| t.trainable) {
        assert_matches(t.name, &net.grads()[t.range()], &get(t.name).1);
    }
}

#[test]
fn finite_differences_agree_with_backward() {
    // Central differences in f32 with step 1e-3; |a - n| <= 1e-3 + 2e-2 *
    // max(|a|, |n|), as in gradcheck_network.rs.
    let mut net = Every::new(3);
    let x = sequences(4, 13, 4, 5);
    let y = labels(4, 3);
    let seed = 99;
    let checked = crate::assert_param_grads!(net: Every, x, y, seed, &[]);
    assert!(checked >= 40, "{checked} elements checked");
}

#[test]
fn fit_trains_on_a_dataset_of_sequences() {
    // Noisy shapes that global pooling cannot tell apart without the
    // convolutions: class 0 alternates +-1, class 1 is a ramp, class 2 flat.
    let (n, l, c) = (60, 11, 3);
    let noise = random(n * l * c, 7);
    let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let x: Vec<f32> = (0..n * l * c)
        .map(|j| {
            let (case, t) = (j / (l * c), (j / c) % l);
            let clean = match y[case] {
                0 => {
                    if t % 2 == 0 {
                        1.0
                    } else {
                        -1.0
                    }
                }
                1 => t as f32 / 5.0 - 1.0,
                _ => 0.0,
            };
            0.2 * noise[j] + clean
        })
        .collect();
    let data = Dataset::new([1, l, c], x, y, 3).unwrap();
    let mut model = Model::compile(Seq::new(2), Adam::new(0.01)).seed(1);
    model
        .fit(&data, Fit::epochs(15).batch_size(20).verbose(false))
        .unwrap();
    let eval = model.evaluate(&data, 30).unwrap();
    assert!(eval.accuracy >= 0.9, "accuracy {}", eval.accuracy);
    // A dataset of another length is refused, naming both shapes.
    let other = Dataset::new([1, 12, 3], vec![0.0; 36], vec![0], 3).unwrap();
    let err = model.evaluate(&other, 1).unwrap_err().to_string();
    assert!(
        err.contains("[11, 3]") && err.contains("[1, 12, 3]"),
        "{err}"
    );
}
