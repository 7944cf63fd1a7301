//! The fast convolution in any number of groups against the 7-loop
//! reference on fixed and random shapes, on every kernel this CPU runs
//! (each forward kernel, each pairing of weight- and input-gradient
//! algorithms), central-difference gradient checks, and results that do
//! not depend on the thread count. The course's examples, Keras's layouts,
//! the error paths and the choice of kernels are in `api_tests.rs`.

use super::paths::{direct_supported, DxPath, Kernel};
use super::reference;
use super::split::{backward_path, forward_path};
use super::*;
use crate::geom::Padding;
use crate::isa::Isa;
use crate::parallel;
use crate::rng::Rng;
use crate::testing::{assert_close, dot, nan_filled, random};

/// One test shape: input `[h, w, c_in]`, `c_out`, groups, kernel, stride,
/// padding, batch.
pub(super) type Case = (
    [usize; 3],
    usize,
    usize,
    [usize; 2],
    [usize; 2],
    Padding,
    usize,
);

/// One group: odd sizes, stride 2 and 3, padding 1, `same` with an odd
/// total padding, non-square kernels and strides, batch 3 and 1, 1 and 3
/// input channels, `c_out` not a multiple of 8, the 1x1 stride-1 fast path
/// and 1x1 stride 2.
pub(super) const CASES: &[Case] = &[
    ([7, 7, 3], 5, 1, [3, 3], [1, 1], Padding::Explicit(1), 3),
    ([9, 8, 1], 6, 1, [5, 5], [1, 1], Padding::Valid, 3),
    ([9, 9, 3], 7, 1, [3, 3], [2, 2], Padding::Explicit(1), 1),
    ([10, 11, 2], 3, 1, [3, 3], [3, 3], Padding::Valid, 3),
    // n = 6, f = 3, s = 2 under 'same': total padding 1, all of it at the end.
    ([6, 6, 3], 4, 1, [3, 3], [2, 2], Padding::Same, 3),
    // n = 5, f = 2, s = 1 under 'same': total 1, at the bottom/right.
    ([5, 5, 1], 9, 1, [2, 2], [1, 1], Padding::Same, 1),
    ([8, 7, 3], 10, 1, [2, 3], [1, 2], Padding::Same, 3),
    ([7, 9, 2], 11, 1, [3, 1], [2, 1], Padding::Explicit(1), 3),
    ([6, 5, 3], 13, 1, [1, 1], [1, 1], Padding::Valid, 3),
    ([7, 7, 4], 17, 1, [1, 1], [2, 2], Padding::Valid, 3),
    ([5, 6, 3], 3, 1, [1, 1], [1, 1], Padding::Explicit(1), 1),
    ([4, 4, 2], 2, 1, [4, 4], [1, 1], Padding::Valid, 3),
    ([3, 3, 1], 2, 1, [5, 5], [2, 2], Padding::Same, 3),
    // Large enough for several tasks and chunks that cut images.
    ([32, 32, 8], 16, 1, [3, 3], [1, 1], Padding::Same, 3),
    ([28, 28, 16], 24, 1, [1, 1], [1, 1], Padding::Valid, 3),
    ([40, 40, 1], 6, 1, [5, 5], [1, 1], Padding::Valid, 1),
    // More than 64 output and input channels: several column groups.
    ([5, 5, 70], 80, 1, [3, 3], [1, 1], Padding::Same, 1),
    // One image large enough that its rows are split over two tasks.
    ([64, 64, 8], 16, 1, [3, 3], [1, 1], Padding::Same, 1),
    // Depth 450 in runs of 150 on rows of 17: `kblock` cuts the forward
    // product within a window row, two column blocks, the last partial.
    ([18, 17, 50], 70, 1, [3, 3], [1, 1], Padding::Same, 2),
    // A 1x1 product over 126 pixels of depth 300: blocked over depth.
    ([9, 7, 300], 20, 1, [1, 1], [1, 1], Padding::Valid, 2),
    // Weights of 1.15 MB, beyond `implicit_big`'s threshold: the forward
    // blocked over depth and channels, with packed weight panels at AVX2.
    ([6, 5, 200], 160, 1, [3, 3], [1, 1], Padding::Same, 2),
];

