//! Batch norm against its reference on flat and image batches (threaded
//! path included): training and inference forwards, the moving
//! statistics, the fused activation, central-difference gradient checks,
//! and the error paths.

use super::*;
use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

/// (m, c): a flat batch, a small image batch, 1 and 3 channels, one row,
/// and LeNet-like conv sizes (64 x 10 x 10 rows, 16 channels) that take
/// the threaded path.
const SHAPES: [(usize, usize); 6] = [
    (1, 3),
    (5, 1),
    (3, 7),
    (2 * 5 * 7, 3),
    (64, 120),
    (64 * 10 * 10, 16),
];

/// Inputs with a mean far from 0 and uneven spreads per channel.
fn inputs(m: usize, c: usize, seed: u64) -> Vec<f32> {
    random(m * c, seed)
        .iter()
        .enumerate()
        .map(|(i, v)| 3.0 + v * (1.0 + (i % c) as f32))
        .collect()
}

struct Out {
    y: Vec<f32>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    running_mean: Vec<f32>,
    running_var: Vec<f32>,
}

fn train(
    m: usize,
    c: usize,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    momentum: f32,
) -> Out {
    let mut o = Out {
        y: nan_filled(m * c),
        mean: nan_filled(c),
        inv_std: nan_filled(c),
        running_mean: vec![0.0; c],
        running_var: vec![1.0; c],
    };
    forward_train(
        m,
        c,
        x,
        gamma,
        beta,
        eps,
        momentum,
        &mut o.y,
        &mut o.mean,
        &mut o.inv_std,
        &mut o.running_mean,
        &mut o.running_var,
    )
    .unwrap();
    o
}

#[test]
fn forward_train_matches_reference() {
    crate::parallel::set_threads(2);
    for (s, &(m, c)) in SHAPES.iter().enumerate() {
        let x = inputs(m, c, s as u64);
        let gamma = random(c, 100 + s as u64);
        let beta = random(c, 200 + s as u64);
        let o = train(m, c, &x, &gamma, &beta, 1e-3, 0.99);
        assert_close(
            &o.y,
            &reference::forward_train(m, c, &x, &gamma, &beta, 1e-3),
            1e-4,
            1e-5,
        );
        let (mean, var) = reference::moments(m, c, &x);
        let as32 = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<_>>();
        // Partial sums run in f32 for a few rows: the mean's error is
        // relative to the values' spread (here up to 120), not to the mean.
        assert_close(&o.mean, &as32(&mean), 1e-6, 1e-5);
        let inv_std: Vec<f64> = var.iter().map(|v| 1.0 / (v + 1e-3).sqrt()).collect();
        assert_close(&o.inv_std, &as32(&inv_std), 1e-5, 0.0);
    }
}

#[test]
fn normalised_output_has_zero_mean_unit_variance() {
    let (m, c) = (500, 4);
    let x: Vec<f32> = inputs(m, c, 1).iter().map(|v| v * 100.0 + 1e4).collect();
    let o = train(m, c, &x, &[1.0; 4], &[0.0; 4], 0.0, 0.9);
    let (mean, var) = reference::moments(m, c, &o.y);
    for ch in 0..c {
        assert!(mean[ch].abs() < 1e-4, "{mean:?}");
        assert!((var[ch] - 1.0).abs() < 1e-4, "{var:?}");
    }
}

