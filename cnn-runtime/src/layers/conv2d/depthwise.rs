//! Depthwise convolution (groups == c_in, MobileNet): each input channel
//! `i` has `m = c_out / c_in` filters of its own, output channel `i * m + j`,
//! weights `[fh, fw, 1, c_out]`. There is no sum over channels, so there is
//! no matrix product to hand to a GEMM: in NHWC the natural kernel is, per
//! output pixel and window tap, a multiply-add over the channel vector,
//! `y[c] += x[c] * w[tap, c]`, which reads both operands contiguously.
//!
//! - Forward (`m == 1`): blocks of `L` channels of up to four neighbouring
//!   output pixels accumulate in registers over the window, then are
//!   stored once; windows that leave the input are clipped to their inside
//!   taps (no padded copy). The epilogue runs on each finished row.
//! - Weight gradient (`m == 1`): per output row, window row and column, one
//!   tap's gradient `sum over ox of x[ix(ox), c] * dy[ox, c]`, in four
//!   interleaved sums (independent chains of multiply-adds).
//! - Input gradient (`m == 1`): gathered rather than scattered: each input
//!   pixel sums `dy * w` over the taps that read it (found without a
//!   division per tap), so `dx` is written once and needs no zeroing.
//! - `m > 1` runs the same loops one channel group at a time (Keras's
//!   `depth_multiplier`; rarely used, so kept simple).
//!
//! The loops are plain Rust written for the auto-vectoriser: fixed-size
//! array blocks, no divisions or data-dependent indices in the inner loops.
//! They are compiled three times, for AVX-512, for AVX2 + FMA (both with
//! fused multiply-adds) and for the baseline target, and [`Isa::detect`]
//! picks one at run time, so the crate needs no `target-cpu` flag.

use super::grouped::window;
use super::{epilogue, Epilogue};
use crate::geom::Conv2dGeom;

/// The instruction set a depthwise kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Isa {
    Avx512,
    Avx2,
    /// Whatever the crate is compiled for (SSE2 on x86-64), no FMA.
    Baseline,
}

impl Isa {
    /// The best one this CPU runs.
    pub(super) fn detect() -> Isa {
        [Isa::Avx512, Isa::Avx2]
            .into_iter()
            .find(|isa| isa.supported())
            .unwrap_or(Isa::Baseline)
    }

