//! The activations against their f64 references, gradient checks, and
//! the edge cases (kinks, large inputs, NaN).

use super::*;
use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

const ACTS: [Act; 11] = [
    Act::Identity,
    Act::Relu,
    Act::LeakyRelu(0.1),
    Act::Tanh,
    Act::Sigmoid,
    Act::Relu6,
    Act::Silu,
    Act::Hardswish,
    Act::Hardsigmoid,
    Act::Gelu,
    Act::GeluTanh,
];

/// Random values in ±[0.05, 8] kept 0.05 away from every kink (ReLU's 0,
/// hardswish's and hardsigmoid's ±3, ReLU6's 6): much more than the
/// gradient-check step.
fn off_kinks(len: usize, seed: u64) -> Vec<f32> {
    random(len, seed)
        .into_iter()
        .map(|v| {
            let v = v.signum() * (0.05 + 7.95 * v.abs());
            match [-3.0f32, 3.0, 6.0].iter().find(|k| (v - *k).abs() < 0.05) {
                Some(k) => k + 0.1f32.copysign(v - k),
                None => v,
            }
        })
        .collect()
}

/// `dy * act'(x)` by the backward each activation's layers use: from the
/// output, or from the input for those that need it.
fn backward_of(act: Act, x: &[f32], y: &[f32], dy: &mut [f32]) {
    if act.needs_input() {
        backward_from_input(act, x, dy).unwrap();
    } else {
        backward_inplace(act, y, dy).unwrap();
    }
}

#[test]
fn forward_matches_reference() {
    parallel::set_threads(2);
    // 300_000 goes through the threaded path.
    for len in [1, 7, 1000, 300_000] {
        let x: Vec<f32> = random(len, len as u64).iter().map(|v| v * 8.0).collect();
        for act in ACTS {
            let mut y = nan_filled(len);
            forward(act, &x, &mut y).unwrap();
            let want: Vec<f32> = x.iter().map(|&v| reference::apply(act, v)).collect();
            assert_close(&y, &want, 1e-6, 1e-7);
            let mut z = x.clone();
            forward_inplace(act, &mut z);
            assert_eq!(z, y, "{act:?}: in place differs");
            for (i, &v) in x.iter().enumerate().step_by(97) {
                assert_eq!(apply(act, v), y[i], "{act:?}: apply differs");
            }
        }
    }
}

#[test]
fn backward_matches_reference_derivative() {
    let x = off_kinks(300_000, 5);
    let dy0 = random(x.len(), 6);
    for act in ACTS {
        let mut y = nan_filled(x.len());
        forward(act, &x, &mut y).unwrap();
        let mut dy = dy0.clone();
        backward_of(act, &x, &y, &mut dy);
        let want: Vec<f32> = x
            .iter()
            .zip(&dy0)
            .map(|(&v, &d)| d * reference::derivative(act, v))
            .collect();
        assert_close(&dy, &want, 1e-4, 1e-6);
        // From the input, every activation gives the same numbers.
        let mut from_input = dy0.clone();
        backward_from_input(act, &x, &mut from_input).unwrap();
        assert_eq!(from_input, dy, "{act:?}: from the input differs");
        for (i, (&v, &u)) in x.iter().zip(&y).enumerate().step_by(101) {
            assert_eq!(dy[i], dy0[i] * derivative(act, v), "{act:?}");
            if !act.needs_input() {
                assert_eq!(dy[i], dy0[i] * derivative_from_output(act, u), "{act:?}");
            }
        }
    }
}

#[test]
fn gradcheck_every_activation() {
    let mut x = off_kinks(60, 7);
    let r = random(60, 8);
    for act in ACTS {
        let mut y = nan_filled(x.len());
        forward(act, &x, &mut y).unwrap();
        let mut dx = r.clone();
        backward_of(act, &x, &y, &mut dx);
        gradcheck(&mut x, &dx, 1e-3, 2e-3, None, |x| {
            let mut y = vec![0.0; x.len()];
            forward(act, x, &mut y).unwrap();
            dot(&y, &r)
        });
    }
}

