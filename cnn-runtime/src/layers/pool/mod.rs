//! Max, average and global-average pooling over NHWC tensors, forward and
//! backward. Channels are innermost, so every window cell is a contiguous
//! run of `c` values and the inner loops run along channels.
//!
//! Padding follows Keras: padded cells never win the max and are not
//! counted in the average, so a window that hangs over the edge pools only
//! its real cells. Max pooling records, for each output, the flat index of
//! its winner inside the example's input (`(row * in_w + col) * c + ch`,
//! first in row-major window order on ties), and the backward pass
//! scatters the gradient through those indices without looking at `x`.
//! A window made only of padding (possible with an explicit padding at
//! least as large as the window) outputs 0 and passes no gradient; its
//! argmax is [`NO_WINNER`].

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{check_len, Error, Result};
use crate::geom::PoolGeom;
use crate::layers::activation::{par_rows, par_rows2};

#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(test)]
mod tests;

/// The argmax of an output whose window holds no real input cell.
pub const NO_WINNER: u32 = u32::MAX;

/// The version of `$f` for `$c` channels: the common channel counts get
/// their own copy with `c` a constant, whose inner loops unroll; with a
/// handful of channels the loop overhead would otherwise cost more than
/// the work.
macro_rules! by_channels {
    ($c:expr, $f:ident) => {
        match $c {
            1 => $f::<1>,
            2 => $f::<2>,
            3 => $f::<3>,
            4 => $f::<4>,
            6 => $f::<6>,
            8 => $f::<8>,
            16 => $f::<16>,
            _ => $f::<0>,
        }
    };
}

/// Checks the geometry and the batch; returns the lengths of one example's
/// input and output and of the whole batch's.
fn sizes(g: &PoolGeom, batch: usize) -> Result<[usize; 4]> {
    let dims = [
        ("in_h", g.in_h),
        ("in_w", g.in_w),
        ("c", g.c),
        ("out_h", g.out_h),
        ("out_w", g.out_w),
        ("fh", g.fh),
        ("fw", g.fw),
        ("sh", g.sh),
        ("sw", g.sw),
    ];
    if let Some((name, _)) = dims.iter().find(|(_, v)| *v == 0) {
        return Err(Error::InvalidArgument(format!(
            "pool: {name} must be positive ({g:?})"
        )));
    }
    let overflow =
        || Error::InvalidArgument(format!("pool: arithmetic overflow in the geometry ({g:?})"));
    let mul = |a: usize, b: usize| a.checked_mul(b).ok_or_else(overflow);
    let in_len = mul(mul(g.in_h, g.in_w)?, g.c)?;
    let out_len = mul(mul(g.out_h, g.out_w)?, g.c)?;
    // The furthest window must be addressable, and the padded extent too.
    mul(g.out_h - 1, g.sh)?
        .checked_add(g.fh)
        .ok_or_else(overflow)?;
    mul(g.out_w - 1, g.sw)?
        .checked_add(g.fw)
        .ok_or_else(overflow)?;
    g.pad_top.checked_add(g.in_h).ok_or_else(overflow)?;
    g.pad_left.checked_add(g.in_w).ok_or_else(overflow)?;
    Ok([in_len, out_len, mul(batch, in_len)?, mul(batch, out_len)?])
}

/// The real input rows (or columns) `lo..hi` under output position `o`:
/// the window covers padded positions `o*s .. o*s + f`, of which the real
/// ones are `pad .. pad + n`. Empty (`lo >= hi`) when it is all padding.
#[inline]
fn span(o: usize, s: usize, f: usize, pad: usize, n: usize) -> (usize, usize) {
    let start = o * s;
    let lo = start.max(pad) - pad;
    let hi = (start + f).min(pad + n).saturating_sub(pad);
    (lo, hi)
}

/// Max pooling. Overwrites y and argmax; `argmax[k]` is the flat index,
/// inside the example's input, of the cell that won output `k`.
/// x: [batch, in_h, in_w, c]  y, argmax: [batch, out_h, out_w, c]
pub fn max_forward(
    g: &PoolGeom,
    batch: usize,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) -> Result<()> {
    let [in_len, out_len, x_len, y_len] = sizes(g, batch)?;
    check_len("max pool x", x.len(), x_len)?;
    check_len("max pool y", y.len(), y_len)?;
    check_len("max pool argmax", argmax.len(), y_len)?;
    if u32::try_from(in_len).is_err() {
        return Err(Error::InvalidArgument(format!(
            "max pool: one example has {in_len} elements, more than a u32 argmax can index"
        )));
    }
    let work = y_len * g.fh * g.fw;
    par_rows2(y, argmax, batch, work, |b0, y, argmax| {
        let examples = y
            .chunks_exact_mut(out_len)
            .zip(argmax.chunks_exact_mut(out_len));
        let example = max_example_fn::<true>(g);
        for (b, (y, argmax)) in examples.enumerate() {
            let x = &x[(b0 + b) * in_len..(b0 + b + 1) * in_len];
            example(g, x, y, argmax);
        }
    });
    Ok(())
}