    /// True when this CPU runs code compiled for `self`.
    pub(super) fn supported(self) -> bool {
        match self {
            Isa::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// Output rows `r0..r1`, counted over `(image, oy)` across the batch, into
/// `y` (exactly those rows), then the epilogue on each row.
pub(super) fn forward_rows(
    isa: Isa,
    g: &Conv2dGeom,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    r0: usize,
    r1: usize,
    y: &mut [f32],
) {
    run(
        isa,
        Job::Forward {
            g,
            x,
            w,
            ep,
            r0,
            r1,
            y,
        },
    );
}

/// Overwrites `dw` (`[fh, fw, 1, c_out]`) with the weight gradient of whole
/// images `x`, `dy` (back to back).
pub(super) fn weight_grad(isa: Isa, g: &Conv2dGeom, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    run(isa, Job::WeightGrad { g, x, dy, dw });
}

/// Overwrites `dx` (whole images) with the input gradient of `dy`.
pub(super) fn input_grad(isa: Isa, g: &Conv2dGeom, dy: &[f32], w: &[f32], dx: &mut [f32]) {
    run(isa, Job::InputGrad { g, dy, w, dx });
}

/// One call of a kernel, so that one clone per instruction set covers all.
enum Job<'a> {
    Forward {
        g: &'a Conv2dGeom,
        x: &'a [f32],
        w: &'a [f32],
        ep: &'a Epilogue<'a>,
        r0: usize,
        r1: usize,
        y: &'a mut [f32],
    },
    WeightGrad {
        g: &'a Conv2dGeom,
        x: &'a [f32],
        dy: &'a [f32],
        dw: &'a mut [f32],
    },
    InputGrad {
        g: &'a Conv2dGeom,
        dy: &'a [f32],
        w: &'a [f32],
        dx: &'a mut [f32],
    },
}

fn run(isa: Isa, job: Job) {
    assert!(isa.supported(), "depthwise: {isa:?} is not available");
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512F (checked above), the clone's only requirement.
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

/// `FMA`: fused multiply-adds (only where the CPU has them; elsewhere
/// `mul_add` is a library call). `L`: channels per register block.
#[inline(always)]
fn run_body<const FMA: bool, const L: usize>(job: Job) {
    match job {
        Job::Forward {
            g,
            x,
            w,
            ep,
            r0,
            r1,
            y,
        } => forward_body::<FMA, L>(g, x, w, ep, r0, r1, y),
        Job::WeightGrad { g, x, dy, dw } => weight_grad_body::<FMA, L>(g, x, dy, dw),
        Job::InputGrad { g, dy, w, dx } => input_grad_body::<FMA, L>(g, dy, w, dx),
    }
}

#[inline(always)]
fn madd<const FMA: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FMA {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// `acc[j] += a[j] * b[j]` over a fixed-size block.
#[inline(always)]
fn madd_block<const FMA: bool, const B: usize>(acc: &mut [f32; B], a: &[f32], b: &[f32]) {
    let a: &[f32; B] = a[..B].try_into().unwrap();
    let b: &[f32; B] = b[..B].try_into().unwrap();
    for j in 0..B {
        acc[j] = madd::<FMA>(acc[j], a[j], b[j]);
    }
}

/// Output pixels handled together in the forward pass.
const PIX: usize = 4;

/// The taps of one window that lie inside the input along one axis:
/// `(lo, hi, index of tap lo)`, as [`window`] returns.
type Taps = (usize, usize, usize);

#[inline(always)]
fn forward_body<const FMA: bool, const L: usize>(
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
            forward_row::<FMA, L>(g, img, w, rows, y_row);
        } else {
            forward_row_multiplier::<FMA>(g, m, img, w, rows, y_row);
        }
        epilogue::apply(ep, c, y_row);
    }
}

/// One output row, `m == 1`: runs of [`PIX`] pixels whose windows lie
/// inside the input columns, single pixels (clipped) elsewhere.
#[inline(always)]
fn forward_row<const FMA: bool, const L: usize>(
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
            pixels::<FMA, L, PIX>(g, img, w, rows, cols, &mut y_row[ox * c..(ox + PIX) * c]);
            ox += PIX;
        } else {
            pixels::<FMA, L, 1>(g, img, w, rows, cols, &mut y_row[ox * c..(ox + 1) * c]);
            ox += 1;
        }
    }
}

/// `P` neighbouring output pixels (`y`: `P * c`) with the same taps, the
/// first one's window columns `cols`; overwrites `y`.
#[inline(always)]
fn pixels<const FMA: bool, const L: usize, const P: usize>(
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
        pixel_block::<FMA, L, P>(g, img, w, rows, cols, cb, y);
        cb += L;
    }
    while cb + 8 <= c {
        pixel_block::<FMA, 8, P>(g, img, w, rows, cols, cb, y);
        cb += 8;
    }
    if cb == c {
        return;
    }
    // Fewer than eight channels left: accumulate in place.
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
                let xs = &img[xrow + ix * c + cb..];
                let ws = &w[(ky * g.fw + kx) * c + cb..];
                for ((a, &xv), &wv) in acc.iter_mut().zip(xs).zip(ws) {
                    *a = madd::<FMA>(*a, xv, wv);
                }
            }
        }
    }
}

