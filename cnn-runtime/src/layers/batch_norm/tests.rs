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

/// What [`forward_train`] writes, owned.
struct Out {
    y: Vec<f32>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    running_mean: Vec<f32>,
    running_var: Vec<f32>,
}

impl Out {
    /// NaN where forward overwrites, and the moving statistics at (0, 1).
    fn new(shape: Shape) -> Self {
        let Shape { m, c } = shape;
        Out {
            y: nan_filled(m * c),
            mean: nan_filled(c),
            inv_std: nan_filled(c),
            running_mean: vec![0.0; c],
            running_var: vec![1.0; c],
        }
    }

    fn train_out(&mut self) -> TrainOut<'_> {
        TrainOut {
            y: &mut self.y,
            mean: &mut self.mean,
            inv_std: &mut self.inv_std,
            running_mean: &mut self.running_mean,
            running_var: &mut self.running_var,
        }
    }

    fn stats(&self) -> Stats<'_> {
        Stats {
            mean: &self.mean,
            inv_std: &self.inv_std,
        }
    }

    fn running(&self) -> RunningStats<'_> {
        RunningStats {
            mean: &self.running_mean,
            var: &self.running_var,
        }
    }
}

fn settings(eps: f32, momentum: f32, act: Act) -> Settings {
    Settings { eps, momentum, act }
}

fn params<'a>(gamma: &'a [f32], beta: &'a [f32]) -> Params<'a> {
    Params { gamma, beta }
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
    train_act(
        Shape { m, c },
        x,
        params(gamma, beta),
        settings(eps, momentum, Act::Identity),
    )
}

fn train_act(shape: Shape, x: &[f32], params: Params, settings: Settings) -> Out {
    let mut o = Out::new(shape);
    forward_train(shape, x, params, settings, o.train_out(), None).unwrap();
    o
}

/// [`backward`] into dx filled with NaN and dgamma, dbeta filled with
/// `start` (which they are added to). Returns (dx, dgamma, dbeta).
fn grads(
    shape: Shape,
    x: &[f32],
    params: Params,
    stats: Stats,
    act: Act,
    dy: &[f32],
    start: [f32; 2],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let Shape { m, c } = shape;
    let (mut dx, mut dgamma, mut dbeta) = (nan_filled(m * c), vec![start[0]; c], vec![start[1]; c]);
    let grads = Grads {
        dy,
        dx: &mut dx,
        dgamma: &mut dgamma,
        dbeta: &mut dbeta,
    };
    backward(
        shape,
        x,
        params,
        stats,
        settings(1e-3, 0.9, act),
        grads,
        None,
    )
    .unwrap();
    (dx, dgamma, dbeta)
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
        let (p, s) = (
            params(&[1.0; 2], &[0.0; 2]),
            settings(1e-3, 0.9, Act::Identity),
        );
        forward_train(Shape { m, c }, &x, p, s, o.train_out(), None).unwrap();
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
        let (p, running) = (
            params(&gamma, &beta),
            RunningStats {
                mean: &rm,
                var: &rv,
            },
        );
        let s = settings(1e-3, 0.9, Act::Identity);
        forward_infer(Shape { m, c }, &x, p, running, s, &mut y).unwrap();
        let (mut scale, mut shift) = (nan_filled(c), nan_filled(c));
        let out = Folded {
            scale: &mut scale,
            shift: &mut shift,
        };
        fold(p, running, 1e-3, out).unwrap();
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
        let beta = &[0.0; 120][..c];
        let o = train(m, c, &x, &gamma, beta, 1e-3, 0.99);
        let p = params(&gamma, beta);
        let shape = Shape { m, c };
        let (dx, dgamma, dbeta) = grads(shape, &x, p, o.stats(), Act::Identity, &dy, [1.0, 2.0]);
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
    let p = params(&gamma, &beta);
    let shape = Shape { m, c };
    let (dx, dgamma, dbeta) = grads(shape, &x, p, o.stats(), Act::Identity, &r, [0.0; 2]);
    let loss =
        |x: &[f32], gamma: &[f32], beta: &[f32]| dot(&train(m, c, x, gamma, beta, eps, 0.99).y, &r);
    let tol = 1e-3;
    gradcheck(&mut x, &dx, 1e-3, tol, None, |x| loss(x, &gamma, &beta));
    gradcheck(&mut gamma, &dgamma, 1e-3, tol, None, |g| loss(&x, g, &beta));
    gradcheck(&mut beta, &dbeta, 1e-3, tol, None, |b| loss(&x, &gamma, b));
}

