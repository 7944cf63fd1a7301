//! Every built-in loss against PyTorch's own functions, on the committed
//! fixture `tests/fixtures/loss/losses.safetensors` that
//! `scripts/make_loss_fixture.py` writes (PyTorch is not needed here). The
//! fixture's values and gradients were computed in float64 from the
//! float32 inputs, so what differs is our float32 arithmetic alone.

use super::*;
use crate::io::{self, Checkpoint};
use crate::testing::nan_filled;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/loss/losses.safetensors"
);

/// The cases the script writes, each with the loss it checks.
const CASES: [&str; 15] = [
    "ce_classes",
    "ce_classes_smooth",
    "ce_map",
    "ce_map_smooth",
    "ce_soft",
    "ce_soft_map",
    "bce",
    "bce_map",
    "mse",
    "huber",
    "smooth_l1",
    "smooth_l1_beta0",
    "loc",
    "loc_weighted",
    "loc_grid",
];

fn tensor(file: &Checkpoint, case: &str, part: &str) -> Vec<f32> {
    file.tensor(&format!("{case}/{part}"))
        .unwrap_or_else(|e| panic!("{e}"))
        .1
}

/// The loss a case checks, built from its name and `params`.
fn loss_for(case: &str, params: &[f32]) -> Box<dyn Loss> {
    match case.split('_').next().unwrap() {
        "ce" => Box::new(CrossEntropy::new().with_label_smoothing(params[0])),
        "bce" => Box::new(BinaryCrossEntropy),
        "mse" => Box::new(Mse),
        "huber" => Box::new(Huber::new(params[0])),
        "smooth" => Box::new(SmoothL1::new(params[0])),
        "loc" => Box::new(
            Localization::new()
                .with_presence_weight(params[0])
                .with_box_weight(params[1])
                .with_class_weight(params[2]),
        ),
        other => panic!("no loss for case {other}"),
    }
}

#[test]
fn every_loss_matches_pytorch() {
    let file = io::load(std::path::Path::new(FIXTURE)).unwrap();
    let mut names: Vec<&str> = file.names();
    names.retain(|n| n.ends_with("/loss"));
    assert_eq!(names.len(), CASES.len(), "the fixture's cases: {names:?}");
    for case in CASES {
        let output = tensor(&file, case, "output");
        let target = tensor(&file, case, "target");
        let shape: Vec<usize> = tensor(&file, case, "shape")
            .iter()
            .map(|&d| d as usize)
            .collect();
        let params = tensor(&file, case, "params");
        let want_loss = tensor(&file, case, "loss")[0];
        let want_grad = tensor(&file, case, "grad");
        // Labels are stored as float32, exact for small integers.
        let labels: Vec<usize> = target.iter().map(|&v| v as usize).collect();
        let target = match tensor(&file, case, "kind")[0] as u8 {
            0 => Target::Classes(&labels),
            1 => Target::LabelMap(&labels),
            _ => Target::Values(&target),
        };
        let loss = loss_for(case, &params);
        let mut grad = nan_filled(output.len());
        let got = loss.loss(&output, &shape, target, &mut grad).unwrap();

        // 1e-5 relative on the loss. On the gradient, 1e-5 relative to
        // each element plus 1e-5 of the largest element: an element that
        // is a difference p - y near 0 keeps the absolute error of p.
        assert!(
            (got - want_loss).abs() <= 1e-5 * want_loss.abs(),
            "{case}: loss {got}, PyTorch {want_loss}"
        );
        let scale = want_grad.iter().fold(0f32, |m, g| m.max(g.abs()));
        for (i, (&g, &w)) in grad.iter().zip(&want_grad).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 * (w.abs() + scale),
                "{case}: grad[{i}] {g}, PyTorch {w}"
            );
        }
    }
}