/// Max pooling for inference: the values of [`max_forward`] (bit for
/// bit) without recording the winners, which only the backward pass
/// reads. Overwrites y.
/// x: [batch, in_h, in_w, c]  y: [batch, out_h, out_w, c]
pub fn max_forward_values(g: &PoolGeom, batch: usize, x: &[f32], y: &mut [f32]) -> Result<()> {
    let [in_len, out_len, x_len, y_len] = sizes(g, batch)?;
    check_len("max pool x", x.len(), x_len)?;
    check_len("max pool y", y.len(), y_len)?;
    let work = y_len * g.fh * g.fw;
    par_rows(y, batch, work, |b0, y| {
        let example = max_example_fn::<false>(g);
        for (b, y) in y.chunks_exact_mut(out_len).enumerate() {
            let x = &x[(b0 + b) * in_len..(b0 + b + 1) * in_len];
            example(g, x, y, &mut []);
        }
    });
    Ok(())
}

/// One example of max pooling: `(g, x, y, argmax)`, `argmax` empty unless
/// the winners are recorded.
type MaxExample = fn(&PoolGeom, &[f32], &mut [f32], &mut [u32]);

/// The version of one example's max pooling for `g`, recording the
/// winners when `TRACK`.
fn max_example_fn<const TRACK: bool>(g: &PoolGeom) -> MaxExample {
    if interior(g) {
        return max_valid::<TRACK>;
    }
    match g.c {
        1 => max_padded::<1, TRACK>,
        2 => max_padded::<2, TRACK>,
        3 => max_padded::<3, TRACK>,
        4 => max_padded::<4, TRACK>,
        6 => max_padded::<6, TRACK>,
        8 => max_padded::<8, TRACK>,
        16 => max_padded::<16, TRACK>,
        _ => max_padded::<0, TRACK>,
    }
}

/// Whether every window lies inside the input (no padding reached): the
/// common case (`valid` pooling), which [`max_interior`] runs without the
/// per-window clipping.
fn interior(g: &PoolGeom) -> bool {
    g.pad_top == 0
        && g.pad_left == 0
        && (g.out_h - 1) * g.sh + g.fh <= g.in_h
        && (g.out_w - 1) * g.sw + g.fw <= g.in_w
}

/// A rectangle of output pixels: rows `oh0..oh1`, columns `ow0..ow1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Region {
    pub oh0: usize,
    pub oh1: usize,
    pub ow0: usize,
    pub ow1: usize,
}

impl Region {
    fn contains(&self, oh: usize, ow: usize) -> bool {
        (self.oh0..self.oh1).contains(&oh) && (self.ow0..self.ow1).contains(&ow)
    }
    fn is_empty(&self) -> bool {
        self.oh0 >= self.oh1 || self.ow0 >= self.ow1
    }
    /// Whether the region holds outputs of `g`, all with windows inside
    /// the input.
    pub(super) fn inside(&self, g: &PoolGeom) -> bool {
        !self.is_empty()
            && self.oh0 * g.sh >= g.pad_top
            && self.ow0 * g.sw >= g.pad_left
            && self.oh1 <= g.out_h
            && self.ow1 <= g.out_w
            && (self.oh1 - 1) * g.sh + g.fh <= g.in_h + g.pad_top
            && (self.ow1 - 1) * g.sw + g.fw <= g.in_w + g.pad_left
    }
}

/// The outputs whose windows lie wholly inside the input (all of them
/// when [`interior`]; with padding, all but a border a pixel or two wide).
fn interior_region(g: &PoolGeom) -> Region {
    // Output o starts at o s - pad: inside from o >= pad / s (rounded up)
    // while o s - pad + f <= n.
    let axis = |out: usize, s: usize, f: usize, pad: usize, n: usize| {
        let hi = if n + pad >= f {
            ((n + pad - f) / s + 1).min(out)
        } else {
            0
        };
        (pad.div_ceil(s).min(hi), hi)
    };
    let (oh0, oh1) = axis(g.out_h, g.sh, g.fh, g.pad_top, g.in_h);
    let (ow0, ow1) = axis(g.out_w, g.sw, g.fw, g.pad_left, g.in_w);
    Region { oh0, oh1, ow0, ow1 }
}

