//! The slow, obviously correct 3-D convolution: loops over every output
//! voxel, channel and tap with f64 accumulation, and the gradients by the
//! chain rule written out loop by loop. Test oracle only; it panics on
//! wrong lengths instead of returning errors.

use crate::geom::Act;
use crate::geom3d::Conv3dGeom;
use crate::layers::conv2d::Epilogue;

/// The input voxel tap `(kz, ky, kx)` of output `(oz, oy, ox)` reads, or
/// `None` when it falls in the padding.
fn input_at(g: &Conv3dGeom, o: [usize; 3], t: [usize; 3]) -> Option<[usize; 3]> {
    let one = |o: usize, s: usize, t: usize, d: usize, pad: usize, n: usize| {
        (o * s + t * d).checked_sub(pad).filter(|&i| i < n)
    };
    Some([
        one(o[0], g.sd, t[0], g.dd, g.pad_front, g.in_d)?,
        one(o[1], g.sh, t[1], g.dh, g.pad_top, g.in_h)?,
        one(o[2], g.sw, t[2], g.dw, g.pad_left, g.in_w)?,
    ])
}

/// Every `(output index, input index, weight index)` product of the
/// convolution of `batch` volumes, in loop order.
fn products(g: &Conv3dGeom, batch: usize, mut f: impl FnMut(usize, usize, usize)) {
    let (cg, og) = (g.c_in / g.groups, g.c_out / g.groups);
    for n in 0..batch {
        for oz in 0..g.out_d {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let yi = (((n * g.out_d + oz) * g.out_h + oy) * g.out_w + ox) * g.c_out;
                    for co in 0..g.c_out {
                        let group = co / og;
                        for kz in 0..g.fd {
                            for ky in 0..g.fh {
                                for kx in 0..g.fw {
                                    let Some([iz, iy, ix]) =
                                        input_at(g, [oz, oy, ox], [kz, ky, kx])
                                    else {
                                        continue;
                                    };
                                    for ci in 0..cg {
                                        let xi = (((n * g.in_d + iz) * g.in_h + iy) * g.in_w + ix)
                                            * g.c_in
                                            + group * cg
                                            + ci;
                                        let wi = (((kz * g.fh + ky) * g.fw + kx) * cg + ci)
                                            * g.c_out
                                            + co;
                                        f(yi + co, xi, wi);
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

fn act(a: Act, v: f64) -> f64 {
    crate::layers::conv2d::reference::act(a, v)
}

/// `y = act((conv3d(x, w) + bias) * scale + shift)`. Overwrites `y`.
/// x: [batch, in_d, in_h, in_w, c_in]  w: [fd, fh, fw, c_in / groups, c_out]  y: [batch, out_d, out_h, out_w, c_out]
pub fn forward(g: &Conv3dGeom, batch: usize, x: &[f32], w: &[f32], ep: &Epilogue, y: &mut [f32]) {
    assert_eq!(x.len(), batch * g.in_len(), "x");
    assert_eq!(w.len(), g.weight_len(), "w");
    assert_eq!(y.len(), batch * g.out_len(), "y");
    let mut acc = vec![0f64; y.len()];
    products(g, batch, |yi, xi, wi| {
        acc[yi] += x[xi] as f64 * w[wi] as f64
    });
    for (i, (out, &a)) in y.iter_mut().zip(&acc).enumerate() {
        let co = i % g.c_out;
        let mut v = a + ep.bias.map_or(0.0, |b| b[co] as f64);
        if let Some((scale, shift)) = ep.affine {
            v = v * scale[co] as f64 + shift[co] as f64;
        }
        *out = act(ep.act, v) as f32;
    }
}

/// Gradients of the plain convolution given `dy`. Overwrites `dx` when
/// given; adds into `dw` and `db`.
#[allow(clippy::too_many_arguments)] // the kernel's own signature
pub fn backward(
    g: &Conv3dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    assert_eq!(x.len(), batch * g.in_len(), "x");
    assert_eq!(w.len(), g.weight_len(), "w");
    assert_eq!(dy.len(), batch * g.out_len(), "dy");
    assert_eq!(dw.len(), w.len(), "dw");
    let mut gx = vec![0f64; x.len()];
    let mut gw = vec![0f64; w.len()];
    products(g, batch, |yi, xi, wi| {
        let d = dy[yi] as f64;
        gx[xi] += d * w[wi] as f64;
        gw[wi] += d * x[xi] as f64;
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
