//! The slow, obviously correct convolution: the course's definition as
//! seven nested loops with f64 accumulation (kernel taps `dh`, `dw` apart
//! for a dilated one), and its gradients by the chain rule written out
//! loop by loop. In `groups` groups, output channel `co` sums only over the
//! `cg = c_in / groups` input channels of its group `co / og`; one group
//! is the plain convolution and `groups == c_in` a depthwise one. Test
//! oracle only; it panics on wrong lengths instead of returning errors.

use super::Epilogue;
use crate::geom::{Act, Conv2dGeom};

/// Input index of window position `(oy, ox, ky, kx)`, or `None` in padding:
/// tap `(ky, kx)` sits `ky * dh` rows and `kx * dw` columns into the window.
pub(super) fn input_at(
    g: &Conv2dGeom,
    oy: usize,
    ox: usize,
    ky: usize,
    kx: usize,
) -> Option<(usize, usize)> {
    let iy = (oy * g.sh + ky * g.dh).checked_sub(g.pad_top)?;
    let ix = (ox * g.sw + kx * g.dw).checked_sub(g.pad_left)?;
    (iy < g.in_h && ix < g.in_w).then_some((iy, ix))
}

/// Input channels per group, output channels per group, weight length.
fn split(g: &Conv2dGeom, groups: usize) -> (usize, usize, usize) {
    assert!(
        groups > 0 && g.c_in.is_multiple_of(groups) && g.c_out.is_multiple_of(groups),
        "groups"
    );
    let (cg, og) = (g.c_in / groups, g.c_out / groups);
    (cg, og, g.fh * g.fw * cg * g.c_out)
}

pub(crate) fn act(a: Act, v: f64) -> f64 {
    match a {
        Act::Identity => v,
        Act::Relu => {
            if v < 0.0 {
                0.0
            } else {
                v
            }
        }
        Act::LeakyRelu(alpha) => {
            if v < 0.0 {
                alpha as f64 * v
            } else {
                v
            }
        }
        Act::Tanh => v.tanh(),
        Act::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        // The activations' own f64 reference, at f32 precision.
        other => crate::layers::activation::reference::apply(other, v as f32) as f64,
    }
}

/// `y = act((conv(x, w) + bias) * scale + shift)` in `groups` groups.
/// Overwrites `y`.
/// x: [batch, in_h, in_w, c_in]  w: [fh, fw, c_in / groups, c_out]  y: [batch, out_h, out_w, c_out]
pub fn forward(
    g: &Conv2dGeom,
    groups: usize,
    batch: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) {
    epilogue(g, &sums(g, groups, batch, x, w), ep, y);
}

/// The convolution's sums in f64, before the epilogue, as [`forward`]
/// computes them: what the tests that try many epilogues on one
/// convolution compute once.
/// x: [batch, in_h, in_w, c_in]  w: [fh, fw, c_in / groups, c_out]  sums: [batch, out_h, out_w, c_out]
pub fn sums(g: &Conv2dGeom, groups: usize, batch: usize, x: &[f32], w: &[f32]) -> Vec<f64> {
    let (cg, og, w_len) = split(g, groups);
    assert_eq!(x.len(), batch * g.in_len(), "x");
    assert_eq!(w.len(), w_len, "w");
    let mut sums = vec![0f64; batch * g.out_len()];
    for n in 0..batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for co in 0..g.c_out {
                    let c0 = co / og * cg;
                    let mut acc = 0f64;
                    for ky in 0..g.fh {
                        for kx in 0..g.fw {
                            let Some((iy, ix)) = input_at(g, oy, ox, ky, kx) else {
                                continue;
                            };
                            for ci in 0..cg {
                                let xv = x[((n * g.in_h + iy) * g.in_w + ix) * g.c_in + c0 + ci];
                                let wv = w[((ky * g.fw + kx) * cg + ci) * g.c_out + co];
                                acc += xv as f64 * wv as f64;
                            }
                        }
                    }
                    sums[((n * g.out_h + oy) * g.out_w + ox) * g.c_out + co] = acc;
                }
            }
        }
    }
    sums
}

/// `y = act((sums + bias) * scale + shift)` in f64, rounded to f32 at the
/// end. Overwrites `y`.
/// sums, y: [batch, out_h, out_w, c_out]
pub fn epilogue(g: &Conv2dGeom, sums: &[f64], ep: &Epilogue, y: &mut [f32]) {
    assert_eq!(y.len(), sums.len(), "y");
    for (i, (&s, y)) in sums.iter().zip(y).enumerate() {
        let co = i % g.c_out;
        let mut acc = s;
        if let Some(b) = ep.bias {
            acc += b[co] as f64;
        }
        if let Some((scale, shift)) = ep.affine {
            acc = acc * scale[co] as f64 + shift[co] as f64;
        }
        *y = act(ep.act, acc) as f32;
    }
}

/// Gradients of the plain convolution in `groups` groups given `dy` (with
/// respect to its output before any activation). Overwrites `dx` when
/// given; adds into `dw` and `db`.
pub fn backward(
    g: &Conv2dGeom,
    groups: usize,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    let (cg, og, w_len) = split(g, groups);
    assert_eq!(x.len(), batch * g.in_len(), "x");
    assert_eq!(w.len(), w_len, "w");
    assert_eq!(dy.len(), batch * g.out_len(), "dy");
    assert_eq!(dw.len(), w_len, "dw");
    let mut gx = vec![0f64; x.len()];
    let mut gw = vec![0f64; w.len()];
    let mut gb = vec![0f64; g.c_out];
    for n in 0..batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for co in 0..g.c_out {
                    let c0 = co / og * cg;
                    let d = dy[((n * g.out_h + oy) * g.out_w + ox) * g.c_out + co] as f64;
                    gb[co] += d;
                    for ky in 0..g.fh {
                        for kx in 0..g.fw {
                            let Some((iy, ix)) = input_at(g, oy, ox, ky, kx) else {
                                continue;
                            };
                            for ci in 0..cg {
                                let xi = ((n * g.in_h + iy) * g.in_w + ix) * g.c_in + c0 + ci;
                                let wi = ((ky * g.fw + kx) * cg + ci) * g.c_out + co;
                                gx[xi] += d * w[wi] as f64;
                                gw[wi] += d * x[xi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(dx) = dx {
        assert_eq!(dx.len(), x.len(), "dx");
        dx.iter_mut().zip(&gx).for_each(|(d, &v)| *d = v as f32);
    }
    dw.iter_mut().zip(&gw).for_each(|(d, &v)| *d += v as f32);
    if let Some(db) = db {
        assert_eq!(db.len(), g.c_out, "db");
        db.iter_mut().zip(&gb).for_each(|(d, &v)| *d += v as f32);
    }
}
