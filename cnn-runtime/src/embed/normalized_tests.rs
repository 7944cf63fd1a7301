//! [`L2Normalized`]: its value is the inner loss's on unit rows, its
//! gradient matches central differences (a smooth inner loss, and the
//! triplet loss with the picks held fixed), is blind to each row's length,
//! and errors leave `grad` alone.

use super::*;
use crate::loss::{Loss, Mse, Target};
use crate::testing::{gradcheck, nan_filled, random};

/// Rows of `x` scaled to unit length, by hand.
fn unit_rows(x: &[f32], dim: usize) -> Vec<f32> {
    x.chunks_exact(dim)
        .flat_map(|r| {
            let n = r.iter().map(|v| v * v).sum::<f32>().sqrt();
            r.iter().map(move |v| v / n)
        })
        .collect()
}

#[test]
fn value_is_the_inner_loss_on_unit_rows() {
    let x = random(3 * 5, 1);
    let target = random(3 * 5, 2);
    let wrapped = L2Normalized::new(Mse);
    let mut grad = nan_filled(15);
    let v = wrapped
        .loss(&x, &[5], Target::Values(&target), &mut grad)
        .unwrap();
    let mut inner_grad = nan_filled(15);
    let want = Mse
        .loss(
            &unit_rows(&x, 5),
            &[5],
            Target::Values(&target),
            &mut inner_grad,
        )
        .unwrap();
    assert!((v - want).abs() <= 1e-6 * want.abs(), "{v} vs {want}");
    assert!(grad.iter().all(|g| g.is_finite()));
    assert_eq!(wrapped.name(), "l2-normalised mse");
}

#[test]
fn gradient_of_a_smooth_inner_loss_matches_central_differences() {
    // Mse has no kink: every element is checked (step 1e-3, tolerance
    // 1e-3 as loss/tests.rs). Rows of norm around 1 to 3.
    let x: Vec<f32> = random(4 * 6, 3).iter().map(|v| 2.0 * v).collect();
    let target = random(4 * 6, 4);
    let wrapped = L2Normalized::new(Mse);
    let mut grad = nan_filled(x.len());
    wrapped
        .loss(&x, &[6], Target::Values(&target), &mut grad)
        .unwrap();
    let mut y = x.clone();
    let mut scratch = vec![0.0; x.len()];
    gradcheck(&mut y, &grad, 1e-3, 1e-3, None, |y| {
        wrapped
            .loss(y, &[6], Target::Values(&target), &mut scratch)
            .unwrap() as f64
    });
}

#[test]
fn gradient_through_the_triplet_loss_matches_central_differences() {
    // 3 identities x 3 images of 4 values. The miner's picks on the unit
    // rows must be those at x at every evaluation, or the difference would
    // straddle a kink and prove nothing.
    let ids = [0, 1, 2, 2, 0, 1, 1, 2, 0];
    let x = random(9 * 4, 5);
    for mining in [Mining::All, Mining::BatchHard, Mining::SemiHard] {
        let triplet = TripletLoss::new(0.5, mining);
        let picks = |x: &[f32]| triplet.mine(&unit_rows(x, 4), 4, &ids).unwrap();
        let at_x = picks(&x);
        let wrapped = L2Normalized::new(triplet);
        let mut grad = nan_filled(x.len());
        let v = wrapped
            .loss(&x, &[4], Target::Classes(&ids), &mut grad)
            .unwrap();
        assert!(v > 0.0, "{mining:?}: no open hinge, nothing checked");
        let mut y = x.clone();
        let mut scratch = vec![0.0; x.len()];
        gradcheck(&mut y, &grad, 1e-3, 1e-3, None, |y| {
            assert_eq!(picks(y), at_x, "{mining:?}: a step changed the picks");
            wrapped
                .loss(y, &[4], Target::Classes(&ids), &mut scratch)
                .unwrap() as f64
        });
    }
}

#[test]
fn gradient_is_orthogonal_to_each_row_and_shrinks_with_its_length() {
    // Scaling a row changes nothing the loss sees: the gradient has no
    // part along the row, and scaling the row by 2 halves it.
    let x = random(3 * 5, 6);
    let target = random(3 * 5, 7);
    let wrapped = L2Normalized::new(Mse);
    let mut grad = nan_filled(15);
    wrapped
        .loss(&x, &[5], Target::Values(&target), &mut grad)
        .unwrap();
    for (row, g) in x.chunks_exact(5).zip(grad.chunks_exact(5)) {
        let along: f32 = row.iter().zip(g).map(|(a, b)| a * b).sum();
        assert!(along.abs() < 1e-6, "row . grad = {along}");
    }
    let doubled: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
    let mut grad2 = nan_filled(15);
    wrapped
        .loss(&doubled, &[5], Target::Values(&target), &mut grad2)
        .unwrap();
    for (a, b) in grad.iter().zip(&grad2) {
        assert!(
            (a - 2.0 * b).abs() <= 1e-5 * a.abs().max(1e-3),
            "{a} vs 2 x {b}"
        );
    }
}

#[test]
fn a_zero_row_gives_finite_values() {
    let x = [0.0, 0.0, 1.0, 2.0];
    let mut grad = nan_filled(4);
    let v = L2Normalized::new(Mse)
        .loss(&x, &[2], Target::Values(&[1.0, 0.0, 0.0, 1.0]), &mut grad)
        .unwrap();
    assert!(
        v.is_finite() && grad.iter().all(|g| g.is_finite()),
        "{v} {grad:?}"
    );
}

#[test]
fn errors_leave_grad_alone() {
    let x = random(4 * 3, 8);
    let wrapped = L2Normalized::new(TripletLoss::default());
    // A gradient buffer of the wrong length.
    let mut short = nan_filled(11);
    assert!(wrapped
        .loss(&x, &[3], Target::Classes(&[0, 0, 1, 1]), &mut short)
        .is_err());
    assert!(short.iter().all(|g| g.is_nan()));
    // The inner loss refuses the target: one identity only.
    let mut grad = nan_filled(12);
    let err = wrapped
        .loss(&x, &[3], Target::Classes(&[0, 0, 0, 0]), &mut grad)
        .unwrap_err();
    assert!(grad.iter().all(|g| g.is_nan()), "{err}");
    // An embedding shape of 0 values.
    assert!(wrapped
        .loss(&x, &[0], Target::Classes(&[0, 0, 1, 1]), &mut grad)
        .is_err());
}

#[test]
fn l2_normalize_scales_rows_and_checks_the_length() {
    let mut e = [0.0, 0.0, 0.0, 5.0];
    l2_normalize(&mut e, 2).unwrap();
    assert_eq!(e, [0.0, 0.0, 0.0, 1.0]);
    assert!(l2_normalize(&mut e, 3).is_err());
    assert!(l2_normalize(&mut e, 0).is_err());
}