/// Several groups: 2, 3, 4 and 16 with 2 to 48 input channels per group;
/// depthwise with multipliers 1, 2 and 3 and channel counts that leave
/// every block size a tail; odd sizes, stride 2, padding 1, `same`,
/// windows wholly in the padding; batch 3 and 1; shapes large enough for
/// several tasks.
pub(super) const GROUP_CASES: &[Case] = &[
    ([7, 7, 4], 6, 2, [3, 3], [1, 1], Padding::Explicit(1), 3),
    ([9, 8, 6], 9, 3, [3, 3], [2, 2], Padding::Same, 3),
    ([8, 9, 8], 8, 4, [3, 3], [1, 1], Padding::Same, 1),
    ([6, 7, 10], 4, 2, [2, 3], [1, 2], Padding::Valid, 3),
    ([7, 6, 12], 12, 3, [1, 1], [1, 1], Padding::Valid, 3),
    ([9, 9, 9], 6, 3, [5, 5], [2, 2], Padding::Explicit(2), 1),
    ([6, 5, 8], 12, 4, [1, 1], [2, 2], Padding::Valid, 3),
    // Every window of the outer ring lies wholly in the padding.
    ([3, 3, 4], 4, 2, [2, 2], [1, 1], Padding::Explicit(3), 2),
    // cg = 16 fills the vectors: the transposed input gradient.
    ([8, 8, 32], 32, 2, [3, 3], [1, 1], Padding::Same, 3),
    // ResNeXt's 4 channels per group; AlexNet's 48 -> 64 per tower.
    ([12, 12, 64], 64, 16, [3, 3], [1, 1], Padding::Same, 3),
    ([9, 9, 96], 128, 2, [5, 5], [1, 1], Padding::Explicit(2), 2),
    ([32, 32, 16], 32, 4, [3, 3], [1, 1], Padding::Same, 3),
    // Depthwise, multiplier 1.
    ([7, 7, 5], 5, 5, [3, 3], [1, 1], Padding::Same, 3),
    ([9, 8, 24], 24, 24, [3, 3], [2, 2], Padding::Same, 3),
    ([6, 6, 37], 37, 37, [3, 3], [1, 1], Padding::Explicit(1), 1),
    ([11, 10, 40], 40, 40, [5, 5], [1, 1], Padding::Same, 2),
    ([8, 9, 16], 16, 16, [3, 2], [2, 1], Padding::Valid, 3),
    ([3, 3, 8], 8, 8, [2, 2], [1, 1], Padding::Explicit(3), 2),
    ([40, 40, 32], 32, 32, [3, 3], [1, 1], Padding::Same, 1),
    // Depthwise, multipliers 2 and 3.
    ([7, 7, 3], 6, 3, [3, 3], [1, 1], Padding::Same, 3),
    ([8, 7, 5], 10, 5, [3, 3], [2, 2], Padding::Explicit(1), 3),
    ([9, 9, 4], 12, 4, [3, 3], [2, 2], Padding::Valid, 1),
    // Small square groups: 8 per group (the micro-kernel) at stride 2;
    // on the direct kernel 4 per group with 12 and 64 channels (a block of
    // 8 and a tail of 4; whole blocks), stride 2, a 5x5 window; 2 per
    // group, all tail.
    ([10, 9, 32], 32, 4, [3, 3], [2, 2], Padding::Same, 3),
    ([8, 8, 48], 48, 6, [3, 3], [1, 1], Padding::Same, 2),
    ([7, 7, 12], 12, 3, [3, 3], [1, 1], Padding::Explicit(1), 3),
    (
        [13, 11, 64],
        64,
        16,
        [3, 3],
        [2, 2],
        Padding::Explicit(1),
        2,
    ),
    ([9, 9, 16], 16, 4, [5, 5], [1, 1], Padding::Same, 1),
    ([9, 8, 6], 6, 3, [3, 3], [1, 1], Padding::Same, 2),
];

/// The small-square-group cases at the end of [`GROUP_CASES`].
pub(super) const SQUARE: std::ops::Range<usize> = 22..28;

pub(super) fn geom(c: &Case) -> Conv2dGeom {
    Conv2dGeom::new(c.0, c.1, c.3, c.4, c.5).unwrap()
}

pub(super) fn groups_of(c: &Case) -> Groups {
    group_sizes(&geom(c), c.2).unwrap()
}

