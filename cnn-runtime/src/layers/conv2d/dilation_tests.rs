//! Dilated convolutions (kernel taps `dh`, `dw` apart): the dispatchers
//! send them to the im2col paths, which agree with the references for
//! dense, `Conv1d`-shaped, grouped and depthwise layers, forward and every
//! gradient; central differences check the gradients; a kernel that knows
//! no dilation refuses one in debug builds.

use super::paths::{candidates, dx_candidates, fixed_rule, DxPath, Kernel};
use super::reference;
use super::split::{backward_path, forward_path};
use super::*;
use crate::geom::{axis_dilated, Padding};
use crate::isa::Isa;
use crate::rng::Rng;
use crate::testing::{assert_close, nan_filled, random};

/// One test shape: the geometry, its groups and a batch.
#[derive(Clone, Copy, Debug)]
struct Case {
    g: Conv2dGeom,
    groups: usize,
    batch: usize,
}

/// A 2-D case: input `[h, w, c_in]`, `c_out`, groups, kernel, stride,
/// dilation, padding, batch.
#[allow(clippy::too_many_arguments)] // one argument per hyper-parameter
fn image(
    input: [usize; 3],
    c_out: usize,
    groups: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: Padding,
    batch: usize,
) -> Case {
    let g = Conv2dGeom::dilated(input, c_out, kernel, stride, dilation, padding).unwrap();
    Case { g, groups, batch }
}

/// A `Conv1d` case as the macro builds it: a height-1 image, the window
/// `1 x f`, padded and dilated along the length only.
fn sequence(
    [l, c_in]: [usize; 2],
    c_out: usize,
    f: usize,
    s: usize,
    d: usize,
    padding: Padding,
    batch: usize,
) -> Case {
    let (out_w, pad_left) = axis_dilated(l, f, s, d, padding).unwrap();
    let g = Conv2dGeom {
        in_h: 1,
        in_w: l,
        c_in,
        out_h: 1,
        out_w,
        c_out,
        fh: 1,
        fw: f,
        sh: 1,
        sw: s,
        pad_top: 0,
        pad_left,
        dh: 1,
        dw: d,
    };
    Case {
        g,
        groups: 1,
        batch,
    }
}

/// Dilation 2 and 3, unequal per axis, with `same` (odd total padding),
/// explicit padding, stride 2, windows reaching wholly into the padding;
/// dense, grouped (2 and 4 channels per group: the direct kernel's and the
/// micro-kernel's shapes when undilated), depthwise with multiplier 1 and 2,
/// sequences; shapes large enough for several tasks.
fn cases() -> Vec<Case> {
    let mut v = vec![
        image([9, 9, 3], 5, 1, [3, 3], [1, 1], [2, 2], Padding::Same, 3),
        image(
            [10, 8, 2],
            4,
            1,
            [3, 2],
            [2, 1],
            [2, 3],
            Padding::Explicit(1),
            2,
        ),
        image([7, 11, 4], 7, 1, [2, 3], [1, 2], [3, 2], Padding::Same, 1),
        image(
            [6, 6, 2],
            3,
            1,
            [3, 3],
            [1, 1],
            [3, 3],
            Padding::Explicit(3),
            2,
        ),
        image([32, 32, 8], 16, 1, [3, 3], [1, 1], [2, 2], Padding::Same, 3),
        image([9, 8, 8], 8, 4, [3, 3], [1, 1], [2, 2], Padding::Same, 3),
        image([10, 9, 16], 16, 2, [3, 3], [2, 2], [2, 1], Padding::Same, 2),
        image([8, 8, 32], 32, 2, [3, 3], [1, 1], [2, 2], Padding::Same, 2),
        image([9, 9, 6], 6, 6, [3, 3], [1, 1], [2, 2], Padding::Same, 3),
        image(
            [11, 10, 5],
            10,
            5,
            [3, 3],
            [2, 1],
            [3, 2],
            Padding::Explicit(2),
            2,
        ),
        image(
            [12, 12, 16],
            16,
            16,
            [5, 5],
            [1, 1],
            [2, 2],
            Padding::Same,
            1,
        ),
        sequence([20, 3], 4, 3, 1, 2, Padding::Same, 3),
        sequence([17, 2], 5, 4, 2, 3, Padding::Explicit(2), 2),
        sequence([9, 4], 3, 2, 1, 8, Padding::Valid, 2),
    ];
    // Random ones: sizes 1-12, kernels 1-4, strides 1-2, dilations 1-3.
    let mut r = Rng::new(24);
    while v.len() < 40 {
        let groups = [1, 2, 3][r.below(3)];
        let (cg, og) = (1 + r.below(3), 1 + r.below(3));
        let padding = match r.below(3) {
            0 => Padding::Valid,
            1 => Padding::Same,
            _ => Padding::Explicit(r.below(3)),
        };
        let input = [1 + r.below(12), 1 + r.below(12), groups * cg];
        let kernel = [1 + r.below(4), 1 + r.below(4)];
        let stride = [1 + r.below(2), 1 + r.below(2)];
        let dilation = [1 + r.below(3), 1 + r.below(3)];
        let Ok(g) = Conv2dGeom::dilated(input, groups * og, kernel, stride, dilation, padding)
        else {
            continue;
        };
        if g.is_dilated() {
            v.push(Case {
                g,
                groups,
                batch: 1 + r.below(3),
            });
        }
    }
    v
}

