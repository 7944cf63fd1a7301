//! The slow, obviously correct grouped convolution: seven nested loops
//! with f64 accumulation in which output channel `co` sums only over the
//! `cg = c_in / groups` input channels of its group `co / og`, and the
//! gradients by the chain rule written out loop by loop. Depthwise is the
//! case `groups == c_in`. Test oracle only; it panics on wrong lengths
//! instead of returning errors.

use super::reference::{act, input_at};
use super::Epilogue;
use crate::geom::Conv2dGeom;

/// Input channels per group, output channels per group, weight length.
fn split(g: &Conv2dGeom, groups: usize) -> (usize, usize, usize) {
    assert!(
        groups > 0 && g.c_in.is_multiple_of(groups) && g.c_out.is_multiple_of(groups),
        "groups"
    );
    let (cg, og) = (g.c_in / groups, g.c_out / groups);
    (cg, og, g.fh * g.fw * cg * g.c_out)
}

/// `y = act((grouped_conv(x, w) + bias) * scale + shift)`. Overwrites `y`.
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
    let (cg, og, w_len) = split(g, groups);
    assert_eq!(x.len(), batch * g.in_len(), "x");
    assert_eq!(w.len(), w_len, "w");
    assert_eq!(y.len(), batch * g.out_len(), "y");
    for n in 0..batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for co in 0..g.c_out {
                    let group = co / og;
                    let mut acc = 0f64;
                    for ky in 0..g.fh {
                        for kx in 0..g.fw {
                            let Some((iy, ix)) = input_at(g, oy, ox, ky, kx) else {
                                continue;
                            };
                            for ci in 0..cg {
                                let c = group * cg + ci;
                                let xv = x[((n * g.in_h + iy) * g.in_w + ix) * g.c_in + c];
                                let wv = w[((ky * g.fw + kx) * cg + ci) * g.c_out + co];
                                acc += xv as f64 * wv as f64;
                            }
                        }
                    }
                    if let Some(b) = ep.bias {
                        acc += b[co] as f64;
                    }
                    if let Some((scale, shift)) = ep.affine {
                        acc = acc * scale[co] as f64 + shift[co] as f64;
                    }
                    y[((n * g.out_h + oy) * g.out_w + ox) * g.c_out + co] = act(ep.act, acc) as f32;
                }
            }
        }
    }
}

/// Gradients of the plain grouped convolution given `dy` (with respect to
/// its output before any activation). Overwrites `dx` when given; adds
/// into `dw` and `db`.
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
                    let group = co / og;
                    let d = dy[((n * g.out_h + oy) * g.out_w + ox) * g.c_out + co] as f64;
                    gb[co] += d;
                    for ky in 0..g.fh {
                        for kx in 0..g.fw {
                            let Some((iy, ix)) = input_at(g, oy, ox, ky, kx) else {
                                continue;
                            };
                            for ci in 0..cg {
                                let c = group * cg + ci;
                                let xi = ((n * g.in_h + iy) * g.in_w + ix) * g.c_in + c;
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
