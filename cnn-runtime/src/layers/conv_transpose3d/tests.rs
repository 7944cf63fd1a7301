//! The transposed 3-D convolution against its loop-by-loop reference
//! (forward with a fused epilogue, every gradient, NaN-filled outputs) and
//! against central differences, on odd sizes, strides, padding, output
//! padding (below the stride, and at or above it under a larger dilation:
//! the widened path), dilation, groups and batches of up to 3.

use super::*;
use crate::geom::Act;
use crate::layers::conv3d::tests::{check_against_reference, Kernels};
use crate::rng::Rng;
use crate::testing::{dot, nan_filled, random};

/// Input `[d, h, w, c_in]`, `c_out`, kernel, stride, padding, output
/// padding, dilation, groups, batch.
#[allow(clippy::too_many_arguments)] // one argument per hyper-parameter
fn case(
    input: [usize; 4],
    c_out: usize,
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    output_padding: [usize; 3],
    dilation: [usize; 3],
    groups: usize,
    batch: usize,
) -> (ConvTranspose3dGeom, usize) {
    let g = ConvTranspose3dGeom::new(
        input,
        c_out,
        kernel,
        stride,
        padding,
        output_padding,
        dilation,
        groups,
    )
    .unwrap();
    (g, batch)
}

fn cases() -> Vec<(ConvTranspose3dGeom, usize)> {
    let mut v = vec![
        // The decoder's doubling: kernel 3, stride 2, padding 1, output padding 1.
        case(
            [3, 4, 5, 3],
            4,
            [3; 3],
            [2; 3],
            [1; 3],
            [1; 3],
            [1; 3],
            1,
            3,
        ),
        case(
            [2, 3, 3, 4],
            6,
            [2; 3],
            [2; 3],
            [0; 3],
            [0; 3],
            [1; 3],
            2,
            2,
        ),
        case(
            [3, 2, 4, 2],
            5,
            [3, 2, 3],
            [2, 3, 1],
            [1, 0, 1],
            [1, 2, 0],
            [1; 3],
            1,
            3,
        ),
        case(
            [2, 3, 3, 6],
            9,
            [3; 3],
            [1; 3],
            [0, 1, 1],
            [0; 3],
            [2, 2, 1],
            3,
            2,
        ),
        case(
            [3, 3, 2, 4],
            4,
            [2, 3, 2],
            [2, 1, 2],
            [0, 1, 1],
            [1, 0, 1],
            [1, 2, 1],
            4,
            3,
        ),
        // Output padding 1 under stride 1, allowed by dilation 2: widened.
        case(
            [3, 4, 3, 2],
            3,
            [3, 2, 2],
            [1, 2, 1],
            [1, 0, 0],
            [1, 1, 1],
            [2, 1, 2],
            1,
            3,
        ),
        // Several chunks and tasks in the convolution underneath.
        case(
            [4, 8, 8, 8],
            8,
            [3; 3],
            [2; 3],
            [1; 3],
            [1; 3],
            [1; 3],
            1,
            3,
        ),
    ];
    let mut r = Rng::new(77);
    while v.len() < 24 {
        let groups = [1, 2, 3][r.below(3)];
        let (cg, og) = (1 + r.below(3), 1 + r.below(3));
        let input = [1 + r.below(4), 1 + r.below(4), 1 + r.below(4), groups * cg];
        let kernel = [1 + r.below(3), 1 + r.below(3), 1 + r.below(3)];
        let stride = [1 + r.below(3), 1 + r.below(3), 1 + r.below(3)];
        let dilation = [1 + r.below(2), 1 + r.below(2), 1 + r.below(2)];
        let padding = [r.below(2), r.below(2), r.below(2)];
        let output_padding = [0, 1, 2].map(|a| r.below(stride[a].max(dilation[a])));
        let Ok(g) = ConvTranspose3dGeom::new(
            input,
            groups * og,
            kernel,
            stride,
            padding,
            output_padding,
            dilation,
            groups,
        ) else {
            continue;
        };
        v.push((g, 1 + r.below(3)));
    }
    v
}

/// The transposed kernels against their reference, by the checker the
/// convolution's tests use.
const KERNELS: Kernels<ConvTranspose3dGeom> = Kernels {
    lens: |g| [g.in_len(), g.out_len(), g.weight_len(), g.c_out],
    forward,
    reference_forward: reference::forward,
    backward,
    reference_backward: reference::backward,
    backward_input,
};

fn check(g: &ConvTranspose3dGeom, batch: usize, seed: u64) {
    check_against_reference(&KERNELS, g, batch, seed);
}

#[test]
fn matches_the_reference() {
    let all = cases();
    assert!(all.iter().any(|(g, _)| !g.is_exact()), "no widened case");
    for (i, (g, batch)) in all.iter().enumerate() {
        check(g, *batch, 100 * i as u64);
    }
}

/// Central differences of `loss = sum(y * r)` for the input, the weights
/// and the bias.
#[test]
fn gradients_match_central_differences() {
    for (i, &(g, batch)) in cases().iter().take(6).enumerate() {
        let seed = 5000 + i as u64;
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
fn wrong_lengths_and_geometries_are_errors() {
    let (g, batch) = case(
        [2, 3, 3, 2],
        4,
        [3; 3],
        [2; 3],
        [1; 3],
        [1; 3],
        [1; 3],
        2,
        2,
    );
    let x = vec![0.0; batch * g.in_len()];
    let w = vec![0.0; g.weight_len()];
    let mut y = vec![0.0; batch * g.out_len()];
    let err = forward(&g, batch, &x[1..], &w, &Epilogue::NONE, &mut y).unwrap_err();
    assert!(
        err.to_string().contains("conv_transpose3d forward: x"),
        "{err}"
    );
    assert!(forward(&g, 0, &[], &w, &Epilogue::NONE, &mut []).is_err());
    let bad = ConvTranspose3dGeom {
        out_w: g.out_w + 1,
        ..g
    };
    assert!(forward(&bad, batch, &x, &w, &Epilogue::NONE, &mut y).is_err());
    let mut dx = vec![0.0; x.len()];
    assert!(backward_input(&g, batch, &w, &y[1..], &mut dx).is_err());
}
