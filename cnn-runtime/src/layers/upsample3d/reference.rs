//! The slow, obviously correct volume upsampling: PyTorch's definitions in
//! `f64` index by index (nearest: input `floor(o / s)` on each axis;
//! trilinear, `align_corners=False`: source `max((o + 0.5) / s - 0.5, 0)`
//! and its two neighbours on each axis, the last one repeated at the
//! border), and the input gradient as the scatter of each output's
//! weights. Test oracle only; it panics on wrong lengths.

use crate::geom::Interpolation;
use crate::geom3d_grow::Upsample3dGeom;

/// The inputs and weights output `o` reads along an axis.
fn axis(mode: Interpolation, o: usize, s: usize, n: usize) -> [(usize, f64); 2] {
    match mode {
        Interpolation::Nearest => [(o / s, 1.0), (o / s, 0.0)],
        Interpolation::Bilinear => {
            let src = ((o as f64 + 0.5) / s as f64 - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(n - 1);
            let i1 = (i0 + 1).min(n - 1);
            let l1 = src - i0 as f64;
            [(i0, 1.0 - l1), (i1, l1)]
        }
    }
}

/// Visits every (input index, weight, output index) the upsampling sums.
fn for_each_term(g: &Upsample3dGeom, batch: usize, mut f: impl FnMut(usize, f64, usize)) {
    let (od, oh, ow) = (g.out_d(), g.out_h(), g.out_w());
    for n in 0..batch {
        for oz in 0..od {
            for oy in 0..oh {
                for ox in 0..ow {
                    for (iz, wz) in axis(g.mode, oz, g.sd, g.in_d) {
                        for (iy, wy) in axis(g.mode, oy, g.sh, g.in_h) {
                            for (ix, wx) in axis(g.mode, ox, g.sw, g.in_w) {
                                for ch in 0..g.c {
                                    let xi = (((n * g.in_d + iz) * g.in_h + iy) * g.in_w + ix)
                                        * g.c
                                        + ch;
                                    let yi = (((n * od + oz) * oh + oy) * ow + ox) * g.c + ch;
                                    f(xi, wz * wy * wx, yi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `y = upsample(x)`. Overwrites `y`.
pub fn forward(g: &Upsample3dGeom, batch: usize, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), batch * g.in_len(), "x");
    assert_eq!(y.len(), batch * g.out_len(), "y");
    let mut acc = vec![0f64; y.len()];
    for_each_term(g, batch, |xi, w, yi| acc[yi] += w * x[xi] as f64);
    y.iter_mut().zip(&acc).for_each(|(y, &a)| *y = a as f32);
}

/// The input gradient. Overwrites `dx`.
pub fn backward(g: &Upsample3dGeom, batch: usize, dy: &[f32], dx: &mut [f32]) {
    assert_eq!(dx.len(), batch * g.in_len(), "dx");
    assert_eq!(dy.len(), batch * g.out_len(), "dy");
    let mut acc = vec![0f64; dx.len()];
    for_each_term(g, batch, |xi, w, yi| acc[xi] += w * dy[yi] as f64);
    dx.iter_mut().zip(&acc).for_each(|(d, &a)| *d = a as f32);
}