/// Random shapes from a seed: one group of 1-4 input and 1-12 output
/// channels; groups 2-4 with 1-5 input and output channels per group; or
/// depthwise with multiplier 1-3. Sizes 1-12, kernels 1-5, strides 1-3,
/// any padding, batch 1-3.
fn random_cases(count: usize, seed: u64) -> Vec<Case> {
    let mut r = Rng::new(seed);
    let mut out = Vec::new();
    while out.len() < count {
        let (c_in, c_out, groups) = match r.below(3) {
            0 => (1 + r.below(4), 1 + r.below(12), 1),
            1 => {
                let c = 1 + r.below(20);
                (c, c * (1 + r.below(3)), c)
            }
            _ => {
                let groups = 2 + r.below(3);
                (groups * (1 + r.below(5)), groups * (1 + r.below(5)), groups)
            }
        };
        let padding = match r.below(3) {
            0 => Padding::Valid,
            1 => Padding::Same,
            _ => Padding::Explicit(r.below(3)),
        };
        let case = (
            [1 + r.below(12), 1 + r.below(12), c_in],
            c_out,
            groups,
            [1 + r.below(5), 1 + r.below(5)],
            [1 + r.below(3), 1 + r.below(3)],
            padding,
            1 + r.below(3),
        );
        if Conv2dGeom::new(case.0, case.1, case.3, case.4, case.5).is_ok() {
            out.push(case);
        }
    }
    out
}

fn all_cases() -> Vec<Case> {
    let mut v = CASES.to_vec();
    v.extend(GROUP_CASES);
    v.extend(random_cases(100, 11));
    v
}

/// Every forward and weight-gradient kernel this CPU runs on a case:
/// im2col always, the micro-kernel where it runs, the direct one on each
/// instruction set where it applies (the general ones must handle
/// depthwise and small square groups too).
pub(super) fn kernels(gr: &Groups) -> Vec<Kernel> {
    let mut v = vec![Kernel::Gemm];
    if microkernel::available() {
        v.push(Kernel::Implicit);
    }
    if direct_supported(gr) {
        for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
            if isa.supported() {
                v.push(Kernel::Direct(isa));
            }
        }
    }
    v
}

/// Every input-gradient algorithm this CPU runs on a case.
fn dx_paths(g: &Conv2dGeom, gr: &Groups) -> Vec<DxPath> {
    let mut v = vec![DxPath::Gemm];
    if microkernel::available() {
        v.push(DxPath::Scatter);
        if implicit::dx_supported(g) {
            v.push(DxPath::Transposed);
        }
    }
    if direct_supported(gr) {
        v.extend(
            [Isa::Portable, Isa::Avx2, Isa::Avx512]
                .into_iter()
                .filter(|i| i.supported())
                .map(DxPath::Direct),
        );
    }
    v
}

/// Every (weight-gradient, input-gradient) pairing this CPU runs on a
/// case: each pass is chosen on its own (`tune.rs`), so any pairing may run.
fn backward_paths(g: &Conv2dGeom, gr: &Groups) -> Vec<(Kernel, DxPath)> {
    let dx = dx_paths(g, gr);
    kernels(gr)
        .into_iter()
        .flat_map(|k| dx.iter().map(move |&d| (k, d)))
        .collect()
}

/// Absolute tolerance of a sum of `k` products of values in [-1, 1]: f32
/// rounding grows with the number of terms (AlexNet's 1200-term sums
/// cancel to 1e-3 with errors near 1e-5).
fn tolerance(gr: &Groups) -> f32 {
    (2e-7 * gr.k as f32).max(1e-5)
}

fn check_forward(c: &Case, ep: &Epilogue, seed: u64) {
    let (g, gr, batch) = (geom(c), groups_of(c), c.6);
    let x = random(batch * g.in_len(), seed);
    let w = random(gr.w, seed + 1);
    let mut want = vec![0.0; batch * g.out_len()];
    reference::forward(&g, c.2, batch, &x, &w, ep, &mut want);
    check_forward_against(c, ep, &x, &w, &want);
}

/// The fast forward and each kernel of it on `x` and `w` against `want`.
fn check_forward_against(c: &Case, ep: &Epilogue, x: &[f32], w: &[f32], want: &[f32]) {
    let (g, gr, batch) = (geom(c), groups_of(c), c.6);
    let abs = tolerance(&gr);
    let mut y = nan_filled(want.len());
    forward(&g, c.2, batch, x, w, ep, &mut y).unwrap();
    assert_close(&y, want, 1e-4, abs);
    let (_, sz) = sizes(&g, c.2, batch).unwrap();
    for kernel in kernels(&gr) {
        let mut y = nan_filled(want.len());
        forward_path(kernel, &g, &gr, sz, x, w, ep, &mut y);
        assert_close(&y, want, 1e-4, abs);
    }
}

#[test]
fn forward_matches_reference() {
    let b = random(256, 99);
    for (i, c) in all_cases().iter().enumerate() {
        let n = geom(c).c_out;
        check_forward(c, &Epilogue::NONE, i as u64);
        check_forward(c, &Epilogue::new(Some(&b[..n]), Act::Relu), 100 + i as u64);
    }
}

