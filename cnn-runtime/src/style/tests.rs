//! The costs against loop-by-loop references and central differences,
//! and the formulas on numbers worked by hand.

use super::*;
use crate::rng::Rng;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.uniform_in(-1.0, 1.0)).collect()
}

/// Central differences of `f` at a sample of `x`'s elements against
/// `analytic`, in f64 around f32 values (step 1e-2: the costs are
/// polynomials of degree 2 and 4, so the error is the rounding of f).
fn check_grad(x: &[f32], analytic: &[f32], mut f: impl FnMut(&[f32]) -> f64, tol: f64) {
    let mut x = x.to_vec();
    let step = 1e-2f32;
    let scale = analytic.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    for i in (0..x.len()).step_by((x.len() / 40).max(1)) {
        let orig = x[i];
        x[i] = orig + step;
        let up = f(&x);
        x[i] = orig - step;
        let down = f(&x);
        x[i] = orig;
        let numeric = (up - down) / (2.0 * step as f64);
        let err = (numeric - analytic[i] as f64).abs();
        assert!(
            err <= tol * scale,
            "element {i}: analytic {}, numeric {numeric}",
            analytic[i]
        );
    }
}

#[test]
fn gram_matches_the_sum_over_positions() {
    let shape = [5, 3, 7];
    let a = random(5 * 3 * 7, 1);
    let mut g = vec![f32::NAN; 49];
    gram(&a, shape, &mut g).unwrap();
    for k in 0..7 {
        for l in 0..7 {
            let want: f64 = (0..15)
                .map(|p| a[p * 7 + k] as f64 * a[p * 7 + l] as f64)
                .sum();
            assert!((g[k * 7 + l] as f64 - want).abs() < 1e-5, "{k} {l}");
        }
    }
}

#[test]
fn gram_cut_across_threads_matches_the_sum() {
    // Large enough to be cut into blocks of rows across the pool.
    let (hw, c) = (64 * 64, 24);
    let a = random(hw * c, 2);
    let mut g = vec![f32::NAN; c * c];
    gram(&a, [64, 64, c], &mut g).unwrap();
    for (k, l) in [(0, 0), (3, 17), (23, 23), (11, 2)] {
        let want: f64 = (0..hw)
            .map(|p| a[p * c + k] as f64 * a[p * c + l] as f64)
            .sum();
        assert!(
            (g[k * c + l] as f64 - want).abs() < 1e-3 * want.abs().max(1.0),
            "{k} {l}"
        );
    }
}

#[test]
fn gram_backward_is_the_gradient_of_sum_g_times_r() {
    let shape = [3, 4, 5];
    let a = random(60, 3);
    let r = random(25, 4);
    let mut da = vec![f32::NAN; 60];
    gram_backward(&a, shape, &r, &mut da).unwrap();
    check_grad(
        &a,
        &da,
        |a| {
            let mut g = vec![0.0; 25];
            gram(a, shape, &mut g).unwrap();
            g.iter().zip(&r).map(|(x, y)| *x as f64 * *y as f64).sum()
        },
        1e-3,
    );
}

#[test]
fn content_cost_by_hand_and_by_differences() {
    // 1 x 2 x 2: differences 1 and 3, sum of squares 10, / (4 * 4) = 0.625.
    let mut d = vec![0.0; 4];
    let j = content_cost(
        &[0.0, 0.0, 1.0, 1.0],
        &[1.0, 0.0, 1.0, 4.0],
        [1, 2, 2],
        &mut d,
    )
    .unwrap();
    assert_eq!(j, 0.625);
    assert_eq!(d, [0.125, 0.0, 0.0, 0.375]); // (g - c) / (2 * 4)
    let shape = [4, 3, 6];
    let (ac, ag) = (random(72, 5), random(72, 6));
    let mut da = vec![f32::NAN; 72];
    content_cost(&ac, &ag, shape, &mut da).unwrap();
    let mut scratch = vec![0.0; 72];
    check_grad(
        &ag,
        &da,
        |ag| content_cost(&ac, ag, shape, &mut scratch).unwrap() as f64,
        1e-3,
    );
}

