//! The speed benchmark, side by side with PyTorch
//! (`../shared/bench/pytorch_peer.py` prints the same JSON lines;
//! `bench/compare.sh` runs both, interleaved, and prints the ratios):
//!
//!     cargo run --release --example bench -- [--threads N] [--workload NAME] [--json] [--repeats N]
//!
//! Workloads, as the PyTorch script runs them: `lenet5_train_b64` (SGD lr
//! 0.01, images/s), `lenet5_infer_b1` (us per call), `lenet5_infer_b256`
//! (images/s), `resnet20_train_b128` (SGD lr 0.1 momentum 0.9, images/s);
//! and `conv_gflops`: GFLOP/s of the conv kernels' forward and backward at
//! every LeNet-5 and ResNet-20 layer shape, beside `matrixmultiply::sgemm`
//! on the same GEMM products (`cnn_runtime::bench`, shared with
//! `cargo bench -p cnn-runtime --bench conv2d`). Without `--workload`, all
//! of them run, in that order.
//!
//! Each figure is the median of `--repeats` timed blocks (default 5) after
//! a warm-up, with min and max; a block runs the step enough times to last
//! about 0.3 s (2 s for ResNet-20), as the PyTorch script does. Data are
//! synthetic (fixed seeds), uniform in [-1, 1), NHWC.
//!
//! `lenet5_train_b64` also reports the process's peak resident memory
//! (VmHWM) right after it: it runs first, so nothing else has inflated it
//! (`lenet5_train_b64_peak_rss`, MiB, in JSON). Run it alone with
//! `--workload lenet5_train_b64` for the figure to compare with PyTorch's.

use cnn::ndarray::Array4;
use cnn::prelude::*;
use cnn::rng::Rng;
use cnn_runtime::bench::{median, samples, ConvBench, CONV_CASES};

#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
use lenet5_net::LeNet5;

#[path = "shared/cifar_resnet.rs"]
mod cifar_resnet;
use cifar_resnet::CifarResNet;

network! {
    /// ResNet-20 for CIFAR-10 (He et al. 2015, section 4.2): a 3x3 stem, 3 stages of
    /// 3 basic blocks with 16, 32, 64 filters, projection shortcuts (1x1 conv + batch
    /// norm) where the shape changes, global average pooling, dense 10. Batch norm with
    /// PyTorch's defaults (momentum 0.1 there is 0.9 here, epsilon 1e-5), as in the peer.
    pub struct ResNet20 {
        input: [32, 32, 3],
        layers: CifarResNet { n: 3, momentum: 0.9, epsilon: 0.00001 },
    }
}

const WORKLOADS: &[&str] = &[
    "lenet5_train_b64",
    "lenet5_infer_b1",
    "lenet5_infer_b256",
    "resnet20_train_b128",
    "conv_gflops",
];

struct Args {
    threads: usize,
    workload: Option<String>,
    json: bool,
    repeats: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        threads: 1,
        workload: None,
        json: false,
        repeats: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--threads" => {
                a.threads = value()?
                    .parse()
                    .map_err(|_| "--threads takes a number".to_string())?
            }
            "--repeats" => {
                a.repeats = value()?
                    .parse()
                    .map_err(|_| "--repeats takes a number".to_string())?
            }
            "--workload" => {
                let w = value()?;
                if !WORKLOADS.contains(&w.as_str()) {
                    return Err(format!(
                        "unknown workload `{w}` (one of {})",
                        WORKLOADS.join(", ")
                    ));
                }
                a.workload = Some(w);
            }
            "--json" => a.json = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    a.threads = a.threads.max(1);
    a.repeats = a.repeats.max(1);
    Ok(a)
}

/// Prints one figure: a JSON line, or a line for people.
fn emit(a: &Args, workload: &str, values: &[f64], unit: &str) {
    let m = median(values);
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if a.json {
        println!(
            r#"{{"workload": "{workload}", "threads": {}, "median": {m}, "min": {min}, "max": {max}, "unit": "{unit}"}}"#,
            a.threads
        );
    } else {
        println!(
            "{workload:<48} threads {}  median {m:>10.1} {unit:<8} (min {min:.1}, max {max:.1})",
            a.threads
        );
    }
}