/// Max pooling of one example when every window is inside the input.
fn max_valid<const TRACK: bool>(g: &PoolGeom, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    max_interior::<TRACK>(g, interior_region(g), x, y, argmax);
}

/// Max pooling of one example with padding (`C` channels, 0: `g.c`): the
/// border outputs one cell at a time ([`max_example`]), the rest, whose
/// windows are inside the input, on the fast paths ([`max_interior`]).
/// A ResNet stem's 3x3 stride-2 pool with padding 1 on 112x112 has 55x55
/// of its 56x56 outputs inside.
fn max_padded<const C: usize, const TRACK: bool>(
    g: &PoolGeom,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) {
    let inside = interior_region(g);
    max_example::<C, TRACK>(g, inside, x, y, argmax);
    max_interior::<TRACK>(g, inside, x, y, argmax);
}

/// [`max_example`] for the outputs in `region`, whose windows must be
/// inside the input ([`interior_region`]): the same result (ties to the
/// first cell in row-major window order, NaN never wins), with the
/// window's cells visited at fixed offsets, the running max and its index
/// kept in registers, and selects written as bit operations: a
/// compare-and-branch per element mispredicts about half the time on real
/// activations, which made this loop cost ~10x the loads it does. AVX-512
/// takes up to 16 channels per masked operation. Without `TRACK` the
/// winners are not recorded (`argmax` may be empty) and each cell is one
/// `max`.
fn max_interior<const TRACK: bool>(
    g: &PoolGeom,
    region: Region,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) {
    if region.is_empty() {
        return;
    }
    assert!(
        region.inside(g),
        "max pool: {region:?} has windows outside the input of {g:?}"
    );
    #[cfg(target_arch = "x86_64")]
    match crate::isa::current() {
        // SAFETY: `current` is an instruction set the CPU runs; AVX-512F
        // and AVX2 are these clones' only requirements.
        crate::isa::Isa::Avx512 => {
            return unsafe { simd::max_interior_avx512::<TRACK>(g, region, x, y, argmax) }
        }
        crate::isa::Isa::Avx2 => {
            return unsafe { simd::max_interior_avx2::<TRACK>(g, region, x, y, argmax) }
        }
        crate::isa::Isa::Portable => {}
    }
    max_interior_portable::<TRACK>(g, region, x, y, argmax);
}

/// [`max_interior`] in plain Rust, one channel at a time.
#[inline(always)]
fn max_interior_portable<const TRACK: bool>(
    g: &PoolGeom,
    region: Region,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) {
    let c = g.c;
    let row = g.in_w * c;
    for oh in region.oh0..region.oh1 {
        for ow in region.ow0..region.ow1 {
            let out = (oh * g.out_w + ow) * c;
            let yo = &mut y[out..out + c];
            let first = (oh * g.sh - g.pad_top) * row + (ow * g.sw - g.pad_left) * c;
            yo.copy_from_slice(&x[first..first + c]);
            let ao: &mut [u32] = if TRACK {
                &mut argmax[out..out + c]
            } else {
                &mut []
            };
            for (k, a) in ao.iter_mut().enumerate() {
                *a = (first + k) as u32;
            }
            for dh in 0..g.fh {
                for dw in usize::from(dh == 0)..g.fw {
                    let base = first + dh * row + dw * c;
                    let cell = &x[base..base + c];
                    for (k, (m, &v)) in yo.iter_mut().zip(cell).enumerate() {
                        // All ones where v wins, as a mask for both selects.
                        let wins = 0u32.wrapping_sub(u32::from(v > *m));
                        *m = f32::from_bits((v.to_bits() & wins) | (m.to_bits() & !wins));
                        if TRACK {
                            ao[k] = ((base + k) as u32 & wins) | (ao[k] & !wins);
                        }
                    }
                }
            }
        }
    }
}

