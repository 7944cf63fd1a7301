//! The embedding losses: the miners' picks on hand-built batches whose
//! right triplets are worked out in the comments, loss values by hand,
//! central-difference gradient checks that prove they stay off every kink
//! (no pick and no hinge changes between `x - h` and `x + h`), and the
//! errors. The comparison with PyTorch is in `pytorch_tests.rs`.

use super::*;
use crate::loss::{Loss, Target};
use crate::testing::{gradcheck, nan_filled, random};

fn t(anchor: usize, positive: usize, negative: usize) -> Triplet {
    Triplet {
        anchor,
        positive,
        negative,
    }
}

/// Five points on a line: identity 0 at 0, 0.3 and 1; identity 1 at 0.5
/// and 2. Distances along the line (the squared distance orders the same).
const LINE: [f32; 5] = [0.0, 0.3, 1.0, 0.5, 2.0];
const LINE_IDS: [usize; 5] = [0, 0, 0, 1, 1];

#[test]
fn batch_hard_picks_the_furthest_positive_and_closest_negative() {
    // Anchor 0: positives 1 (0.3), 2 (1.0); negatives 3 (0.5), 4 (2.0).
    // Anchor 1: positives 0 (0.3), 2 (0.7); negatives 3 (0.2), 4 (1.7).
    // Anchor 2: positives 0 (1.0), 1 (0.7); negatives 3 (0.5), 4 (1.0).
    // Anchor 3: positive 4 (1.5); negatives 0 (0.5), 1 (0.2), 2 (0.5).
    // Anchor 4: positive 3 (1.5); negatives 0 (2.0), 1 (1.7), 2 (1.0).
    let want = [t(0, 2, 3), t(1, 2, 3), t(2, 0, 3), t(3, 4, 1), t(4, 3, 2)];
    for distance in [Distance::SquaredEuclidean, Distance::Euclidean] {
        let loss = TripletLoss::new(0.25, Mining::BatchHard).with_distance(distance);
        assert_eq!(loss.mine(&LINE, 1, &LINE_IDS).unwrap(), want);
    }
    // Euclidean: (1 - 0.5 + 0.25) * 3 + (0.7 - 0.2 + 0.25) + (1.5 - 0.2 + 0.25), over 5.
    let loss = TripletLoss::new(0.25, Mining::BatchHard).with_distance(Distance::Euclidean);
    let mut grad = nan_filled(5);
    let v = loss
        .loss(&LINE, &[1], Target::Classes(&LINE_IDS), &mut grad)
        .unwrap();
    assert!((v - 4.55 / 5.0).abs() < 1e-6, "{v}");
}

#[test]
fn semi_hard_picks_the_closest_negative_beyond_the_positive() {
    // Per (anchor, positive): the closest negative strictly further than
    // the positive; when there is none, the furthest negative.
    //   (0, 1) d 0.3: negatives 3 (0.5), 4 (2.0) are further; 3.
    //   (0, 2) d 1.0: only 4 (2.0); 4.
    //   (1, 0) d 0.3: 3 is at 0.2, closer; 4.
    //   (1, 2) d 0.7: 4.
    //   (2, 0) d 1.0: 3 at 0.5, 4 at exactly 1.0, not further: none;
    //          the furthest negative is 4.
    //   (2, 1) d 0.7: 4 (1.0).
    //   (3, 4) d 1.5: negatives at 0.5, 0.2, 0.5, none further; the
    //          furthest, of the two at 0.5 the first: 0.
    //   (4, 3) d 1.5: 0 (2.0) and 1 (1.7) are further; 1.
    let want = [
        t(0, 1, 3),
        t(0, 2, 4),
        t(1, 0, 4),
        t(1, 2, 4),
        t(2, 0, 4),
        t(2, 1, 4),
        t(3, 4, 0),
        t(4, 3, 1),
    ];
    for distance in [Distance::SquaredEuclidean, Distance::Euclidean] {
        let loss = TripletLoss::new(0.25, Mining::SemiHard).with_distance(distance);
        assert_eq!(loss.mine(&LINE, 1, &LINE_IDS).unwrap(), want);
    }
    // With margin 0.25: (0, 1, 3) is semi-hard within the margin (0.3 -
    // 0.5 + 0.25 = 0.05), (4, 3, 1) too (1.5 - 1.7 + 0.25 = 0.05); the
    // fallbacks (2, 0, 4) gives 0.25 and (3, 4, 0) 1.25; the other four
    // lie beyond the margin and give 0. The mean over the 8 pairs: 0.2.
    let loss = TripletLoss::new(0.25, Mining::SemiHard).with_distance(Distance::Euclidean);
    let mut grad = nan_filled(5);
    let v = loss
        .loss(&LINE, &[1], Target::Classes(&LINE_IDS), &mut grad)
        .unwrap();
    assert!((v - 0.2).abs() < 1e-6, "{v}");
    // Anchor 1's triplets both lie beyond the margin: no pull on it but
    // through the active triplets it belongs to ((0, 1, 3) and (4, 3, 1)).
    // d/dx1 of (d01 - d03)/8 is +1/8; of (d43 - d41)/8 is -(-1)/8 = +1/8.
    assert!((grad[1] - 0.25).abs() < 1e-6, "{grad:?}");
}