/// Values PyTorch 2 gives (`torch.nn.functional`, float32), at and around
/// the kinks.
#[test]
fn new_activations_match_pytorch_at_chosen_points() {
    let x = [-4.0f32, -3.0, -1.5, 0.0, 0.5, 3.0, 6.0, 7.0];
    let cases: [(Act, [f32; 8]); 6] = [
        (Act::Relu6, [0.0, 0.0, 0.0, 0.0, 0.5, 3.0, 6.0, 6.0]),
        (
            Act::Hardsigmoid,
            [0.0, 0.0, 0.25, 0.5, 0.583_333_3, 1.0, 1.0, 1.0],
        ),
        (
            Act::Hardswish,
            [-0.0, -0.0, -0.375, 0.0, 0.291_666_66, 3.0, 6.0, 7.0],
        ),
        (
            Act::Silu,
            [
                -0.071_944_84,
                -0.142_277_61,
                -0.273_638_28,
                0.0,
                0.311_229_68,
                2.857_722_5,
                5.985_164_6,
                6.993_623,
            ],
        ),
        (
            Act::Gelu,
            [
                -1.264_810_6e-4,
                -4.050_225e-3,
                -0.100_210_86,
                0.0,
                0.345_731_23,
                2.995_949_7,
                6.0,
                7.0,
            ],
        ),
        (
            Act::GeluTanh,
            [
                -7.021_427e-5,
                -3.637_433e-3,
                -0.100_428_43,
                0.0,
                0.345_714,
                2.996_362_7,
                6.0,
                7.0,
            ],
        ),
    ];
    for (act, want) in cases {
        let mut y = nan_filled(x.len());
        forward(act, &x, &mut y).unwrap();
        // PyTorch's float32 `1 + erf(x / sqrt 2)` cancels in the tail: at
        // -4 it gives -1.26481e-4 where `x Phi(x)` is -1.26685e-4 (ours,
        // and the f64 reference).
        let abs = if act == Act::Gelu { 1e-6 } else { 2e-7 };
        assert_close(&y, &want, 2e-6, abs);
    }
    let mut tail = nan_filled(1);
    forward(Act::Gelu, &[-4.0], &mut tail).unwrap();
    assert_close(&tail, &[reference::apply(Act::Gelu, -4.0)], 1e-6, 0.0);
    // The slopes at the kinks are PyTorch's (autograd of the same calls).
    let slopes = |act| x.map(|v| derivative(act, v));
    assert_eq!(slopes(Act::Relu6), [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    let sixth = 1.0 / 6.0;
    assert_eq!(
        slopes(Act::Hardsigmoid),
        [0.0, 0.0, sixth, sixth, sixth, 0.0, 0.0, 0.0]
    );
    assert_eq!(
        slopes(Act::Hardswish),
        [0.0, 0.0, 0.0, 0.5, 0.666_666_7, 1.0, 1.0, 1.0]
    );
}

#[test]
fn backward_from_the_output_refuses_what_needs_the_input() {
    for act in [Act::Silu, Act::Hardswish, Act::Gelu, Act::GeluTanh] {
        let err = backward_inplace(act, &[1.0; 3], &mut [1.0; 3]).unwrap_err();
        assert!(err.to_string().contains("backward_from_input"), "{err}");
        assert!(derivative_from_output(act, 1.0).is_nan());
    }
    assert!(backward_from_input(Act::Gelu, &[1.0; 3], &mut [1.0; 2]).is_err());
}

#[test]
fn smooth_activations_are_finite_for_large_inputs() {
    let x = [-1e30, -1000.0, -30.0, 30.0, 1000.0, 1e30];
    for act in [Act::Silu, Act::Gelu, Act::GeluTanh, Act::Hardswish] {
        let mut y = nan_filled(x.len());
        forward(act, &x, &mut y).unwrap();
        assert!(y.iter().all(|v| v.is_finite()), "{act:?}: {y:?}");
        // Hardswish's `x * 6 / 6` (PyTorch's order) may round once.
        assert_close(&y[3..], &x[3..], 2e-7, 0.0);
        assert!(y[..3].iter().all(|v| v.abs() < 1e-9), "{act:?}: {y:?}");
        let mut d = vec![1.0; x.len()];
        backward_from_input(act, &x, &mut d).unwrap();
        assert!(d.iter().all(|v| v.is_finite()), "{act:?}: {d:?}");
    }
    let mut y = [f32::NAN; 1];
    for act in ACTS {
        forward_inplace(act, &mut y);
        assert!(y[0].is_nan(), "{act:?} drops a NaN");
    }
}

#[test]
fn sigmoid_is_stable_for_large_inputs() {
    let x = [
        -1e30,
        -1000.0,
        -100.0,
        -20.0,
        0.0,
        20.0,
        100.0,
        1000.0,
        f32::MAX,
    ];
    let mut y = nan_filled(x.len());
    forward(Act::Sigmoid, &x, &mut y).unwrap();
    assert!(
        y.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
        "{y:?}"
    );
    assert_eq!(y[0], 0.0);
    assert_eq!(y[8], 1.0);
    assert_eq!(y[4], 0.5);
    // sigmoid(-20) = 2.0611536e-9: the small tail keeps its digits.
    assert_close(&y[3..4], &[2.061_153_6e-9], 1e-5, 0.0);
    let mut t = nan_filled(2);
    forward(Act::Tanh, &[-1e4, 1e4], &mut t).unwrap();
    assert_eq!(t, [-1.0, 1.0]);
}

#[test]
fn nan_propagates_through_relu() {
    let mut y = [f32::NAN, -1.0, 2.0];
    forward_inplace(Act::Relu, &mut y);
    assert!(y[0].is_nan());
    assert_eq!(&y[1..], &[0.0, 2.0]);
}

#[test]
fn softmax_matches_reference_and_is_stable() {
    for (batch, classes) in [(1, 1), (3, 10), (64, 10), (1000, 200)] {
        let x: Vec<f32> = random(batch * classes, 9)
            .iter()
            .map(|v| v * 10.0)
            .collect();
        let mut y = nan_filled(x.len());
        softmax(batch, classes, &x, &mut y).unwrap();
        assert_close(&y, &reference::softmax(batch, classes, &x), 1e-5, 1e-7);
        for row in y.chunks(classes) {
            let s: f32 = row.iter().sum();
            assert!((s - 1.0).abs() < 1e-5, "row sums to {s}");
        }
    }
    // Logits of magnitude 1e4 would overflow exp without the max shift.
    let x = [1e4, 1e4 - 1.0, -1e4, 3e4, 3e4, 0.0];
    let mut y = nan_filled(6);
    softmax(2, 3, &x, &mut y).unwrap();
    assert_close(&y, &reference::softmax(2, 3, &x), 1e-6, 1e-7);
    assert_close(&y[3..], &[0.5, 0.5, 0.0], 0.0, 1e-7);
}

#[test]
fn wrong_lengths_are_errors() {
    let mut y = vec![0.0; 4];
    let err = forward(Act::Relu, &[1.0; 3], &mut y).unwrap_err();
    assert!(err.to_string().contains("activation y"), "{err}");
    let err = backward_inplace(Act::Tanh, &[0.0; 5], &mut y).unwrap_err();
    assert!(err.to_string().contains("activation dy"), "{err}");
    assert!(softmax(2, 3, &[0.0; 5], &mut [0.0; 6]).is_err());
    assert!(softmax(2, 3, &[0.0; 6], &mut [0.0; 5]).is_err());
    assert!(softmax(2, 0, &[], &mut []).is_err());
    assert!(softmax(usize::MAX, 2, &[], &mut []).is_err());
    // Empty tensors are fine: nothing to do.
    forward(Act::Sigmoid, &[], &mut []).unwrap();
    softmax(0, 3, &[], &mut []).unwrap();
}
