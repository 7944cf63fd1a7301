//! Every error of the built-in losses: a target of the wrong kind or
//! length, a class out of range, a bad target value or setting. Each is an
//! `Err` (never a panic) and leaves `grad` as it was.

use super::super::*;
use crate::error::Error;

/// Runs `loss`, expects an `Err` whose message contains `says`, and checks
/// `grad` kept its values.
#[track_caller]
fn expect_err(
    loss: &dyn Loss,
    output: &[f32],
    shape: &[usize],
    target: Target<'_>,
    grad_len: usize,
    says: &str,
) -> Error {
    let mut grad = vec![7.0; grad_len];
    let e = loss.loss(output, shape, target, &mut grad).unwrap_err();
    assert!(e.to_string().contains(says), "{}: {e}", loss.name());
    assert!(
        grad.iter().all(|&g| g == 7.0),
        "{}: grad was written",
        loss.name()
    );
    e
}

#[test]
fn wrong_target_kinds_are_errors() {
    let z = [0.0; 12];
    let labels = [0usize; 12];
    let ce = CrossEntropy::new();
    // One class per example for an image output: a label map was meant.
    expect_err(
        &ce,
        &z,
        &[2, 2, 3],
        Target::Classes(&labels[..1]),
        12,
        "Target::LabelMap",
    );
    expect_err(
        &BinaryCrossEntropy,
        &z,
        &[3],
        Target::Classes(&labels[..4]),
        12,
        "Target::Values",
    );
    expect_err(
        &BinaryCrossEntropy,
        &z,
        &[2, 2, 3],
        Target::LabelMap(&labels[..4]),
        12,
        "Target::Values",
    );
    for loss in [&Mse as &dyn Loss, &Huber::default(), &SmoothL1::default()] {
        expect_err(
            loss,
            &z,
            &[3],
            Target::Classes(&labels[..4]),
            12,
            "not Target::Classes",
        );
        expect_err(
            loss,
            &z,
            &[3],
            Target::LabelMap(&labels),
            12,
            "not Target::LabelMap",
        );
    }
    expect_err(
        &Localization::new(),
        &z,
        &[6],
        Target::Classes(&labels[..2]),
        12,
        "takes Target::Values",
    );
    expect_err(
        &Localization::new(),
        &z,
        &[6],
        Target::LabelMap(&labels[..2]),
        12,
        "takes Target::Values",
    );
}

#[test]
fn wrong_lengths_are_errors() {
    let z = [0.0; 12];
    let labels = [0usize; 13];
    let values = [0.0f32; 13];
    let all: [&dyn Loss; 6] = [
        &CrossEntropy::new(),
        &BinaryCrossEntropy,
        &Mse,
        &Huber::default(),
        &SmoothL1::default(),
        &Localization::new(),
    ];
    for loss in all {
        // Values one short and one long; grad one short; an output that is
        // not a whole number of examples; shapes with no axis or an axis 0.
        expect_err(
            loss,
            &z,
            &[6],
            Target::Values(&values[..11]),
            12,
            "target: expected 12 values",
        );
        expect_err(loss, &z, &[6], Target::Values(&values), 12, "got 13");
        expect_err(loss, &z, &[6], Target::Values(&values[..12]), 11, "grad");
        expect_err(
            loss,
            &z[..11],
            &[6],
            Target::Values(&values[..11]),
            11,
            "multiple of 6",
        );
        expect_err(loss, &z, &[], Target::Values(&values[..12]), 12, "empty");
        expect_err(
            loss,
            &z,
            &[0, 6],
            Target::Values(&values[..12]),
            12,
            "axis of 0",
        );
        expect_err(loss, &[], &[6], Target::Values(&[]), 0, "positive multiple");
    }
    let ce = CrossEntropy::new();
    expect_err(
        &ce,
        &z,
        &[3],
        Target::Classes(&labels[..3]),
        12,
        "4 class labels, one per example",
    );
    expect_err(
        &ce,
        &z,
        &[2, 3],
        Target::LabelMap(&labels[..3]),
        12,
        "4 class labels, one per position",
    );
    expect_err(
        &BinaryCrossEntropy,
        &z,
        &[2, 1],
        Target::LabelMap(&labels[..3]),
        12,
        "12 labels",
    );
}

#[test]
fn classes_out_of_range_are_errors() {
    let z = [0.0; 12];
    let e = expect_err(
        &CrossEntropy::new(),
        &z,
        &[4],
        Target::Classes(&[0, 3, 4]),
        12,
        "out of range",
    );
    assert!(
        matches!(
            e,
            Error::LabelOutOfRange {
                index: 2,
                label: 4,
                classes: 4
            }
        ),
        "{e:?}"
    );
    let smooth = CrossEntropy::new().with_label_smoothing(0.1);
    let e = expect_err(
        &smooth,
        &z,
        &[2, 3],
        Target::LabelMap(&[0, 1, 2, 9]),
        12,
        "out of range",
    );
    assert!(
        matches!(
            e,
            Error::LabelOutOfRange {
                index: 3,
                label: 9,
                classes: 3
            }
        ),
        "{e:?}"
    );
    let mask = [0, 1, 1, 2, 0, 0, 1, 1, 0, 0, 1, 0];
    let e = expect_err(
        &BinaryCrossEntropy,
        &z,
        &[2, 1],
        Target::LabelMap(&mask),
        12,
        "out of range",
    );
    assert!(
        matches!(
            e,
            Error::LabelOutOfRange {
                index: 3,
                label: 2,
                classes: 2
            }
        ),
        "{e:?}"
    );
}

#[test]
fn bad_targets_and_settings_are_errors() {
    let z = [0.0; 12];
    let mut y = [0.5f32; 12];
    y[5] = 255.0;
    expect_err(
        &BinaryCrossEntropy,
        &z,
        &[6],
        Target::Values(&y),
        12,
        "255 at position 5 is outside [0, 1]",
    );
    y[5] = f32::NAN;
    expect_err(
        &BinaryCrossEntropy,
        &z,
        &[6],
        Target::Values(&y),
        12,
        "outside [0, 1]",
    );
    for e in [-0.1, 1.5, f32::NAN] {
        let ce = CrossEntropy::new().with_label_smoothing(e);
        expect_err(
            &ce,
            &z,
            &[6],
            Target::Classes(&[0, 1]),
            12,
            "label_smoothing",
        );
    }
    for delta in [0.0, -1.0, f32::INFINITY] {
        expect_err(
            &Huber::new(delta),
            &z,
            &[6],
            Target::Values(&[0.0; 12]),
            12,
            "delta",
        );
    }
    expect_err(
        &SmoothL1::new(-0.5),
        &z,
        &[6],
        Target::Values(&[0.0; 12]),
        12,
        "beta",
    );
    let t = [1.0, 0.5, 0.5, 0.2, 0.2, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0];
    let loc = Localization::new();
    expect_err(&loc, &z, &[6], Target::Values(&t), 12, "pc of row 1 is 0.5");
    expect_err(&loc, &z, &[4], Target::Values(&t), 12, "at least 6");
    expect_err(
        &loc.with_box_weight(-1.0),
        &z,
        &[6],
        Target::Values(&t),
        12,
        "box_weight",
    );
    expect_err(
        &loc.with_class_weight(f32::NAN),
        &z,
        &[6],
        Target::Values(&t),
        12,
        "class_weight",
    );
    expect_err(
        &loc.with_presence_weight(-2.0),
        &z,
        &[6],
        Target::Values(&t),
        12,
        "presence_weight",
    );
}