#[test]
fn all_mining_takes_every_valid_triplet_in_order() {
    let loss = TripletLoss::new(0.25, Mining::All);
    let got = loss.mine(&LINE, 1, &LINE_IDS).unwrap();
    // Identity 0: 3 anchors x 2 positives x 2 negatives; identity 1:
    // 2 anchors x 1 positive x 3 negatives.
    assert_eq!(got.len(), 18);
    assert_eq!(&got[..4], &[t(0, 1, 3), t(0, 1, 4), t(0, 2, 3), t(0, 2, 4)]);
    assert_eq!(&got[15..], &[t(4, 3, 0), t(4, 3, 1), t(4, 3, 2)]);
    // A valid triplet every time, no other.
    for tr in &got {
        assert_ne!(tr.anchor, tr.positive);
        assert_eq!(LINE_IDS[tr.anchor], LINE_IDS[tr.positive]);
        assert_ne!(LINE_IDS[tr.anchor], LINE_IDS[tr.negative]);
    }
}

#[test]
fn anchors_without_a_positive_give_no_triplet() {
    // Identity 5 once: it is only ever a negative.
    let e = [0.0, 1.0, 1.2, 3.0, 3.1];
    let ids = [5, 0, 0, 1, 1];
    for mining in [Mining::All, Mining::BatchHard, Mining::SemiHard] {
        let got = TripletLoss::new(0.2, mining).mine(&e, 1, &ids).unwrap();
        assert!(
            got.iter().all(|t| t.anchor != 0 && t.positive != 0),
            "{mining:?}"
        );
        assert!(got.iter().any(|t| t.negative == 0), "{mining:?}");
    }
    // Anchor 2 (at 1.2): the single 0 is at 1.2, identity 1 at 1.8 and 1.9.
    let hard = TripletLoss::new(0.2, Mining::BatchHard)
        .mine(&e, 1, &ids)
        .unwrap();
    assert_eq!(hard, [t(1, 2, 0), t(2, 1, 0), t(3, 4, 2), t(4, 3, 2)]);
}

#[test]
fn a_batch_without_triplets_is_an_error_that_leaves_grad_alone() {
    let loss = TripletLoss::default();
    for ids in [[3, 3, 3, 3], [0, 1, 2, 3]] {
        let mut grad = nan_filled(8);
        let e = random(8, 1);
        let err = loss
            .loss(&e, &[2], Target::Classes(&ids), &mut grad)
            .unwrap_err();
        assert!(err.to_string().contains("holds no triplet"), "{err}");
        assert!(grad.iter().all(|g| g.is_nan()));
    }
}