#[test]
fn dilated_convolutions_take_the_im2col_paths() {
    for c in cases() {
        let g = c.g;
        assert!(g.is_dilated(), "{g:?}");
        let gr = group_sizes(&g, c.groups).unwrap();
        assert_eq!(
            candidates(&g, &gr).as_slice(),
            [("gemm", Kernel::Gemm)],
            "{g:?}"
        );
        assert_eq!(
            dx_candidates(&g, &gr).as_slice(),
            [("gemm", DxPath::Gemm)],
            "{g:?}"
        );
        assert_eq!(fixed_rule(&g, &gr), Kernel::Gemm, "{g:?}");
    }
    // A dilation along an axis of one tap changes nothing, so such a layer
    // keeps the fast kernels (the same choice as without the dilation).
    let g = Conv2dGeom::dilated([8, 8, 4], 4, [1, 3], [1, 1], [4, 1], Padding::Same).unwrap();
    let plain = Conv2dGeom { dh: 1, ..g };
    let gr = Groups::one(&g);
    assert!(!g.is_dilated());
    assert_eq!(
        candidates(&g, &gr).as_slice(),
        candidates(&plain, &gr).as_slice()
    );
    assert_eq!(
        dx_candidates(&g, &gr).as_slice(),
        dx_candidates(&plain, &gr).as_slice()
    );
}

fn check(c: &Case, seed: u64) {
    let (g, groups, batch) = (c.g, c.groups, c.batch);
    let (gr, sz) = sizes(&g, groups, batch).unwrap();
    let x = random(batch * g.in_len(), seed);
    let w = random(gr.w, seed + 1);
    let b = random(g.c_out, seed + 2);
    let dy = random(batch * g.out_len(), seed + 3);
    let ep = Epilogue::new(Some(&b), Act::Relu);

    let mut want = vec![0.0; dy.len()];
    reference::forward(&g, groups, batch, &x, &w, &ep, &mut want);
    // The dispatcher, then the path that runs a dilated layer.
    let mut y = nan_filled(dy.len());
    forward(&g, groups, batch, &x, &w, &ep, &mut y).unwrap();
    assert_close(&y, &want, 1e-4, 1e-5);
    let mut y = nan_filled(dy.len());
    forward_path(Kernel::Gemm, &g, &gr, sz, &x, &w, &ep, &mut y);
    assert_close(&y, &want, 1e-4, 1e-5);

    let dw0 = random(gr.w, seed + 4);
    let (mut want_dx, mut want_dw, mut want_db) = (vec![0.0; x.len()], dw0.clone(), b.clone());
    reference::backward(
        &g,
        groups,
        batch,
        &x,
        &w,
        &dy,
        Some(&mut want_dx),
        &mut want_dw,
        Some(&mut want_db),
    );
    for run in 0..2 {
        let (mut dx, mut dw, mut db) = (nan_filled(x.len()), dw0.clone(), b.clone());
        if run == 0 {
            backward(
                &g,
                groups,
                batch,
                &x,
                &w,
                &dy,
                Some(&mut dx),
                &mut dw,
                Some(&mut db),
            )
            .unwrap();
        } else {
            backward_path(
                Kernel::Gemm,
                DxPath::Gemm,
                &g,
                &gr,
                batch,
                &x,
                &w,
                &dy,
                Some(&mut dx),
                Some(&mut dw),
                Some(&mut db),
            );
        }
        assert_close(&dx, &want_dx, 1e-4, 1e-4);
        assert_close(&dw, &want_dw, 1e-4, 1e-4);
        assert_close(&db, &want_db, 1e-4, 1e-4);
    }
    // The input gradient alone (a frozen layer).
    let mut dx = nan_filled(x.len());
    backward_input(&g, groups, batch, &w, &dy, &mut dx).unwrap();
    assert_close(&dx, &want_dx, 1e-4, 1e-4);
}

#[test]
fn dilated_forward_and_backward_match_reference() {
    for (i, c) in cases().iter().enumerate() {
        check(c, 50 * i as u64);
    }
}

/// Central differences of `loss = sum(y * r)` with respect to x, w and b.
fn gradcheck_case(c: &Case, seed: u64) {
    super::tests::gradcheck_geometry(&c.g, c.groups, c.batch, seed);
}

#[test]
fn dilated_gradients_match_central_differences() {
    let cases = cases();
    // Dense, dense with unequal dilations, grouped, depthwise (multipliers
    // 1 and 2), and two sequences.
    for i in [0, 1, 5, 8, 9, 11, 12] {
        gradcheck_case(&cases[i], 7000 + i as u64);
    }
}

/// A kernel that reads adjacent taps must not run a dilated layer: in a
/// debug build it stops on the first call, in several groups (the direct
/// kernel and the micro-kernel) and in one (the micro-kernel).
#[cfg(debug_assertions)]
#[test]
fn kernels_without_dilation_refuse_a_dilated_layer() {
    let mut kernels = vec![(cases()[8], Kernel::Direct(Isa::Portable))];
    if microkernel::available() {
        kernels.push((cases()[8], Kernel::Implicit));
        kernels.push((cases()[0], Kernel::Implicit));
    }
    for (c, kernel) in kernels {
        let (g, batch) = (c.g, c.batch);
        let (gr, sz) = sizes(&g, c.groups, batch).unwrap();
        let x = vec![0.0; batch * g.in_len()];
        let w = vec![0.0; gr.w];
        let refused = std::panic::catch_unwind(|| {
            let mut y = vec![0.0; batch * g.out_len()];
            forward_path(kernel, &g, &gr, sz, &x, &w, &Epilogue::NONE, &mut y);
        });
        assert!(
            refused.is_err(),
            "{kernel:?} ran a dilated layer in {} groups",
            c.groups
        );
    }
}
