//! Volume upsampling against its reference (odd sizes, unequal factors,
//! one-frame volumes, batch 3, NaN-filled outputs), the 2-D kernel on a
//! one-frame volume, central differences, and its errors.

use super::*;
use crate::geom::UpsampleGeom;
use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

#[allow(clippy::too_many_arguments)] // one argument per field
fn geom(
    in_d: usize,
    in_h: usize,
    in_w: usize,
    c: usize,
    [sd, sh, sw]: [usize; 3],
    mode: Interpolation,
) -> Upsample3dGeom {
    Upsample3dGeom {
        in_d,
        in_h,
        in_w,
        c,
        sd,
        sh,
        sw,
        mode,
    }
}

fn cases() -> Vec<(Upsample3dGeom, usize)> {
    let mut v = Vec::new();
    for mode in [Interpolation::Nearest, Interpolation::Bilinear] {
        v.extend([
            (geom(3, 5, 4, 2, [2, 2, 2], mode), 3),
            (geom(2, 4, 3, 3, [3, 1, 2], mode), 2),
            (geom(1, 3, 5, 2, [2, 3, 1], mode), 3),
            (geom(4, 1, 1, 1, [1, 2, 3], mode), 1),
            (geom(2, 2, 2, 4, [1, 1, 1], mode), 2),
            (geom(5, 3, 2, 1, [2, 1, 4], mode), 2),
            (geom(6, 9, 7, 8, [2, 2, 2], mode), 2),
        ]);
    }
    v
}

#[test]
fn matches_the_reference() {
    for (i, (g, batch)) in cases().into_iter().enumerate() {
        let x = random(batch * g.in_len(), i as u64);
        let dy = random(batch * g.out_len(), 50 + i as u64);
        let mut want = vec![0.0; dy.len()];
        reference::forward(&g, batch, &x, &mut want);
        let mut y = nan_filled(dy.len());
        forward(&g, batch, &x, &mut y).unwrap();
        assert_close(&y, &want, 1e-5, 1e-6);
        let mut want_dx = vec![0.0; x.len()];
        reference::backward(&g, batch, &dy, &mut want_dx);
        let mut dx = nan_filled(x.len());
        backward(&g, batch, &dy, &mut dx).unwrap();
        assert_close(&dx, &want_dx, 1e-5, 1e-5);
    }
}

/// A one-frame volume upsampled once along the depth is the image
/// upsampled by the 2-D kernel (to rounding: the 2-D kernel sums its four
/// terms in another order).
#[test]
fn one_frame_is_the_image_kernel() {
    for mode in [Interpolation::Nearest, Interpolation::Bilinear] {
        let g = geom(1, 5, 6, 3, [1, 2, 3], mode);
        let g2 = UpsampleGeom {
            in_h: 5,
            in_w: 6,
            c: 3,
            sh: 2,
            sw: 3,
            mode,
        };
        let x = random(2 * g.in_len(), 9);
        let (mut y, mut y2) = (nan_filled(2 * g.out_len()), nan_filled(2 * g2.out_len()));
        forward(&g, 2, &x, &mut y).unwrap();
        crate::layers::upsample::forward(&g2, 2, &x, &mut y2).unwrap();
        assert_close(&y, &y2, 1e-6, 1e-7);
    }
}

/// Central differences of `loss = sum(y * r)` with respect to x.
#[test]
fn gradients_match_central_differences() {
    for (i, (g, batch)) in cases().into_iter().enumerate() {
        if g.in_len() * batch > 400 {
            continue;
        }
        let mut x = random(batch * g.in_len(), 100 + i as u64);
        let r = random(batch * g.out_len(), 200 + i as u64);
        let mut dx = nan_filled(x.len());
        backward(&g, batch, &r, &mut dx).unwrap();
        gradcheck(&mut x, &dx, 1e-3, 1e-2, None, |x| {
            let mut y = vec![0.0; r.len()];
            forward(&g, batch, x, &mut y).unwrap();
            dot(&y, &r)
        });
    }
}

#[test]
fn wrong_lengths_and_zero_sizes_are_errors() {
    let g = geom(2, 3, 4, 2, [2, 2, 2], Interpolation::Bilinear);
    let x = vec![0.0; 2 * g.in_len()];
    let mut y = vec![0.0; 2 * g.out_len()];
    assert!(forward(&g, 2, &x[1..], &mut y).is_err());
    assert!(forward(&g, 2, &x, &mut y[1..]).is_err());
    assert!(forward(&g, 0, &x, &mut y).is_err());
    let zero = Upsample3dGeom { sd: 0, ..g };
    let err = forward(&zero, 2, &x, &mut y).unwrap_err().to_string();
    assert!(err.contains("sd must be positive"), "{err}");
    let mut dx = vec![0.0; x.len()];
    assert!(backward(&g, 2, &y[1..], &mut dx).is_err());
    assert!(backward(&g, 2, &y, &mut dx[1..]).is_err());
}