#[test]
fn losses_reject_bad_targets_shapes_and_margins() {
    let e = random(8, 2);
    let mut grad = nan_filled(8);
    let triplet = TripletLoss::default();
    let msg = |r: crate::Result<f32>| r.unwrap_err().to_string();
    let m = msg(triplet.loss(&e, &[2], Target::Values(&[0.0; 4]), &mut grad));
    assert!(
        m.contains("takes Target::Classes") && m.contains("not Target::Values"),
        "{m}"
    );
    let m = msg(triplet.loss(&e, &[2], Target::Classes(&[0, 0, 1]), &mut grad));
    assert!(
        m.contains("4 identities, one per embedding") && m.contains("got 3"),
        "{m}"
    );
    let m = msg(triplet.loss(&e, &[3], Target::Classes(&[0, 0]), &mut grad));
    assert!(m.contains("multiple of the embedding length 3"), "{m}");
    let m = msg(triplet.loss(&e, &[2], Target::Classes(&[0, 0, 1, 1]), &mut grad[..6]));
    assert!(m.contains("grad"), "{m}");
    let m = msg(triplet.loss(&e, &[], Target::Classes(&[0; 8]), &mut grad));
    assert!(m.contains("shape is []"), "{m}");
    let neg = TripletLoss::new(-0.1, Mining::All);
    let m = msg(neg.loss(&e, &[2], Target::Classes(&[0, 0, 1, 1]), &mut grad));
    assert!(
        m.contains("margin must be a finite number >= 0, got -0.1"),
        "{m}"
    );

    let contrastive = ContrastiveLoss::default();
    let m = msg(contrastive.loss(&e, &[2], Target::Classes(&[0, 1]), &mut grad));
    assert!(m.contains("takes Target::Values"), "{m}");
    let m = msg(contrastive.loss(&e[..6], &[2], Target::Values(&[1.0]), &mut grad[..6]));
    assert!(
        m.contains("an even number of embeddings") && m.contains("3 embeddings"),
        "{m}"
    );
    let m = msg(contrastive.loss(&e, &[2], Target::Values(&[1.0]), &mut grad));
    assert!(m.contains("2 labels, one per pair"), "{m}");
    let m = msg(contrastive.loss(&e, &[2], Target::Values(&[1.0, 2.0]), &mut grad));
    assert!(m.contains("label of pair 1 is 2"), "{m}");
    assert!(grad.iter().all(|g| g.is_nan()), "an error wrote to grad");
}

/// Whether each triplet `loss` mines at `x` has an open hinge.
fn open_hinges(loss: &TripletLoss, x: &[f32], dim: usize, ids: &[usize]) -> Vec<(Triplet, bool)> {
    let n = ids.len();
    let mut d = vec![0.0; n * n];
    pairwise_distances(x, dim, loss.distance, &mut d).unwrap();
    let margin = loss.margin;
    loss.mine(x, dim, ids)
        .unwrap()
        .into_iter()
        .map(|t| {
            let h = d[t.anchor * n + t.positive] - d[t.anchor * n + t.negative] + margin;
            (t, h > 0.0)
        })
        .collect()
}

/// Central differences (step 1e-3, tolerance 1e-3 as `loss/tests.rs`),
/// checking at every evaluation that the picks and the open hinges are
/// those at `x`: a difference across a kink would prove nothing.
#[track_caller]
fn check_triplet_gradient(loss: &TripletLoss, x: &[f32], dim: usize, ids: &[usize]) {
    let mut grad = nan_filled(x.len());
    loss.loss(x, &[dim], Target::Classes(ids), &mut grad)
        .unwrap();
    let at_x = open_hinges(loss, x, dim, ids);
    assert!(
        at_x.iter().any(|(_, open)| *open),
        "no open hinge: nothing checked"
    );
    let mut y = x.to_vec();
    let mut scratch = vec![0.0; x.len()];
    gradcheck(&mut y, &grad, 1e-3, 1e-3, None, |y| {
        assert_eq!(
            open_hinges(loss, y, dim, ids),
            at_x,
            "a step crossed a kink"
        );
        loss.loss(y, &[dim], Target::Classes(ids), &mut scratch)
            .unwrap() as f64
    });
}

#[test]
fn triplet_gradients_match_central_differences() {
    // 4 identities x 3 images of 4 values, in a shuffled order.
    let ids = [1, 3, 0, 2, 2, 0, 1, 3, 0, 1, 3, 2];
    let x = random(12 * 4, 7);
    for mining in [Mining::All, Mining::BatchHard, Mining::SemiHard] {
        for distance in [Distance::SquaredEuclidean, Distance::Euclidean] {
            let loss = TripletLoss::new(0.3, mining).with_distance(distance);
            check_triplet_gradient(&loss, &x, 4, &ids);
        }
    }
    // The embedding shape read flat: [2, 2] is an embedding of 4.
    let loss = TripletLoss::new(0.3, Mining::BatchHard);
    let (mut flat, mut square) = (nan_filled(48), nan_filled(48));
    let a = loss
        .loss(&x, &[4], Target::Classes(&ids), &mut flat)
        .unwrap();
    let b = loss
        .loss(&x, &[2, 2], Target::Classes(&ids), &mut square)
        .unwrap();
    assert_eq!((a, &flat), (b, &square));
}

