//! Depthwise convolution (groups == c_in, MobileNet): each input channel
//! `i` has `m = c_out / c_in` filters of its own, output channel `i * m + j`,
//! weights `[fh, fw, 1, c_out]`. There is no sum over channels, so there is
//! no matrix product to hand to a GEMM: in NHWC the natural kernel is, per
//! output pixel and window tap, a multiply-add over the channel vector,
//! `y[c] += x[c] * w[tap, c]`, which reads both operands contiguously.
//!
//! The same loops run small square groups (`G` = 2 or 4 channels in and
//! out, weights `[fh, fw, G, c_out]`, ResNeXt-50 32x4d's first stage): per
//! tap and input channel `ci` of the groups, `y[c] += spread(x, ci)[c] *
//! w[tap, ci, c]`, where [`spread`] copies lane `ci` of each group of `G`
//! lanes over the group (one shuffle). Every lane is an output channel of
//! its own, where the micro-kernel's broadcast would fill `G` of 16.
//!
//! Forward (`m == 1`, here): blocks of `L` channels of up to four
//! neighbouring output pixels accumulate in registers over the window and
//! are stored once; windows that leave the input are clipped to their
//! inside taps, so there is no padded copy. The epilogue (bias, affine,
//! activation) runs on each finished row while it is in L1. `m > 1`
//! (Keras's `depth_multiplier`, rarely used) runs one input channel's `m`
//! outputs at a time. The gradients are in `depthwise_grad.rs`.
//!
//! The loops are plain Rust written for the auto-vectoriser: fixed-size
//! array blocks, no divisions or data-dependent indices in the inner loops.
//! They are compiled three times, for AVX-512, for AVX2 + FMA (both with
//! fused multiply-adds) and for the baseline target, and [`crate::isa::current`]
//! picks one at run time, so the crate needs no `target-cpu` flag.
//!
//! These loops are the convolution engine's special kernel, not an entry
//! point of their own: `paths.rs` picks them for the groups they serve
//! (`direct_supported`) and `split.rs` runs them as it runs the others.

use super::depthwise_grad::{input_grad_body, weight_grad_body};
use super::im2col::window;
use super::Epilogue;
use crate::geom::{Act, Conv2dGeom};
use crate::layers::activation;

pub(super) use crate::isa::Isa;

/// Output rows `r0..r1`, counted over `(image, oy)` across the batch, into
/// `y` (exactly those rows), the epilogue applied.
pub(super) fn forward_rows(
    isa: Isa,
    g: &Conv2dGeom,
    group: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    r0: usize,
    r1: usize,
    y: &mut [f32],
) {
    super::assert_undilated(g);
    run(
        isa,
        Job::Forward {
            g,
            group,
            x,
            w,
            ep,
            r0,
            r1,
            y,
        },
    );
}

/// Overwrites `dw` (`[fh, fw, group, c_out]`) with the weight gradient of
/// whole images `x`, `dy` (back to back).
pub(super) fn weight_grad(
    isa: Isa,
    g: &Conv2dGeom,
    group: usize,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
) {
    super::assert_undilated(g);
    run(
        isa,
        Job::WeightGrad {
            g,
            group,
            x,
            dy,
            dw,
        },
    );
}

/// Overwrites `dx` (whole images) with the input gradient of `dy`. With
/// groups of more than one channel, `wt` is the kernel transposed within
/// each group by [`transpose_groups`]; otherwise it is the kernel.
pub(super) fn input_grad(
    isa: Isa,
    g: &Conv2dGeom,
    group: usize,
    dy: &[f32],
    wt: &[f32],
    dx: &mut [f32],
) {
    super::assert_undilated(g);
    run(
        isa,
        Job::InputGrad {
            g,
            group,
            dy,
            w: wt,
            dx,
        },
    );
}

/// The kernel transposed within each group, per tap: `wt[t, j, gi*G + ci]
/// = w[t, ci, gi*G + j]` for groups of `G = group` channels in and out.
/// The input gradient is then the forward's loop with `dy` for `x`.
pub(super) fn transpose_groups(g: &Conv2dGeom, group: usize, w: &[f32], wt: &mut [f32]) {
    let (c, gs) = (g.c_out, group);
    for (src, dst) in w.chunks_exact(gs * c).zip(wt.chunks_exact_mut(gs * c)) {
        for ci in 0..gs {
            for co in 0..c {
                let (base, j) = (co / gs * gs, co % gs);
                dst[j * c + base + ci] = src[ci * c + co];
            }
        }
    }
}

