//! Convolution forward and backward at LeNet-5's and ResNet-20's shapes,
//! against plain `sgemm` at the same GEMM sizes, at 1 and 2 threads.
//!
//! GFLOP/s = 2 * multiply-adds / time. Forward counts the course's MACs
//! (`out_h * out_w * c_out * fh * fw * c_in` per image); backward counts twice
//! that when it computes dx (the dW and dX products) and once without (a
//! first layer). The sgemm columns run the same products on the whole batch,
//! rows split over the threads: `M = batch * out_h * out_w`, `K = fh * fw * c_in`,
//! `N = c_out` forward; `K x M` times `M x N` for dW and `M x N` times `N x K`
//! for dX backward. "sgemm" streams a materialised column matrix once, as
//! im2col + GEMM would; "hot" runs the same products in L2-sized row chunks
//! that reuse one chunk of A, the best case for sgemm. Forward runs with
//! bias and ReLU.
//!
//! Usage: see `benches/README.md`.

use cnn_runtime::gemm::{sgemm, Mat};
use cnn_runtime::geom::{Act, Conv2dGeom, Padding};
use cnn_runtime::layers::conv2d::{backward, forward, Epilogue};
use cnn_runtime::parallel;
use std::hint::black_box;
use std::time::Instant;

struct Case {
    input: [usize; 3],
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
    batch: usize,
    /// False for a network's first layer: backward skips dx.
    dx: bool,
}

const fn case(
    input: [usize; 3],
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
    batch: usize,
    dx: bool,
) -> Case {
    Case {
        input,
        c_out,
        kernel,
        stride,
        padding,
        batch,
        dx,
    }
}

const CASES: &[Case] = &[
    // LeNet-5, batch 64: conv1 is the first layer.
    case([32, 32, 1], 6, 5, 1, Padding::Valid, 64, false),
    case([14, 14, 6], 16, 5, 1, Padding::Valid, 64, true),
    // ResNet-20, batch 128: the stem, the three 3x3 'same' stages, the
    // stride-2 transitions and their 1x1 stride-2 projections.
    case([32, 32, 3], 16, 3, 1, Padding::Same, 128, false),
    case([32, 32, 16], 16, 3, 1, Padding::Same, 128, true),
    case([16, 16, 32], 32, 3, 1, Padding::Same, 128, true),
    case([8, 8, 64], 64, 3, 1, Padding::Same, 128, true),
    case([32, 32, 16], 32, 3, 2, Padding::Same, 128, true),
    case([16, 16, 32], 64, 3, 2, Padding::Same, 128, true),
    case([32, 32, 16], 32, 1, 2, Padding::Valid, 128, true),
    case([16, 16, 32], 64, 1, 2, Padding::Valid, 128, true),
];

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// Median seconds per call of `f`, over 7 repeats of enough calls to last
/// about 20 ms each, after a warm-up.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    f();
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let iters = ((0.02 / once) as usize).clamp(1, 10_000);
    let mut samples: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_secs_f64() / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// A mutable buffer written by disjoint row blocks from several threads.
