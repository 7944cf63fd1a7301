//! The kernels around the convolutions, at the shapes LeNet-5 (batch 64
//! training, 256 inference) and ResNet-20 (batch 128) run them: max
//! pooling, batch norm, activations, the residual addition, dense layers
//! and the fused loss; and group norm, layer norm and a gate at
//! ResNet-20's first stage's shape. Prints microseconds per call (median of 7 blocks of
//! ~20 ms) and, for the memory-bound ones, GB/s of the bytes they must move.
//!
//!     cargo bench -p cnn-runtime --bench layers [-- FILTER] [--threads=1,2]

use cnn_runtime::bench::{random, time};
use cnn_runtime::geom::{Act, Conv2dGeom, Padding, PoolGeom};
use cnn_runtime::layers::conv2d::{self, Epilogue};
use cnn_runtime::layers::{
    activation, batch_norm, dense, gate, group_norm, layer_norm, loss, merge, pool,
};
use cnn_runtime::parallel;

struct Row {
    name: String,
    /// Bytes read plus written by one call (0: not memory-bound).
    bytes: usize,
    run: Box<dyn FnMut()>,
}

fn row(name: impl Into<String>, bytes: usize, run: impl FnMut() + 'static) -> Row {
    Row {
        name: name.into(),
        bytes,
        run: Box::new(run),
    }
}

fn pool_rows(rows: &mut Vec<Row>, input: [usize; 3], batch: usize) {
    let g = PoolGeom::new(input, [2, 2], [2, 2], Padding::Valid).unwrap();
    let tag = format!("{}x{}x{}_b{batch}", input[0], input[1], input[2]);
    let x = random(batch * g.in_len(), 1);
    let (n_in, n_out) = (batch * g.in_len(), batch * g.out_len());
    let mut y = vec![0.0; n_out];
    let mut am = vec![0u32; n_out];
    rows.push(row(
        format!("maxpool_fwd/{tag}"),
        4 * (n_in + 2 * n_out),
        move || pool::max_forward(&g, batch, &x, &mut y, &mut am).unwrap(),
    ));
    let dy = random(n_out, 2);
    let mut am = vec![0u32; n_out];
    let x = random(n_in, 1);
    pool::max_forward(&g, batch, &x, &mut vec![0.0; n_out], &mut am).unwrap();
    let mut dx = vec![0.0; n_in];
    rows.push(row(
        format!("maxpool_bwd/{tag}"),
        4 * (n_in + 2 * n_out),
        move || pool::max_backward(&g, batch, &am, &dy, &mut dx).unwrap(),
    ));
}

/// Group norm (4 groups), layer norm per position and a per-channel
/// gate, forward and backward (recomputing the statistics from x).
fn norm_rows(rows: &mut Vec<Row>, hw: usize, c: usize, batch: usize) {
    let n = batch * hw * hw * c;
    let tag = format!("{hw}x{hw}x{c}_b{batch}");
    let (x, gamma, beta, dy) = (random(n, 1), random(c, 2), random(c, 3), random(n, 4));
    let positions = hw * hw;
    let gn_shape = group_norm::Shape {
        n: batch,
        hw: positions,
        c,
        groups: 4,
    };
    let ln_shape = layer_norm::Shape {
        m: batch * positions,
        c,
    };
    {
        let (x, gamma, beta) = (x.clone(), gamma.clone(), beta.clone());
        let mut y = vec![0.0; n];
        rows.push(row(format!("gn_fwd/{tag}"), 4 * 2 * n, move || {
            let params = group_norm::Params {
                gamma: &gamma,
                beta: &beta,
            };
            group_norm::forward(gn_shape, &x, params, 1e-5, &mut y).unwrap()
        }));
    }
    {
        let (x, gamma, dy) = (x.clone(), gamma.clone(), dy.clone());
        let (mut dx, mut dg, mut db) = (vec![0.0; n], vec![0.0; c], vec![0.0; c]);
        rows.push(row(format!("gn_bwd/{tag}"), 4 * 3 * n, move || {
            let d = Some(group_norm::ParamGrads {
                dgamma: &mut dg,
                dbeta: &mut db,
            });
            group_norm::backward(gn_shape, &x, &gamma, 1e-5, &dy, Some(&mut dx), d).unwrap()
        }));
    }
    {
        let (x, gamma, beta) = (x.clone(), gamma.clone(), beta.clone());
        let mut y = vec![0.0; n];
        rows.push(row(format!("ln_fwd/{tag}"), 4 * 2 * n, move || {
            let params = layer_norm::Params {
                gamma: &gamma,
                beta: &beta,
            };
            layer_norm::forward(ln_shape, &x, params, 1e-6, &mut y).unwrap()
        }));
    }
    {
        let (x, gamma, dy) = (x.clone(), gamma.clone(), dy.clone());
        let (mut dx, mut dg, mut db) = (vec![0.0; n], vec![0.0; c], vec![0.0; c]);
        rows.push(row(format!("ln_bwd/{tag}"), 4 * 3 * n, move || {
            let d = Some(layer_norm::ParamGrads {
                dgamma: &mut dg,
                dbeta: &mut db,
            });
            layer_norm::backward(ln_shape, &x, &gamma, 1e-6, &dy, Some(&mut dx), d).unwrap()
        }));
    }
    let g = random(batch * c, 5);
    {
        let (x, g) = (x.clone(), g.clone());
        let mut y = vec![0.0; n];
        rows.push(row(format!("gate_fwd/{tag}"), 4 * 2 * n, move || {
            gate::forward(batch, positions, c, &x, &g, &mut y).unwrap()
        }));
    }
    let (mut dx, mut dg) = (vec![0.0; n], vec![0.0; batch * c]);
    rows.push(row(format!("gate_bwd/{tag}"), 4 * 3 * n, move || {
        gate::backward(
            batch,
            positions,
            c,
            &x,
            &g,
            &dy,
            Some(&mut dx),
            Some(&mut dg),
        )
        .unwrap()
    }));
}

