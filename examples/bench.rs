//! The speed benchmark, side by side with PyTorch
//! (`bench/pytorch_peer.py` prints the same JSON lines;
//! `bench/compare.py` runs both, interleaved, and prints the ratios):
//!
//!     cargo run --release --example bench -- [--threads N] [--workload NAME] [--json] [--repeats N]
//!
//! Workloads, as the PyTorch script runs them: `lenet5_train_b64` (SGD lr
//! 0.01, images/s), `lenet5_infer_b1` (us per call), `lenet5_infer_b256`
//! (images/s), `resnet20_train_b128` (SGD lr 0.1 momentum 0.9, images/s),
//! `resnet50_train_b8` (keras.applications.ResNet50's layout on 224x224x3,
//! 1000 classes; SGD lr 0.01 momentum 0.9, images/s) and
//! `resnet50_infer_b1` (ms per call); `lenet5_mse_b64` (LeNet-5 without
//! its softmax, SGD lr 0.01 on the mean squared error against one-hot
//! rows, through the held forward pass: `forward`, `backward_loss`,
//! `step`; images/s); `vgg19_style_step_256` (one step of style transfer
//! at 256x256: VGG-19's features to relu5_1 with random frozen weights,
//! the taps relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 and relu4_2, the
//! peer's costs, backward to the picture, Adam lr 0.02; ms per step);
//! `fcn1d_train_b16` (Wang et al.'s FCN for time series on 16 series of
//! OSULeaf's length 427, 6 classes; Adam lr 1e-3, series/s);
//! `c3d_train_b8` (C3dSmall, the clips example's 3D network, on 8 clips of
//! 16 frames of 32x32 uniform in [0, 1), 40 classes; SGD lr 0.01 momentum
//! 0.9, clips/s). Ours
//! only: `grouped_conv`, GFLOP/s of a grouped and a depthwise convolution
//! (ResNeXt-50 32x4d's first-stage 3x3, 56x56x128 in 32 groups, and
//! MobileNet's first depthwise 3x3, 112x112x32; batch 8), forward with
//! bias and ReLU and backward with dx; `lenet5_held_ce_b64`, LeNet-5's cross-entropy training through
//! the held pass and `cnn::loss::CrossEntropy` (to compare with the fused
//! `lenet5_train_b64`); `fma_peak`, the CPU's
//! fp32 FMA throughput (GFLOP/s) on each instruction set with an FMA that
//! the kernels may use (AVX-512, AVX2; `CNN_ISA` caps it), at 1 thread and
//! at `--threads`; and `conv_gflops`: GFLOP/s of the conv kernels' forward
//! and backward at every LeNet-5, ResNet-20 and ResNet-50 layer shape,
//! beside `matrixmultiply::sgemm` on the same GEMM products, each also as
//! a fraction of the FMA peak of the instruction set in use, then each
//! network's convolution time per training step (`cnn_runtime::bench`,
//! shared with `cargo bench -p cnn-runtime --bench conv2d`). Without
//! `--workload`, all of them run, in that order.
//!
//! Each figure is the median of `--repeats` timed blocks (default 5) after
//! a warm-up, with min and max; a block runs the step enough times to last
//! about 0.3 s (2 s for the ResNet training steps), as the PyTorch script
//! does. Data are synthetic (fixed seeds), uniform in [-1, 1), NHWC.
//! `CNN_ISA=avx2` (or `portable`) runs every kernel on that instruction
//! set; JSON lines carry the one in use as `isa`.
//!
//! Each training workload also reports the process's peak resident memory
//! (VmHWM) right after it (`<workload>_peak_rss`, MiB, in JSON). It is the
//! peak so far, so it is the workload's own only when the workload runs
//! alone (`--workload NAME`), as `bench/compare.py` runs it under
//! `/usr/bin/time` for the figure it compares with PyTorch's.

#[path = "shared/cli.rs"]
mod cli;

