//! The held forward pass (`net.forward`): input gradients and tap
//! gradients against central differences through every layer kind, the
//! output in inference mode against `predict`, gradients accumulated over
//! passes, losses on the pass, and misuse as `Err`s.

use crate::common::images;
use cnn::loss::{Loss, Target};
use cnn::ndarray::{Array, Array2, Array4, ArrayView4, IxDyn};
use cnn::pass::{Grads, Mode};
use cnn::prelude::*;

network! {
    /// Every plain layer kind, taps on a fused convolution, a batch norm
    /// and the logits.
    struct Small {
        input: [9, 9, 2],
        layers: [
            c1: Conv2d { filters: 4, kernel: 3, stride: 2, padding: 1 },
            bn1: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            c2: Conv2d { filters: 5, kernel: [2, 3], padding: same },
            Tanh,
            MaxPool2d { size: 2, stride: 1 },
            c3: Conv2d { filters: 3, kernel: 1, bias: false },
            Sigmoid,
            AvgPool2d { size: 3, stride: 2, padding: same },
            Flatten,
            d1: Dense { units: 6 },
            bn2: BatchNorm,
            Relu,
            Dropout { rate: 0.3 },
            d2: Dense { units: 4 },
            Softmax,
        ],
        taps: [c1, bn1, c2, d2],
    }
}

network! {
    /// Blocks: a residual with a projection, a concatenation, a tap on a
    /// block, and no final activation.
    struct Blocks {
        input: [6, 6, 3],
        layers: [
            stem: Conv2d { filters: 4, kernel: 3, padding: same },
            Relu,
            res: Residual {
                body: [a: Conv2d { filters: 6, kernel: 3, padding: 1 }, Relu, b: Conv2d { filters: 6, kernel: 1 }],
                shortcut: [p: Conv2d { filters: 6, kernel: 1 }],
            },
            Relu,
            cat: Concat { branches: [[x: Conv2d { filters: 2, kernel: 1 }], [MaxPool2d { size: 3, stride: 1, padding: 1 }]] },
            GlobalAvgPool,
            out: Dense { units: 3 },
        ],
        taps: [res, cat.x],
    }
}

network! {
    /// Grouped and depthwise convolutions, one of them frozen in the
    /// declaration (its kernel still writes the unused weight gradient).
    struct Grouped {
        input: [7, 7, 4],
        layers: [
            g1: Conv2d { filters: 6, kernel: 3, padding: 1, groups: 2 },
            Relu,
            g2: Conv2d { filters: 6, kernel: [3, 2], stride: 2, groups: 3, bias: false, trainable: false },
            bn: BatchNorm,
            dw: DepthwiseConv2d { kernel: 2, multiplier: 2, padding: same },
            Sigmoid,
            Flatten,
            d: Dense { units: 3 },
        ],
    }
}

network! {
    /// Every parameter frozen in the declaration: only the input's
    /// gradient can be asked for.
    struct Frozen {
        input: [5, 5, 1],
        layers: [
            c: Conv2d { filters: 3, kernel: 3, trainable: false },
            Relu,
            Flatten,
            d: Dense { units: 2, trainable: false },
        ],
        taps: [c],
    }
}

/// `sum(out * r)` and its gradient `r`, for central differences.
fn weighted_sum(out: &[f32], r: &[f32]) -> f64 {
    out.iter().zip(r).map(|(a, b)| *a as f64 * *b as f64).sum()
}

/// Central differences of `loss(x)` for a sample of the input's elements,
/// against `analytic`.
fn check_input_grad(
    x: &mut Array4<f32>,
    analytic: &[f32],
    mut loss: impl FnMut(ArrayView4<f32>) -> f64,
) -> usize {
    let (step, abs, rel) = (1e-3f32, 1e-3f32, 2e-2f32);
    let n = x.len();
    let mut checked = 0;
    for i in (0..n).step_by((n / 25).max(1)) {
        let orig = x.as_slice().unwrap()[i];
        x.as_slice_mut().unwrap()[i] = orig + step;
        let up = loss(x.view());
        x.as_slice_mut().unwrap()[i] = orig - step;
        let down = loss(x.view());
        x.as_slice_mut().unwrap()[i] = orig;
        let numeric = ((up - down) / (2.0 * step as f64)) as f32;
        let a = analytic[i];
        let err = (a - numeric).abs() / (abs + rel * a.abs().max(numeric.abs()));
        assert!(err <= 1.0, "input {i}: analytic {a}, numeric {numeric}");
        checked += 1;
    }
    checked
}

