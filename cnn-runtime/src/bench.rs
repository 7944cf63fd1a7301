//! Measuring code shared by the kernel benchmark (`benches/conv2d.rs`) and
//! the side-by-side benchmark with PyTorch (`examples/bench.rs`, workload
//! `conv_gflops`): the convolution shapes of LeNet-5, ResNet-20 and
//! ResNet-50 (`cases.rs`), the timing loop, the `sgemm` products a
//! convolution of each shape costs, so that both report the same numbers,
//! and the CPU's FMA peak that the figures are read against
//! (`fma_peak.rs`). Not part of the public API.
//!
//! GFLOP/s = 2 * multiply-adds / time. Forward counts the course's MACs
//! (`out_h * out_w * c_out * fh * fw * c_in` per image); backward counts twice
//! that when it computes dx (the dW and dX products) and once without (a
//! first layer). The sgemm figures run the same products on the whole batch,
//! rows split over the threads: `M = batch * out_h * out_w`,
//! `K = fh * fw * c_in`, `N = c_out` forward; `K x M` times `M x N` for dW
//! and `M x N` times `N x K` for dX backward. "cold" streams a materialised
//! column matrix once, as im2col + GEMM would; "hot" runs the same products
//! in L2-sized row chunks that reuse one chunk of A, the best case for
//! sgemm. Forward runs with bias and ReLU.

use std::hint::black_box;
use std::time::Instant;

use crate::gemm::{sgemm, Mat};
use crate::geom::{Act, Conv2dGeom, Padding};
use crate::layers::conv2d::{backward, forward, Epilogue};
use crate::parallel;

mod cases;
mod fma_peak;

pub use cases::{network_of, CONV_CASES};
pub use fma_peak::{fma_peak_samples, CHAINS};

/// One convolution shape of a benchmarked network.
#[derive(Clone, Copy, Debug)]
pub struct ConvCase {
    /// The network and layer: `lenet5.conv2`, `resnet20.stage2_0.conv1`.
    pub layer: &'static str,
    pub input: [usize; 3],
    pub c_out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
    pub batch: usize,
    /// False for a network's first layer: backward skips dx.
    pub dx: bool,
    /// How many layers of the network have this shape.
    pub count: usize,
}

impl ConvCase {
    pub fn geom(&self) -> Conv2dGeom {
        Conv2dGeom::new(
            self.input,
            self.c_out,
            [self.kernel; 2],
            [self.stride; 2],
            self.padding,
        )
        .expect("benchmark shapes are valid")
    }

    /// `conv2d/<in_h>x<in_w>x<c_in>_k<f>_s<s>_c<c_out>`, `_nodx` for a first layer.
    pub fn name(&self) -> String {
        format!(
            "conv2d/{}x{}x{}_k{}_s{}_c{}{}",
            self.input[0],
            self.input[1],
            self.input[2],
            self.kernel,
            self.stride,
            self.c_out,
            if self.dx { "" } else { "_nodx" }
        )
    }

    /// Multiply-adds of the whole batch's forward pass.
    pub fn macs(&self) -> f64 {
        (self.batch * self.geom().macs()) as f64
    }

    /// Multiply-adds of the backward pass: dW, plus dX unless a first layer.
    pub fn bwd_macs(&self) -> f64 {
        if self.dx {
            2.0 * self.macs()
        } else {
            self.macs()
        }
    }
}