// Keras: moving = momentum * moving + (1 - momentum) * batch, with the
// biased batch variance; after k steps on the same batch from (0, 1),
// moving_mean = (1 - momentum^k) * mean.
#[test]
fn running_stats_move_as_momentum_says() {
    let (m, c) = (6, 2);
    let x = inputs(m, c, 3);
    let (mean, var) = reference::moments(m, c, &x);
    let mut o = train(m, c, &x, &[1.0; 2], &[0.0; 2], 1e-3, 0.9);
    for ch in 0..c {
        assert!((o.running_mean[ch] as f64 - 0.1 * mean[ch]).abs() < 1e-5);
        assert!((o.running_var[ch] as f64 - (0.9 + 0.1 * var[ch])).abs() < 1e-5);
    }
    for _ in 1..20 {
        forward_train(
            m,
            c,
            &x,
            &[1.0; 2],
            &[0.0; 2],
            1e-3,
            0.9,
            &mut o.y,
            &mut o.mean,
            &mut o.inv_std,
            &mut o.running_mean,
            &mut o.running_var,
        )
        .unwrap();
    }
    let k = 1.0 - 0.9f64.powi(20);
    for ch in 0..c {
        assert!(
            (o.running_mean[ch] as f64 - k * mean[ch]).abs() < 1e-4,
            "{:?}",
            o.running_mean
        );
        let want_var = 0.9f64.powi(20) + k * var[ch];
        assert!(
            (o.running_var[ch] as f64 - want_var).abs() < 1e-4,
            "{:?}",
            o.running_var
        );
    }
    // momentum 1 freezes them; momentum 0 copies the batch's.
    let frozen = train(m, c, &x, &[1.0; 2], &[0.0; 2], 1e-3, 1.0);
    assert_eq!(
        (frozen.running_mean, frozen.running_var),
        (vec![0.0; 2], vec![1.0; 2])
    );
    let copied = train(m, c, &x, &[1.0; 2], &[0.0; 2], 1e-3, 0.0);
    assert_close(
        &copied.running_mean,
        &[mean[0] as f32, mean[1] as f32],
        1e-6,
        0.0,
    );
    assert_close(
        &copied.running_var,
        &[var[0] as f32, var[1] as f32],
        1e-5,
        0.0,
    );
}

#[test]
fn forward_infer_is_fold_then_affine() {
    crate::parallel::set_threads(2);
    for (s, &(m, c)) in SHAPES.iter().enumerate() {
        let x = inputs(m, c, 10 + s as u64);
        let gamma = random(c, 11);
        let beta = random(c, 12);
        let rm = random(c, 13);
        let rv: Vec<f32> = random(c, 14).iter().map(|v| v.abs() + 0.5).collect();
        let mut y = nan_filled(m * c);
        forward_infer(m, c, &x, &gamma, &beta, &rm, &rv, 1e-3, &mut y).unwrap();
        let (mut scale, mut shift) = (nan_filled(c), nan_filled(c));
        fold(&gamma, &beta, &rm, &rv, 1e-3, &mut scale, &mut shift).unwrap();
        let affine: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| v * scale[i % c] + shift[i % c])
            .collect();
        assert_eq!(y, affine);
        // And it is batch normalisation with the running statistics.
        let want: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let ch = i % c;
                let xhat = (v as f64 - rm[ch] as f64) / (rv[ch] as f64 + 1e-3).sqrt();
                (gamma[ch] as f64 * xhat + beta[ch] as f64) as f32
            })
            .collect();
        assert_close(&y, &want, 1e-5, 1e-5);
    }
}

#[test]
fn backward_matches_staged_reference() {
    crate::parallel::set_threads(2);
    for (s, &(m, c)) in SHAPES.iter().enumerate() {
        let x = inputs(m, c, 20 + s as u64);
        let gamma = random(c, 21);
        let dy = random(m * c, 22);
        let o = train(m, c, &x, &gamma, &[0.0; 120][..c], 1e-3, 0.99);
        let mut dx = nan_filled(m * c);
        let (mut dgamma, mut dbeta) = (vec![1.0; c], vec![2.0; c]);
        backward(
            m,
            c,
            &x,
            &gamma,
            &o.mean,
            &o.inv_std,
            &dy,
            &mut dx,
            &mut dgamma,
            &mut dbeta,
        )
        .unwrap();
        let (want_dx, want_dg, want_db) = reference::backward(m, c, &x, &gamma, 1e-3, &dy);
        assert_close(&dx, &want_dx, 1e-3, 1e-5);
        let plus = |v: &[f32], k: f32| v.iter().map(|a| a + k).collect::<Vec<_>>();
        assert_close(&dgamma, &plus(&want_dg, 1.0), 1e-4, 1e-4);
        assert_close(&dbeta, &plus(&want_db, 2.0), 1e-4, 1e-4);
    }
}

