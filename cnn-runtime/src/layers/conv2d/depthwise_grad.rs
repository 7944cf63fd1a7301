//! The depthwise convolution's gradients (see `depthwise.rs` for the
//! layout and the instruction-set clones these loops are compiled into).
//!
//! - Weight gradient (`m == 1`): per output row, window row and window
//!   column, one tap's gradient `sum over ox of x[ix(ox), c] * dy[ox, c]`
//!   over a block of channels, in four interleaved sums (independent
//!   chains of multiply-adds), added once into `dw`.
//! - Input gradient (`m == 1`): gathered rather than scattered: each input
//!   pixel sums `dy * w` over exactly the taps that read it, found per row
//!   and column without a division per tap ([`back_taps`]), so `dx` is
//!   written once and needs no zeroing.
//! - `m > 1`: the same loops one input channel's `m` outputs at a time.
//! - Square groups of `G` channels: the same loops with a sum per input
//!   channel of the group (weight gradient) or per output channel of the
//!   group against the kernel transposed within groups (input gradient),
//!   each spread over the group's lanes as in the forward.

use super::depthwise::{block, madd, madd_block, spread};
use super::im2col::window;
use crate::geom::Conv2dGeom;

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
pub(super) fn weight_grad_body<const FMA: bool, const L: usize, const G: usize>(
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
                    // The tap's G rows of c weights.
                    let tap = ky * g.fw + kx;
                    let dwt = &mut dw[tap * G * c..(tap + 1) * G * c];
                    let xs = &x_row[ix0 * ci..];
                    let dys = &dy_row[ox_lo * c..];
                    let count = ox_hi - ox_lo;
                    if m == 1 {
                        tap_grad::<FMA, L, G>(c, g.sw * c, xs, dys, count, dwt);
                    } else {
                        tap_grad_multiplier::<FMA>(m, ci, g.sw * ci, xs, dys, count, dwt);
                    }
                }
            }
        }
    }
}

/// `dwt[ci, j] += sum_i xs[i * step + j / G * G + ci] * dys[i * c + j]`
/// over `count` pixels: one tap's weight gradient, `dwt` its `G` rows.
#[inline(always)]
fn tap_grad<const FMA: bool, const L: usize, const G: usize>(
    c: usize,
    step: usize,
    xs: &[f32],
    dys: &[f32],
    count: usize,
    dwt: &mut [f32],
) {
    let mut cb = 0;
    while cb + L <= c {
        if G == 1 {
            tap_block::<FMA, L>(c, step, xs, dys, count, cb, dwt);
        } else {
            tap_block_groups::<FMA, L, G>(c, step, xs, dys, count, cb, dwt);
        }
        cb += L;
    }
    while cb + 8 <= c {
        if G == 1 {
            tap_block::<FMA, 8>(c, step, xs, dys, count, cb, dwt);
        } else {
            tap_block_groups::<FMA, 8, G>(c, step, xs, dys, count, cb, dwt);
        }
        cb += 8;
    }
    for i in 0..count {
        let (xp, dp) = (&xs[i * step..], &dys[i * c..]);
        for ci in 0..G {
            for j in cb..c {
                let d = &mut dwt[ci * c + j];
                *d = madd::<FMA>(*d, xp[j / G * G + ci], dp[j]);
            }
        }
    }
}

/// Channels `cb..cb + B` of [`tap_grad`] for groups of `G > 1` channels:
/// a sum per input channel of the group, which are independent chains.
#[inline(always)]
fn tap_block_groups<const FMA: bool, const B: usize, const G: usize>(
    c: usize,
    step: usize,
    xs: &[f32],
    dys: &[f32],
    count: usize,
    cb: usize,
    dwt: &mut [f32],
) {
    let mut acc = [[0f32; B]; G];
    if count > 0 {
        assert!(
            (count - 1) * step + cb + B <= xs.len() && (count - 1) * c + cb + B <= dys.len(),
            "depthwise: pixels out of range"
        );
    }
    for i in 0..count {
        // SAFETY: pixel i is below count, checked above.
        let (x, d) = unsafe { (block::<B>(xs, i * step + cb), block::<B>(dys, i * c + cb)) };
        for (ci, a) in acc.iter_mut().enumerate() {
            madd_block::<FMA, B>(a, &spread::<G, B>(x, ci), d);
        }
    }
    for (ci, a) in acc.iter().enumerate() {
        let d: &mut [f32; B] = (&mut dwt[ci * c + cb..ci * c + cb + B]).try_into().unwrap();
        for j in 0..B {
            d[j] += a[j];
        }
    }
}