use cnn::ndarray::{Array3, Array4, Array5};
use cnn::prelude::*;
use cnn::rng::Rng;
use cnn_runtime::bench::{fma_peak_samples, median, network_of, samples, ConvBench, CONV_CASES};
use cnn_runtime::isa::{self, Isa};

#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
use lenet5_net::{LeNet5, LeNet5Scores};

#[path = "shared/cifar_resnet.rs"]
mod cifar_resnet;
use cifar_resnet::CifarResNet;

#[path = "shared/vgg_features.rs"]
mod vgg_features;
use vgg_features::Vgg19Features;

#[path = "shared/keras_resnet50.rs"]
mod keras_resnet50;
use keras_resnet50::KerasResNet;

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

network! {
    /// ResNet-50 in keras.applications.ResNet50's layout (biased
    /// convolutions, the stride on the first 1x1 of a stage), as the peer
    /// declares it: batch norm with epsilon 1e-3 and PyTorch's default
    /// momentum (0.1 there is 0.9 here).
    pub struct ResNet50 {
        input: [224, 224, 3],
        layers: KerasResNet { momentum: 0.9, epsilon: 0.001 },
    }
}

network! {
    /// Wang et al. 2017's FCN for time series, as the peer's `Fcn1d`: three
    /// 1D convolutions (128 k8, 256 k5, 128 k3, `same`) with batch norm and
    /// ReLU, global average pooling, dense 6, on OSULeaf's length 427.
    pub struct Fcn1d {
        input: [427, 1],
        layers: [
            c1: Conv1d { filters: 128, kernel: 8, padding: same }, b1: BatchNorm, Relu,
            c2: Conv1d { filters: 256, kernel: 5, padding: same }, b2: BatchNorm, Relu,
            c3: Conv1d { filters: 128, kernel: 3, padding: same }, b3: BatchNorm, Relu,
            GlobalAvgPool,
            fc: Dense { units: 6 },
            Softmax,
        ],
    }
}

network! {
    /// The peer's `C3dSmall` (the clips example's network): three 3x3x3
    /// convolutions (16, 32, 64) with batch norm (PyTorch's defaults) and
    /// ReLU, 2x2x2 max pooling after the first two, global average
    /// pooling, dense 40, on clips of 16 frames of 32x32.
    pub struct C3dSmall {
        input: [16, 32, 32, 1],
        layers: [
            c1: Conv3d { filters: 16, kernel: 3, padding: 1 },
            b1: BatchNorm { momentum: 0.9, epsilon: 0.00001 }, Relu,
            MaxPool3d { size: 2 },
            c2: Conv3d { filters: 32, kernel: 3, padding: 1 },
            b2: BatchNorm { momentum: 0.9, epsilon: 0.00001 }, Relu,
            MaxPool3d { size: 2 },
            c3: Conv3d { filters: 64, kernel: 3, padding: 1 },
            b3: BatchNorm { momentum: 0.9, epsilon: 0.00001 }, Relu,
            GlobalAvgPool,
            fc: Dense { units: 40 },
            Softmax,
        ],
    }
}

// The peer's copy has keras.applications.ResNet50's 25,636,712 parameters
// with the batch norms' running statistics (pytorch_peer.py).
const _: () = assert!(ResNet50::PARAMS == 25_636_712);

const WORKLOADS: &[&str] = &[
    "lenet5_train_b64",
    "lenet5_held_ce_b64",
    "lenet5_mse_b64",
    "lenet5_infer_b1",
    "lenet5_infer_b256",
    "resnet20_train_b128",
    "resnet50_train_b8",
    "resnet50_infer_b1",
    "vgg19_style_step_256",
    "fcn1d_train_b16",
    "c3d_train_b8",
    "grouped_conv",
    "fma_peak",
    "conv_gflops",
];

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "bench",
    about = "Training and inference speed of the workloads PyTorch's peer runs too"
)]
struct Args {
    /// Kernel threads
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = cli::positive)]
    threads: usize,
    /// One workload [default: all]
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(WORKLOADS))]
    workload: Option<String>,
    /// JSON lines, as bench/pytorch_peer.py prints them
    #[arg(long)]
    json: bool,
    /// Timed repeats of each workload (the median is reported)
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = cli::positive)]
    repeats: usize,
}

