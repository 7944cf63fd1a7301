//! The 3-D convolution against its loop-by-loop reference (forward with a
//! fused epilogue, every gradient, NaN-filled outputs) and against central
//! differences, on odd sizes, strides, padding, dilation, groups and
//! batches of up to 3.

use super::*;
use crate::geom::{Act, Padding};
use crate::rng::Rng;
use crate::testing::{assert_close, dot, nan_filled, random};

/// Input `[d, h, w, c_in]`, `c_out`, kernel, stride, padding, dilation,
/// groups, batch.
#[allow(clippy::too_many_arguments)] // one argument per hyper-parameter
fn case(
    input: [usize; 4],
    c_out: usize,
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    dilation: [usize; 3],
    groups: usize,
    batch: usize,
) -> (Conv3dGeom, usize) {
    let g = Conv3dGeom::new(
        input,
        c_out,
        kernel,
        stride,
        padding.map(Padding::Explicit),
        dilation,
        groups,
    )
    .unwrap();
    (g, batch)
}

fn cases() -> Vec<(Conv3dGeom, usize)> {
    let mut v = vec![
        case(
            [5, 7, 6, 3],
            4,
            [3, 3, 3],
            [2, 2, 2],
            [1, 1, 1],
            [1; 3],
            1,
            3,
        ),
        case(
            [4, 5, 5, 2],
            5,
            [3, 3, 3],
            [1, 1, 1],
            [1, 1, 1],
            [1; 3],
            1,
            2,
        ),
        case(
            [3, 6, 7, 4],
            6,
            [2, 3, 1],
            [1, 2, 1],
            [0, 1, 0],
            [1; 3],
            2,
            3,
        ),
        case(
            [7, 7, 5, 3],
            2,
            [3, 2, 3],
            [1, 1, 2],
            [2, 1, 1],
            [2, 3, 1],
            1,
            3,
        ),
        case(
            [5, 5, 5, 4],
            4,
            [3, 3, 3],
            [1, 1, 1],
            [1, 1, 1],
            [1; 3],
            4,
            2,
        ),
        case(
            [1, 9, 9, 1],
            8,
            [1, 3, 3],
            [1, 1, 1],
            [0, 1, 1],
            [1; 3],
            1,
            3,
        ),
        // More rows than one chunk holds: several tasks and chunks.
        case(
            [6, 16, 16, 3],
            16,
            [3, 3, 3],
            [1, 1, 1],
            [1, 1, 1],
            [1; 3],
            1,
            3,
        ),
        // One input channel (the tap-major column matrix) over several
        // chunks whose edges cut lines of 17 output voxels.
        case(
            [6, 16, 17, 1],
            16,
            [3, 3, 3],
            [1, 1, 1],
            [1, 1, 1],
            [1; 3],
            1,
            3,
        ),
        // One channel, strided and dilated along the width.
        case(
            [3, 5, 11, 1],
            4,
            [2, 3, 3],
            [1, 2, 2],
            [1, 1, 2],
            [1, 1, 2],
            1,
            2,
        ),
    ];
    let mut r = Rng::new(33);
    while v.len() < 24 {
        let groups = [1, 2, 3][r.below(3)];
        let (cg, og) = (1 + r.below(3), 1 + r.below(3));
        let input = [1 + r.below(6), 1 + r.below(6), 1 + r.below(6), groups * cg];
        let kernel = [1 + r.below(3), 1 + r.below(3), 1 + r.below(3)];
        let stride = [1 + r.below(3), 1 + r.below(3), 1 + r.below(3)];
        let dilation = [1 + r.below(2), 1 + r.below(2), 1 + r.below(2)];
        let padding = [r.below(2), r.below(2), r.below(2)].map(Padding::Explicit);
        let Ok(g) = Conv3dGeom::new(
            input,
            groups * og,
            kernel,
            stride,
            padding,
            dilation,
            groups,
        ) else {
            continue;
        };
        v.push((g, 1 + r.below(3)));
    }
    v
}

type Forward<G, R> = fn(&G, usize, &[f32], &[f32], &Epilogue, &mut [f32]) -> R;
type Backward<G, R> =
    fn(&G, usize, &[f32], &[f32], &[f32], Option<&mut [f32]>, &mut [f32], Option<&mut [f32]>) -> R;
type BackwardInput<G> = fn(&G, usize, &[f32], &[f32], &mut [f32]) -> Result<()>;

/// A 3-D convolution kind's kernels beside its loop-by-loop reference:
/// `Conv3d`'s and `ConvTranspose3d`'s have the same signatures, so one
/// [`check_against_reference`] tests both.
pub(crate) struct Kernels<G> {
    /// Elements of one input, one output and the weights, and `c_out`.
    pub lens: fn(&G) -> [usize; 4],
    pub forward: Forward<G, Result<()>>,
    pub reference_forward: Forward<G, ()>,
    pub backward: Backward<G, Result<()>>,
    pub reference_backward: Backward<G, ()>,
    pub backward_input: BackwardInput<G>,
}

