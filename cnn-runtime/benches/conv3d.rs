//! 3-D convolution forward and backward (im2col + `sgemm`) and 3-D pooling
//! at the shapes of the `c3d_train_b8` workload (PyTorch peer's
//! `C3dSmall`: 3x3x3 convolutions of 16, 32 and 64 filters with padding 1
//! on a batch of 8 clips of 16x32x32, 2x2x2 max pooling after the first
//! two), at 1 and 2 threads. Reports GFLOP/s as 2 x multiply-adds / time;
//! backward counts the weight and the input gradient (twice the forward's),
//! the weight gradient alone on the first layer (`_nodx`), whose input
//! gradient a training step does not compute.
//!
//! Usage: `cargo bench -p cnn-runtime --bench conv3d [-- FILTER] [--threads=1,2]`.

use cnn_runtime::geom::{Act, Padding};
use cnn_runtime::layers::conv2d::Epilogue;
use cnn_runtime::layers::{conv3d, pool3d};
use cnn_runtime::{parallel, Conv3dGeom, Pool3dGeom};
use std::time::Instant;

/// Seconds per call: the median of 7 timed rounds after a warm-up call.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[3]
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
    let batch = 8;
    let same = [Padding::Explicit(1); 3];
    let convs = [
        // A first layer: its backward computes no input gradient.
        ("conv3d/16x32x32x1_k3_f16_nodx", [16, 32, 32, 1], 16),
        ("conv3d/8x16x16x16_k3_f32", [8, 16, 16, 16], 32),
        ("conv3d/4x8x8x32_k3_f64", [4, 8, 8, 32], 64),
    ];
    println!(
        "{:<33} {:>3} {:>9} {:>9} {:>9} {:>9}",
        "case", "thr", "fwd GF/s", "bwd GF/s", "fwd ms", "bwd ms"
    );
    for (name, input, filters) in convs {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let g = Conv3dGeom::new(input, filters, [3; 3], [1; 3], same, [1; 3], 1).unwrap();
        let x = vec![0.5f32; batch * g.in_len()];
        let w = vec![0.01f32; g.weight_len()];
        let b = vec![0.0f32; g.c_out];
        let mut y = vec![0.0f32; batch * g.out_len()];
        let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; w.len()], b.clone());
        let flops = 2.0 * (batch * g.macs()) as f64;
        for &threads in &thread_counts {
            parallel::set_threads(threads);
            let ep = Epilogue::new(Some(&b), Act::Relu);
            let fwd = time(|| conv3d::forward(&g, batch, &x, &w, &ep, &mut y).unwrap());
            let first = name.ends_with("_nodx");
            let bwd = time(|| {
                let dx = (!first).then_some(&mut dx[..]);
                conv3d::backward(&g, batch, &x, &w, &y, dx, &mut dw, Some(&mut db)).unwrap()
            });
            let bwd_flops = if first { flops } else { 2.0 * flops };
            println!(
                "{name:<33} {threads:>3} {:>9.1} {:>9.1} {:>9.2} {:>9.2}",
                flops / fwd / 1e9,
                bwd_flops / bwd / 1e9,
                fwd * 1e3,
                bwd * 1e3
            );
        }
    }
    for (name, input) in [
        ("max_pool3d/16x32x32x16_s2", [16, 32, 32, 16]),
        ("max_pool3d/8x16x16x32_s2", [8, 16, 16, 32]),
    ] {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let g = Pool3dGeom::new(input, [2; 3], [2; 3], [Padding::Valid; 3]).unwrap();
        let x = vec![0.5f32; batch * g.in_len()];
        let (mut y, mut arg) = (
            vec![0.0; batch * g.out_len()],
            vec![0u32; batch * g.out_len()],
        );
        let mut dx = vec![0.0; x.len()];
        for &threads in &thread_counts {
            parallel::set_threads(threads);
            let fwd = time(|| pool3d::max_forward(&g, batch, &x, &mut y, &mut arg).unwrap());
            let bwd = time(|| pool3d::max_backward(&g, batch, &y, &arg, &mut dx).unwrap());
            println!(
                "{name:<33} {threads:>3} {:>9} {:>9} {:>9.2} {:>9.2}",
                "-",
                "-",
                fwd * 1e3,
                bwd * 1e3
            );
        }
    }
}