/// The loss goes through forward_train, so the batch statistics move with
/// every perturbed input, as they do in training.
#[test]
fn gradcheck_x_gamma_beta() {
    let (m, c) = (2 * 3 * 3, 3);
    let mut x = inputs(m, c, 30);
    let mut gamma = random(c, 31);
    let mut beta = random(c, 32);
    let r = random(m * c, 33);
    let eps = 1e-3;
    let o = train(m, c, &x, &gamma, &beta, eps, 0.99);
    let mut dx = nan_filled(m * c);
    let (mut dgamma, mut dbeta) = (vec![0.0; c], vec![0.0; c]);
    backward(
        m,
        c,
        &x,
        &gamma,
        &o.mean,
        &o.inv_std,
        &r,
        &mut dx,
        &mut dgamma,
        &mut dbeta,
    )
    .unwrap();
    let loss =
        |x: &[f32], gamma: &[f32], beta: &[f32]| dot(&train(m, c, x, gamma, beta, eps, 0.99).y, &r);
    let tol = 1e-3;
    gradcheck(&mut x, &dx, 1e-3, tol, None, |x| loss(x, &gamma, &beta));
    gradcheck(&mut gamma, &dgamma, 1e-3, tol, None, |g| loss(&x, g, &beta));
    gradcheck(&mut beta, &dbeta, 1e-3, tol, None, |b| loss(&x, &gamma, b));
}

#[test]
fn bad_shapes_and_arguments_are_errors() {
    let (m, c) = (4, 3);
    let x = vec![0.0; 12];
    let p = vec![1.0; 3];
    let (mut y, mut a, mut b, mut rm, mut rv) = (
        vec![0.0; 12],
        vec![0.0; 3],
        vec![0.0; 3],
        vec![0.0; 3],
        vec![1.0; 3],
    );
    let mut train_err = |m: usize,
                         c: usize,
                         x: &[f32],
                         g: &[f32],
                         eps: f32,
                         mom: f32,
                         y: &mut [f32],
                         rv: &mut [f32]| {
        forward_train(m, c, x, g, &p, eps, mom, y, &mut a, &mut b, &mut rm, rv)
            .unwrap_err()
            .to_string()
    };
    assert!(train_err(m, c, &x[1..], &p, 1e-3, 0.9, &mut y, &mut rv).contains("batch norm x"));
    assert!(train_err(m, c, &x, &p[1..], 1e-3, 0.9, &mut y, &mut rv).contains("batch norm gamma"));
    assert!(train_err(m, c, &x, &p, 1e-3, 0.9, &mut y[1..], &mut rv).contains("batch norm y"));
    assert!(train_err(m, c, &x, &p, 1e-3, 0.9, &mut y, &mut rv[1..]).contains("running_var"));
    assert!(train_err(m, c, &x, &p, -1.0, 0.9, &mut y, &mut rv).contains("epsilon"));
    assert!(train_err(m, c, &x, &p, f32::NAN, 0.9, &mut y, &mut rv).contains("epsilon"));
    assert!(train_err(m, c, &x, &p, 1e-3, 1.5, &mut y, &mut rv).contains("momentum"));
    assert!(train_err(m, c, &x, &p, 1e-3, f32::NAN, &mut y, &mut rv).contains("momentum"));
    assert!(train_err(0, c, &[], &p, 1e-3, 0.9, &mut [], &mut rv).contains("m = 0"));
    assert!(train_err(m, 0, &[], &[], 1e-3, 0.9, &mut [], &mut []).contains("channels"));
    assert!(train_err(usize::MAX, 3, &x, &p, 1e-3, 0.9, &mut y, &mut rv).contains("overflow"));

    assert!(forward_infer(m, c, &x, &p, &p, &p, &p[1..], 1e-3, &mut y)
        .unwrap_err()
        .to_string()
        .contains("running_var"));
    assert!(forward_infer(m, c, &x, &p, &p, &p, &p, 1e-3, &mut y[1..]).is_err());
    assert!(forward_infer(m, 0, &[], &[], &[], &[], &[], 1e-3, &mut []).is_err());
    forward_infer(0, c, &[], &p, &p, &p, &p, 1e-3, &mut []).unwrap();

    let (mut dx, mut dg, mut db) = (vec![0.0; 12], vec![0.0; 3], vec![0.0; 3]);
    let msg = |r: Result<()>| r.unwrap_err().to_string();
    assert!(msg(backward(
        m,
        c,
        &x,
        &p,
        &p,
        &p,
        &x[1..],
        &mut dx,
        &mut dg,
        &mut db
    ))
    .contains("batch norm dy"));
    assert!(msg(backward(
        m,
        c,
        &x,
        &p,
        &p,
        &p,
        &x,
        &mut dx[1..],
        &mut dg,
        &mut db
    ))
    .contains("batch norm dx"));
    assert!(msg(backward(
        m,
        c,
        &x,
        &p,
        &p[1..],
        &p,
        &x,
        &mut dx,
        &mut dg,
        &mut db
    ))
    .contains("save_mean"));
    assert!(msg(backward(
        m,
        c,
        &x,
        &p,
        &p,
        &p,
        &x,
        &mut dx,
        &mut dg[1..],
        &mut db
    ))
    .contains("dgamma"));
    assert!(msg(backward(
        m,
        c,
        &x,
        &p,
        &p,
        &p,
        &x,
        &mut dx,
        &mut dg,
        &mut db[1..]
    ))
    .contains("dbeta"));
    assert!(backward(0, c, &[], &p, &p, &p, &[], &mut [], &mut dg, &mut db).is_err());

    let (mut s, mut t) = (vec![0.0; 3], vec![0.0; 3]);
    assert!(msg(fold(&p, &p, &p, &p[1..], 1e-3, &mut s, &mut t)).contains("fold var"));
    assert!(msg(fold(&p, &p, &p, &p, 1e-3, &mut s, &mut t[1..])).contains("fold shift"));
    assert!(fold(&[], &[], &[], &[], 1e-3, &mut [], &mut []).is_err());
    assert!(fold(&p, &p, &p, &p, f32::INFINITY, &mut s, &mut t).is_err());
}