#[test]
fn contrastive_gradient_matches_central_differences() {
    // 5 pairs of 3 values; same, different, soft labels.
    let x = random(10 * 3, 11);
    let labels = [1.0, 0.0, 0.0, 0.3, 0.0];
    let loss = ContrastiveLoss::new(1.2);
    // Stay off the hinge margin - d = 0.
    for pair in x.chunks_exact(6) {
        let d = distance(&pair[..3], &pair[3..], Distance::Euclidean);
        assert!(
            (d - 1.2).abs() > 0.02,
            "pair at distance {d} is on the hinge"
        );
    }
    let mut grad = nan_filled(x.len());
    loss.loss(&x, &[3], Target::Values(&labels), &mut grad)
        .unwrap();
    let mut y = x.clone();
    let mut scratch = vec![0.0; x.len()];
    gradcheck(&mut y, &grad, 1e-3, 1e-3, None, |y| {
        loss.loss(y, &[3], Target::Values(&labels), &mut scratch)
            .unwrap() as f64
    });
}

#[test]
fn siamese_head_gradients_match_central_differences() {
    let x = random(8 * 3, 13); // 4 pairs of 3 values
    let same = [1.0, 0.0, 1.0, 0.0];
    let params = random(4, 14);
    let head = SiameseHead::from_weights(&params[..3], params[3]);
    for pair in x.chunks_exact(6) {
        assert!(
            (0..3).all(|k| (pair[k] - pair[3 + k]).abs() > 0.01),
            "|a - b| near its kink"
        );
    }
    let mut grads = SiameseGrads::default();
    head.loss(&x, &same, &mut grads).unwrap();
    let mut y = x.clone();
    let mut g = SiameseGrads::default();
    gradcheck(&mut y, &grads.embeddings, 1e-3, 1e-3, None, |y| {
        head.loss(y, &same, &mut g).unwrap() as f64
    });
    let mut p = params.clone();
    gradcheck(&mut p, &grads.params, 1e-3, 1e-3, None, |p| {
        let h = SiameseHead::from_weights(&p[..3], p[3]);
        h.loss(&x, &same, &mut g).unwrap() as f64
    });
    // The probabilities are the sigmoid of the logits.
    let (mut z, mut prob) = (nan_filled(4), nan_filled(4));
    head.logits(&x, &mut z).unwrap();
    head.probabilities(&x, &mut prob).unwrap();
    for (&z, &p) in z.iter().zip(&prob) {
        assert!((p - 1.0 / (1.0 + (-z).exp())).abs() < 1e-6);
    }
    assert!(head.logits(&x[..5], &mut z).is_err());
    assert!(head.loss(&x, &[1.0, 0.0, 2.0, 0.0], &mut g).is_err());
}

#[test]
fn pairwise_distances_are_symmetric_with_a_zero_diagonal() {
    let x = random(5 * 3, 17);
    let mut sq = nan_filled(25);
    let mut eu = nan_filled(25);
    pairwise_distances(&x, 3, Distance::SquaredEuclidean, &mut sq).unwrap();
    pairwise_distances(&x, 3, Distance::Euclidean, &mut eu).unwrap();
    for i in 0..5 {
        assert_eq!(sq[i * 5 + i], 0.0);
        for j in 0..5 {
            assert_eq!(sq[i * 5 + j], sq[j * 5 + i]);
            let want = distance(
                &x[i * 3..i * 3 + 3],
                &x[j * 3..j * 3 + 3],
                Distance::SquaredEuclidean,
            );
            assert!((sq[i * 5 + j] - want).abs() <= 1e-6 * want);
            assert!((eu[i * 5 + j] - sq[i * 5 + j].sqrt()).abs() <= 1e-6);
        }
    }
    assert!(pairwise_distances(&x, 3, Distance::Euclidean, &mut eu[..24]).is_err());
    assert!(pairwise_distances(&x, 4, Distance::Euclidean, &mut eu).is_err());
    assert!(pairwise_distances(&x, 0, Distance::Euclidean, &mut eu).is_err());
    assert_eq!(
        Distance::from_name(Distance::Euclidean.name()),
        Some(Distance::Euclidean)
    );
}
