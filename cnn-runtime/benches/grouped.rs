//! Grouped and depthwise convolution at the shapes of MobileNet (depthwise
//! 3x3), ResNeXt-50 32x4d (3x3, 32 groups of 4 to 32 channels) and
//! AlexNet (two towers), forward with bias and ReLU and backward with dx,
//! at 1 and 2 threads. GFLOP/s = 2 x multiply-adds / time, multiply-adds
//! `out_h * out_w * c_out * fh * fw * c_in / groups` per image; backward
//! counts twice that (dW and dX). `loop fwd` is the naive alternative for
//! comparison: the dense kernel once per group on copies of the group's
//! input channels and weights, its outputs copied back (no epilogue).
//!
//!     cargo bench -p cnn-runtime --bench grouped [-- FILTER] [--threads=1,2]
//!
//! `--min` reports the fastest of 40 single calls instead of the median
//! of 7 timed blocks (a steadier figure when other jobs share the machine).
//!
//! `--profile=fwd`, `--profile=bwd` or `--profile=bwd-nodx` runs only that kernel for three
//! seconds per case and prints the call count, for `perf stat` / `perf
//! record` (CPU cycles are a steadier measure than wall time on a machine
//! shared with other jobs).

use cnn_runtime::bench::{median, random, samples};
use cnn_runtime::geom::{Act, Conv2dGeom, Padding};
use cnn_runtime::layers::conv2d::{backward, forward, Epilogue};
use cnn_runtime::parallel;

struct Case {
    layer: &'static str,
    input: [usize; 3],
    c_out: usize,
    groups: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
    batch: usize,
}

const fn case(
    layer: &'static str,
    input: [usize; 3],
    c_out: usize,
    groups: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
    batch: usize,
) -> Case {
    Case {
        layer,
        input,
        c_out,
        groups,
        kernel,
        stride,
        padding,
        batch,
    }
}

// One case per line reads as a table.
#[rustfmt::skip]
const CASES: &[Case] = &[
    case("mobilenet.dw1", [112, 112, 32], 32, 32, 3, 1, Padding::Same, 16),
    // One image: input and output fit in L2, so this is the kernel's own speed.
    case("mobilenet.dw1_b1", [112, 112, 32], 32, 32, 3, 1, Padding::Same, 1),
    case("mobilenet.dw2", [112, 112, 64], 64, 64, 3, 2, Padding::Same, 16),
    case("mobilenet.dw4", [56, 56, 128], 128, 128, 3, 1, Padding::Same, 16),
    case("mobilenet.dw8", [14, 14, 512], 512, 512, 3, 1, Padding::Same, 16),
    case("resnext50.stage1", [56, 56, 128], 128, 32, 3, 1, Padding::Same, 16),
    case("resnext50.stage1_b1", [56, 56, 128], 128, 32, 3, 1, Padding::Same, 1),
    case("resnext50.stage2_0", [56, 56, 256], 256, 32, 3, 2, Padding::Same, 16),
    case("resnext50.stage2", [28, 28, 256], 256, 32, 3, 1, Padding::Same, 16),
    case("resnext50.stage3", [14, 14, 512], 512, 32, 3, 1, Padding::Same, 16),
    case("resnext50.stage4", [7, 7, 1024], 1024, 32, 3, 1, Padding::Same, 16),
    case("alexnet.conv2", [27, 27, 96], 256, 2, 5, 1, Padding::Explicit(2), 16),
    case("alexnet.conv4", [13, 13, 384], 384, 2, 3, 1, Padding::Explicit(1), 16),
    case("alexnet.conv5", [13, 13, 384], 256, 2, 3, 1, Padding::Explicit(1), 16),
];

impl Case {
    fn geom(&self) -> Conv2dGeom {
        let k = [self.kernel; 2];
        let s = [self.stride; 2];
        Conv2dGeom::new(self.input, self.c_out, k, s, self.padding).expect("valid shape")
    }
    fn name(&self) -> String {
        let [h, w, c] = self.input;
        format!(
            "{}/{h}x{w}x{c}_k{}_s{}_c{}_g{}",
            self.layer, self.kernel, self.stride, self.c_out, self.groups
        )
    }
    fn macs(&self) -> f64 {
        let g = self.geom();
        (self.batch * g.macs() / self.groups) as f64
    }
}

/// The naive grouped forward: per group, copy its input channels and
/// weights out, run the dense kernel, copy its output channels back.
struct Loop {
    g: Conv2dGeom,
    group: Conv2dGeom,
    groups: usize,
    batch: usize,
    xg: Vec<f32>,
    wg: Vec<f32>,
    yg: Vec<f32>,
}