#[test]
fn every_epilogue_matches_reference() {
    let (b, scale, shift) = (random(160, 1), random(160, 2), random(160, 3));
    let acts = [
        Act::Identity,
        Act::Relu,
        Act::LeakyRelu(0.1),
        Act::Tanh,
        Act::Sigmoid,
        Act::Relu6,
        Act::Silu,
        Act::Hardswish,
        Act::Hardsigmoid,
        Act::Gelu,
        Act::GeluTanh,
    ];
    // One group: a general case, the 1x1 stride-1 path, the depth-blocked
    // ones and the big-weights one; then a grouped case, a depthwise one
    // and a depthwise one with multiplier 2. The reference's sums are
    // computed once per case: they were most of this test's time, 44
    // times over.
    let n = CASES.len();
    let cases = [0, 8, n - 3, n - 2, n - 1]
        .map(|i| &CASES[i])
        .into_iter()
        .chain([0, 13, 19].map(|i| &GROUP_CASES[i]));
    for c in cases {
        let (g, gr, batch) = (geom(c), groups_of(c), c.6);
        let x = random(batch * g.in_len(), 5);
        let w = random(gr.w, 6);
        let sums = reference::sums(&g, c.2, batch, &x, &w);
        let n = g.c_out;
        for act in acts {
            for bias in [None, Some(&b[..n])] {
                for affine in [None, Some((&scale[..n], &shift[..n]))] {
                    let ep = Epilogue { bias, affine, act };
                    let mut want = vec![0.0; sums.len()];
                    reference::epilogue(&g, &sums, &ep, &mut want);
                    check_forward_against(c, &ep, &x, &w, &want);
                }
            }
        }
    }
}

fn check_backward(c: &Case, seed: u64, with_dx: bool, with_db: bool) {
    let (g, gr, batch) = (geom(c), groups_of(c), c.6);
    let x = random(batch * g.in_len(), seed);
    let w = random(gr.w, seed + 1);
    let dy = random(batch * g.out_len(), seed + 2);
    let dw0 = random(gr.w, seed + 3);
    let db0 = random(g.c_out, seed + 4);
    let (mut want_dx, mut want_dw, mut want_db) = (vec![0.0; x.len()], dw0.clone(), db0.clone());
    reference::backward(
        &g,
        c.2,
        batch,
        &x,
        &w,
        &dy,
        Some(&mut want_dx),
        &mut want_dw,
        Some(&mut want_db),
    );
    let run = |path: Option<(Kernel, DxPath)>| {
        let (mut dx, mut dw, mut db) = (nan_filled(x.len()), dw0.clone(), db0.clone());
        let dxo = with_dx.then_some(&mut dx[..]);
        let dbo = with_db.then_some(&mut db[..]);
        match path {
            None => backward(&g, c.2, batch, &x, &w, &dy, dxo, &mut dw, dbo).unwrap(),
            Some((k, d)) => {
                backward_path(k, d, &g, &gr, batch, &x, &w, &dy, dxo, Some(&mut dw), dbo)
            }
        }
        let what = format!("{c:?} on {path:?}");
        if with_dx {
            assert_close(&dx, &want_dx, 1e-4, 1e-4);
        } else {
            assert!(dx.iter().all(|v| v.is_nan()), "{what}: dx written");
        }
        assert_close(&dw, &want_dw, 1e-4, 1e-4);
        assert_close(&db, if with_db { &want_db } else { &db0 }, 1e-4, 1e-4);
    };
    run(None);
    for path in backward_paths(&g, &gr) {
        run(Some(path));
    }
    // The input gradient alone (a frozen layer): the same dx, on every path.
    if with_dx {
        let mut dx = nan_filled(x.len());
        backward_input(&g, c.2, batch, &w, &dy, &mut dx).unwrap();
        assert_close(&dx, &want_dx, 1e-4, 1e-4);
        for d in dx_paths(&g, &gr) {
            let mut dx = nan_filled(x.len());
            let k = Kernel::Gemm;
            backward_path(
                k,
                d,
                &g,
                &gr,
                batch,
                &[],
                &w,
                &dy,
                Some(&mut dx),
                None,
                None,
            );
            assert_close(&dx, &want_dx, 1e-4, 1e-4);
        }
    }
}

#[test]
fn backward_matches_reference() {
    for (i, c) in all_cases().iter().enumerate() {
        check_backward(c, 10 * i as u64, true, true);
    }
    // Without dx (a first layer) and without a bias, dense, grouped and
    // depthwise.
    check_backward(&CASES[0], 1, false, true);
    check_backward(&CASES[1], 2, true, false);
    check_backward(&CASES[8], 3, false, false);
    check_backward(&GROUP_CASES[0], 1, false, true);
    check_backward(&GROUP_CASES[12], 2, true, false);
    check_backward(&GROUP_CASES[19], 3, false, false);
}

