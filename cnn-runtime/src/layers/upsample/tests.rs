//! Upsampling against its reference (odd sizes, unequal factors, height-1
//! sequences, batch 3, NaN-filled outputs), PyTorch's documented example,
//! central differences, and its errors.

use super::*;
use crate::rng::Rng;
use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

fn geom(
    in_h: usize,
    in_w: usize,
    c: usize,
    sh: usize,
    sw: usize,
    mode: Interpolation,
) -> UpsampleGeom {
    UpsampleGeom {
        in_h,
        in_w,
        c,
        sh,
        sw,
        mode,
    }
}

fn cases() -> Vec<(UpsampleGeom, usize)> {
    let mut v = Vec::new();
    for mode in [Interpolation::Nearest, Interpolation::Bilinear] {
        v.extend([
            (geom(3, 5, 2, 2, 2, mode), 3),
            (geom(4, 3, 3, 3, 2, mode), 2),
            (geom(1, 7, 4, 1, 2, mode), 3),
            (geom(1, 1, 1, 2, 3, mode), 1),
            (geom(5, 4, 1, 1, 1, mode), 2),
            (geom(2, 6, 5, 4, 1, mode), 3),
            (geom(33, 31, 8, 2, 2, mode), 2),
        ]);
    }
    v
}

// PyTorch's Upsample docs: input [[1, 2], [3, 4]] upsampled by 2 gives,
// nearest, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]] and,
// bilinear with align_corners=False, first row [1.0, 1.25, 1.75, 2.0],
// second row [1.5, 1.75, 2.25, 2.5].
#[test]
fn matches_pytorchs_documented_example() {
    let x = [1.0, 2.0, 3.0, 4.0];
    let mut y = nan_filled(16);
    forward(&geom(2, 2, 1, 2, 2, Interpolation::Nearest), 1, &x, &mut y).unwrap();
    let nearest = [
        1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.,
    ];
    assert_eq!(y, nearest);
    forward(&geom(2, 2, 1, 2, 2, Interpolation::Bilinear), 1, &x, &mut y).unwrap();
    assert_close(
        &y[..8],
        &[1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5],
        1e-6,
        1e-6,
    );
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

/// Central differences of `loss = sum(y * r)` with respect to x, in
/// every case: at every element of the small ones, at 300 random elements
/// of the two 33x31x8 ones (16,368 elements, each two whole forward
/// passes: seconds per instruction set; `matches_the_reference` compares
/// all of their dx).
#[test]
fn gradients_match_central_differences() {
    for (i, (g, batch)) in cases().into_iter().enumerate() {
        let mut x = random(batch * g.in_len(), 100 + i as u64);
        let r = random(batch * g.out_len(), 200 + i as u64);
        let mut dx = nan_filled(x.len());
        backward(&g, batch, &r, &mut dx).unwrap();
        let mut rng = Rng::new(300 + i as u64);
        let sample: Vec<usize> = (0..300).map(|_| rng.below(x.len())).collect();
        let indices = (x.len() > 2000).then_some(&sample[..]);
        gradcheck(&mut x, &dx, 1e-3, 1e-2, indices, |x| {
            let mut y = vec![0.0; r.len()];
            forward(&g, batch, x, &mut y).unwrap();
            dot(&y, &r)
        });
    }
}

#[test]
fn wrong_lengths_and_zero_sizes_are_errors() {
    let g = geom(3, 4, 2, 2, 2, Interpolation::Bilinear);
    let x = vec![0.0; 2 * g.in_len()];
    let mut y = vec![0.0; 2 * g.out_len()];
    assert!(forward(&g, 2, &x[1..], &mut y).is_err());
    assert!(forward(&g, 2, &x, &mut y[1..]).is_err());
    assert!(forward(&g, 0, &x, &mut y).is_err());
    let zero = UpsampleGeom { sh: 0, ..g };
    let err = forward(&zero, 2, &x, &mut y).unwrap_err().to_string();
    assert!(err.contains("sh must be positive"), "{err}");
    let mut dx = vec![0.0; x.len()];
    assert!(backward(&g, 2, &y[1..], &mut dx).is_err());
    assert!(backward(&g, 2, &y, &mut dx[1..]).is_err());
}