/// The forward pass under three epilogues, the backward pass with and
/// without input and bias gradients, and the input gradient alone, each
/// against the reference, into NaN-filled outputs (the weight and bias
/// gradients are added into: they start away from zero).
pub(crate) fn check_against_reference<G: std::fmt::Debug>(
    k: &Kernels<G>,
    g: &G,
    batch: usize,
    seed: u64,
) {
    let [in_len, out_len, weight_len, c_out] = (k.lens)(g);
    let x = random(batch * in_len, seed);
    let w = random(weight_len, seed + 1);
    let b = random(c_out, seed + 2);
    let dy = random(batch * out_len, seed + 3);
    let what = format!("{g:?} batch {batch}");
    let (scale, shift) = (random(c_out, seed + 4), random(c_out, seed + 5));
    for ep in [
        Epilogue::new(Some(&b), Act::Relu),
        Epilogue::new(None, Act::Identity),
        Epilogue {
            bias: Some(&b),
            affine: Some((&scale, &shift)),
            act: Act::Tanh,
        },
    ] {
        let mut want = vec![0.0; dy.len()];
        (k.reference_forward)(g, batch, &x, &w, &ep, &mut want);
        let mut y = nan_filled(dy.len());
        (k.forward)(g, batch, &x, &w, &ep, &mut y).expect(&what);
        assert_close(&y, &want, 1e-4, 1e-5);
    }
    let (mut want_dx, mut want_dw, mut want_db) =
        (vec![0.0; x.len()], vec![0.5; w.len()], b.clone());
    (k.reference_backward)(
        g,
        batch,
        &x,
        &w,
        &dy,
        Some(&mut want_dx),
        &mut want_dw,
        Some(&mut want_db),
    );
    let (mut dx, mut dw, mut db) = (nan_filled(x.len()), vec![0.5; w.len()], b.clone());
    (k.backward)(g, batch, &x, &w, &dy, Some(&mut dx), &mut dw, Some(&mut db)).expect(&what);
    assert_close(&dx, &want_dx, 1e-4, 1e-4);
    assert_close(&dw, &want_dw, 1e-4, 1e-4);
    assert_close(&db, &want_db, 1e-4, 1e-4);
    let mut dw = vec![0.5; w.len()];
    (k.backward)(g, batch, &x, &w, &dy, None, &mut dw, None).expect(&what);
    assert_close(&dw, &want_dw, 1e-4, 1e-4);
    let mut dx = nan_filled(x.len());
    (k.backward_input)(g, batch, &w, &dy, &mut dx).expect(&what);
    assert_close(&dx, &want_dx, 1e-4, 1e-4);
}

const KERNELS: Kernels<Conv3dGeom> = Kernels {
    lens: |g| [g.in_len(), g.out_len(), g.weight_len(), g.c_out],
    forward,
    reference_forward: reference::forward,
    backward,
    reference_backward: reference::backward,
    backward_input,
};

fn check(g: &Conv3dGeom, batch: usize, seed: u64) {
    check_against_reference(&KERNELS, g, batch, seed);
}

#[test]
fn matches_the_reference() {
    for (i, (g, batch)) in cases().iter().enumerate() {
        check(g, *batch, 100 * i as u64);
    }
}

/// On one thread and on two, the same bits: the backward's task count
/// depends only on the batch.
#[test]
fn backward_does_not_depend_on_the_thread_count() {
    let (g, batch) = case([4, 6, 6, 3], 5, [3; 3], [1; 3], [1; 3], [1; 3], 1, 3);
    let x = random(batch * g.in_len(), 1);
    let w = random(g.weight_len(), 2);
    let dy = random(batch * g.out_len(), 3);
    let run = |threads: usize| {
        crate::parallel::set_threads(threads);
        let (mut dx, mut dw) = (nan_filled(x.len()), vec![0.0; w.len()]);
        backward(&g, batch, &x, &w, &dy, Some(&mut dx), &mut dw, None).unwrap();
        (dx, dw)
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one, two);
}

#[test]
fn gradients_match_central_differences() {
    for (i, &(g, batch)) in cases().iter().take(7).enumerate() {
        if g.in_len() * batch > 2000 {
            continue;
        }
        let seed = 3000 + i as u64;
        let mut x = random(batch * g.in_len(), seed);
        let mut w = random(g.weight_len(), seed + 1);
        let mut b = random(g.c_out, seed + 2);
        let r = random(batch * g.out_len(), seed + 3);
        let (mut dx, mut dw, mut db) =
            (nan_filled(x.len()), vec![0.0; w.len()], vec![0.0; b.len()]);
        backward(&g, batch, &x, &w, &r, Some(&mut dx), &mut dw, Some(&mut db)).unwrap();
        let loss = |x: &[f32], w: &[f32], b: &[f32]| {
            let mut y = vec![0.0; batch * g.out_len()];
            let ep = Epilogue::new(Some(b), Act::Identity);
            forward(&g, batch, x, w, &ep, &mut y).unwrap();
            dot(&y, &r)
        };
        crate::testing::gradcheck_xwb([&mut x, &mut w, &mut b], [&dx, &dw, &db], 2e-2, seed, loss);
    }
}

#[test]
fn wrong_lengths_are_errors() {
    let (g, batch) = case([3, 4, 4, 2], 3, [3; 3], [1; 3], [1; 3], [1; 3], 1, 2);
    let x = vec![0.0; batch * g.in_len() - 1];
    let w = vec![0.0; g.weight_len()];
    let mut y = vec![0.0; batch * g.out_len()];
    let err = forward(&g, batch, &x, &w, &Epilogue::NONE, &mut y).unwrap_err();
    assert!(err.to_string().contains("conv3d forward: x"), "{err}");
    assert!(forward(&g, 0, &[], &w, &Epilogue::NONE, &mut []).is_err());
}
