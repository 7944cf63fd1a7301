//! The slow, obviously correct transposed convolution: PyTorch's
//! definition as nested loops with f64 accumulation (every input pixel
//! spreads its kernel over the output, taps `dh`, `dw` apart, from row
//! `iy * sh - pad_top`), and its gradients by the chain rule written out
//! loop by loop. Test oracle only; it panics on wrong lengths.

use crate::geom::ConvTranspose2dGeom;
use crate::layers::conv2d::Epilogue;

/// The output index tap `(ky, kx)` of input pixel `(iy, ix)` lands on, or
/// `None` where it falls in the cut padding.
fn output_at(
    g: &ConvTranspose2dGeom,
    iy: usize,
    ix: usize,
    ky: usize,
    kx: usize,
) -> Option<(usize, usize)> {
    let oy = (iy * g.sh + ky * g.dh).checked_sub(g.pad_top)?;
    let ox = (ix * g.sw + kx * g.dw).checked_sub(g.pad_left)?;
    (oy < g.out_h && ox < g.out_w).then_some((oy, ox))
}

/// Visits every (input element, weight element, output element) triple
/// that the transposed convolution multiplies: `f(xi, wi, yi)`.
fn for_each_product(
    g: &ConvTranspose2dGeom,
    groups: usize,
    batch: usize,
    mut f: impl FnMut(usize, usize, usize),
) {
    let (cg, og) = (g.c_in / groups, g.c_out / groups);
    for n in 0..batch {
        for iy in 0..g.in_h {
            for ix in 0..g.in_w {
                for ky in 0..g.fh {
                    for kx in 0..g.fw {
                        let Some((oy, ox)) = output_at(g, iy, ix, ky, kx) else {
                            continue;
                        };
                        for ci in 0..g.c_in {
                            let group = ci / cg;
                            for j in 0..og {
                                let co = group * og + j;
                                let xi = ((n * g.in_h + iy) * g.in_w + ix) * g.c_in + ci;
                                let wi = ((ky * g.fw + kx) * og + j) * g.c_in + ci;
                                let yi = ((n * g.out_h + oy) * g.out_w + ox) * g.c_out + co;
                                f(xi, wi, yi);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `y = act((conv_transpose(x, w) + bias) * scale + shift)`. Overwrites `y`.
/// x: [batch, in_h, in_w, c_in]  w: [fh, fw, c_out / groups, c_in]  y: [batch, out_h, out_w, c_out]
pub fn forward(
    g: &ConvTranspose2dGeom,
    groups: usize,
    batch: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) {
    let og = g.c_out / groups;
    assert_eq!(x.len(), batch * g.in_len(), "x");
    assert_eq!(w.len(), g.fh * g.fw * og * g.c_in, "w");
    assert_eq!(y.len(), batch * g.out_len(), "y");
    let mut acc = vec![0f64; y.len()];
    for_each_product(g, groups, batch, |xi, wi, yi| {
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
#[allow(clippy::too_many_arguments)] // a convolution's backward: inputs, gradients, geometry
pub fn backward(
    g: &ConvTranspose2dGeom,
    groups: usize,
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
    for_each_product(g, groups, batch, |xi, wi, yi| {
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
