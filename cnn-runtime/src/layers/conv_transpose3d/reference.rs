//! The slow, obviously correct transposed 3-D convolution: PyTorch's
//! definition as nested loops with f64 accumulation (every input voxel
//! spreads its kernel over the output, taps `dd`, `dh`, `dw` apart, from
//! `(iz sd - pad_front, iy sh - pad_top, ix sw - pad_left)`), and its
//! gradients by the chain rule written out loop by loop. Test oracle only;
//! it panics on wrong lengths.

use crate::geom3d_grow::ConvTranspose3dGeom;
use crate::layers::conv2d::Epilogue;

/// The output index along one axis that tap `k` of input `i` lands on, or
/// `None` where it falls in the cut padding.
fn at(i: usize, k: usize, s: usize, d: usize, p: usize, n_out: usize) -> Option<usize> {
    let o = (i * s + k * d).checked_sub(p)?;
    (o < n_out).then_some(o)
}

/// Visits every (input element, weight element, output element) triple
/// that the transposed convolution multiplies: `f(xi, wi, yi)`.
fn for_each_product(g: &ConvTranspose3dGeom, batch: usize, mut f: impl FnMut(usize, usize, usize)) {
    let (cg, og) = (g.c_in / g.groups, g.c_out / g.groups);
    for n in 0..batch {
        for iz in 0..g.in_d {
            for iy in 0..g.in_h {
                for ix in 0..g.in_w {
                    for kz in 0..g.fd {
                        let Some(oz) = at(iz, kz, g.sd, g.dd, g.pad_front, g.out_d) else {
                            continue;
                        };
                        for ky in 0..g.fh {
                            let Some(oy) = at(iy, ky, g.sh, g.dh, g.pad_top, g.out_h) else {
                                continue;
                            };
                            for kx in 0..g.fw {
                                let Some(ox) = at(ix, kx, g.sw, g.dw, g.pad_left, g.out_w) else {
                                    continue;
                                };
                                for ci in 0..g.c_in {
                                    let group = ci / cg;
                                    for j in 0..og {
                                        let co = group * og + j;
                                        let xi = (((n * g.in_d + iz) * g.in_h + iy) * g.in_w + ix)
                                            * g.c_in
                                            + ci;
                                        let wi =
                                            (((kz * g.fh + ky) * g.fw + kx) * og + j) * g.c_in + ci;
                                        let yi = (((n * g.out_d + oz) * g.out_h + oy) * g.out_w
                                            + ox)
                                            * g.c_out
                                            + co;
                                        f(xi, wi, yi);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `y = act((conv_transpose3d(x, w) + bias) * scale + shift)`. Overwrites `y`.
/// x: [batch, in_d, in_h, in_w, c_in]  w: [fd, fh, fw, c_out / groups, c_in]  y: [batch, out_d, out_h, out_w, c_out]
pub fn forward(
    g: &ConvTranspose3dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) {
    assert_eq!(x.len(), batch * g.in_len(), "x");
    assert_eq!(w.len(), g.weight_len(), "w");
    assert_eq!(y.len(), batch * g.out_len(), "y");
    let mut acc = vec![0f64; y.len()];
    for_each_product(g, batch, |xi, wi, yi| {
        acc[yi] += x[xi] as f64 * w[wi] as f64;
    });
    for (i, (out, &a)) in y.iter_mut().zip(&acc).enumerate() {
        let co = i % g.c_out;
        let mut v = a;
        if let Some(b) = ep.bias {
            v += b[co] as f64;
        }
        if let Some((scale, shift)) = ep.affine {
            v = v * scale[co] as f64 + shift[co] as f64;
        }
        *out = crate::layers::conv2d::reference::act(ep.act, v) as f32;
    }
}

/// Gradients given `dy` (with respect to the output before any
/// activation). Overwrites `dx` when given; adds into `dw` and `db`.
#[allow(clippy::too_many_arguments)] // one slice per tensor, as the kernel's
pub fn backward(
    g: &ConvTranspose3dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    assert_eq!(x.len(), batch * g.in_len(), "x");
    assert_eq!(dy.len(), batch * g.out_len(), "dy");
    assert_eq!(dw.len(), w.len(), "dw");
    let mut gx = vec![0f64; x.len()];
    let mut gw = vec![0f64; w.len()];
    for_each_product(g, batch, |xi, wi, yi| {
        gx[xi] += dy[yi] as f64 * w[wi] as f64;
        gw[wi] += dy[yi] as f64 * x[xi] as f64;
    });
    if let Some(dx) = dx {
        assert_eq!(dx.len(), x.len(), "dx");
        dx.iter_mut().zip(&gx).for_each(|(d, &v)| *d = v as f32);
    }
    dw.iter_mut().zip(&gw).for_each(|(d, &v)| *d += v as f32);
    if let Some(db) = db {
        assert_eq!(db.len(), g.c_out, "db");
        let mut gb = vec![0f64; g.c_out];
        for (i, &d) in dy.iter().enumerate() {
            gb[i % g.c_out] += d as f64;
        }
        db.iter_mut().zip(&gb).for_each(|(d, &v)| *d += v as f32);
    }
}
