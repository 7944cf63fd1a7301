//! Group normalisation against its reference (one group, one channel per
//! group, a few groups; one position and many, threaded sizes included),
//! central-difference gradient checks of x, gamma and beta, the frozen
//! call, and the error paths.

use super::*;
use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

/// (n, hw, c, groups): LayerNorm's case (hw 1, one group), instance
/// norm's (a group per channel), odd sizes, and a batch large enough to
/// split across threads.
const SHAPES: [(usize, usize, usize, usize); 6] = [
    (1, 1, 3, 1),
    (3, 5, 4, 2),
    (2, 7, 6, 6),
    (5, 1, 8, 1),
    (3, 9, 12, 3),
    (64, 10 * 10, 16, 4),
];

fn shape_of((n, hw, c, groups): (usize, usize, usize, usize)) -> Shape {
    Shape { n, hw, c, groups }
}

fn params<'a>(gamma: &'a [f32], beta: &'a [f32]) -> Params<'a> {
    Params { gamma, beta }
}

/// Inputs with a mean far from 0 and uneven spreads per channel.
fn inputs(len: usize, c: usize, seed: u64) -> Vec<f32> {
    random(len, seed)
        .iter()
        .enumerate()
        .map(|(i, v)| 2.0 + v * (1.0 + (i % c) as f32))
        .collect()
}

#[test]
fn forward_matches_reference() {
    crate::parallel::set_threads(2);
    for (s, &sizes) in SHAPES.iter().enumerate() {
        let (n, hw, c, _) = sizes;
        let len = n * hw * c;
        let x = inputs(len, c, s as u64);
        let (gamma, beta) = (random(c, 10 + s as u64), random(c, 20 + s as u64));
        let mut y = nan_filled(len);
        let p = params(&gamma, &beta);
        forward(shape_of(sizes), &x, p, 1e-5, &mut y).unwrap();
        let want = reference::forward(shape_of(sizes), &x, p, 1e-5);
        assert_close(&y, &want, 1e-4, 1e-5);
    }
}

#[test]
fn backward_matches_reference() {
    crate::parallel::set_threads(2);
    for (s, &sizes) in SHAPES.iter().enumerate() {
        let (n, hw, c, _) = sizes;
        let shape = shape_of(sizes);
        let len = n * hw * c;
        let x = inputs(len, c, 30 + s as u64);
        let gamma = random(c, 40 + s as u64);
        let dy = random(len, 50 + s as u64);
        let mut dx = nan_filled(len);
        // dgamma and dbeta are added into.
        let (mut dgamma, mut dbeta) = (vec![1.0; c], vec![-1.0; c]);
        let dparams = ParamGrads {
            dgamma: &mut dgamma,
            dbeta: &mut dbeta,
        };
        backward(shape, &x, &gamma, 1e-5, &dy, Some(&mut dx), Some(dparams)).unwrap();
        let (wdx, wdg, wdb) = reference::backward(shape, &x, &gamma, 1e-5, &dy);
        assert_close(&dx, &wdx, 1e-3, 1e-4);
        let plus = |v: Vec<f32>, k: f32| v.into_iter().map(|v| v + k).collect::<Vec<_>>();
        assert_close(&dgamma, &plus(wdg, 1.0), 1e-4, 1e-3);
        assert_close(&dbeta, &plus(wdb, -1.0), 1e-4, 1e-3);
        // Frozen: dx alone, the same.
        let mut dx2 = nan_filled(len);
        backward(shape, &x, &gamma, 1e-5, &dy, Some(&mut dx2), None).unwrap();
        assert_eq!(dx, dx2);
    }
}

/// Central differences on `loss = sum(y * r)` for x, gamma and beta.
#[test]
fn gradcheck_x_gamma_beta() {
    let (n, hw, c, groups) = (2, 3, 6, 3);
    let shape = Shape { n, hw, c, groups };
    let len = n * hw * c;
    let eps = 1e-5;
    let mut x = inputs(len, c, 60);
    let mut gamma = random(c, 61);
    let mut beta = random(c, 62);
    let r = random(len, 63);
    let mut dx = nan_filled(len);
    let (mut dgamma, mut dbeta) = (vec![0.0; c], vec![0.0; c]);
    let dparams = ParamGrads {
        dgamma: &mut dgamma,
        dbeta: &mut dbeta,
    };
    backward(shape, &x, &gamma, eps, &r, Some(&mut dx), Some(dparams)).unwrap();
    let loss = |x: &[f32], gamma: &[f32], beta: &[f32]| {
        let mut y = vec![0.0; len];
        forward(shape, x, params(gamma, beta), eps, &mut y).unwrap();
        dot(&y, &r)
    };
    let (g0, b0) = (gamma.clone(), beta.clone());
    gradcheck(&mut x, &dx, 1e-3, 2e-2, None, |x| loss(x, &g0, &b0));
    let x0 = x.clone();
    gradcheck(&mut gamma, &dgamma, 1e-3, 1e-2, None, |g| loss(&x0, g, &b0));
    let g0 = gamma.clone();
    gradcheck(&mut beta, &dbeta, 1e-3, 1e-2, None, |b| loss(&x0, &g0, b));
}

#[test]
fn bad_sizes_are_errors() {
    let x = vec![0.0; 12];
    let p = vec![1.0; 4];
    let mut y = vec![0.0; 12];
    let ok = shape_of((1, 3, 4, 2));
    let msg = |r: Result<()>| r.unwrap_err().to_string();
    // 3 groups do not divide 4 channels.
    let e = msg(forward(
        shape_of((1, 3, 4, 3)),
        &x,
        params(&p, &p),
        1e-5,
        &mut y,
    ));
    assert!(e.contains("does not divide"), "{e}");
    assert!(forward(shape_of((1, 3, 4, 0)), &x, params(&p, &p), 1e-5, &mut y).is_err());
    assert!(forward(ok, &x, params(&p, &p), f32::NAN, &mut y).is_err());
    assert!(forward(shape_of((2, 3, 4, 2)), &x, params(&p, &p), 1e-5, &mut y).is_err());
    let e = msg(forward(ok, &x, params(&p, &p[1..]), 1e-5, &mut y));
    assert!(e.contains("group_norm::forward params.beta"), "{e}");
    let mut dx = vec![0.0; 11];
    assert!(backward(ok, &x, &p, 1e-5, &x, Some(&mut dx), None).is_err());
    let (mut dg, mut db) = (vec![0.0; 4], vec![0.0; 3]);
    let dparams = ParamGrads {
        dgamma: &mut dg,
        dbeta: &mut db,
    };
    let e = msg(backward(ok, &x, &p, 1e-5, &x, None, Some(dparams)));
    assert!(e.contains("group_norm::backward dparams.dbeta"), "{e}");
}