#[test]
fn input_gradient_through_every_layer_kind_in_inference_mode() {
    let mut net = Small::new(3);
    // Moving statistics away from 0 and 1, so inference's batch norm is
    // not the identity.
    net.tensor_mut("bn1.moving_mean")
        .unwrap()
        .copy_from_slice(&[0.1, -0.2, 0.3, 0.0]);
    net.tensor_mut("bn1.moving_variance")
        .unwrap()
        .copy_from_slice(&[0.5, 2.0, 1.5, 0.7]);
    let mut x = images(3, 9, 9, 2, 4);
    let r = crate::common::random(3 * 4, 5);
    let dy = Array2::from_shape_vec((3, 4), r.clone()).unwrap();
    let mut pass = net.forward(x.view(), Mode::Infer).unwrap();
    // Inference mode is what predict computes.
    let out = pass.output().to_owned();
    pass.backward(Grads::new().output(dy.view()).input())
        .unwrap();
    let analytic = pass.input_grad().unwrap().as_slice().unwrap().to_vec();
    drop(pass);
    let want = net.predict(x.view()).unwrap();
    cnn_runtime::testing::assert_close(
        out.as_slice().unwrap(),
        want.as_slice().unwrap(),
        1e-5,
        1e-6,
    );
    let checked = check_input_grad(&mut x, &analytic, |x| {
        let p = net.predict(x).unwrap();
        weighted_sum(p.as_slice().unwrap(), &r)
    });
    assert!(checked >= 20);
}

#[test]
fn input_gradient_in_training_mode_and_tap_gradients() {
    let mut x = images(4, 9, 9, 2, 6);
    let rc2 = crate::common::random(4 * 5 * 5 * 5, 7);
    let rout = crate::common::random(4 * 4, 8);
    let loss_of = |net: &mut Small, x: ArrayView4<f32>, grads: bool| -> (f64, Vec<f32>) {
        let mut pass = net.forward(x, Mode::Train).unwrap();
        let out = pass.output().to_owned();
        let c2 = pass.tap("c2").unwrap().to_owned();
        let value = weighted_sum(out.as_slice().unwrap(), &rout)
            + weighted_sum(c2.as_slice().unwrap(), &rc2);
        if !grads {
            return (value, Vec::new());
        }
        let dy = Array2::from_shape_vec((4, 4), rout.clone()).unwrap();
        let dc2 = Array::from_shape_vec(IxDyn(&[4, 5, 5, 5]), rc2.clone()).unwrap();
        pass.backward(Grads::new().output(dy.view()).tap("c2", dc2.view()).input())
            .unwrap();
        (
            value,
            pass.input_grad().unwrap().as_slice().unwrap().to_vec(),
        )
    };
    // Dropout draws from the network's generator: the same seed each time.
    let mut net = Small::new(9);
    let (_, analytic) = loss_of(&mut Small::new(9), x.view(), true);
    let checked = check_input_grad(&mut x, &analytic, |x| {
        net = Small::new(9);
        loss_of(&mut net, x, false).0
    });
    assert!(checked >= 20);
}

#[test]
fn parameter_gradients_from_a_tap_alone_match_differences() {
    // The loss reads only the tap on bn1: every gradient comes through it.
    let x = images(3, 9, 9, 2, 10);
    let r = crate::common::random(3 * 5 * 5 * 4, 11);
    let loss = |net: &mut Small| -> f64 {
        let pass = net.forward(x.view(), Mode::Train).unwrap();
        weighted_sum(pass.tap("bn1").unwrap().as_slice().unwrap(), &r)
    };
    let mut net = Small::new(12);
    let mut pass = net.forward(x.view(), Mode::Train).unwrap();
    let g = Array::from_shape_vec(IxDyn(&[3, 5, 5, 4]), r.clone()).unwrap();
    pass.backward(Grads::new().tap("bn1", g.view())).unwrap();
    drop(pass);
    let analytic = net.grads().to_vec();
    let t = Small::TENSORS
        .iter()
        .find(|t| t.name == "c1.weight")
        .unwrap();
    let mut params = net.params().to_vec();
    for i in (t.offset..t.offset + t.len).step_by(7) {
        let orig = params[i];
        let mut at = |v: f32| {
            params[i] = v;
            let mut n = Small::new(12);
            n.params_mut().copy_from_slice(&params);
            loss(&mut n)
        };
        let numeric = ((at(orig + 1e-3) - at(orig - 1e-3)) / 2e-3) as f32;
        at(orig);
        let a = analytic[i];
        assert!(
            (a - numeric).abs() <= 1e-3 + 2e-2 * a.abs().max(numeric.abs()),
            "c1.weight[{}]: analytic {a}, numeric {numeric}",
            i - t.offset
        );
    }
    // Layers above the tap get nothing.
    let d2 = Small::TENSORS
        .iter()
        .find(|t| t.name == "d2.weight")
        .unwrap();
    assert!(analytic[d2.range()].iter().all(|&v| v == 0.0));
}

