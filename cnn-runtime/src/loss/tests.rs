//! The built-in losses: central-difference gradient checks, values worked
//! out by hand, and agreements between losses that must agree. Every error
//! is in `tests/errors.rs`; the comparison with PyTorch is in
//! `pytorch_tests.rs`.

use super::*;
use crate::testing::{assert_close, gradcheck, nan_filled, random};

mod errors;

/// Checks `loss`'s gradient at `output` by central differences: step 1e-3
/// on f32 outputs, and a tolerance of 1e-3 in `|a - n| / max(1, |a|, |n|)`,
/// which leaves room for the f32 rounding of the loss (about 1e-7 of it,
/// divided by the 2e-3 of the difference).
#[track_caller]
fn check_gradient(loss: &dyn Loss, output: &[f32], shape: &[usize], target: Target<'_>) {
    let mut grad = nan_filled(output.len());
    loss.loss(output, shape, target, &mut grad).unwrap();
    let mut x = output.to_vec();
    let mut scratch = vec![0.0; x.len()];
    gradcheck(&mut x, &grad, 1e-3, 1e-3, None, |x| {
        loss.loss(x, shape, target, &mut scratch).unwrap() as f64
    });
}

/// `len` values uniform in `[-scale, scale)`.
fn scaled(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    random(len, seed).iter().map(|v| v * scale).collect()
}

fn labels(len: usize, classes: usize, seed: u64) -> Vec<usize> {
    let mut r = crate::rng::Rng::new(seed);
    (0..len).map(|_| r.below(classes)).collect()
}

/// `len` values in [0, 1].
fn unit(len: usize, seed: u64) -> Vec<f32> {
    random(len, seed).iter().map(|v| (v + 1.0) / 2.0).collect()
}

/// Moves every value of `x` that lies within 0.01 of `±kink` (measured
/// from `t`) 0.05 away from it, so that a difference of step 1e-3 does
/// not straddle a kink of the loss.
fn away_from_kinks(x: &mut [f32], t: &[f32], kink: f32) {
    for (o, &t) in x.iter_mut().zip(t) {
        let d = *o - t;
        if (d.abs() - kink).abs() < 0.01 {
            *o += 0.05 * d.signum();
        }
    }
}

/// Localization rows of `width` values: targets with pc alternating 1, 0,
/// a box in [0, 1], a one-hot class; NaN after pc where there is no
/// object, which the loss must not read.
fn localization_rows(rows: usize, width: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let output = scaled(rows * width, seed, 2.0);
    let boxes = unit(rows * 4, seed + 1);
    let classes = labels(rows, width - 5, seed + 2);
    let mut target = vec![f32::NAN; rows * width];
    for (r, t) in target.chunks_exact_mut(width).enumerate() {
        t[0] = if r % 2 == 0 { 1.0 } else { 0.0 };
        if r % 2 == 0 {
            t[1..5].copy_from_slice(&boxes[r * 4..r * 4 + 4]);
            t[5..].fill(0.0);
            t[5 + classes[r]] = 1.0;
        }
    }
    (output, target)
}

#[test]
fn gradients_match_central_differences() {
    // Cross-entropy: class labels, a 3x2 label map with smoothing, soft
    // rows that do not sum to 1.
    let z = scaled(3 * 5, 1, 3.0);
    check_gradient(
        &CrossEntropy::new(),
        &z,
        &[5],
        Target::Classes(&labels(3, 5, 2)),
    );
    let z = scaled(2 * 3 * 2 * 4, 3, 3.0);
    let map = labels(2 * 3 * 2, 4, 4);
    let smooth = CrossEntropy::new().with_label_smoothing(0.1);
    check_gradient(&smooth, &z, &[3, 2, 4], Target::LabelMap(&map));
    let z = scaled(4 * 3, 5, 3.0);
    let soft = unit(4 * 3, 6);
    let ce = CrossEntropy::new().with_label_smoothing(0.2);
    check_gradient(&ce, &z, &[3], Target::Values(&soft));

    // Binary cross-entropy on soft values and on a 0/1 mask.
    let z = scaled(3 * 4, 7, 4.0);
    check_gradient(&BinaryCrossEntropy, &z, &[4], Target::Values(&unit(12, 8)));
    let mask = labels(12, 2, 9);
    check_gradient(&BinaryCrossEntropy, &z, &[2, 2, 1], Target::LabelMap(&mask));

    // Regression, away from the kinks of Huber and smooth L1.
    let t = scaled(3 * 5, 10, 1.0);
    let mut o = scaled(3 * 5, 11, 2.0);
    check_gradient(&Mse, &o, &[5], Target::Values(&t));
    for kink in [0.0, 0.5, 0.7] {
        away_from_kinks(&mut o, &t, kink);
    }
    check_gradient(&Huber::new(0.7), &o, &[5], Target::Values(&t));
    check_gradient(&SmoothL1::new(0.5), &o, &[5], Target::Values(&t));
    check_gradient(&SmoothL1::new(0.0), &o, &[5], Target::Values(&t));

    // Localization: one row per example, and a 2x2 grid per example.
    let weighted = Localization::new()
        .with_presence_weight(0.5)
        .with_box_weight(2.0)
        .with_class_weight(1.5);
    let (o, t) = localization_rows(4, 7, 12);
    check_gradient(&weighted, &o, &[7], Target::Values(&t));
    let (o, t) = localization_rows(2 * 4, 6, 13);
    check_gradient(&Localization::new(), &o, &[2, 2, 6], Target::Values(&t));
}