/// The central-difference check of `backward` on one geometry (dilated or
/// not) in `groups` groups: every bias, and 40 picked elements of the
/// input and weight gradients, of `loss = sum(y * r)`.
pub(super) fn gradcheck_geometry(g: &Conv2dGeom, groups: usize, batch: usize, seed: u64) {
    let gr = group_sizes(g, groups).unwrap();
    let mut x = random(batch * g.in_len(), seed);
    let mut w = random(gr.w, seed + 1);
    let mut b = random(g.c_out, seed + 2);
    let r = random(batch * g.out_len(), seed + 3);
    let (mut dx, mut dw, mut db) = (nan_filled(x.len()), vec![0.0; w.len()], vec![0.0; b.len()]);
    backward(
        g,
        groups,
        batch,
        &x,
        &w,
        &r,
        Some(&mut dx),
        &mut dw,
        Some(&mut db),
    )
    .unwrap();
    let loss = |x: &[f32], w: &[f32], b: &[f32]| {
        let mut y = vec![0.0; batch * g.out_len()];
        let ep = Epilogue::new(Some(b), Act::Identity);
        forward(g, groups, batch, x, w, &ep, &mut y).unwrap();
        dot(&y, &r)
    };
    // The loss is a sum of up to a few hundred f32 products; a step of
    // 1e-3 leaves central differences good to about 1e-3 relative.
    crate::testing::gradcheck_xwb([&mut x, &mut w, &mut b], [&dx, &dw, &db], 1e-2, seed, loss);
}

fn gradcheck_case(c: &Case, seed: u64) {
    gradcheck_geometry(&geom(c), c.2, c.6, seed);
}

#[test]
fn gradients_match_central_differences() {
    for (i, c) in CASES.iter().take(13).enumerate() {
        gradcheck_case(c, 1000 + i as u64);
    }
}

#[test]
fn grouped_gradients_match_central_differences() {
    for (i, c) in GROUP_CASES[..9].iter().enumerate() {
        gradcheck_case(c, 1000 + i as u64);
    }
}

#[test]
fn depthwise_gradients_match_central_differences() {
    for (i, c) in GROUP_CASES[12..18]
        .iter()
        .chain(&GROUP_CASES[19..22])
        .enumerate()
    {
        gradcheck_case(c, 2000 + i as u64);
    }
}

#[test]
fn square_group_gradients_match_central_differences() {
    for (i, c) in GROUP_CASES[SQUARE].iter().enumerate() {
        gradcheck_case(c, 3000 + i as u64);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    for c in [&CASES[13], &GROUP_CASES[11], &GROUP_CASES[18]] {
        let (g, gr, batch) = (geom(c), groups_of(c), c.6);
        let x = random(batch * g.in_len(), 1);
        let w = random(gr.w, 2);
        let dy = random(batch * g.out_len(), 3);
        let run = |threads| {
            parallel::set_threads(threads);
            let mut y = vec![0.0; dy.len()];
            forward(&g, c.2, batch, &x, &w, &Epilogue::NONE, &mut y).unwrap();
            let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
            backward(&g, c.2, batch, &x, &w, &dy, Some(&mut dx), &mut dw, None).unwrap();
            (y, dx, dw)
        };
        let one = run(1);
        let two = run(2);
        parallel::set_threads(2);
        assert!(one == two, "{c:?}: 1 and 2 threads differ");
    }
}

// A NaN in the input reaches the output through every kernel and every
// epilogue (ReLU included), so that a diverging network shows it in its
// loss.
#[test]
fn nan_inputs_propagate_through_the_epilogue() {
    for c in [
        &CASES[0],
        &GROUP_CASES[0],
        &GROUP_CASES[12],
        &GROUP_CASES[19],
    ] {
        let (g, gr, batch) = (geom(c), groups_of(c), c.6);
        let mut x = random(batch * g.in_len(), 1);
        x[..g.c_in].fill(f32::NAN);
        let w = random(gr.w, 2);
        let b = random(g.c_out, 3);
        let (_, sz) = sizes(&g, c.2, batch).unwrap();
        for act in [Act::Relu, Act::LeakyRelu(0.1), Act::Sigmoid] {
            for kernel in kernels(&gr) {
                let mut y = vec![0.0; batch * g.out_len()];
                let ep = Epilogue::new(Some(&b), act);
                forward_path(kernel, &g, &gr, sz, &x, &w, &ep, &mut y);
                assert!(y[0].is_nan(), "{kernel:?} {act:?}: {}", y[0]);
            }
        }
    }
}