#[test]
fn blocks_taps_and_input_gradient() {
    let mut x = images(2, 6, 6, 3, 13);
    let r = crate::common::random(2 * 6 * 6 * 6, 14);
    let mut net = Blocks::new(15);
    assert_eq!(Blocks::TAPS[0].name, "res");
    assert_eq!(Blocks::TAPS[0].shape, &[6, 6, 6]);
    assert_eq!(Blocks::TAPS[1].shape, &[6, 6, 2]);
    let mut pass = net.forward(x.view(), Mode::Train).unwrap();
    let g = Array::from_shape_vec(IxDyn(&[2, 6, 6, 6]), r.clone()).unwrap();
    pass.backward(Grads::new().tap("res", g.view()).input())
        .unwrap();
    let analytic = pass.input_grad().unwrap().as_slice().unwrap().to_vec();
    drop(pass);
    check_input_grad(&mut x, &analytic, |x| {
        let pass = net.forward(x, Mode::Train).unwrap();
        weighted_sum(pass.tap("res").unwrap().as_slice().unwrap(), &r)
    });
}

#[test]
fn a_frozen_network_gives_the_input_gradient_and_no_weight_gradient() {
    let mut net = Frozen::new(16);
    assert_eq!(Frozen::TRAINABLE_PARAMS, 0);
    let mut x = images(2, 5, 5, 1, 17);
    let r = crate::common::random(4, 18);
    let dy = Array2::from_shape_vec((2, 2), r.clone()).unwrap();
    let before = net.params().to_vec();
    let mut pass = net.forward(x.view(), Mode::Infer).unwrap();
    pass.backward(Grads::new().output(dy.view()).input())
        .unwrap();
    let analytic = pass.input_grad().unwrap().as_slice().unwrap().to_vec();
    drop(pass);
    assert_eq!(net.params(), &before[..]);
    check_input_grad(&mut x, &analytic, |x| {
        weighted_sum(net.predict(x).unwrap().as_slice().unwrap(), &r)
    });
}

#[test]
fn passes_accumulate_until_step() {
    let x = images(3, 9, 9, 2, 19);
    let r = crate::common::random(12, 20);
    let dy = Array2::from_shape_vec((3, 4), r).unwrap();
    let once = |net: &mut Small| {
        let mut pass = net.forward(x.view(), Mode::Infer).unwrap();
        pass.backward(Grads::new().output(dy.view())).unwrap();
    };
    let mut net = Small::new(21);
    once(&mut net);
    let single = net.grads().to_vec();
    once(&mut net);
    let double = net.grads().to_vec();
    for (d, s) in double.iter().zip(&single) {
        assert!(
            (d - 2.0 * s).abs() <= 1e-5 * (1.0 + s.abs()),
            "{d} vs 2 x {s}"
        );
    }
    let before = net.params().to_vec();
    let mut opt = Sgd::new(0.1);
    net.step(&mut opt).unwrap();
    assert_ne!(net.params(), &before[..]);
    assert!(net.grads().iter().all(|&g| g == 0.0));
    // Nothing accumulated now.
    let err = net.step(&mut opt).unwrap_err();
    assert!(err.to_string().contains("no gradient to apply"), "{err}");
}