fn bn_rows(rows: &mut Vec<Row>, hw: usize, c: usize, batch: usize) {
    use batch_norm::{Grads, Params, Settings, Shape, Stats, TrainOut};
    let m = batch * hw * hw;
    let shape = Shape { m, c };
    let tag = format!("{hw}x{hw}x{c}_b{batch}");
    let x = random(m * c, 1);
    let gamma = random(c, 2);
    let beta = random(c, 3);
    let settings = |act| Settings {
        eps: 1e-5,
        momentum: 0.9,
        act,
    };
    // Forward in training, plain and with a fused ReLU.
    for (name, act) in [
        ("bn_fwd_train", Act::Identity),
        ("bn_relu_fwd_train", Act::Relu),
    ] {
        let (x, gamma, beta) = (x.clone(), gamma.clone(), beta.clone());
        let mut y = vec![0.0; m * c];
        let (mut mean, mut inv, mut rm, mut rv) =
            (vec![0.0; c], vec![0.0; c], vec![0.0; c], vec![1.0; c]);
        rows.push(row(format!("{name}/{tag}"), 4 * 3 * m * c, move || {
            let params = Params {
                gamma: &gamma,
                beta: &beta,
            };
            let out = TrainOut {
                y: &mut y,
                mean: &mut mean,
                inv_std: &mut inv,
                running_mean: &mut rm,
                running_var: &mut rv,
            };
            batch_norm::forward_train(shape, &x, params, settings(act), out, None).unwrap()
        }));
    }
    // Backward, with a fused ReLU and plain.
    for (name, act) in [("bn_relu_bwd", Act::Relu), ("bn_bwd", Act::Identity)] {
        let (x, gamma, beta, dy) = (x.clone(), gamma.clone(), beta.clone(), random(m * c, 4));
        let mut dx = vec![0.0; m * c];
        let (mut dg, mut db) = (vec![0.0; c], vec![0.0; c]);
        let (mean, inv) = (vec![0.1; c], vec![1.2; c]);
        rows.push(row(format!("{name}/{tag}"), 4 * 5 * m * c, move || {
            let params = Params {
                gamma: &gamma,
                beta: &beta,
            };
            let stats = Stats {
                mean: &mean,
                inv_std: &inv,
            };
            let grads = Grads {
                dy: &dy,
                dx: &mut dx,
                dgamma: &mut dg,
                dbeta: &mut db,
            };
            batch_norm::backward(shape, &x, params, stats, settings(act), grads, None).unwrap()
        }));
    }
    let mut y = random(m * c, 5);
    rows.push(row(
        format!("relu_fwd_inplace/{tag}"),
        4 * 2 * m * c,
        move || activation::forward_inplace(Act::Relu, &mut y),
    ));
    let yy = random(m * c, 6);
    let mut dy = random(m * c, 7);
    rows.push(row(
        format!("relu_bwd_inplace/{tag}"),
        4 * 3 * m * c,
        move || activation::backward_inplace(Act::Relu, &yy, &mut dy).unwrap(),
    ));
    let (a, b) = (random(m * c, 8), random(m * c, 9));
    let mut y = vec![0.0; m * c];
    rows.push(row(format!("add/{tag}"), 4 * 3 * m * c, move || {
        merge::add(&a, &b, &mut y).unwrap()
    }));
}