/// One call of a kernel, so that one clone per instruction set covers all.
enum Job<'a> {
    Forward {
        g: &'a Conv2dGeom,
        group: usize,
        x: &'a [f32],
        w: &'a [f32],
        ep: &'a Epilogue<'a>,
        r0: usize,
        r1: usize,
        y: &'a mut [f32],
    },
    WeightGrad {
        g: &'a Conv2dGeom,
        group: usize,
        x: &'a [f32],
        dy: &'a [f32],
        dw: &'a mut [f32],
    },
    InputGrad {
        g: &'a Conv2dGeom,
        group: usize,
        dy: &'a [f32],
        w: &'a [f32],
        dx: &'a mut [f32],
    },
}

fn run(isa: Isa, job: Job) {
    assert!(isa.supported(), "depthwise: {isa:?} is not available");
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked above), the
        // features the clone is compiled with.
        Isa::Avx512 => unsafe { run_avx512(job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        Isa::Avx2 => unsafe { run_avx2(job) },
        _ => run_body::<false, 8>(job),
    }
}

/// Two 16-lane vectors per channel block: with four pixels, eight
/// independent accumulators.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn run_avx512(job: Job) {
    run_body::<true, 32>(job);
}

/// Two 8-lane vectors per channel block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2(job: Job) {
    run_body::<true, 16>(job);
}

/// Runs `$f::<FMA, L, G>` with `G` the run-time group size.
macro_rules! by_group {
    ($group:expr, $f:ident::<$fma:ident, $l:ident>($($arg:expr),*)) => {
        match $group {
            1 => $f::<$fma, $l, 1>($($arg),*),
            2 => $f::<$fma, $l, 2>($($arg),*),
            4 => $f::<$fma, $l, 4>($($arg),*),
            other => unreachable!("depthwise: groups of {other} channels"),
        }
    };
}

/// `FMA`: fused multiply-adds (only where the CPU has them; elsewhere
/// `mul_add` is a library call). `L`: channels per register block.
#[inline(always)]
fn run_body<const FMA: bool, const L: usize>(job: Job) {
    match job {
        Job::Forward {
            g,
            group,
            x,
            w,
            ep,
            r0,
            r1,
            y,
        } => by_group!(group, forward_body::<FMA, L>(g, x, w, ep, r0, r1, y)),
        Job::WeightGrad {
            g,
            group,
            x,
            dy,
            dw,
        } => by_group!(group, weight_grad_body::<FMA, L>(g, x, dy, dw)),
        Job::InputGrad {
            g,
            group,
            dy,
            w,
            dx,
        } => by_group!(group, input_grad_body::<FMA, L>(g, dy, w, dx)),
    }
}