struct Out(*mut f32, usize);
// SAFETY: every use below writes a disjoint range of rows.
unsafe impl Sync for Out {}
impl Out {
    #[allow(clippy::mut_from_ref)] // disjoint ranges, see the Sync impl
    fn part(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.1);
        // SAFETY: in bounds; callers use disjoint ranges.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

/// Rows per chunk of the "hot" sgemm rows: the kernels' column-matrix target.
const COL_TARGET: usize = 1 << 17;

/// Median seconds of the sgemm products of a convolution with `M = m`,
/// split over `threads` threads, each thread walking its rows in chunks of
/// `chunk`; with `chunk` below the thread's share, every chunk reuses the
/// thread's first rows of A and dY (so they stay in cache). Returns
/// (forward `A W`, backward `A^T dY` plus, with `dx`, `dY W^T`).
fn gemm_times(
    a: &[f32],
    w: &[f32],
    dy: &[f32],
    m: usize,
    k: usize,
    n: usize,
    chunk: usize,
    threads: usize,
    dx: bool,
    scratch: &mut [f32],
) -> (f64, f64) {
    let per = m.div_ceil(threads);
    let reuse = chunk < per;
    let out = Out(scratch.as_mut_ptr(), scratch.len());
    // Thread t's rows r0..r1 in chunks; `src` is the row its data comes from.
    let walk = |t: usize, f: &mut dyn FnMut(usize, usize, usize)| {
        let (r0, r1) = ((t * per).min(m), ((t + 1) * per).min(m));
        let mut r = r0;
        while r < r1 {
            let rows = chunk.min(r1 - r);
            f(r, if reuse { r0 } else { r }, rows);
            r += rows;
        }
    };
    let fwd = time(|| {
        parallel::for_each(threads, &|t| {
            walk(t, &mut |r, src, rows| {
                let am = Mat::rows(&a[src * k..(src + rows) * k], rows, k);
                let c = out.part(if reuse { src } else { r } * n, rows * n);
                sgemm(1.0, am, Mat::rows(w, k, n), 0.0, c, n);
            })
        })
    });
    let bwd = time(|| {
        parallel::for_each(threads, &|t| {
            let dw_at = m * (k + n) + t * k * n;
            walk(t, &mut |r, src, rows| {
                let at = Mat::transposed(&a[src * k..(src + rows) * k], k, rows);
                let dyc = Mat::rows(&dy[src * n..(src + rows) * n], rows, n);
                let beta = if r == (t * per).min(m) { 0.0 } else { 1.0 };
                sgemm(1.0, at, dyc, beta, out.part(dw_at, k * n), n);
                if dx {
                    let c = out.part(m * n + if reuse { src } else { r } * k, rows * k);
                    sgemm(1.0, dyc, Mat::transposed(w, n, k), 0.0, c, k);
                }
            })
        })
    });
    (fwd, bwd)
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
    // `--profile=fwd` or `--profile=bwd`: run only that kernel for a few
    // seconds, for `perf record`.
    let profile = args.iter().find_map(|a| a.strip_prefix("--profile="));
    println!(
        "{:<30} {:>3} {:>8} {:>8} {:>6} {:>8} {:>6} {:>8} {:>8} {:>6} {:>8} {:>6} {:>8} {:>8}",
        "case",
        "thr",
        "fwd",
        "sgemm",
        "ratio",
        "hot",
        "ratio",
        "bwd",
        "sgemm",
        "ratio",
        "hot",
        "ratio",
        "fwd ms",
        "bwd ms"
    );
    for c in CASES {
        let g = Conv2dGeom::new(c.input, c.c_out, [c.kernel; 2], [c.stride; 2], c.padding).unwrap();
        let name = format!(
            "conv2d/{}x{}x{}_k{}_s{}_c{}{}",
            c.input[0],
            c.input[1],
            c.input[2],
            c.kernel,
            c.stride,
            c.c_out,
            if c.dx { "" } else { "_nodx" }
        );
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let b = c.batch;
        let (m, k, n) = (b * g.out_h * g.out_w, g.k(), g.c_out);
        let x = random(b * g.in_len(), 1);
        let w = random(g.weight_len(), 2);
        let bias = random(n, 3);
        let dy = random(b * g.out_len(), 4);
        let mut y = vec![0.0; b * g.out_len()];
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; w.len()];
        let mut db = vec![0.0; n];
        let a = random(m * k, 5);
        let mut scratch = vec![0.0; m * (k + n) + 64 * k * n];
        let macs = (b * g.macs()) as f64;
        let bwd_macs = if c.dx { 2.0 * macs } else { macs };
        for &threads in &thread_counts {
            parallel::set_threads(threads);
            let ep = Epilogue::new(Some(&bias), Act::Relu);
            if let Some(which) = profile {
                let start = Instant::now();
                let mut calls = 0u64;
                while start.elapsed().as_secs_f64() < 3.0 {
                    calls += 1;
                    if which == "fwd" {
                        forward(&g, b, black_box(&x), &w, &ep, &mut y).unwrap();
                    } else {
                        let dxo = if c.dx { Some(&mut dx[..]) } else { None };
                        backward(&g, b, black_box(&x), &w, &dy, dxo, &mut dw, Some(&mut db))
                            .unwrap();
                    }
                }
                let m = if which == "fwd" { macs } else { bwd_macs };
                println!(
                    "{name} {which}: {calls} calls, {:.0} MFLOP each",
                    2.0 * m / 1e6
                );
                continue;
            }
            let t_fwd = time(|| forward(&g, b, black_box(&x), &w, &ep, &mut y).unwrap());
            let t_bwd = time(|| {
                let dxo = if c.dx { Some(&mut dx[..]) } else { None };
                backward(&g, b, black_box(&x), &w, &dy, dxo, &mut dw, Some(&mut db)).unwrap()
            });
            let cold = gemm_times(
                &a,
                &w,
                &dy,
                m,
                k,
                n,
                m.div_ceil(threads),
                threads,
                c.dx,
                &mut scratch,
            );
            // The same products in L2-sized row chunks that reuse one chunk
            // of A: the rate sgemm reaches with its operands in cache.
            let hot_rows = (COL_TARGET / (k + n)).clamp(16, m.div_ceil(threads));
            let hot = gemm_times(&a, &w, &dy, m, k, n, hot_rows, threads, c.dx, &mut scratch);
            let gf = |macs: f64, t: f64| 2.0 * macs / t / 1e9;
            println!(
                "{:<30} {:>3} {:>8.1} {:>8.1} {:>6.2} {:>8.1} {:>6.2} {:>8.1} {:>8.1} {:>6.2} {:>8.1} {:>6.2} {:>8.3} {:>8.3}",
                name,
                threads,
                gf(macs, t_fwd),
                gf(macs, cold.0),
                cold.0 / t_fwd,
                gf(macs, hot.0),
                hot.0 / t_fwd,
                gf(bwd_macs, t_bwd),
                gf(bwd_macs, cold.1),
                cold.1 / t_bwd,
                gf(bwd_macs, hot.1),
                hot.1 / t_bwd,
                t_fwd * 1e3,
                t_bwd * 1e3,
            );
        }
    }
}