/// Uniform [-1, 1) images (NHWC) and labels 0..10, fixed by `seed`.
fn data(n: usize, hw: usize, c: usize, seed: u64) -> (Array4<f32>, Vec<usize>) {
    let mut r = Rng::new(seed);
    let x = Array4::from_shape_simple_fn((n, hw, hw, c), || r.uniform_in(-1.0, 1.0));
    let y = (0..n).map(|_| r.below(10)).collect();
    (x, y)
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("usage: bench [--threads N] [--workload NAME] [--json] [--repeats N]");
            eprintln!("workloads: {}", WORKLOADS.join(", "));
            std::process::exit(2);
        }
    };
    cnn::parallel::set_threads(a.threads);
    let want = |w: &str| a.workload.as_deref().is_none_or(|x| x == w);
    let per_image = |n: f64, s: Vec<f64>| s.iter().map(|v| n / v).collect::<Vec<_>>();
    if want("lenet5_train_b64") {
        let mut net = LeNet5::new(0);
        let (x, y) = data(64, 32, 1, 1);
        let mut opt = Sgd::new(0.01);
        let step = || {
            net.train_step(x.view(), &y, &mut opt).expect("train step");
        };
        let s = samples(step, 5, a.repeats, 0.3, 1);
        emit(&a, "lenet5_train_b64", &per_image(64.0, s), "images/s");
        if let Some(mib) = peak_rss_mib() {
            if a.json {
                emit(&a, "lenet5_train_b64_peak_rss", &[mib], "MiB");
            } else {
                println!(
                    "peak resident memory of the process after lenet5_train_b64: {mib:.1} MiB"
                );
            }
        }
    }
    if want("lenet5_infer_b1") || want("lenet5_infer_b256") {
        let net = LeNet5::new(0);
        if want("lenet5_infer_b1") {
            let (x, _) = data(1, 32, 1, 3);
            let call = || {
                std::hint::black_box(net.predict(x.view()).expect("predict"));
            };
            let s = samples(call, 20, a.repeats, 0.3, 20);
            let us: Vec<f64> = s.iter().map(|v| v * 1e6).collect();
            emit(&a, "lenet5_infer_b1", &us, "us");
        }
        if want("lenet5_infer_b256") {
            let (x, _) = data(256, 32, 1, 4);
            let call = || {
                std::hint::black_box(net.predict(x.view()).expect("predict"));
            };
            let s = samples(call, 3, a.repeats, 0.3, 5);
            emit(&a, "lenet5_infer_b256", &per_image(256.0, s), "images/s");
        }
    }
    if want("resnet20_train_b128") {
        let mut net = ResNet20::new(0);
        let (x, y) = data(128, 32, 3, 5);
        let mut opt = Sgd::new(0.1).momentum(0.9);
        let step = || {
            net.train_step(x.view(), &y, &mut opt).expect("train step");
        };
        let s = samples(step, 1, a.repeats, 2.0, 1);
        emit(&a, "resnet20_train_b128", &per_image(128.0, s), "images/s");
    }
    if want("conv_gflops") {
        // Blocks of about 50 ms: ten shapes, four figures each.
        let gflops =
            |macs: f64, s: &[f64]| s.iter().map(|t| 2.0 * macs / t / 1e9).collect::<Vec<_>>();
        for case in CONV_CASES {
            let mut b = ConvBench::new(*case);
            let (fwd, bwd) = b.kernel_samples(a.repeats, 0.05);
            let (sfwd, sbwd) = b.sgemm_samples(a.threads, true, a.repeats, 0.05);
            let name = format!("conv_gflops/{}", case.layer);
            emit(
                &a,
                &format!("{name}/fwd"),
                &gflops(case.macs(), &fwd),
                "GFLOP/s",
            );
            emit(
                &a,
                &format!("{name}/fwd_sgemm"),
                &gflops(case.macs(), &sfwd),
                "GFLOP/s",
            );
            emit(
                &a,
                &format!("{name}/bwd"),
                &gflops(case.bwd_macs(), &bwd),
                "GFLOP/s",
            );
            emit(
                &a,
                &format!("{name}/bwd_sgemm"),
                &gflops(case.bwd_macs(), &sbwd),
                "GFLOP/s",
            );
        }
    }
}