#[test]
fn names_and_fusion() {
    let cases: [(&dyn Loss, &str, Option<Fused>); 6] = [
        (&CrossEntropy::new(), "cross_entropy", Some(Fused::Softmax)),
        (
            &BinaryCrossEntropy,
            "binary_cross_entropy",
            Some(Fused::Sigmoid),
        ),
        (&Mse, "mse", None),
        (&Huber::default(), "huber", None),
        (&SmoothL1::default(), "smooth_l1", None),
        (&Localization::default(), "localization", None),
    ];
    for (loss, name, fused) in cases {
        assert_eq!((loss.name(), loss.fused()), (name, fused));
    }
    assert_eq!(Huber::default().delta, 1.0);
    assert_eq!(SmoothL1::default().beta, 1.0);
}

// Logits [0, ln 3] give p = [1/4, 3/4]. With label 1 and smoothing 0.5
// the target is q = 0.5 * [0, 1] + 0.5 / 2 = [1/4, 3/4] = p: the gradient
// is 0 and the loss is the entropy -(1/4 ln 1/4 + 3/4 ln 3/4) = 0.562335
// (worked by hand).
#[test]
fn label_smoothing_by_hand() {
    let mut grad = nan_filled(2);
    let ce = CrossEntropy::new().with_label_smoothing(0.5);
    let loss = ce
        .loss(&[0.0, 3f32.ln()], &[2], Target::Classes(&[1]), &mut grad)
        .unwrap();
    let entropy = -(0.25 * 0.25f32.ln() + 0.75 * 0.75f32.ln());
    assert!((loss - entropy).abs() < 1e-6, "{loss} vs {entropy}");
    assert_close(&grad, &[0.0, 0.0], 0.0, 1e-7);
}

#[test]
fn one_hot_values_equal_class_labels() {
    // Soft targets that are one-hot are the labels, with and without
    // smoothing; a label map of one position per example is the classes.
    let (batch, classes) = (4, 5);
    let z = scaled(batch * classes, 20, 4.0);
    let l = labels(batch, classes, 21);
    let mut one_hot = vec![0.0; batch * classes];
    for (b, &c) in l.iter().enumerate() {
        one_hot[b * classes + c] = 1.0;
    }
    for e in [0.0, 0.3] {
        let ce = CrossEntropy::new().with_label_smoothing(e);
        let mut g1 = nan_filled(z.len());
        let mut g2 = nan_filled(z.len());
        let mut g3 = nan_filled(z.len());
        let a = ce
            .loss(&z, &[classes], Target::Classes(&l), &mut g1)
            .unwrap();
        let b = ce
            .loss(&z, &[classes], Target::Values(&one_hot), &mut g2)
            .unwrap();
        let c = ce
            .loss(&z, &[1, classes], Target::LabelMap(&l), &mut g3)
            .unwrap();
        assert!((a - b).abs() < 1e-6 && (a - c).abs() < 1e-6, "{a} {b} {c}");
        assert_close(&g2, &g1, 1e-5, 1e-7);
        assert_close(&g3, &g1, 0.0, 0.0);
    }
}

#[test]
fn binary_labels_equal_values_and_stay_finite() {
    let z = [1e4, -1e4, 0.0, 30.0, -80.0, 2.0];
    let l = [0, 0, 1, 1, 1, 0];
    let y: Vec<f32> = l.iter().map(|&v| v as f32).collect();
    let mut g1 = nan_filled(6);
    let mut g2 = nan_filled(6);
    let a = BinaryCrossEntropy
        .loss(&z, &[1], Target::Classes(&l), &mut g1)
        .unwrap();
    let b = BinaryCrossEntropy
        .loss(&z, &[1], Target::Values(&y), &mut g2)
        .unwrap();
    assert_eq!((a, &g1), (b, &g2));
    // By hand: max(z, 0) - z y + ln(1 + e^-|z|) is 1e4, 0, ln 2,
    // ln(1 + e^-30), 80, 2 + ln(1 + e^-2); the mean of them.
    let want =
        (1e4 + 2f64.ln() + (-30f64).exp().ln_1p() + 80.0 + 2.0 + (-2f64).exp().ln_1p()) / 6.0;
    assert!((a as f64 - want).abs() < 1e-6 * want, "{a} vs {want}");
    // (s(z) - y) / 6: 1/6 for the logit 1e4 labelled 0.
    assert_close(&g1[..3], &[1.0 / 6.0, 0.0, -0.5 / 6.0], 1e-6, 1e-9);
}