impl Loop {
    fn new(c: &Case) -> Self {
        let g = c.geom();
        let group = Conv2dGeom {
            c_in: g.c_in / c.groups,
            c_out: g.c_out / c.groups,
            ..g
        };
        Loop {
            g,
            group,
            groups: c.groups,
            batch: c.batch,
            xg: vec![0.0; c.batch * group.in_len()],
            wg: vec![0.0; group.weight_len()],
            yg: vec![0.0; c.batch * group.out_len()],
        }
    }

    fn run(&mut self, x: &[f32], w: &[f32], y: &mut [f32]) {
        let (g, q) = (self.g, self.group);
        for gi in 0..self.groups {
            let (ci, co) = (gi * q.c_in, gi * q.c_out);
            for (dst, src) in self.xg.chunks_exact_mut(q.c_in).zip(x.chunks_exact(g.c_in)) {
                dst.copy_from_slice(&src[ci..ci + q.c_in]);
            }
            for (dst, src) in self
                .wg
                .chunks_exact_mut(q.c_out)
                .zip(w.chunks_exact(g.c_out))
            {
                dst.copy_from_slice(&src[co..co + q.c_out]);
            }
            forward(
                &q,
                1,
                self.batch,
                &self.xg,
                &self.wg,
                &Epilogue::NONE,
                &mut self.yg,
            )
            .unwrap();
            for (dst, src) in y
                .chunks_exact_mut(g.c_out)
                .zip(self.yg.chunks_exact(q.c_out))
            {
                dst[co..co + q.c_out].copy_from_slice(src);
            }
        }
    }
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
    let profile = args.iter().find_map(|a| a.strip_prefix("--profile="));
    let fastest = args.iter().any(|a| a == "--min");
    let time = |f: &mut dyn FnMut()| {
        if fastest {
            // Single calls, so that some run without being preempted.
            let s = samples(f, 2, 40, 0.0, 1);
            s.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            median(&samples(f, 2, 7, 0.02, 1))
        }
    };
    println!(
        "{:<46} {:>3} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9}",
        "case", "thr", "fwd", "bwd", "loop fwd", "fwd ms", "bwd ms", "loop ms"
    );
    for c in CASES {
        let name = c.name();
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let g = c.geom();
        let (groups, batch) = (c.groups, c.batch);
        let x = random(batch * g.in_len(), 1);
        let w = random(g.weight_len() / groups, 2);
        let b = random(g.c_out, 3);
        let dy = random(batch * g.out_len(), 4);
        let mut y = vec![0.0; dy.len()];
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; w.len()];
        let mut db = vec![0.0; g.c_out];
        let mut naive = Loop::new(c);
        let ep = Epilogue::new(Some(&b), Act::Relu);
        let gf = |macs: f64, t: f64| 2.0 * macs / t / 1e9;
        for &threads in &thread_counts {
            parallel::set_threads(threads);
            if let Some(which) = profile {
                let start = std::time::Instant::now();
                let mut calls = 0u64;
                while start.elapsed().as_secs_f64() < 3.0 {
                    calls += 1;
                    if which == "fwd" {
                        forward(&g, groups, batch, &x, &w, &ep, &mut y).unwrap();
                    } else {
                        // `bwd-nodx`: the weight gradient alone.
                        let dxo = (which == "bwd").then_some(&mut dx[..]);
                        backward(&g, groups, batch, &x, &w, &dy, dxo, &mut dw, None).unwrap();
                    }
                }
                let macs = if which == "fwd" {
                    c.macs()
                } else {
                    2.0 * c.macs()
                };
                println!(
                    "{name} {which}: {calls} calls, {:.1} MFLOP each",
                    2.0 * macs / 1e6
                );
                continue;
            }
            let fwd = time(&mut || forward(&g, groups, batch, &x, &w, &ep, &mut y).unwrap());
            let bwd = time(&mut || {
                let dxo = Some(&mut dx[..]);
                backward(&g, groups, batch, &x, &w, &dy, dxo, &mut dw, Some(&mut db)).unwrap()
            });
            let looped = time(&mut || naive.run(&x, &w, &mut y));
            println!(
                "{:<46} {:>3} {:>8.1} {:>8.1} {:>9.1} {:>8.3} {:>8.3} {:>9.3}",
                name,
                threads,
                gf(c.macs(), fwd),
                gf(2.0 * c.macs(), bwd),
                gf(c.macs(), looped),
                fwd * 1e3,
                bwd * 1e3,
                looped * 1e3,
            );
        }
    }
}
