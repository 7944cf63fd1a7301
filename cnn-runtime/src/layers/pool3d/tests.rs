//! 3-D pooling against its reference (NaN-filled outputs, odd sizes,
//! strides, padding, windows of padding only, batch 3) and against central
//! differences.

use super::*;
use crate::geom::Padding;
use crate::rng::Rng;
use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

fn geoms() -> Vec<Pool3dGeom> {
    let p = Padding::Explicit;
    let mut v = vec![
        Pool3dGeom::new([4, 6, 6, 3], [2; 3], [2; 3], [p(0); 3]).unwrap(),
        Pool3dGeom::new([5, 7, 6, 2], [3; 3], [2; 3], [p(1); 3]).unwrap(),
        Pool3dGeom::new([3, 5, 7, 4], [1, 3, 2], [1, 2, 2], [p(0), p(1), p(1)]).unwrap(),
        Pool3dGeom::new([5, 5, 5, 1], [2; 3], [2; 3], [Padding::Same; 3]).unwrap(),
        // Windows of padding only at the corners.
        Pool3dGeom::new([2, 2, 2, 2], [2; 3], [3; 3], [p(2); 3]).unwrap(),
    ];
    let mut r = Rng::new(5);
    while v.len() < 20 {
        let input = [
            1 + r.below(6),
            1 + r.below(6),
            1 + r.below(6),
            1 + r.below(4),
        ];
        let size = [1 + r.below(3), 1 + r.below(3), 1 + r.below(3)];
        let stride = [1 + r.below(3), 1 + r.below(3), 1 + r.below(3)];
        let pad = [r.below(2), r.below(2), r.below(2)].map(p);
        if let Ok(g) = Pool3dGeom::new(input, size, stride, pad) {
            v.push(g);
        }
    }
    v
}

#[test]
fn forward_matches_the_reference() {
    for (i, g) in geoms().iter().enumerate() {
        let batch = 1 + i % 3;
        let x = random(batch * g.in_len(), i as u64);
        let (want, want_arg) = reference::max_forward(g, batch, &x);
        let (mut y, mut arg) = (nan_filled(want.len()), vec![7; want.len()]);
        max_forward(g, batch, &x, &mut y, &mut arg).unwrap();
        assert_eq!(y, want, "{g:?}");
        assert_eq!(arg, want_arg, "{g:?}");
        let want = reference::avg_forward(g, batch, &x);
        let mut y = nan_filled(want.len());
        avg_forward(g, batch, &x, &mut y).unwrap();
        assert_close(&y, &want, 1e-5, 1e-6);
    }
}

/// The vector channel loops (16 lanes and a masked tail, 8 lanes and a
/// plain tail) under every instruction set the CPU runs, on values with
/// many ties, where the first of equals must keep the index.
#[test]
fn max_forward_matches_the_reference_on_every_isa() {
    let p = Padding::Explicit;
    let geoms = [
        Pool3dGeom::new([4, 6, 6, 16], [2; 3], [2; 3], [p(0); 3]).unwrap(),
        Pool3dGeom::new([3, 5, 7, 19], [3, 2, 3], [2, 1, 2], [p(1), p(0), p(1)]).unwrap(),
        Pool3dGeom::new([2, 4, 3, 9], [2; 3], [2; 3], [Padding::Same; 3]).unwrap(),
        Pool3dGeom::new([2, 2, 2, 33], [2; 3], [3; 3], [p(2); 3]).unwrap(),
    ];
    for isa in crate::isa::Isa::supported_here() {
        for (i, g) in geoms.iter().enumerate() {
            let batch = 1 + i % 3;
            // Four levels: most windows hold equal values.
            let x: Vec<f32> = random(batch * g.in_len(), 40 + i as u64)
                .iter()
                .map(|v| (v * 2.0).round())
                .collect();
            let (want, want_arg) = reference::max_forward(g, batch, &x);
            let (mut y, mut arg) = (nan_filled(want.len()), vec![7; want.len()]);
            crate::isa::scoped(isa, || max_forward(g, batch, &x, &mut y, &mut arg))
                .unwrap()
                .unwrap();
            assert_eq!(y, want, "{isa:?} {g:?}");
            assert_eq!(arg, want_arg, "{isa:?} {g:?}");
        }
    }
}

#[test]
fn gradients_match_central_differences() {
    for (i, g) in geoms().iter().enumerate().take(10) {
        let batch = 1 + i % 3;
        let seed = 100 + i as u64;
        let mut x = random(batch * g.in_len(), seed);
        let r = random(batch * g.out_len(), seed + 1);
        // Max: the winners stay the winners under a small step.
        let (_, arg) = reference::max_forward(g, batch, &x);
        let mut dx = nan_filled(x.len());
        max_backward(g, batch, &r, &arg, &mut dx).unwrap();
        gradcheck(&mut x, &dx, 1e-4, 1e-2, None, |x| {
            dot(&reference::max_forward(g, batch, x).0, &r)
        });
        let mut dx = nan_filled(x.len());
        avg_backward(g, batch, &r, &mut dx).unwrap();
        gradcheck(&mut x, &dx, 1e-3, 1e-2, None, |x| {
            dot(&reference::avg_forward(g, batch, x), &r)
        });
    }
}

#[test]
fn wrong_lengths_and_argmax_are_errors() {
    let g = geoms()[0];
    let mut dx = vec![0.0; g.in_len()];
    let dy = vec![0.0; g.out_len()];
    let bad = vec![g.in_len() as u32; g.out_len()];
    assert!(max_backward(&g, 1, &dy, &bad, &mut dx).is_err());
    assert!(avg_forward(&g, 1, &dx[1..], &mut vec![0.0; g.out_len()]).is_err());
}