fn dense_rows(rows: &mut Vec<Row>, batch: usize, n_in: usize, n_out: usize) {
    let tag = format!("{n_in}x{n_out}_b{batch}");
    let x = random(batch * n_in, 1);
    let w = random(n_in * n_out, 2);
    let b = random(n_out, 3);
    let mut y = vec![0.0; batch * n_out];
    {
        let (x, w) = (x.clone(), w.clone());
        rows.push(row(format!("dense_fwd/{tag}"), 0, move || {
            dense::forward(batch, n_in, n_out, &x, &w, Some(&b), Act::Relu, &mut y).unwrap()
        }));
    }
    {
        // The same product as a 1x1 convolution of a 1x1 image.
        let g = Conv2dGeom::new([1, 1, n_in], n_out, [1, 1], [1, 1], Padding::Valid).unwrap();
        let (xc, wc, b) = (x.clone(), w.clone(), random(n_out, 3));
        let mut y = vec![0.0; batch * n_out];
        rows.push(row(format!("dense_as_conv_fwd/{tag}"), 0, move || {
            conv2d::forward(
                &g,
                1,
                batch,
                &xc,
                &wc,
                &Epilogue::new(Some(&b), Act::Relu),
                &mut y,
            )
            .unwrap()
        }));
        let (x, w, dy) = (x.clone(), w.clone(), random(batch * n_out, 4));
        let mut dx = vec![0.0; batch * n_in];
        let mut dw = vec![0.0; n_in * n_out];
        let mut db = vec![0.0; n_out];
        rows.push(row(format!("dense_as_conv_bwd/{tag}"), 0, move || {
            conv2d::backward(
                &g,
                1,
                batch,
                &x,
                &w,
                &dy,
                Some(&mut dx),
                &mut dw,
                Some(&mut db),
            )
            .unwrap()
        }));
    }
    let dy = random(batch * n_out, 4);
    let mut dx = vec![0.0; batch * n_in];
    let mut dw = vec![0.0; n_in * n_out];
    let mut db = vec![0.0; n_out];
    rows.push(row(format!("dense_bwd/{tag}"), 0, move || {
        dense::backward(
            batch,
            n_in,
            n_out,
            &x,
            &w,
            &dy,
            Some(&mut dx),
            &mut dw,
            Some(&mut db),
        )
        .unwrap()
    }));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let thread_counts: Vec<usize> = args
        .iter()
        .find_map(|a| a.strip_prefix("--threads="))
        .map_or(vec![1, 2], |v| {
            v.split(',').filter_map(|t| t.parse().ok()).collect()
        });
    let mut rows = Vec::new();
    // LeNet-5: the two poolings at training and inference batch sizes.
    pool_rows(&mut rows, [28, 28, 6], 64);
    pool_rows(&mut rows, [10, 10, 16], 64);
    pool_rows(&mut rows, [28, 28, 6], 256);
    pool_rows(&mut rows, [28, 28, 6], 1);
    dense_rows(&mut rows, 64, 400, 120);
    dense_rows(&mut rows, 64, 120, 84);
    dense_rows(&mut rows, 64, 84, 10);
    dense_rows(&mut rows, 1, 400, 120);
    // ResNet-20's three stages at batch 128.
    bn_rows(&mut rows, 32, 16, 128);
    bn_rows(&mut rows, 16, 32, 128);
    bn_rows(&mut rows, 8, 64, 128);
    norm_rows(&mut rows, 32, 16, 128);
    {
        let (batch, classes) = (128, 10);
        let logits = random(batch * classes, 1);
        let labels: Vec<usize> = (0..batch).map(|i| i % classes).collect();
        let mut d = vec![0.0; batch * classes];
        rows.push(row("softmax_xent/10_b128", 0, move || {
            loss::softmax_cross_entropy(batch, classes, &logits, &labels, 1.0, &mut d).unwrap();
        }));
    }
    println!("{:<36} {:>3} {:>10} {:>8}", "kernel", "thr", "us", "GB/s");
    for r in &mut rows {
        if filter.is_some_and(|f| !r.name.contains(f.as_str())) {
            continue;
        }
        for &t in &thread_counts {
            parallel::set_threads(t);
            let s = time(&mut r.run);
            let gbs = if r.bytes > 0 {
                format!("{:>8.1}", r.bytes as f64 / s / 1e9)
            } else {
                String::new()
            };
            println!("{:<36} {:>3} {:>10.2} {gbs}", r.name, t, s * 1e6);
        }
    }
}