/// Uniform values in [-0.5, 0.5) from an xorshift generator.
pub fn random(len: usize, seed: u64) -> Vec<f32> {
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

/// Seconds per call of `f`: `repeats` timed blocks of enough calls to last
/// about `target_s` each (at least `min_iters`), after `warmup` calls and
/// one call that sizes the blocks.
pub fn samples(
    mut f: impl FnMut(),
    warmup: usize,
    repeats: usize,
    target_s: f64,
    min_iters: usize,
) -> Vec<f64> {
    for _ in 0..warmup {
        f();
    }
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let iters = ((target_s / once).ceil() as usize).clamp(min_iters.max(1), 1_000_000);
    (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_secs_f64() / iters as f64
        })
        .collect()
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// Median seconds per call of `f`, over 7 repeats of enough calls to last
/// about 20 ms each, after a warm-up.
pub fn time(f: impl FnMut()) -> f64 {
    median(&samples(f, 2, 7, 0.02, 1))
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

/// The buffers of one case: inputs, outputs and the sgemm operands.
pub struct ConvBench {
    pub case: ConvCase,
    g: Conv2dGeom,
    x: Vec<f32>,
    w: Vec<f32>,
    bias: Vec<f32>,
    dy: Vec<f32>,
    y: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
    db: Vec<f32>,
    a: Vec<f32>,
    scratch: Vec<f32>,
}

/// Seconds per call (or per sample, see [`samples`]).
#[derive(Clone, Copy, Debug)]
pub struct ConvTimes {
    pub fwd: f64,
    pub bwd: f64,
}

impl ConvBench {
    pub fn new(case: ConvCase) -> Self {
        let g = case.geom();
        let b = case.batch;
        let (m, k, n) = (b * g.out_h * g.out_w, g.k(), g.c_out);
        ConvBench {
            case,
            g,
            x: random(b * g.in_len(), 1),
            w: random(g.weight_len(), 2),
            bias: random(n, 3),
            dy: random(b * g.out_len(), 4),
            y: vec![0.0; b * g.out_len()],
            dx: vec![0.0; b * g.in_len()],
            dw: vec![0.0; g.weight_len()],
            db: vec![0.0; n],
            a: random(m * k, 5),
            // Grown by `sgemm_samples` to one dW per thread.
            scratch: vec![0.0; m * (k + n) + k * n],
        }
    }

    /// One forward call (bias and ReLU).
    pub fn forward(&mut self) {
        let ep = Epilogue::new(Some(&self.bias), Act::Relu);
        forward(
            &self.g,
            1,
            self.case.batch,
            black_box(&self.x),
            &self.w,
            &ep,
            &mut self.y,
        )
        .expect("conv forward");
    }

    /// One backward call (dW, db, and dx unless a first layer).
    pub fn backward(&mut self) {
        let dxo = if self.case.dx {
            Some(&mut self.dx[..])
        } else {
            None
        };
        backward(
            &self.g,
            1,
            self.case.batch,
            black_box(&self.x),
            &self.w,
            &self.dy,
            dxo,
            &mut self.dw,
            Some(&mut self.db),
        )
        .expect("conv backward");
    }

    /// Median seconds of the kernel's forward and backward calls.
    pub fn kernel_times(&mut self) -> ConvTimes {
        ConvTimes {
            fwd: time(|| self.forward()),
            bwd: time(|| self.backward()),
        }
    }

    /// Per-block seconds of the kernel's forward and backward calls,
    /// `repeats` blocks each: see [`samples`].
    pub fn kernel_samples(&mut self, repeats: usize, target_s: f64) -> (Vec<f64>, Vec<f64>) {
        let fwd = samples(|| self.forward(), 2, repeats, target_s, 1);
        let bwd = samples(|| self.backward(), 2, repeats, target_s, 1);
        (fwd, bwd)
    }

    /// Median seconds of the sgemm products of this convolution, split over
    /// `threads` threads, streaming a materialised column matrix once
    /// ("cold") and, with `hot`, in L2-sized chunks that reuse one chunk of A.
    pub fn sgemm_times(&mut self, threads: usize, hot: bool) -> ConvTimes {
        let (fwd, bwd) = self.sgemm_samples(threads, hot, 7, 0.02);
        ConvTimes {
            fwd: median(&fwd),
            bwd: median(&bwd),
        }
    }

    /// Per-block seconds of [`ConvBench::sgemm_times`]' products, `repeats`
    /// blocks of about `target_s` each.
    pub fn sgemm_samples(
        &mut self,
        threads: usize,
        hot: bool,
        repeats: usize,
        target_s: f64,
    ) -> (Vec<f64>, Vec<f64>) {
        let g = self.g;
        let (m, k, n) = (self.case.batch * g.out_h * g.out_w, g.k(), g.c_out);
        // The outputs, then a dW per thread (ResNet-50's 1x1s have up to 2M
        // weights: room for 64 threads would take half a GiB).
        let len = m * (k + n) + threads.max(1) * k * n;
        if self.scratch.len() < len {
            self.scratch.resize(len, 0.0);
        }
        let chunk = if hot {
            (COL_TARGET / (k + n)).clamp(16, m.div_ceil(threads))
        } else {
            m.div_ceil(threads)
        };
        let shape = GemmShape {
            m,
            k,
            n,
            chunk,
            threads,
            dx: self.case.dx,
        };
        let timer = |f: &mut dyn FnMut()| samples(f, 2, repeats, target_s, 1);
        gemm_samples(&self.a, &self.w, &self.dy, shape, &mut self.scratch, timer)
    }
}

/// The products of [`gemm_samples`].
struct GemmShape {
    m: usize,
    k: usize,
    n: usize,
    chunk: usize,
    threads: usize,
    dx: bool,
}

/// Seconds (as `timer` measures them) of the sgemm products of a
/// convolution with `M = m`, split over `threads` threads, each thread
/// walking its rows in chunks of `chunk`; with `chunk` below the thread's
/// share, every chunk reuses the thread's first rows of A and dY (so they
/// stay in cache). Returns (forward `A W`, backward `A^T dY` plus, with
/// `dx`, `dY W^T`).
fn gemm_samples(
    a: &[f32],
    w: &[f32],
    dy: &[f32],
    shape: GemmShape,
    scratch: &mut [f32],
    timer: impl Fn(&mut dyn FnMut()) -> Vec<f64>,
) -> (Vec<f64>, Vec<f64>) {
    let GemmShape {
        m,
        k,
        n,
        chunk,
        threads,
        dx,
    } = shape;
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
    let fwd = timer(&mut || {
        parallel::for_each(threads, &|t| {
            walk(t, &mut |r, src, rows| {
                let am = Mat::rows(&a[src * k..(src + rows) * k], rows, k);
                let c = out.part(if reuse { src } else { r } * n, rows * n);
                sgemm(1.0, am, Mat::rows(w, k, n), 0.0, c, n);
            })
        })
    });
    let bwd = timer(&mut || {
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
