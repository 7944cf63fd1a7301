//! Every embedding loss and miner against PyTorch, on the committed
//! fixture `tests/fixtures/embed/embed.safetensors` that
//! `scripts/make_embed_fixture.py` writes (PyTorch is not needed here):
//! the mined triplets index for index, the loss to 1e-5 relative, and the
//! gradient to 1e-5 relative to each element plus 1e-5 of the largest.
//! The fixture's values were computed in float64 from float32 inputs.

use super::*;
use crate::io::{self, Checkpoint};
use crate::loss::{Loss, Target};
use crate::testing::nan_filled;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/embed/embed.safetensors"
);

fn tensor(file: &Checkpoint, case: &str, part: &str) -> (Vec<usize>, Vec<f32>) {
    let (shape, values) = file
        .tensor(&format!("{case}/{part}"))
        .unwrap_or_else(|e| panic!("{e}"));
    (shape.to_vec(), values)
}

#[track_caller]
fn assert_matches(case: &str, what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{case}: {what} lengths");
    let scale = want.iter().fold(0f32, |m, g| m.max(g.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * (w.abs() + scale),
            "{case}: {what}[{i}] {g}, PyTorch {w}"
        );
    }
}

#[track_caller]
fn assert_loss(case: &str, got: f32, want: f32) {
    assert!(
        (got - want).abs() <= 1e-5 * want.abs(),
        "{case}: loss {got}, PyTorch {want}"
    );
}

#[test]
fn triplet_losses_and_miners_match_pytorch() {
    let file = io::load(std::path::Path::new(FIXTURE)).unwrap();
    let cases: Vec<String> = file
        .names()
        .iter()
        .filter(|n| n.starts_with("triplet_") && n.ends_with("/loss"))
        .map(|n| n.trim_end_matches("/loss").to_string())
        .collect();
    assert_eq!(cases.len(), 12, "the fixture's triplet cases: {cases:?}");
    let mut fallbacks = 0;
    for case in &cases {
        let (shape, e) = tensor(&file, case, "embeddings");
        let dim = shape[1];
        let ids: Vec<usize> = tensor(&file, case, "target")
            .1
            .iter()
            .map(|&v| v as usize)
            .collect();
        let params = tensor(&file, case, "params").1;
        let mining = [Mining::All, Mining::BatchHard, Mining::SemiHard][params[1] as usize];
        let distance = [Distance::SquaredEuclidean, Distance::Euclidean][params[2] as usize];
        let loss = TripletLoss::new(params[0], mining).with_distance(distance);

        let want: Vec<Triplet> = tensor(&file, case, "triplets")
            .1
            .chunks_exact(3)
            .map(|t| Triplet {
                anchor: t[0] as usize,
                positive: t[1] as usize,
                negative: t[2] as usize,
            })
            .collect();
        let got = loss.mine(&e, dim, &ids).unwrap();
        assert_eq!(got, want, "{case}: mined triplets");
        if mining == Mining::SemiHard {
            let mut d = vec![0.0; ids.len() * ids.len()];
            pairwise_distances(&e, dim, distance, &mut d).unwrap();
            let n = ids.len();
            fallbacks += got
                .iter()
                .filter(|t| d[t.anchor * n + t.negative] <= d[t.anchor * n + t.positive])
                .count();
        }

        let mut grad = nan_filled(e.len());
        let value = loss
            .loss(&e, &[dim], Target::Classes(&ids), &mut grad)
            .unwrap();
        assert_loss(case, value, tensor(&file, case, "loss").1[0]);
        assert_matches(case, "grad", &grad, &tensor(&file, case, "grad").1);
    }
    // The script puts an outlier in batch 2 so that a pair has no
    // negative further than its positive, on both distances.
    assert_eq!(fallbacks, 2, "semi-hard fallbacks in the fixture");
}

#[test]
fn contrastive_loss_matches_pytorch() {
    let file = io::load(std::path::Path::new(FIXTURE)).unwrap();
    for case in ["contrastive", "contrastive_soft"] {
        let (shape, e) = tensor(&file, case, "embeddings");
        let labels = tensor(&file, case, "target").1;
        let margin = tensor(&file, case, "params").1[0];
        let mut grad = nan_filled(e.len());
        let value = ContrastiveLoss::new(margin)
            .loss(&e, &shape[1..], Target::Values(&labels), &mut grad)
            .unwrap();
        assert_loss(case, value, tensor(&file, case, "loss").1[0]);
        assert_matches(case, "grad", &grad, &tensor(&file, case, "grad").1);
    }
}

#[test]
fn siamese_head_matches_pytorch() {
    let file = io::load(std::path::Path::new(FIXTURE)).unwrap();
    let case = "siamese";
    let (shape, e) = tensor(&file, case, "embeddings");
    let labels = tensor(&file, case, "target").1;
    let params = tensor(&file, case, "params").1;
    let (w, b) = params.split_at(shape[1]);
    let head = SiameseHead::from_weights(w, b[0]);
    let mut grads = SiameseGrads::default();
    let value = head.loss(&e, &labels, &mut grads).unwrap();
    assert_loss(case, value, tensor(&file, case, "loss").1[0]);
    assert_matches(
        case,
        "grad",
        &grads.embeddings,
        &tensor(&file, case, "grad").1,
    );
    assert_matches(
        case,
        "grad_params",
        &grads.params,
        &tensor(&file, case, "grad_params").1,
    );
}