#[test]
fn huber_is_delta_times_smooth_l1() {
    let t = scaled(20, 30, 1.0);
    let o = scaled(20, 31, 3.0);
    for delta in [0.3f32, 1.0, 2.5] {
        let mut g1 = nan_filled(20);
        let mut g2 = nan_filled(20);
        let h = Huber::new(delta)
            .loss(&o, &[4], Target::Values(&t), &mut g1)
            .unwrap();
        let s = SmoothL1::new(delta)
            .loss(&o, &[4], Target::Values(&t), &mut g2)
            .unwrap();
        assert!((h - delta * s).abs() < 1e-5 * h, "{h} vs {delta} * {s}");
        let scaled: Vec<f32> = g2.iter().map(|g| g * delta).collect();
        assert_close(&g1, &scaled, 1e-5, 1e-8);
    }
    // beta = 0 is L1: mean |o - t|, slope sign / N, 0 where o = t.
    let mut g = nan_filled(3);
    let l1 = SmoothL1::new(0.0)
        .loss(
            &[1.0, -2.0, 0.5],
            &[3],
            Target::Values(&[0.0, 0.0, 0.5]),
            &mut g,
        )
        .unwrap();
    assert_eq!(l1, 1.0);
    assert_eq!(g, [1.0 / 3.0, -1.0 / 3.0, 0.0]);
}

#[test]
fn localization_is_the_sum_of_its_parts() {
    // One row per example: the loss is presence_weight * BCE(pc)
    // + box_weight * 4 * MSE(box) + class_weight * CE(class), summed
    // over the examples with an object, over the batch (the examples
    // without one add only their presence term).
    let (pw, bw, cw) = (0.5, 2.0, 1.5);
    let loss = Localization::new()
        .with_presence_weight(pw)
        .with_box_weight(bw)
        .with_class_weight(cw);
    let (width, rows) = (7, 4);
    let (o, t) = localization_rows(rows, width, 40);
    let mut grad = nan_filled(o.len());
    let got = loss
        .loss(&o, &[width], Target::Values(&t), &mut grad)
        .unwrap();
    assert!(
        got.is_finite(),
        "the NaN targets of rows without an object leaked"
    );
    let mut want = 0f64;
    for (r, (o, t)) in o.chunks_exact(width).zip(t.chunks_exact(width)).enumerate() {
        let mut g = [0.0; 7];
        want += pw as f64
            * BinaryCrossEntropy
                .loss(&o[..1], &[1], Target::Values(&t[..1]), &mut g[..1])
                .unwrap() as f64;
        if r % 2 == 0 {
            let mse = Mse.loss(&o[1..5], &[4], Target::Values(&t[1..5]), &mut g[1..5]);
            let ce = CrossEntropy::new().loss(&o[5..], &[2], Target::Values(&t[5..]), &mut g[5..]);
            want += bw as f64 * 4.0 * mse.unwrap() as f64 + cw as f64 * ce.unwrap() as f64;
        }
    }
    want /= rows as f64;
    assert!((got as f64 - want).abs() < 1e-5 * want, "{got} vs {want}");
    // No object: only the presence logit has a gradient.
    assert!(grad[width + 1..2 * width].iter().all(|&g| g == 0.0));
}

#[test]
fn localization_decoders() {
    let row = [0.0, 0.25, 0.75, 0.5, 0.125, -1.0, 3.0, 3.0];
    assert_eq!(localization::presence_probability(&row), 0.5);
    assert_eq!(localization::bounding_box(&row), [0.25, 0.75, 0.5, 0.125]);
    // The first of two equal largest logits.
    assert_eq!(localization::class(&row), 1);
    let mut probs = nan_filled(3);
    localization::class_probabilities(&row, &mut probs);
    let e = (-4f32).exp();
    assert_close(
        &probs,
        &[e / (e + 2.0), 1.0 / (e + 2.0), 1.0 / (e + 2.0)],
        1e-6,
        0.0,
    );
    assert!(localization::presence_probability(&[-1e4]) == 0.0);
    assert!(localization::presence_probability(&[1e4]) == 1.0);
}