/// Channels `cb..cb + B` of `P` pixels, summed in registers over the window.
#[inline(always)]
fn pixel_block<const FMA: bool, const B: usize, const P: usize>(
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
    for ky in ky_lo..ky_hi {
        let xrow = (iy_lo + ky - ky_lo) * line;
        for kx in kx_lo..kx_hi {
            let ws = &w[(ky * g.fw + kx) * c + cb..];
            let ix = ix_lo + kx - kx_lo;
            for (p, a) in acc.iter_mut().enumerate() {
                madd_block::<FMA, B>(a, &img[xrow + (ix + p * g.sw) * c + cb..], ws);
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

/// The output columns whose window tap `k` lies inside the input:
/// `ox` with `0 <= ox * s + k - pad < n`, as a range.
#[inline(always)]
fn outputs_reading(k: usize, s: usize, pad: usize, n: usize, out: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(k).div_ceil(s);
    let hi = if n - 1 + pad >= k {
        out.min((n - 1 + pad - k) / s + 1)
    } else {
        0
    };
    (lo, hi.max(lo))
}

#[inline(always)]
fn weight_grad_body<const FMA: bool, const L: usize>(
    g: &Conv2dGeom,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
) {
    let (c, ci) = (g.c_out, g.c_in);
    let m = c / ci;
    dw.fill(0.0);
    for (img, dyi) in x.chunks_exact(g.in_len()).zip(dy.chunks_exact(g.out_len())) {
        for oy in 0..g.out_h {
            let (ky_lo, ky_hi, iy_lo) = window(oy, g.sh, g.pad_top, g.fh, g.in_h);
            let dy_row = &dyi[oy * g.out_w * c..(oy + 1) * g.out_w * c];
            for ky in ky_lo..ky_hi {
                let iy = iy_lo + ky - ky_lo;
                let x_row = &img[iy * g.in_w * ci..(iy + 1) * g.in_w * ci];
                for kx in 0..g.fw {
                    let (ox_lo, ox_hi) = outputs_reading(kx, g.sw, g.pad_left, g.in_w, g.out_w);
                    if ox_lo == ox_hi {
                        continue;
                    }
                    let ix0 = ox_lo * g.sw + kx - g.pad_left;
                    let dwt = &mut dw[(ky * g.fw + kx) * c..(ky * g.fw + kx + 1) * c];
                    let xs = &x_row[ix0 * ci..];
                    let dys = &dy_row[ox_lo * c..];
                    let count = ox_hi - ox_lo;
                    if m == 1 {
                        tap_grad::<FMA, L>(c, g.sw * c, xs, dys, count, dwt);
                    } else {
                        tap_grad_multiplier::<FMA>(m, ci, g.sw * ci, xs, dys, count, dwt);
                    }
                }
            }
        }
    }
}

/// `dwt[j] += sum_i xs[i * step + j] * dys[i * c + j]` over `count` pixels.
#[inline(always)]
fn tap_grad<const FMA: bool, const L: usize>(
    c: usize,
    step: usize,
    xs: &[f32],
    dys: &[f32],
    count: usize,
    dwt: &mut [f32],
) {
    let mut cb = 0;
    while cb + L <= c {
        tap_block::<FMA, L>(c, step, xs, dys, count, cb, dwt);
        cb += L;
    }
    while cb + 8 <= c {
        tap_block::<FMA, 8>(c, step, xs, dys, count, cb, dwt);
        cb += 8;
    }
    for i in 0..count {
        let (xp, dp) = (&xs[i * step..], &dys[i * c..]);
        for j in cb..c {
            dwt[j] = madd::<FMA>(dwt[j], xp[j], dp[j]);
        }
    }
}

/// Channels `cb..cb + B` of [`tap_grad`], in four interleaved sums.
#[inline(always)]
fn tap_block<const FMA: bool, const B: usize>(
    c: usize,
    step: usize,
    xs: &[f32],
    dys: &[f32],
    count: usize,
    cb: usize,
    dwt: &mut [f32],
) {
    let mut acc = [[0f32; B]; 4];
    let mut i = 0;
    while i + 4 <= count {
        for (q, a) in acc.iter_mut().enumerate() {
            madd_block::<FMA, B>(a, &xs[(i + q) * step + cb..], &dys[(i + q) * c + cb..]);
        }
        i += 4;
    }
    while i < count {
        madd_block::<FMA, B>(&mut acc[0], &xs[i * step + cb..], &dys[i * c + cb..]);
        i += 1;
    }
    let d: &mut [f32; B] = (&mut dwt[cb..cb + B]).try_into().unwrap();
    for j in 0..B {
        d[j] += (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
    }
}

/// [`tap_grad`] for `m > 1`: input channel `i` against output channels
/// `i * m..(i + 1) * m`; `xs` has `ci` channels per pixel, `step` apart.
#[inline(always)]
fn tap_grad_multiplier<const FMA: bool>(
    m: usize,
    ci: usize,
    step: usize,
    xs: &[f32],
    dys: &[f32],
    count: usize,
    dwt: &mut [f32],
) {
    let c = m * ci;
    for i in 0..count {
        let xp = &xs[i * step..][..ci];
        let dp = &dys[i * c..][..c];
        for ((dc, yc), &xv) in dwt.chunks_exact_mut(m).zip(dp.chunks_exact(m)).zip(xp) {
            for (d, &v) in dc.iter_mut().zip(yc) {
                *d = madd::<FMA>(*d, xv, v);
            }
        }
    }
}

/// The window taps that read input index `i` along one axis (stride `s`,
/// `pad` leading zeros, window `f`, `out` outputs): taps `k0 + j * s` for
/// `j < count`, tap `k0 + j * s` belonging to output `o0 - j`. Returns
/// `(k0, count, o0)`.
#[inline(always)]
fn back_taps(i: usize, s: usize, pad: usize, f: usize, out: usize) -> (usize, usize, usize) {
    // Output o reads i through tap k = i + pad - o * s.
    let q = i + pad;
    // The smallest tap of the right residue whose output is below `out`;
    // both candidates are congruent to q modulo s.
    let k0 = (q % s).max(q.saturating_sub((out - 1) * s));
    let hi = (f - 1).min(q);
    if hi < k0 {
        return (0, 0, 0);
    }
    (k0, (hi - k0) / s + 1, (q - k0) / s)
}

#[inline(always)]
fn input_grad_body<const FMA: bool, const L: usize>(
    g: &Conv2dGeom,
    dy: &[f32],
    w: &[f32],
    dx: &mut [f32],
) {
    let (c, ci) = (g.c_out, g.c_in);
    let m = c / ci;
    for (dyi, dxi) in dy
        .chunks_exact(g.out_len())
        .zip(dx.chunks_exact_mut(g.in_len()))
    {
        for iy in 0..g.in_h {
            let rows = back_taps(iy, g.sh, g.pad_top, g.fh, g.out_h);
            for ix in 0..g.in_w {
                let cols = back_taps(ix, g.sw, g.pad_left, g.fw, g.out_w);
                let d = &mut dxi[(iy * g.in_w + ix) * ci..(iy * g.in_w + ix + 1) * ci];
                if m == 1 {
                    gather::<FMA, L>(g, dyi, w, rows, cols, d);
                } else {
                    gather_multiplier::<FMA>(g, m, dyi, w, rows, cols, d);
                }
            }
        }
    }
}

/// One input pixel's gradient, `m == 1`: `d = sum over its taps of
/// dy[o] * w[tap]`, `rows` and `cols` from [`back_taps`]. Overwrites `d`.
#[inline(always)]
fn gather<const FMA: bool, const L: usize>(
    g: &Conv2dGeom,
    dyi: &[f32],
    w: &[f32],
    rows: (usize, usize, usize),
    cols: (usize, usize, usize),
    d: &mut [f32],
) {
    let c = g.c_out;
    let mut cb = 0;
    while cb + L <= c {
        gather_block::<FMA, L>(g, dyi, w, rows, cols, cb, d);
        cb += L;
    }
    while cb + 8 <= c {
        gather_block::<FMA, 8>(g, dyi, w, rows, cols, cb, d);
        cb += 8;
    }
    if cb == c {
        return;
    }
    let (ky0, nky, oy0) = rows;
    let (kx0, nkx, ox0) = cols;
    let acc = &mut d[cb..];
    acc.fill(0.0);
    for a in 0..nky {
        let (ky, oy) = (ky0 + a * g.sh, oy0 - a);
        for b in 0..nkx {
            let (kx, ox) = (kx0 + b * g.sw, ox0 - b);
            let dys = &dyi[(oy * g.out_w + ox) * c + cb..];
            let ws = &w[(ky * g.fw + kx) * c + cb..];
            for ((s, &u), &v) in acc.iter_mut().zip(dys).zip(ws) {
                *s = madd::<FMA>(*s, u, v);
            }
        }
    }
}

/// Channels `cb..cb + B` of [`gather`], in two interleaved sums.
#[inline(always)]
fn gather_block<const FMA: bool, const B: usize>(
    g: &Conv2dGeom,
    dyi: &[f32],
    w: &[f32],
    (ky0, nky, oy0): (usize, usize, usize),
    (kx0, nkx, ox0): (usize, usize, usize),
    cb: usize,
    d: &mut [f32],
) {
    let c = g.c_out;
    let mut acc = [[0f32; B]; 2];
    for a in 0..nky {
        let (ky, oy) = (ky0 + a * g.sh, oy0 - a);
        let dy_row = &dyi[oy * g.out_w * c..];
        let w_row = &w[ky * g.fw * c..];
        let mut b = 0;
        while b + 2 <= nkx {
            for (q, s) in acc.iter_mut().enumerate() {
                let (kx, ox) = (kx0 + (b + q) * g.sw, ox0 - b - q);
                madd_block::<FMA, B>(s, &dy_row[ox * c + cb..], &w_row[kx * c + cb..]);
            }
            b += 2;
        }
        if b < nkx {
            let (kx, ox) = (kx0 + b * g.sw, ox0 - b);
            madd_block::<FMA, B>(&mut acc[0], &dy_row[ox * c + cb..], &w_row[kx * c + cb..]);
        }
    }
    for (j, v) in d[cb..cb + B].iter_mut().enumerate() {
        *v = acc[0][j] + acc[1][j];
    }
}

/// [`gather`] for `m > 1`: input channel `i` sums its `m` output channels.
#[inline(always)]
fn gather_multiplier<const FMA: bool>(
    g: &Conv2dGeom,
    m: usize,
    dyi: &[f32],
    w: &[f32],
    (ky0, nky, oy0): (usize, usize, usize),
    (kx0, nkx, ox0): (usize, usize, usize),
    d: &mut [f32],
) {
    let c = g.c_out;
    d.fill(0.0);
    for a in 0..nky {
        let (ky, oy) = (ky0 + a * g.sh, oy0 - a);
        for b in 0..nkx {
            let (kx, ox) = (kx0 + b * g.sw, ox0 - b);
            let dys = &dyi[(oy * g.out_w + ox) * c..][..c];
            let ws = &w[(ky * g.fw + kx) * c..][..c];
            for ((s, dc), wc) in d
                .iter_mut()
                .zip(dys.chunks_exact(m))
                .zip(ws.chunks_exact(m))
            {
                let mut acc = *s;
                for (&u, &v) in dc.iter().zip(wc) {
                    acc = madd::<FMA>(acc, u, v);
                }
                *s = acc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `back_taps` lists exactly the (tap, output) pairs a brute-force
    /// search over every output finds.
    #[test]
    fn back_taps_match_a_search() {
        for n in 1..9 {
            for f in 1..6 {
                for s in 1..4 {
                    for pad in 0..f + 2 {
                        if n + 2 * pad < f {
                            continue;
                        }
                        let out = (n + 2 * pad - f) / s + 1;
                        for i in 0..n {
                            let want: Vec<(usize, usize)> = (0..f)
                                .flat_map(|k| (0..out).map(move |o| (k, o)))
                                .filter(|&(k, o)| o * s + k == i + pad)
                                .collect();
                            let (k0, count, o0) = back_taps(i, s, pad, f, out);
                            let got: Vec<(usize, usize)> =
                                (0..count).map(|j| (k0 + j * s, o0 - j)).collect();
                            assert_eq!(got, want, "n {n} f {f} s {s} pad {pad} i {i}");
                        }
                    }
                }
            }
        }
    }

    /// `outputs_reading` is the range of outputs whose tap `k` is inside.
    #[test]
    fn outputs_reading_matches_a_search() {
        for n in 1..9 {
            for f in 1..6 {
                for s in 1..4 {
                    for pad in 0..f + 1 {
                        if n + 2 * pad < f {
                            continue;
                        }
                        let out = (n + 2 * pad - f) / s + 1;
                        for k in 0..f {
                            let inside: Vec<usize> = (0..out)
                                .map(|o: usize| o)
                                .filter(|&o| (o * s + k).checked_sub(pad).is_some_and(|i| i < n))
                                .collect();
                            let (lo, hi) = outputs_reading(k, s, pad, n, out);
                            assert_eq!((lo..hi).collect::<Vec<_>>(), inside);
                        }
                    }
                }
            }
        }
    }
}