#[test]
fn bad_shapes_and_arguments_are_errors() {
    let shape = Shape { m: 4, c: 3 };
    let x = vec![0.0; 12];
    let p = vec![1.0; 3];
    let ok = settings(1e-3, 0.9, Act::Identity);
    let params = Params {
        gamma: &p,
        beta: &p,
    };
    let msg = |r: Result<()>| r.unwrap_err().to_string();

    // Training: each argument short in turn, then the settings and sizes.
    let train_err = |shape: Shape, x: &[f32], params: Params, settings: Settings, short: &str| {
        let mut o = Out::new(Shape { m: 4, c: 3 });
        let out = o.train_out();
        let out = match short {
            "y" => TrainOut {
                y: &mut out.y[1..],
                ..out
            },
            "mean" => TrainOut {
                mean: &mut out.mean[1..],
                ..out
            },
            "inv_std" => TrainOut {
                inv_std: &mut out.inv_std[1..],
                ..out
            },
            "running_mean" => TrainOut {
                running_mean: &mut out.running_mean[1..],
                ..out
            },
            "running_var" => TrainOut {
                running_var: &mut out.running_var[1..],
                ..out
            },
            _ => out,
        };
        msg(forward_train(shape, x, params, settings, out, None))
    };
    let short_gamma = Params {
        gamma: &p[1..],
        ..params
    };
    let short_beta = Params {
        beta: &p[1..],
        ..params
    };
    assert!(train_err(shape, &x[1..], params, ok, "").contains("batch norm x"));
    assert!(train_err(shape, &x, short_gamma, ok, "").contains("batch norm params.gamma"));
    assert!(train_err(shape, &x, short_beta, ok, "").contains("batch norm params.beta"));
    for field in ["y", "mean", "inv_std", "running_mean", "running_var"] {
        let e = train_err(shape, &x, params, ok, field);
        assert!(e.contains(&format!("batch norm out.{field}:")), "{e}");
    }
    let with = |eps: f32, momentum: f32| settings(eps, momentum, Act::Identity);
    assert!(train_err(shape, &x, params, with(-1.0, 0.9), "").contains("epsilon"));
    assert!(train_err(shape, &x, params, with(f32::NAN, 0.9), "").contains("epsilon"));
    assert!(train_err(shape, &x, params, with(1e-3, 1.5), "").contains("momentum"));
    assert!(train_err(shape, &x, params, with(1e-3, f32::NAN), "").contains("momentum"));
    assert!(train_err(Shape { m: 0, c: 3 }, &[], params, ok, "").contains("m = 0"));
    let no_channels = Params {
        gamma: &[],
        beta: &[],
    };
    assert!(train_err(Shape { m: 4, c: 0 }, &[], no_channels, ok, "").contains("channels"));
    let huge = Shape {
        m: usize::MAX,
        c: 3,
    };
    assert!(train_err(huge, &x, params, ok, "").contains("overflow"));

    // Inference.
    let running = RunningStats { mean: &p, var: &p };
    let short_var = RunningStats {
        var: &p[1..],
        ..running
    };
    let mut y = vec![0.0; 12];
    assert!(msg(forward_infer(shape, &x, params, short_var, ok, &mut y))
        .contains("batch norm running.var"));
    assert!(
        msg(forward_infer(shape, &x, params, running, ok, &mut y[1..])).contains("batch norm y")
    );
    let none = RunningStats {
        mean: &[],
        var: &[],
    };
    assert!(forward_infer(Shape { m: 4, c: 0 }, &[], no_channels, none, ok, &mut []).is_err());
    forward_infer(Shape { m: 0, c: 3 }, &[], params, running, ok, &mut []).unwrap();

    // Backward: each gradient short in turn, the saved statistics, m = 0.
    let stats = Stats {
        mean: &p,
        inv_std: &p,
    };
    let (mut dx, mut dg, mut db) = (vec![0.0; 12], vec![0.0; 3], vec![0.0; 3]);
    let mut grads_err = |stats: Stats, short: &str| {
        let grads = Grads {
            dy: if short == "dy" { &x[1..] } else { &x },
            dx: if short == "dx" { &mut dx[1..] } else { &mut dx },
            dgamma: if short == "dgamma" {
                &mut dg[1..]
            } else {
                &mut dg
            },
            dbeta: if short == "dbeta" {
                &mut db[1..]
            } else {
                &mut db
            },
        };
        msg(backward(shape, &x, params, stats, ok, grads, None))
    };
    for field in ["dy", "dx", "dgamma", "dbeta"] {
        let e = grads_err(stats, field);
        assert!(e.contains(&format!("batch norm grads.{field}:")), "{e}");
    }
    let short_mean = Stats {
        mean: &p[1..],
        ..stats
    };
    assert!(grads_err(short_mean, "").contains("batch norm stats.mean"));
    let grads = Grads {
        dy: &[],
        dx: &mut [],
        dgamma: &mut dg,
        dbeta: &mut db,
    };
    assert!(backward(Shape { m: 0, c: 3 }, &[], params, stats, ok, grads, None).is_err());

    // Fold.
    let (mut s, mut t) = (vec![0.0; 3], vec![0.0; 3]);
    let mut fold_err = |params: Params, running: RunningStats, eps: f32, short: bool| {
        let out = Folded {
            scale: &mut s,
            shift: if short { &mut t[1..] } else { &mut t },
        };
        msg(fold(params, running, eps, out))
    };
    assert!(fold_err(params, short_var, 1e-3, false).contains("fold running.var"));
    assert!(fold_err(params, running, 1e-3, true).contains("fold out.shift"));
    assert!(fold_err(no_channels, none, 1e-3, false).contains("channels"));
    assert!(fold_err(params, running, f32::INFINITY, false).contains("epsilon"));
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
        let (shape, p) = (Shape { m, c }, params(&gamma, &beta));
        for act in FUSED_ACTS {
            let o = train(m, c, &x, &gamma, &beta, 1e-3, 0.9);
            let mut want_y = nan_filled(m * c);
            activation::forward(act, &o.y, &mut want_y).unwrap();
            let fused = train_act(shape, &x, p, settings(1e-3, 0.9, act));
            assert_eq!(fused.y, want_y, "{act:?} forward_train");
            assert_eq!((&fused.mean, &fused.inv_std), (&o.mean, &o.inv_std));
            assert_eq!(
                (&fused.running_mean, &fused.running_var),
                (&o.running_mean, &o.running_var)
            );

            // Backward: activation backward (from its input, which every
            // activation takes), then batch norm.
            let mut d = dy.clone();
            activation::backward_from_input(act, &o.y, &mut d).unwrap();
            let stats = fused.stats();
            let (want_dx, want_dg, want_db) =
                grads(shape, &x, p, stats, Act::Identity, &d, [1.0, 2.0]);
            let (dx, dg, db) = grads(shape, &x, p, stats, act, &dy, [1.0, 2.0]);
            assert_close(&dx, &want_dx, 1e-5, 1e-6);
            assert_close(&dg, &want_dg, 1e-5, 1e-5);
            assert_close(&db, &want_db, 1e-5, 1e-5);

            // Inference.
            let running = fused.running();
            let mut plain = nan_filled(m * c);
            let identity = settings(1e-3, 0.9, Act::Identity);
            forward_infer(shape, &x, p, running, identity, &mut plain).unwrap();
            let mut want = nan_filled(m * c);
            activation::forward(act, &plain, &mut want).unwrap();
            let mut got = nan_filled(m * c);
            forward_infer(shape, &x, p, running, settings(1e-3, 0.9, act), &mut got).unwrap();
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
    let shape = Shape { m, c };
    for act in [Act::Relu, Act::Tanh] {
        let fwd = |x: &[f32], g: &[f32], b: &[f32]| {
            train_act(shape, x, params(g, b), settings(eps, 0.9, act))
        };
        let o = fwd(&x, &gamma, &beta);
        assert!(o.y.iter().all(|v| v.is_finite()));
        assert!(
            pre(&x, &gamma, &beta).iter().any(|&v| v < 0.0),
            "ReLU cuts something"
        );
        let p = params(&gamma, &beta);
        let (dx, dg, db) = grads(shape, &x, p, o.stats(), act, &r, [0.0; 2]);
        let loss = |x: &[f32], g: &[f32], b: &[f32]| dot(&fwd(x, g, b).y, &r);
        let tol = 1e-3;
        gradcheck(&mut x, &dx, 1e-3, tol, None, |x| loss(x, &gamma, &beta));
        gradcheck(&mut gamma, &dg, 1e-3, tol, None, |g| loss(&x, g, &beta));
        gradcheck(&mut beta, &db, 1e-3, tol, None, |b| loss(&x, &gamma, b));
    }
}