#[test]
fn style_cost_by_hand_and_by_differences() {
    // One position, two channels: G(G) = [[1, 2], [2, 4]] from a = (1, 2),
    // against G(S) = 0: sum of squares 25, / (2 * 1 * 1 * 2)^2 = 25 / 16.
    let mut d = vec![0.0; 2];
    let j = style_cost(&[0.0; 4], &[1.0, 2.0], [1, 1, 2], &mut d).unwrap();
    assert_eq!(j, 25.0 / 16.0);
    // 4 A D / 16 with D = G(G): (1*1 + 2*2, 1*2 + 2*4) / 4 = (5, 10) / 4.
    assert_eq!(d, [1.25, 2.5]);
    let shape = [3, 5, 4];
    let (a_s, a_g) = (random(60, 7), random(60, 8));
    let mut gs = vec![0.0; 16];
    gram(&a_s, shape, &mut gs).unwrap();
    let mut da = vec![f32::NAN; 60];
    style_cost(&gs, &a_g, shape, &mut da).unwrap();
    let mut scratch = vec![0.0; 60];
    check_grad(
        &a_g,
        &da,
        |ag| style_cost(&gs, ag, shape, &mut scratch).unwrap() as f64,
        1e-3,
    );
}

#[test]
fn style_targets_weigh_their_layers() {
    let (s1, s2) = ([2, 2, 3], [1, 3, 2]);
    let (a1, a2) = (random(12, 9), random(6, 10));
    let (g1, g2) = (random(12, 11), random(6, 12));
    let mut t = StyleTargets::new();
    t.add("l1", 0.3, &a1, s1).unwrap();
    t.add("l2", 0.7, &a2, s2).unwrap();
    let (mut d1, mut d2) = (vec![0.0; 12], vec![0.0; 6]);
    let j = t.cost(&[&g1, &g2], &mut [&mut d1, &mut d2]).unwrap();
    let (mut e1, mut e2) = (vec![0.0; 12], vec![0.0; 6]);
    let j1 = style_cost(&t.layers[0].gram, &g1, s1, &mut e1).unwrap();
    let j2 = style_cost(&t.layers[1].gram, &g2, s2, &mut e2).unwrap();
    assert!((j - (0.3 * j1 + 0.7 * j2)).abs() < 1e-6);
    assert!(d1.iter().zip(&e1).all(|(a, b)| (a - 0.3 * b).abs() < 1e-7));
    assert!(d2.iter().zip(&e2).all(|(a, b)| (a - 0.7 * b).abs() < 1e-7));
    assert!(t.cost(&[&g1], &mut [&mut d1]).is_err());
}

#[test]
fn total_variation_by_hand_and_by_differences() {
    // 2 x 2 x 1: [[0, 1], [2, 4]]: down 2, 3; across 1, 2: 4 + 9 + 1 + 4 = 18.
    let mut d = vec![0.0; 4];
    assert_eq!(
        total_variation(&[0.0, 1.0, 2.0, 4.0], [2, 2, 1], 1.0, &mut d).unwrap(),
        18.0
    );
    let shape = [4, 5, 3];
    let x = random(60, 13);
    let mut dx = vec![0.0; 60];
    total_variation(&x, shape, 0.5, &mut dx).unwrap();
    let mut scratch = vec![0.0; 60];
    check_grad(
        &x,
        &dx,
        |x| 0.5 * total_variation(x, shape, 0.0, &mut scratch).unwrap() as f64,
        1e-3,
    );
}

#[test]
fn wrong_lengths_are_errors() {
    let mut d = vec![0.0; 3];
    assert!(content_cost(&[0.0; 4], &[0.0; 4], [1, 2, 2], &mut d).is_err());
    assert!(style_cost(&[0.0; 3], &[0.0; 2], [1, 1, 2], &mut d[..2]).is_err());
    assert!(gram(&[0.0; 4], [1, 2, 2], &mut d).is_err());
}