/// Channels `cb..cb + B` of [`tap_grad`], in four interleaved sums kept
/// in separate arrays (one array indexed by the sum's number is kept in
/// memory rather than registers).
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
    let (mut a0, mut a1, mut a2, mut a3) = ([0f32; B], [0f32; B], [0f32; B], [0f32; B]);
    if count > 0 {
        assert!(
            (count - 1) * step + cb + B <= xs.len() && (count - 1) * c + cb + B <= dys.len(),
            "depthwise: pixels out of range"
        );
    }
    let mut i = 0;
    while i + 4 <= count {
        let (x, d) = (i * step + cb, i * c + cb);
        // SAFETY: pixels i..i + 4 are below count, checked above.
        unsafe {
            madd_block::<FMA, B>(&mut a0, block(xs, x), block(dys, d));
            madd_block::<FMA, B>(&mut a1, block(xs, x + step), block(dys, d + c));
            madd_block::<FMA, B>(&mut a2, block(xs, x + 2 * step), block(dys, d + 2 * c));
            madd_block::<FMA, B>(&mut a3, block(xs, x + 3 * step), block(dys, d + 3 * c));
        }
        i += 4;
    }
    while i < count {
        // SAFETY: pixel i is below count, checked above.
        unsafe { madd_block::<FMA, B>(&mut a0, block(xs, i * step + cb), block(dys, i * c + cb)) };
        i += 1;
    }
    let d: &mut [f32; B] = (&mut dwt[cb..cb + B]).try_into().unwrap();
    for j in 0..B {
        d[j] += (a0[j] + a1[j]) + (a2[j] + a3[j]);
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
    let q = i + pad;
    taps_of(q, q / s, q % s, s, f, out)
}

/// [`back_taps`] given `q = i + pad` with its quotient and residue by `s`.
#[inline(always)]
fn taps_of(q: usize, qd: usize, r: usize, s: usize, f: usize, out: usize) -> (usize, usize, usize) {
    // Output o reads i through tap k = q - o * s. The smallest tap has the
    // residue r, unless that tap's output (qd) is past the last one.
    let last = (out - 1) * s;
    let (k0, o0) = if q >= last + r {
        (q - last, out - 1)
    } else {
        (r, qd)
    };
    let hi = (f - 1).min(q);
    // Counted rather than divided: a window holds only a few taps.
    let (mut count, mut k) = (0, k0);
    while k <= hi {
        count += 1;
        k += s;
    }
    if count == 0 {
        return (0, 0, 0);
    }
    (k0, count, o0)
}

/// [`back_taps`] for `i = 0, 1, 2, ...` in turn, carrying `(i + pad) / s`
/// and `(i + pad) % s` along instead of dividing per pixel (at stride 2 a
/// pixel has only two or three taps, and two divisions cost more).
struct TapWalk {
    q: usize,
    qd: usize,
    r: usize,
    s: usize,
    f: usize,
    out: usize,
}

impl TapWalk {
    fn new(s: usize, pad: usize, f: usize, out: usize) -> Self {
        TapWalk {
            q: pad,
            qd: pad / s,
            r: pad % s,
            s,
            f,
            out,
        }
    }

    /// The taps of the next index.
    #[inline(always)]
    fn next(&mut self) -> (usize, usize, usize) {
        let taps = taps_of(self.q, self.qd, self.r, self.s, self.f, self.out);
        self.q += 1;
        self.r += 1;
        if self.r == self.s {
            self.r = 0;
            self.qd += 1;
        }
        taps
    }
}