#[inline(always)]
pub(super) fn madd<const FMA: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FMA {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// `acc[j] += a[j] * b[j]` over a fixed-size block.
#[inline(always)]
pub(super) fn madd_block<const FMA: bool, const B: usize>(
    acc: &mut [f32; B],
    a: &[f32; B],
    b: &[f32; B],
) {
    for j in 0..B {
        acc[j] = madd::<FMA>(acc[j], a[j], b[j]);
    }
}

/// `s[at..at + B]` as an array, without a bounds check. The hot loops
/// check the extent of all the blocks they read once, before the loop: a
/// check per block costs more than the block's multiply-adds.
///
/// # Safety
/// `at + B <= s.len()`.
#[inline(always)]
pub(super) unsafe fn block<const B: usize>(s: &[f32], at: usize) -> &[f32; B] {
    debug_assert!(at + B <= s.len(), "depthwise: block out of range");
    // SAFETY: in bounds by the caller's promise; an array of f32 has the
    // alignment of f32.
    unsafe { &*s.as_ptr().add(at).cast::<[f32; B]>() }
}

/// `x` with each group of `G` lanes set to its lane `ci`: the input
/// channel `ci` of every group in the block, lined up with the group's
/// output channels. A constant in-lane shuffle once unrolled (`vpermilps`
/// for `G = 4`); the identity for `G = 1`.
#[inline(always)]
pub(super) fn spread<const G: usize, const B: usize>(x: &[f32; B], ci: usize) -> [f32; B] {
    let mut out = [0f32; B];
    for (l, v) in out.iter_mut().enumerate() {
        *v = x[l / G * G + ci];
    }
    out
}

/// Output pixels handled together in the forward pass.
const PIX: usize = 4;

/// The taps of one window that lie inside the input along one axis:
/// `(lo, hi, index of tap lo)`, as [`window`] returns.
type Taps = (usize, usize, usize);

#[inline(always)]
fn forward_body<const FMA: bool, const L: usize, const G: usize>(
    g: &Conv2dGeom,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    r0: usize,
    r1: usize,
    y: &mut [f32],
) {
    let c = g.c_out;
    let m = c / g.c_in;
    let row_len = g.out_w * c;
    for (r, y_row) in (r0..r1).zip(y.chunks_exact_mut(row_len)) {
        let (n, oy) = (r / g.out_h, r % g.out_h);
        let img = &x[n * g.in_len()..(n + 1) * g.in_len()];
        let rows = window(oy, g.sh, g.pad_top, g.fh, g.in_h);
        if m == 1 {
            forward_row::<FMA, L, G>(g, img, w, rows, y_row);
        } else {
            forward_row_multiplier::<FMA>(g, m, img, w, rows, y_row);
        }
        finish_row(ep, c, y_row);
    }
}

/// The epilogue on one finished output row (`c` channels per pixel), in
/// place while it is in L1: `act((v + bias) * scale + shift)`, each step
/// as `epilogue::apply` and `layers::activation` compute it (so a NaN
/// passes through ReLU). Compiled into each instruction-set clone; every
/// loop has a run-time length, which the vectoriser handles best.
#[inline(always)]
fn finish_row(ep: &Epilogue, c: usize, row: &mut [f32]) {
    match (ep.bias, ep.affine) {
        (None, None) => {}
        (Some(b), None) => {
            for px in row.chunks_exact_mut(c) {
                for (v, &b) in px.iter_mut().zip(b) {
                    *v += b;
                }
            }
        }
        (bias, Some((scale, shift))) => {
            for px in row.chunks_exact_mut(c) {
                if let Some(b) = bias {
                    for (v, &b) in px.iter_mut().zip(b) {
                        *v += b;
                    }
                }
                for ((v, &s), &t) in px.iter_mut().zip(scale).zip(shift) {
                    *v = *v * s + t;
                }
            }
        }
    }
    // One loop per kind, each a plain pass; no closures, which would be
    // compiled apart from the clone, without its target features.
    match ep.act {
        Act::Identity => {}
        Act::Relu => {
            for v in row.iter_mut() {
                *v = activation::apply(Act::Relu, *v);
            }
        }
        Act::LeakyRelu(alpha) => {
            for v in row.iter_mut() {
                *v = activation::apply(Act::LeakyRelu(alpha), *v);
            }
        }
        act => {
            for v in row.iter_mut() {
                *v = activation::apply(act, *v);
            }
        }
    }
}

/// One output row, `m == 1`: runs of [`PIX`] pixels whose windows lie
/// inside the input columns, single pixels (clipped) elsewhere.
#[inline(always)]
fn forward_row<const FMA: bool, const L: usize, const G: usize>(
    g: &Conv2dGeom,
    img: &[f32],
    w: &[f32],
    rows: Taps,
    y_row: &mut [f32],
) {
    let c = g.c_out;
    let mut ox = 0;
    while ox < g.out_w {
        let cols = window(ox, g.sw, g.pad_left, g.fw, g.in_w);
        // Windows move right with ox: if the first starts inside and the
        // last ends inside, every one between is whole.
        let run = ox + PIX <= g.out_w
            && cols.0 == 0
            && window(ox + PIX - 1, g.sw, g.pad_left, g.fw, g.in_w).1 == g.fw;
        if run {
            let y = &mut y_row[ox * c..(ox + PIX) * c];
            pixels::<FMA, L, G, PIX>(g, img, w, rows, cols, y);
            ox += PIX;
        } else {
            let y = &mut y_row[ox * c..(ox + 1) * c];
            pixels::<FMA, L, G, 1>(g, img, w, rows, cols, y);
            ox += 1;
        }
    }
}

/// `P` neighbouring output pixels (`y`: `P * c`) with the same taps, the
/// first one's window columns `cols`; overwrites `y`.
#[inline(always)]
fn pixels<const FMA: bool, const L: usize, const G: usize, const P: usize>(
    g: &Conv2dGeom,
    img: &[f32],
    w: &[f32],
    rows: Taps,
    cols: Taps,
    y: &mut [f32],
) {
    let c = g.c_out;
    let mut cb = 0;
    while cb + L <= c {
        pixel_block::<FMA, L, G, P>(g, img, w, rows, cols, cb, y);
        cb += L;
    }
    while cb + 8 <= c {
        pixel_block::<FMA, 8, G, P>(g, img, w, rows, cols, cb, y);
        cb += 8;
    }
    if cb == c {
        return;
    }
    // Fewer than eight channels left (whole groups, as blocks are
    // multiples of 8): accumulate in place.
    let line = g.in_w * c;
    let (ky_lo, ky_hi, iy_lo) = rows;
    let (kx_lo, kx_hi, ix_lo) = cols;
    for p in 0..P {
        let acc = &mut y[p * c + cb..(p + 1) * c];
        acc.fill(0.0);
        for ky in ky_lo..ky_hi {
            let xrow = (iy_lo + ky - ky_lo) * line;
            for kx in kx_lo..kx_hi {
                let ix = ix_lo + kx - kx_lo + p * g.sw;
                let xs = &img[xrow + ix * c..xrow + (ix + 1) * c];
                for ci in 0..G {
                    let ws = &w[((ky * g.fw + kx) * G + ci) * c..][..c];
                    for (j, a) in (cb..c).zip(acc.iter_mut()) {
                        *a = madd::<FMA>(*a, xs[j / G * G + ci], ws[j]);
                    }
                }
            }
        }
    }
}

/// Channels `cb..cb + B` of `P` pixels, summed in registers over the
/// window (and over the `G` input channels of each group), then stored.
#[inline(always)]
fn pixel_block<const FMA: bool, const B: usize, const G: usize, const P: usize>(
    g: &Conv2dGeom,
    img: &[f32],
    w: &[f32],
    (ky_lo, ky_hi, iy_lo): Taps,
    (kx_lo, kx_hi, ix_lo): Taps,
    cb: usize,
    y: &mut [f32],
) {
    let c = g.c_out;
    let line = g.in_w * c;
    let mut acc = [[0f32; B]; P];
    if ky_lo < ky_hi && kx_lo < kx_hi {
        // Indices grow with ky, kx and the pixel: the last tap of the last
        // pixel is the furthest block read.
        let x_end = (iy_lo + ky_hi - 1 - ky_lo) * line
            + (ix_lo + kx_hi - 1 - kx_lo + (P - 1) * g.sw) * c
            + cb
            + B;
        let w_end = (((ky_hi - 1) * g.fw + kx_hi - 1) * G + G - 1) * c + cb + B;
        assert!(
            x_end <= img.len() && w_end <= w.len(),
            "depthwise: window out of range"
        );
        for ky in ky_lo..ky_hi {
            let xrow = (iy_lo + ky - ky_lo) * line;
            for kx in kx_lo..kx_hi {
                let wt = (ky * g.fw + kx) * G * c + cb;
                let ix = ix_lo + kx - kx_lo;
                for (p, a) in acc.iter_mut().enumerate() {
                    // SAFETY: below x_end, checked above.
                    let xs = unsafe { block::<B>(img, xrow + (ix + p * g.sw) * c + cb) };
                    for ci in 0..G {
                        // SAFETY: below w_end, checked above.
                        let ws = unsafe { block::<B>(w, wt + ci * c) };
                        madd_block::<FMA, B>(a, &spread::<G, B>(xs, ci), ws);
                    }
                }
            }
        }
    }
    for (p, a) in acc.iter().enumerate() {
        y[p * c + cb..p * c + cb + B].copy_from_slice(a);
    }
}

/// One output pixel at a time, `m > 1`: input channel `i` times the `m`
/// weights of output channels `i * m..(i + 1) * m`.
#[inline(always)]
fn forward_row_multiplier<const FMA: bool>(
    g: &Conv2dGeom,
    m: usize,
    img: &[f32],
    w: &[f32],
    (ky_lo, ky_hi, iy_lo): Taps,
    y_row: &mut [f32],
) {
    let (c, ci) = (g.c_out, g.c_in);
    for (ox, yp) in y_row.chunks_exact_mut(c).enumerate() {
        let (kx_lo, kx_hi, ix_lo) = window(ox, g.sw, g.pad_left, g.fw, g.in_w);
        yp.fill(0.0);
        for ky in ky_lo..ky_hi {
            let iy = iy_lo + ky - ky_lo;
            for kx in kx_lo..kx_hi {
                let ix = ix_lo + kx - kx_lo;
                let xp = &img[(iy * g.in_w + ix) * ci..][..ci];
                let wp = &w[(ky * g.fw + kx) * c..][..c];
                for ((yc, wc), &xv) in yp.chunks_exact_mut(m).zip(wp.chunks_exact(m)).zip(xp) {
                    for (a, &wv) in yc.iter_mut().zip(wc) {
                        *a = madd::<FMA>(*a, xv, wv);
                    }
                }
            }
        }
    }
}