const FUSED_ACTS: [Act; 10] = [
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

/// Batch norm with a fused activation is batch norm then the activation
/// (forward, training and inference), and its backward is the
/// activation's backward (from the normalised input) then batch norm's.
#[test]
fn fused_activation_matches_the_two_kernels() {
    crate::parallel::set_threads(2);
    use crate::layers::activation;
    for (s, &(m, c)) in SHAPES.iter().enumerate() {
        // Inputs around 0, so that ReLU cuts about half.
        let x: Vec<f32> = random(m * c, 50 + s as u64)
            .iter()
            .map(|v| v * 3.0)
            .collect();
        let gamma = random(c, 51);
        let beta = random(c, 52);
        let dy = random(m * c, 53);
        for act in FUSED_ACTS {
            let o = train(m, c, &x, &gamma, &beta, 1e-3, 0.9);
            let mut want_y = nan_filled(m * c);
            activation::forward(act, &o.y, &mut want_y).unwrap();
            let (mut y, mut mean, mut inv) = (nan_filled(m * c), nan_filled(c), nan_filled(c));
            let (mut rm, mut rv) = (vec![0.0; c], vec![1.0; c]);
            forward_train_act(
                m, c, &x, &gamma, &beta, 1e-3, 0.9, act, &mut y, &mut mean, &mut inv, &mut rm,
                &mut rv,
            )
            .unwrap();
            assert_eq!(y, want_y, "{act:?} forward_train");
            assert_eq!(
                (mean.clone(), inv.clone()),
                (o.mean.clone(), o.inv_std.clone())
            );
            assert_eq!(
                (rm.clone(), rv.clone()),
                (o.running_mean.clone(), o.running_var.clone())
            );

            // Backward: activation backward (from its input, which every
            // activation takes), then batch norm.
            let mut d = dy.clone();
            activation::backward_from_input(act, &o.y, &mut d).unwrap();
            let (mut want_dx, mut want_dg, mut want_db) =
                (nan_filled(m * c), vec![1.0; c], vec![2.0; c]);
            backward(
                m,
                c,
                &x,
                &gamma,
                &mean,
                &inv,
                &d,
                &mut want_dx,
                &mut want_dg,
                &mut want_db,
            )
            .unwrap();
            let (mut dx, mut dg, mut db) = (nan_filled(m * c), vec![1.0; c], vec![2.0; c]);
            backward_act(
                m, c, &x, &gamma, &beta, &mean, &inv, act, &dy, &mut dx, &mut dg, &mut db,
            )
            .unwrap();
            assert_close(&dx, &want_dx, 1e-5, 1e-6);
            assert_close(&dg, &want_dg, 1e-5, 1e-5);
            assert_close(&db, &want_db, 1e-5, 1e-5);

            // Inference.
            let mut plain = nan_filled(m * c);
            forward_infer(m, c, &x, &gamma, &beta, &rm, &rv, 1e-3, &mut plain).unwrap();
            let mut want = nan_filled(m * c);
            activation::forward(act, &plain, &mut want).unwrap();
            let mut got = nan_filled(m * c);
            forward_infer_act(m, c, &x, &gamma, &beta, &rm, &rv, 1e-3, act, &mut got).unwrap();
            assert_eq!(got, want, "{act:?} forward_infer");
        }
    }
}

/// Central differences through the fused forward (training mode) for x,
/// gamma and beta, with ReLU and tanh.
#[test]
fn gradcheck_fused_activation() {
    let (m, c) = (2 * 3 * 3, 3);
    let eps = 1e-3;
    // The first seed whose normalised values all keep clear of ReLU's kink
    // (a step of x moves them by about the step).
    let pre = |x: &[f32], g: &[f32], b: &[f32]| {
        let o = train(m, c, x, g, b, eps, 0.9);
        (0..m * c)
            .map(|i| (x[i] - o.mean[i % c]) * g[i % c] * o.inv_std[i % c] + b[i % c])
            .collect::<Vec<f32>>()
    };
    let seed = (60..)
        .step_by(4)
        .find(|&s| {
            let x: Vec<f32> = random(m * c, s).iter().map(|v| v * 3.0).collect();
            let z = pre(&x, &random(c, s + 1), &random(c, s + 2));
            z.iter().all(|v| v.abs() > 2e-2)
        })
        .unwrap();
    let mut x: Vec<f32> = random(m * c, seed).iter().map(|v| v * 3.0).collect();
    let mut gamma = random(c, seed + 1);
    let mut beta = random(c, seed + 2);
    let r = random(m * c, seed + 3);
    for act in [Act::Relu, Act::Tanh] {
        let fwd = |x: &[f32], g: &[f32], b: &[f32]| {
            let (mut y, mut mean, mut inv) = (nan_filled(m * c), nan_filled(c), nan_filled(c));
            let (mut rm, mut rv) = (vec![0.0; c], vec![1.0; c]);
            forward_train_act(
                m, c, x, g, b, eps, 0.9, act, &mut y, &mut mean, &mut inv, &mut rm, &mut rv,
            )
            .unwrap();
            (y, mean, inv)
        };
        let (y, mean, inv) = fwd(&x, &gamma, &beta);
        assert!(y.iter().all(|v| v.is_finite()));
        assert!(
            pre(&x, &gamma, &beta).iter().any(|&v| v < 0.0),
            "ReLU cuts something"
        );
        let mut dx = nan_filled(m * c);
        let (mut dg, mut db) = (vec![0.0; c], vec![0.0; c]);
        backward_act(
            m, c, &x, &gamma, &beta, &mean, &inv, act, &r, &mut dx, &mut dg, &mut db,
        )
        .unwrap();
        let loss = |x: &[f32], g: &[f32], b: &[f32]| dot(&fwd(x, g, b).0, &r);
        let tol = 1e-3;
        gradcheck(&mut x, &dx, 1e-3, tol, None, |x| loss(x, &gamma, &beta));
        gradcheck(&mut gamma, &dg, 1e-3, tol, None, |g| loss(&x, g, &beta));
        gradcheck(&mut beta, &db, 1e-3, tol, None, |b| loss(&x, &gamma, b));
    }
}
