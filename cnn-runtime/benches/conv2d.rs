//! Convolution forward and backward at LeNet-5's and ResNet-20's shapes,
//! against plain `sgemm` at the same GEMM sizes, at 1 and 2 threads.
//! The shapes, the timing and the sgemm products live in
//! `cnn_runtime::bench`, which the side-by-side benchmark with PyTorch
//! (`examples/bench.rs`, workload `conv_gflops`) shares; see there for what
//! each column counts.
//!
//! Usage: see `benches/README.md`.

use cnn_runtime::bench::{ConvBench, CONV_CASES};
use cnn_runtime::parallel;
use std::time::Instant;

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
    for c in CONV_CASES {
        let name = c.name();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let mut bench = ConvBench::new(*c);
        let (macs, bwd_macs) = (c.macs(), c.bwd_macs());
        for &threads in &thread_counts {
            parallel::set_threads(threads);
            if let Some(which) = profile {
                let start = Instant::now();
                let mut calls = 0u64;
                while start.elapsed().as_secs_f64() < 3.0 {
                    calls += 1;
                    if which == "fwd" {
                        bench.forward();
                    } else {
                        bench.backward();
                    }
                }
                let m = if which == "fwd" { macs } else { bwd_macs };
                println!(
                    "{name} {which}: {calls} calls, {:.0} MFLOP each",
                    2.0 * m / 1e6
                );
                continue;
            }
            let t = bench.kernel_times();
            let cold = bench.sgemm_times(threads, false);
            // The same products in L2-sized row chunks that reuse one chunk
            // of A: the rate sgemm reaches with its operands in cache.
            let hot = bench.sgemm_times(threads, true);
            let gf = |macs: f64, t: f64| 2.0 * macs / t / 1e9;
            println!(
                "{:<30} {:>3} {:>8.1} {:>8.1} {:>6.2} {:>8.1} {:>6.2} {:>8.1} {:>8.1} {:>6.2} {:>8.1} {:>6.2} {:>8.3} {:>8.3}",
                name,
                threads,
                gf(macs, t.fwd),
                gf(macs, cold.fwd),
                cold.fwd / t.fwd,
                gf(macs, hot.fwd),
                hot.fwd / t.fwd,
                gf(bwd_macs, t.bwd),
                gf(bwd_macs, cold.bwd),
                cold.bwd / t.bwd,
                gf(bwd_macs, hot.bwd),
                hot.bwd / t.bwd,
                t.fwd * 1e3,
                t.bwd * 1e3,
            );
        }
    }
}