/// `w` is the kernel transposed within groups (see
/// `depthwise::transpose_groups`) when `G > 1`.
#[inline(always)]
pub(super) fn input_grad_body<const FMA: bool, const L: usize, const G: usize>(
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
            let mut walk = TapWalk::new(g.sw, g.pad_left, g.fw, g.out_w);
            for ix in 0..g.in_w {
                let cols = walk.next();
                let d = &mut dxi[(iy * g.in_w + ix) * ci..(iy * g.in_w + ix + 1) * ci];
                if m == 1 {
                    gather::<FMA, L, G>(g, dyi, w, rows, cols, d);
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
fn gather<const FMA: bool, const L: usize, const G: usize>(
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
        if G == 1 {
            gather_block::<FMA, L>(g, dyi, w, rows, cols, cb, d);
        } else {
            gather_block_groups::<FMA, L, G>(g, dyi, w, rows, cols, cb, d);
        }
        cb += L;
    }
    while cb + 8 <= c {
        if G == 1 {
            gather_block::<FMA, 8>(g, dyi, w, rows, cols, cb, d);
        } else {
            gather_block_groups::<FMA, 8, G>(g, dyi, w, rows, cols, cb, d);
        }
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
            let dys = &dyi[(oy * g.out_w + ox) * c..][..c];
            for j in 0..G {
                let ws = &w[((ky * g.fw + kx) * G + j) * c..][..c];
                for (co, s) in (cb..c).zip(acc.iter_mut()) {
                    *s = madd::<FMA>(*s, dys[co / G * G + j], ws[co]);
                }
            }
        }
    }
}

/// Channels `cb..cb + B` of [`gather`] for groups of `G > 1` channels, `w`
/// transposed within groups: a sum per output channel `j` of the group.
#[inline(always)]
fn gather_block_groups<const FMA: bool, const B: usize, const G: usize>(
    g: &Conv2dGeom,
    dyi: &[f32],
    w: &[f32],
    (ky0, nky, oy0): (usize, usize, usize),
    (kx0, nkx, ox0): (usize, usize, usize),
    cb: usize,
    d: &mut [f32],
) {
    let c = g.c_out;
    let mut acc = [[0f32; B]; G];
    if nky > 0 && nkx > 0 {
        // As in `gather_block`, with G rows of weights per tap.
        let dy_end = (oy0 * g.out_w + ox0) * c + cb + B;
        let tap = (ky0 + (nky - 1) * g.sh) * g.fw + kx0 + (nkx - 1) * g.sw;
        let w_end = (tap * G + G - 1) * c + cb + B;
        assert!(
            dy_end <= dyi.len() && w_end <= w.len(),
            "depthwise: taps out of range"
        );
    }
    for a in 0..nky {
        let (ky, oy) = (ky0 + a * g.sh, oy0 - a);
        for b in 0..nkx {
            let (kx, ox) = (kx0 + b * g.sw, ox0 - b);
            let wt = (ky * g.fw + kx) * G * c + cb;
            // SAFETY: within dy_end, checked above.
            let dys = unsafe { block::<B>(dyi, (oy * g.out_w + ox) * c + cb) };
            for (j, s) in acc.iter_mut().enumerate() {
                // SAFETY: within w_end, checked above.
                let ws = unsafe { block::<B>(w, wt + j * c) };
                madd_block::<FMA, B>(s, &spread::<G, B>(dys, j), ws);
            }
        }
    }
    let d: &mut [f32; B] = (&mut d[cb..cb + B]).try_into().unwrap();
    for (l, v) in d.iter_mut().enumerate() {
        let mut sum = 0.0;
        for a in &acc {
            sum += a[l];
        }
        *v = sum;
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
    let (mut a0, mut a1) = ([0f32; B], [0f32; B]);
    if nky > 0 && nkx > 0 {
        // Outputs fall and taps grow along the lists: output (oy0, ox0)
        // and the last tap are the furthest blocks read.
        let dy_end = (oy0 * g.out_w + ox0) * c + cb + B;
        let w_end = ((ky0 + (nky - 1) * g.sh) * g.fw + kx0 + (nkx - 1) * g.sw) * c + cb + B;
        assert!(
            dy_end <= dyi.len() && w_end <= w.len(),
            "depthwise: taps out of range"
        );
    }
    for a in 0..nky {
        let (ky, oy) = (ky0 + a * g.sh, oy0 - a);
        // Output ox and tap kx of this row: dy at dy_row + ox * c, w at
        // w_row + kx * c.
        let (dy_row, w_row) = (oy * g.out_w * c + cb, ky * g.fw * c + cb);
        let mut b = 0;
        while b + 2 <= nkx {
            let (kx, ox) = (kx0 + b * g.sw, ox0 - b);
            // SAFETY: within dy_end and w_end, checked above.
            unsafe {
                let (d0, w0) = (dy_row + ox * c, w_row + kx * c);
                madd_block::<FMA, B>(&mut a0, block(dyi, d0), block(w, w0));
                madd_block::<FMA, B>(&mut a1, block(dyi, d0 - c), block(w, w0 + g.sw * c));
            }
            b += 2;
        }
        if b < nkx {
            let (kx, ox) = (kx0 + b * g.sw, ox0 - b);
            // SAFETY: as above.
            unsafe {
                let (d0, w0) = (dy_row + ox * c, w_row + kx * c);
                madd_block::<FMA, B>(&mut a0, block(dyi, d0), block(w, w0));
            }
        }
    }
    let d: &mut [f32; B] = (&mut d[cb..cb + B]).try_into().unwrap();
    for j in 0..B {
        d[j] = a0[j] + a1[j];
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
    /// search over every output finds, and `TapWalk` agrees with it.
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
                        let mut walk = TapWalk::new(s, pad, f, out);
                        for i in 0..n {
                            let want: Vec<(usize, usize)> = (0..f)
                                .flat_map(|k| (0..out).map(move |o| (k, o)))
                                .filter(|&(k, o)| o * s + k == i + pad)
                                .collect();
                            let (k0, count, o0) = back_taps(i, s, pad, f, out);
                            assert_eq!((k0, count, o0), walk.next(), "walk at {i}");
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