/// Prints one figure at `threads` threads: a JSON line, or a line for
/// people. `of_peak`: the median as a fraction of the FMA peak.
fn emit_at(
    a: &Args,
    threads: usize,
    workload: &str,
    values: &[f64],
    unit: &str,
    of_peak: Option<f64>,
) {
    let m = median(values);
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let isa = isa::current();
    if a.json {
        let peak = of_peak.map_or(String::new(), |f| format!(r#", "of_peak": {f:.4}"#));
        println!(
            r#"{{"workload": "{workload}", "threads": {threads}, "median": {m}, "min": {min}, "max": {max}, "unit": "{unit}", "isa": "{isa}"{peak}}}"#
        );
    } else {
        let peak = of_peak.map_or(String::new(), |f| format!("  {:>3.0}% of peak", 100.0 * f));
        println!(
            "{workload:<48} threads {threads}  median {m:>10.1} {unit:<8} (min {min:.1}, max {max:.1}){peak}"
        );
    }
}

/// [`emit_at`] at `--threads`, without a peak fraction.
fn emit(a: &Args, workload: &str, values: &[f64], unit: &str) {
    emit_at(a, a.threads, workload, values, unit, None);
}

/// Uniform [-1, 1) images (NHWC) and labels below `classes`, fixed by `seed`.
fn data(n: usize, hw: usize, c: usize, classes: usize, seed: u64) -> (Array4<f32>, Vec<usize>) {
    let mut r = Rng::new(seed);
    let x = Array4::from_shape_simple_fn((n, hw, hw, c), || r.uniform_in(-1.0, 1.0));
    let y = (0..n).map(|_| r.below(classes)).collect();
    (x, y)
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Reports the process's peak resident memory after training workload `w`.
fn emit_peak_rss(a: &Args, w: &str) {
    if let Some(mib) = peak_rss_mib() {
        if a.json {
            emit(a, &format!("{w}_peak_rss"), &[mib], "MiB");
        } else {
            println!("peak resident memory of the process after {w}: {mib:.1} MiB");
        }
    }
}

/// Times training steps of `$net` on `$batch` images (`$warmup` steps,
/// then blocks of about `$target_s` seconds: see `samples`) and reports
/// images/s and the process's peak memory after them.
macro_rules! train_workload {
    ($a:expr, $name:expr, $net:ty, $batch:expr, $seed:expr, $opt:expr, $warmup:expr, $target_s:expr) => {{
        let mut net = <$net>::new(0);
        let [hw, _, c] = <$net>::INPUT_SHAPE;
        let (x, y) = data($batch, hw, c, <$net>::OUTPUT_SIZE, $seed);
        let mut opt = $opt;
        let step = || {
            net.train_step(x.view(), &y, &mut opt).expect("train step");
        };
        let s = samples(step, $warmup, $a.repeats, $target_s, 1);
        let per_image: Vec<f64> = s.iter().map(|v| $batch as f64 / v).collect();
        emit($a, $name, &per_image, "images/s");
        emit_peak_rss($a, $name);
    }};
}

fn main() {
    let a = <Args as clap::Parser>::parse();
    cnn::parallel::set_threads(a.threads);
    if !a.json {
        let here: Vec<&str> = Isa::supported_here().iter().map(|i| i.name()).collect();
        println!(
            "instruction set {} (this CPU runs {}; CNN_ISA picks), {} threads",
            isa::current(),
            here.join(", "),
            a.threads
        );
    }
    let want = |w: &str| a.workload.as_deref().is_none_or(|x| x == w);
    if want("lenet5_train_b64") {
        train_workload!(
            &a,
            "lenet5_train_b64",
            LeNet5,
            64,
            1,
            Sgd::new(0.01),
            5,
            0.3
        );
    }
    if want("lenet5_held_ce_b64") {
        let mut net = LeNet5::new(0);
        let (x, y) = data(64, 32, 1, 10, 1);
        let mut opt = Sgd::new(0.01);
        let loss = cnn::loss::CrossEntropy::new();
        let step = || {
            let mut pass = net.forward(x.view(), Mode::Train).expect("forward");
            pass.backward_loss(&loss, cnn::loss::Target::Classes(&y))
                .expect("backward");
            drop(pass);
            net.step(&mut opt).expect("step");
        };
        let s = samples(step, 5, a.repeats, 0.3, 1);
        let per_image: Vec<f64> = s.iter().map(|v| 64.0 / v).collect();
        emit(&a, "lenet5_held_ce_b64", &per_image, "images/s");
        emit_peak_rss(&a, "lenet5_held_ce_b64");
    }
    if want("lenet5_mse_b64") {
        // The peer's workload: labels of seed 8, as one-hot rows.
        let mut net = LeNet5Scores::new(0);
        let (x, y) = data(64, 32, 1, 10, 8);
        let mut onehot = vec![0.0f32; 64 * 10];
        for (row, &label) in onehot.chunks_exact_mut(10).zip(&y) {
            row[label] = 1.0;
        }
        let mut opt = Sgd::new(0.01);
        let step = || {
            let mut pass = net.forward(x.view(), Mode::Train).expect("forward");
            pass.backward_loss(&cnn::loss::Mse, cnn::loss::Target::Values(&onehot))
                .expect("backward");
            drop(pass);
            net.step(&mut opt).expect("step");
        };
        let s = samples(step, 5, a.repeats, 0.3, 1);
        let per_image: Vec<f64> = s.iter().map(|v| 64.0 / v).collect();
        emit(&a, "lenet5_mse_b64", &per_image, "images/s");
        emit_peak_rss(&a, "lenet5_mse_b64");
    }
    if want("lenet5_infer_b1") || want("lenet5_infer_b256") {
        let net = LeNet5::new(0);
        if want("lenet5_infer_b1") {
            let (x, _) = data(1, 32, 1, 10, 3);
            let call = || {
                std::hint::black_box(net.predict(x.view()).expect("predict"));
            };
            let s = samples(call, 20, a.repeats, 0.3, 20);
            let us: Vec<f64> = s.iter().map(|v| v * 1e6).collect();
            emit(&a, "lenet5_infer_b1", &us, "us");
        }
        if want("lenet5_infer_b256") {
            let (x, _) = data(256, 32, 1, 10, 4);
            let call = || {
                std::hint::black_box(net.predict(x.view()).expect("predict"));
            };
            let s = samples(call, 3, a.repeats, 0.3, 5);
            let per_image: Vec<f64> = s.iter().map(|v| 256.0 / v).collect();
            emit(&a, "lenet5_infer_b256", &per_image, "images/s");
        }
    }
    if want("fcn1d_train_b16") {
        let mut net = Fcn1d::new(0);
        let mut r = Rng::new(9);
        let x = Array3::from_shape_simple_fn((16, 427, 1), || r.uniform_in(-1.0, 1.0));
        let y: Vec<usize> = (0..16).map(|_| r.below(6)).collect();
        let mut opt = Adam::new(1e-3);
        let step = || {
            net.train_step(x.view(), &y, &mut opt).expect("train step");
        };
        let s = samples(step, 3, a.repeats, 0.3, 1);
        let per_series: Vec<f64> = s.iter().map(|v| 16.0 / v).collect();
        emit(&a, "fcn1d_train_b16", &per_series, "series/s");
        emit_peak_rss(&a, "fcn1d_train_b16");
    }
    if want("c3d_train_b8") {
        let mut net = C3dSmall::new(0);
        let mut r = Rng::new(10);
        let x = Array5::from_shape_simple_fn((8, 16, 32, 32, 1), || r.uniform());
        let y: Vec<usize> = (0..8).map(|_| r.below(40)).collect();
        let mut opt = Sgd::new(0.01).momentum(0.9);
        let step = || {
            net.train_step(x.view(), &y, &mut opt).expect("train step");
        };
        // As the peer: two warm-up steps, blocks of about a second.
        let s = samples(step, 2, a.repeats, 1.0, 1);
        let per_clip: Vec<f64> = s.iter().map(|v| 8.0 / v).collect();
        emit(&a, "c3d_train_b8", &per_clip, "clips/s");
        emit_peak_rss(&a, "c3d_train_b8");
    }
    if want("resnet20_train_b128") {
        let opt = Sgd::new(0.1).momentum(0.9);
        train_workload!(&a, "resnet20_train_b128", ResNet20, 128, 5, opt, 1, 2.0);
    }
    if want("resnet50_train_b8") {
        // About a second per step here: one warm-up step (it sizes the
        // workspace), one that sizes the blocks, then blocks of 2 s.
        let opt = Sgd::new(0.01).momentum(0.9);
        train_workload!(&a, "resnet50_train_b8", ResNet50, 8, 6, opt, 1, 2.0);
    }
    if want("resnet50_infer_b1") {
        let net = ResNet50::new(0);
        let (x, _) = data(1, 224, 3, 1000, 7);
        let call = || {
            std::hint::black_box(net.predict(x.view()).expect("predict"));
        };
        let s = samples(call, 2, a.repeats, 0.3, 3);
        let ms: Vec<f64> = s.iter().map(|v| v * 1e3).collect();
        emit(&a, "resnet50_infer_b1", &ms, "ms");
    }
    if want("vgg19_style_step_256") {
        vgg19_style_step(&a);
    }
    if want("grouped_conv") {
        grouped_conv(&a);
    }
    if want("fma_peak") {
        fma_peak(&a);
    }
    if want("conv_gflops") {
        conv_gflops(&a);
    }
}

/// `grouped_conv`: forward (bias, ReLU) and backward (dW, db, dX) of a
/// grouped and a depthwise 3x3 convolution at batch 8, as GFLOP/s (2 x
/// multiply-adds / time; backward counts the two products).
fn grouped_conv(a: &Args) {
    use cnn_runtime::bench::random;
    use cnn_runtime::geom::{Act, Conv2dGeom, Padding};
    use cnn_runtime::layers::conv2d::{backward, forward, Epilogue};
    let cases = [
        ("resnext50_stage1_56x56x128_g32", [56, 56, 128], 32),
        ("mobilenet_dw1_112x112x32", [112, 112, 32], 32),
    ];
    let batch = 8;
    for (name, input, groups) in cases {
        let g = Conv2dGeom::new(input, input[2], [3, 3], [1, 1], Padding::Same).expect("shape");
        let x = random(batch * g.in_len(), 1);
        let w = random(g.weight_len() / groups, 2);
        let b = random(g.c_out, 3);
        let dy = random(batch * g.out_len(), 4);
        let (mut y, mut dx) = (vec![0.0; dy.len()], vec![0.0; x.len()]);
        let (mut dw, mut db) = (vec![0.0; w.len()], vec![0.0; g.c_out]);
        let ep = Epilogue::new(Some(&b), Act::Relu);
        let macs = (batch * g.macs() / groups) as f64;
        let gflops = |m: f64, s: &[f64]| s.iter().map(|t| 2.0 * m / t / 1e9).collect::<Vec<_>>();
        let fwd = samples(
            || forward(&g, groups, batch, &x, &w, &ep, &mut y).expect("forward"),
            2,
            a.repeats,
            0.3,
            3,
        );
        emit(
            a,
            &format!("grouped_conv/{name}/fwd"),
            &gflops(macs, &fwd),
            "GFLOP/s",
        );
        let bwd = samples(
            || {
                backward(
                    &g,
                    groups,
                    batch,
                    &x,
                    &w,
                    &dy,
                    Some(&mut dx),
                    &mut dw,
                    Some(&mut db),
                )
                .expect("backward")
            },
            2,
            a.repeats,
            0.3,
            3,
        );
        emit(
            a,
            &format!("grouped_conv/{name}/bwd"),
            &gflops(2.0 * macs, &bwd),
            "GFLOP/s",
        );
    }
}

/// `vgg19_style_step_256`, the peer's workload: content and style pictures
/// uniform in [0, 1), the content target at relu4_2 and the style
/// targets' Gram matrices computed once; a step is a forward pass with
/// the taps, `10 mse(a(G), a(C)) + 40 sum_l 0.2 mse(G_l / (c h w),
/// S_l / (c h w))` (the peer's normalisation, computed with the course's
/// costs scaled to equal it), backward to the picture and Adam (lr 0.02)
/// on its pixels.
fn vgg19_style_step(a: &Args) {
    use cnn::style::{self, Extractor, StyleTargets};
    const CONTENT: &str = "features.22";
    const STYLE: [&str; 5] = [
        "features.1",
        "features.6",
        "features.11",
        "features.20",
        "features.29",
    ];
    let mut net = Vgg19Features::new(0);
    net.freeze_all();
    let shape = net.picture_shape();
    let n: usize = shape.iter().product();
    let mut r = Rng::new(11);
    let content: Vec<f32> = (0..n).map(|_| r.uniform()).collect();
    let style_pic: Vec<f32> = (0..n).map(|_| r.uniform()).collect();
    let taps = [CONTENT, STYLE[0], STYLE[1], STYLE[2], STYLE[3], STYLE[4]];
    let shapes: Vec<[usize; 3]> = taps
        .iter()
        .map(|t| net.tap_shape(t).expect("a tap"))
        .collect();
    let mut bufs = vec![Vec::new(); taps.len()];
    let mut target_c = Vec::new();
    net.run(
        &content,
        &taps,
        &mut bufs,
        &mut |acts, _| {
            target_c = acts[0].to_vec();
            Ok(0.0)
        },
        None,
    )
    .expect("content forward");
    let mut targets = StyleTargets::new();
    net.run(
        &style_pic,
        &taps,
        &mut bufs,
        &mut |acts, _| {
            for (k, name) in STYLE.iter().enumerate() {
                // mse(G / chw, S / chw) = 4 J_style / c^2 (the course's J_style, docs/style.md).
                let c = shapes[k + 1][2] as f32;
                targets.add(name, 40.0 * 0.2 * 4.0 / (c * c), acts[k + 1], shapes[k + 1])?;
            }
            Ok(0.0)
        },
        None,
    )
    .expect("style forward");
    let mut img = content.clone();
    let mut dx = vec![0.0f32; n];
    let mut opt = Adam::new(0.02);
    let step = || {
        let j = net
            .run(
                &img,
                &taps,
                &mut bufs,
                &mut |acts, grads| {
                    let (gc, gs) = grads.split_at_mut(1);
                    // 10 mse = 40 J_content (J_content = mse / 4).
                    let jc = style::content_cost(&target_c, acts[0], shapes[0], &mut gc[0])?;
                    gc[0].iter_mut().for_each(|v| *v *= 40.0);
                    let mut views: Vec<&mut [f32]> =
                        gs.iter_mut().map(|v| v.as_mut_slice()).collect();
                    let js = targets.cost(&acts[1..], &mut views)?;
                    Ok(40.0 * jc + js)
                },
                Some(&mut dx),
            )
            .expect("style step");
        opt.step(&mut img, &dx);
        std::hint::black_box(j);
    };
    let s = samples(step, 1, a.repeats, 2.0, 1);
    let ms: Vec<f64> = s.iter().map(|v| v * 1e3).collect();
    emit(a, "vgg19_style_step_256", &ms, "ms");
    emit_peak_rss(a, "vgg19_style_step_256");
}

/// The instruction sets with an FMA that the kernels may use now: those
/// this CPU runs, up to the one `CNN_ISA` picks.
fn fma_isas() -> Vec<Isa> {
    Isa::supported_here()
        .into_iter()
        .filter(|&i| i != Isa::Portable && i <= isa::current())
        .collect()
}

/// `fma_peak`: GFLOP/s of independent FMA chains on each instruction set,
/// at 1 thread and at `--threads`.
fn fma_peak(a: &Args) {
    let mut counts = vec![1, a.threads];
    counts.dedup();
    for isa in fma_isas() {
        for &t in &counts {
            let s = fma_peak_samples(isa, t, a.repeats, 0.2).expect("an FMA instruction set");
            emit_at(a, t, &format!("fma_peak/{isa}"), &s, "GFLOP/s", None);
        }
    }
}

/// `conv_gflops`: the convolution kernels and sgemm at every case's shape,
/// as GFLOP/s and as a fraction of the FMA peak of the instruction set in
/// use at `--threads`; then each network's convolution time per training
/// step (each case's time times its layer count).
///
/// The peak is measured again just before each case (the best of three
/// 20 ms blocks: a ceiling, which other processes can only lower), and
/// each case is read against its own: on a shared machine, a peak taken
/// once would be from another minute's load. The spread of those peaks
/// is reported at the end (`conv_gflops/fma_peak/<isa>`).
fn conv_gflops(a: &Args) {
    let mut peaks = Vec::new();
    let gflops = |macs: f64, s: &[f64]| s.iter().map(|t| 2.0 * macs / t / 1e9).collect::<Vec<_>>();
    // Seconds of one step's convolutions per network: (forward, backward).
    let mut per_step: Vec<(&str, f64, f64)> = Vec::new();
    for case in CONV_CASES {
        // Blocks of about 50 ms: 30 shapes, four figures each.
        let mut b = ConvBench::new(*case);
        let peak = fma_peak_samples(isa::current(), a.threads, 3, 0.02)
            .map(|s| s.into_iter().fold(0.0, f64::max));
        peaks.extend(peak);
        let of_peak = |g: &[f64]| peak.map(|p| median(g) / p);
        let (fwd, bwd) = b.kernel_samples(a.repeats, 0.05);
        let (sfwd, sbwd) = b.sgemm_samples(a.threads, true, a.repeats, 0.05);
        let name = format!("conv_gflops/{}", case.layer);
        let figures = [
            ("fwd", case.macs(), &fwd),
            ("fwd_sgemm", case.macs(), &sfwd),
            ("bwd", case.bwd_macs(), &bwd),
            ("bwd_sgemm", case.bwd_macs(), &sbwd),
        ];
        for (what, macs, s) in figures {
            let g = gflops(macs, s);
            emit_at(
                a,
                a.threads,
                &format!("{name}/{what}"),
                &g,
                "GFLOP/s",
                of_peak(&g),
            );
        }
        let net = network_of(case);
        let n = case.count as f64;
        match per_step.iter_mut().find(|(w, _, _)| *w == net) {
            Some(row) => {
                row.1 += n * median(&fwd);
                row.2 += n * median(&bwd);
            }
            None => per_step.push((net, n * median(&fwd), n * median(&bwd))),
        }
    }
    if !peaks.is_empty() {
        emit(
            a,
            &format!("conv_gflops/fma_peak/{}", isa::current()),
            &peaks,
            "GFLOP/s",
        );
    }
    for (net, fwd, bwd) in per_step {
        emit(
            a,
            &format!("conv_gflops/{net}/step_fwd"),
            &[fwd * 1e3],
            "ms",
        );
        emit(
            a,
            &format!("conv_gflops/{net}/step_bwd"),
            &[bwd * 1e3],
            "ms",
        );
    }
}