/// Max pooling of one example, with `C` channels (`C = 0`: `g.c`), one
/// output pixel at a time, clipping each window to the input; the outputs
/// in `skip` are left as they are. The winners go to `argmax` when
/// `TRACK` (else it may be empty).
fn max_example<const C: usize, const TRACK: bool>(
    g: &PoolGeom,
    skip: Region,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) {
    let c = if C == 0 { g.c } else { C };
    let mut outs = y.chunks_exact_mut(c).enumerate();
    for oh in 0..g.out_h {
        let (h0, h1) = span(oh, g.sh, g.fh, g.pad_top, g.in_h);
        for ow in 0..g.out_w {
            let (w0, w1) = span(ow, g.sw, g.fw, g.pad_left, g.in_w);
            let Some((o, yo)) = outs.next() else { return };
            if skip.contains(oh, ow) {
                continue;
            }
            let ao: &mut [u32] = if TRACK {
                &mut argmax[o * c..(o + 1) * c]
            } else {
                &mut []
            };
            if h0 >= h1 || w0 >= w1 {
                yo.fill(0.0);
                ao.fill(NO_WINNER);
                continue;
            }
            // The first real cell starts the max; later cells must beat it
            // strictly, so ties go to the first in row-major window order.
            let first = (h0 * g.in_w + w0) * c;
            yo.copy_from_slice(&x[first..first + c]);
            for (k, a) in ao.iter_mut().enumerate() {
                *a = (first + k) as u32;
            }
            for ih in h0..h1 {
                let from = if ih == h0 { w0 + 1 } else { w0 };
                for iw in from..w1 {
                    let base = (ih * g.in_w + iw) * c;
                    let cell = &x[base..base + c];
                    for (k, (m, &v)) in yo.iter_mut().zip(cell).enumerate() {
                        // Selects, not a branch: on random data a branch
                        // here mispredicts about as often as it is taken.
                        let wins = v > *m;
                        *m = if wins { v } else { *m };
                        if TRACK {
                            ao[k] = if wins { (base + k) as u32 } else { ao[k] };
                        }
                    }
                }
            }
        }
    }
}