#[test]
fn misuse_is_an_error() {
    let mut net = Small::new(22);
    let x = images(2, 9, 9, 2, 23);
    let mut pass = net.forward(x.view(), Mode::Train).unwrap();
    let wrong = Array2::<f32>::zeros((2, 5));
    let err = pass
        .backward(Grads::new().output(wrong.view()))
        .unwrap_err();
    assert!(err.to_string().contains("[2, 4]"), "{err}");
    let err = pass.tap("c9").unwrap_err();
    assert!(err.to_string().contains("c1, bn1, c2, d2"), "{err}");
    let bad_tap = Array::<f32, _>::zeros(IxDyn(&[2, 3]));
    assert!(pass
        .backward(Grads::new().tap("c1", bad_tap.view()))
        .is_err());
    assert!(pass.input_grad().is_none());
    let right = Array2::<f32>::zeros((2, 4));
    pass.backward(Grads::new().output(right.view())).unwrap();
    let err = pass
        .backward(Grads::new().output(right.view()))
        .unwrap_err();
    assert!(err.to_string().contains("already ran"), "{err}");
    drop(pass);
    let wrong_x = Array4::<f32>::zeros((2, 9, 8, 2));
    assert!(net.forward(wrong_x.view(), Mode::Train).is_err());
    let empty = Array4::<f32>::zeros((0, 9, 9, 2));
    assert!(net.forward(empty.view(), Mode::Train).is_err());
    // A loss whose target does not fit is an Err, and nothing accumulates.
    let mut pass = net.forward(x.view(), Mode::Train).unwrap();
    struct Sum;
    impl Loss for Sum {
        fn name(&self) -> &str {
            "sum"
        }
        fn loss(
            &self,
            out: &[f32],
            _: &[usize],
            t: Target<'_>,
            grad: &mut [f32],
        ) -> cnn::Result<f32> {
            let Target::Values(t) = t else {
                return Err(cnn::Error::InvalidArgument("sum: values".into()));
            };
            if t.len() != out.len() {
                return Err(cnn::Error::InvalidArgument("sum: length".into()));
            }
            grad.fill(1.0);
            Ok(out.iter().zip(t).map(|(a, b)| a - b).sum())
        }
    }
    assert!(pass.backward_loss(&Sum, Target::Classes(&[0, 1])).is_err());
    let t = vec![f32::NAN; 8];
    let err = pass.backward_loss(&Sum, Target::Values(&t)).unwrap_err();
    assert!(matches!(err, cnn::Error::NonFiniteLoss { .. }), "{err}");
}

#[test]
fn lenet5_logit_gradient_matches_differences() {
    // LeNet-5's single-channel 5x5 convolution and its softmax: the
    // gradient of one logit (the saliency example's) with respect to the
    // picture. The logit of class k is ln p_k + logsumexp, so with the
    // softmax's output the difference of ln p_k - ln p_j is exact for two
    // classes; check ln p_3 - ln p_5's gradient instead of one logit.
    let mut net = crate::common::LeNet5::new(30);
    let mut x = images(2, 32, 32, 1, 31);
    let mut g = Array2::<f32>::zeros((2, 10));
    for i in 0..2 {
        g[[i, 3]] = 1.0;
        g[[i, 5]] = -1.0;
    }
    let mut pass = net.forward(x.view(), Mode::Infer).unwrap();
    pass.backward(Grads::new().logits(g.view()).input())
        .unwrap();
    let analytic = pass.input_grad().unwrap().as_slice().unwrap().to_vec();
    drop(pass);
    let checked = check_input_grad(&mut x, &analytic, |x| {
        let p = net.predict(x).unwrap();
        (0..2)
            .map(|i| (p[[i, 3]] as f64).ln() - (p[[i, 5]] as f64).ln())
            .sum()
    });
    assert!(checked >= 20);
}

#[test]
fn input_gradient_through_grouped_and_depthwise_convolutions() {
    let mut net = Grouped::new(40);
    let mut x = images(3, 7, 7, 4, 41);
    let r = crate::common::random(9, 42);
    let dy = Array2::from_shape_vec((3, 3), r.clone()).unwrap();
    let mut pass = net.forward(x.view(), Mode::Infer).unwrap();
    pass.backward(Grads::new().output(dy.view()).input())
        .unwrap();
    let analytic = pass.input_grad().unwrap().as_slice().unwrap().to_vec();
    drop(pass);
    let checked = check_input_grad(&mut x, &analytic, |x| {
        weighted_sum(net.predict(x).unwrap().as_slice().unwrap(), &r)
    });
    assert!(checked >= 20);
}