/// Max pooling backward: each output's gradient goes to its winner (adding
/// up where one cell won several overlapping windows). Overwrites dx.
/// argmax, dy: [batch, out_h, out_w, c]  dx: [batch, in_h, in_w, c]
pub fn max_backward(
    g: &PoolGeom,
    batch: usize,
    argmax: &[u32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let [in_len, out_len, x_len, y_len] = sizes(g, batch)?;
    check_len("max pool argmax", argmax.len(), y_len)?;
    check_len("max pool dy", dy.len(), y_len)?;
    check_len("max pool dx", dx.len(), x_len)?;
    let bad = AtomicBool::new(false);
    par_rows(dx, batch, x_len + y_len, |b0, dx| {
        for (b, dx) in dx.chunks_exact_mut(in_len).enumerate() {
            dx.fill(0.0);
            let at = (b0 + b) * out_len..(b0 + b + 1) * out_len;
            for (&a, &d) in argmax[at.clone()].iter().zip(&dy[at]) {
                match dx.get_mut(a as usize) {
                    Some(v) => *v += d,
                    None if a == NO_WINNER => {}
                    None => bad.store(true, Ordering::Relaxed),
                }
            }
        }
    });
    if bad.load(Ordering::Relaxed) {
        return Err(Error::InvalidArgument(format!(
            "max pool argmax: an index is not inside one example's input of {in_len} elements \
             (was argmax filled by max_forward with this geometry?)"
        )));
    }
    Ok(())
}

/// Average pooling over the real cells of each window (padding is not
/// counted, as in Keras). Overwrites y.
/// x: [batch, in_h, in_w, c]  y: [batch, out_h, out_w, c]
pub fn avg_forward(g: &PoolGeom, batch: usize, x: &[f32], y: &mut [f32]) -> Result<()> {
    let [in_len, out_len, x_len, y_len] = sizes(g, batch)?;
    check_len("avg pool x", x.len(), x_len)?;
    check_len("avg pool y", y.len(), y_len)?;
    par_rows(y, batch, y_len * g.fh * g.fw, |b0, y| {
        let example = by_channels!(g.c, avg_example);
        for (b, y) in y.chunks_exact_mut(out_len).enumerate() {
            example(g, &x[(b0 + b) * in_len..(b0 + b + 1) * in_len], y);
        }
    });
    Ok(())
}

/// Average pooling of one example, with `C` channels (`C = 0`: `g.c`).
fn avg_example<const C: usize>(g: &PoolGeom, x: &[f32], y: &mut [f32]) {
    let c = if C == 0 { g.c } else { C };
    let mut outs = y.chunks_exact_mut(c);
    for oh in 0..g.out_h {
        let (h0, h1) = span(oh, g.sh, g.fh, g.pad_top, g.in_h);
        for ow in 0..g.out_w {
            let (w0, w1) = span(ow, g.sw, g.fw, g.pad_left, g.in_w);
            let Some(yo) = outs.next() else { return };
            yo.fill(0.0);
            for ih in h0..h1 {
                for iw in w0..w1 {
                    let base = (ih * g.in_w + iw) * c;
                    yo.iter_mut()
                        .zip(&x[base..base + c])
                        .for_each(|(o, &v)| *o += v);
                }
            }
            let count = h1.saturating_sub(h0) * w1.saturating_sub(w0);
            if count > 1 {
                let inv = 1.0 / count as f32;
                yo.iter_mut().for_each(|o| *o *= inv);
            }
        }
    }
}

/// Average pooling backward: each output's gradient, divided by its
/// window's count of real cells, goes to each of those cells. Overwrites dx.
/// dy: [batch, out_h, out_w, c]  dx: [batch, in_h, in_w, c]
pub fn avg_backward(g: &PoolGeom, batch: usize, dy: &[f32], dx: &mut [f32]) -> Result<()> {
    let [in_len, out_len, x_len, y_len] = sizes(g, batch)?;
    check_len("avg pool dy", dy.len(), y_len)?;
    check_len("avg pool dx", dx.len(), x_len)?;
    par_rows(dx, batch, x_len + y_len * g.fh * g.fw, |b0, dx| {
        let example = by_channels!(g.c, avg_backward_example);
        for (b, dx) in dx.chunks_exact_mut(in_len).enumerate() {
            example(g, &dy[(b0 + b) * out_len..(b0 + b + 1) * out_len], dx);
        }
    });
    Ok(())
}

/// Average pooling backward of one example (`C` as in [`avg_example`]).
fn avg_backward_example<const C: usize>(g: &PoolGeom, dy: &[f32], dx: &mut [f32]) {
    let c = if C == 0 { g.c } else { C };
    dx.fill(0.0);
    let mut outs = dy.chunks_exact(c);
    for oh in 0..g.out_h {
        let (h0, h1) = span(oh, g.sh, g.fh, g.pad_top, g.in_h);
        for ow in 0..g.out_w {
            let (w0, w1) = span(ow, g.sw, g.fw, g.pad_left, g.in_w);
            let Some(d) = outs.next() else { return };
            let count = h1.saturating_sub(h0) * w1.saturating_sub(w0);
            if count == 0 {
                continue;
            }
            let inv = 1.0 / count as f32;
            for ih in h0..h1 {
                for iw in w0..w1 {
                    let base = (ih * g.in_w + iw) * c;
                    dx[base..base + c]
                        .iter_mut()
                        .zip(d)
                        .for_each(|(o, &v)| *o += v * inv);
                }
            }
        }
    }
}

/// Checks the sizes of global average pooling; returns `batch * hw * c`.
fn global_sizes(batch: usize, hw: usize, c: usize) -> Result<usize> {
    if hw == 0 || c == 0 {
        return Err(Error::InvalidArgument(format!(
            "global average pool: hw and c must be positive (hw = {hw}, c = {c})"
        )));
    }
    batch
        .checked_mul(hw)
        .and_then(|v| v.checked_mul(c))
        .ok_or_else(|| {
            Error::InvalidArgument("global average pool: batch * hw * c overflows".into())
        })
}

/// Mean of each channel over all `hw` positions. Overwrites y.
/// x: [batch, hw, c]  y: [batch, c]
pub fn global_avg_forward(
    batch: usize,
    hw: usize,
    c: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let x_len = global_sizes(batch, hw, c)?;
    check_len("global average pool x", x.len(), x_len)?;
    check_len("global average pool y", y.len(), batch * c)?;
    let inv = 1.0 / hw as f32;
    par_rows(y, batch, x_len, |b0, y| {
        for (b, yb) in y.chunks_exact_mut(c).enumerate() {
            let xb = &x[(b0 + b) * hw * c..(b0 + b + 1) * hw * c];
            yb.copy_from_slice(&xb[..c]);
            for cell in xb[c..].chunks_exact(c) {
                yb.iter_mut().zip(cell).for_each(|(o, &v)| *o += v);
            }
            yb.iter_mut().for_each(|o| *o *= inv);
        }
    });
    Ok(())
}

/// Global average pooling backward: `dx[b, p, ch] = dy[b, ch] / hw`.
/// Overwrites dx.
/// dy: [batch, c]  dx: [batch, hw, c]
pub fn global_avg_backward(
    batch: usize,
    hw: usize,
    c: usize,
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let x_len = global_sizes(batch, hw, c)?;
    check_len("global average pool dy", dy.len(), batch * c)?;
    check_len("global average pool dx", dx.len(), x_len)?;
    let inv = 1.0 / hw as f32;
    par_rows(dx, batch, x_len, |b0, dx| {
        for (b, dxb) in dx.chunks_exact_mut(hw * c).enumerate() {
            let d = &dy[(b0 + b) * c..(b0 + b + 1) * c];
            for cell in dxb.chunks_exact_mut(c) {
                cell.iter_mut().zip(d).for_each(|(o, &v)| *o = v * inv);
            }
        }
    });
    Ok(())
}
