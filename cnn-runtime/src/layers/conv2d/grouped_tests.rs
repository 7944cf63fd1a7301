//! Grouped and depthwise convolution against the group-aware 7-loop
//! reference on fixed and random shapes, on every kernel this CPU runs;
//! central-difference gradient checks; `groups == 1` against the dense
//! convolution bit for bit; Keras's weight layouts by hand; the error paths.

use super::grouped::{
    backward_kernel, direct_supported, forward_kernel, group_sizes, Groups, Isa, Kernel,
};
use super::grouped_reference as reference;
use super::*;
use crate::geom::Padding;
use crate::rng::Rng;
use crate::testing::{assert_close, dot, nan_filled, random};

/// One test shape: input `[h, w, c_in]`, `c_out`, groups, kernel, stride,
/// padding, batch.
type Case = (
    [usize; 3],
    usize,
    usize,
    [usize; 2],
    [usize; 2],
    Padding,
    usize,
);

/// Groups 2, 3, 4 and 16 with 2 to 48 input channels per group; depthwise
/// with multipliers 1, 2 and 3 and channel counts that leave every block
/// size a tail; odd sizes, stride 2, padding 1, `same`, windows wholly in
/// the padding; batch 3 and 1; shapes large enough for several tasks.
const CASES: &[Case] = &[
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

/// The small-square-group cases at the end of [`CASES`].
const SQUARE: std::ops::Range<usize> = 22..28;

fn geom(c: &Case) -> Conv2dGeom {
    Conv2dGeom::new(c.0, c.1, c.3, c.4, c.5).unwrap()
}

fn groups_of(c: &Case) -> Groups {
    group_sizes(&geom(c), c.2).unwrap()
}

/// Random shapes from a seed: groups 1-4 with 1-5 input and output
/// channels per group, or depthwise with multiplier 1-3; sizes 1-12,
/// kernels 1-5, strides 1-3, any padding, batch 1-3.
fn random_cases(count: usize, seed: u64) -> Vec<Case> {
    let mut r = Rng::new(seed);
    let mut out = Vec::new();
    while out.len() < count {
        let (c_in, c_out, groups) = if r.below(3) == 0 {
            let c = 1 + r.below(20);
            (c, c * (1 + r.below(3)), c)
        } else {
            let groups = 2 + r.below(3);
            (groups * (1 + r.below(5)), groups * (1 + r.below(5)), groups)
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
    v.extend(random_cases(60, 11));
    v
}

/// Every forward kernel this CPU runs on a case: the direct one on each
/// instruction set where it applies, and the general ones always (they
/// must handle depthwise and small square groups too).
fn kernels(gr: &Groups) -> Vec<Kernel> {
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

/// Every (kernel, transposed dx) combination this CPU runs on a case.
fn backward_kernels(g: &Conv2dGeom, gr: &Groups) -> Vec<(Kernel, bool)> {
    let mut v: Vec<_> = kernels(gr).into_iter().map(|k| (k, false)).collect();
    if microkernel::available() && implicit::dx_supported(g) {
        v.push((Kernel::Implicit, true));
    }
    v
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
    let mut y = nan_filled(want.len());
    forward_grouped(&g, c.2, batch, &x, &w, ep, &mut y).unwrap();
    let abs = tolerance(&gr);
    assert_close(&y, &want, 1e-4, abs);
    for kernel in kernels(&gr) {
        let mut y = nan_filled(want.len());
        let sz = sizes(&g, batch).unwrap();
        forward_kernel(kernel, &g, &gr, sz, &x, &w, ep, &mut y);
        assert_close(&y, &want, 1e-4, abs);
    }
}

#[test]
fn grouped_forward_matches_reference() {
    let b = random(256, 99);
    for (i, c) in all_cases().iter().enumerate() {
        let n = geom(c).c_out;
        check_forward(c, &Epilogue::NONE, i as u64);
        check_forward(c, &Epilogue::new(Some(&b[..n]), Act::Relu), 100 + i as u64);
    }
}

#[test]
fn grouped_every_epilogue_matches_reference() {
    let (b, scale, shift) = (random(64, 1), random(64, 2), random(64, 3));
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
    // A grouped case, a depthwise one and a depthwise one with multiplier 2.
    for c in [&CASES[0], &CASES[13], &CASES[19]] {
        let n = geom(c).c_out;
        for act in acts {
            for bias in [None, Some(&b[..n])] {
                for affine in [None, Some((&scale[..n], &shift[..n]))] {
                    check_forward(c, &Epilogue { bias, affine, act }, 5);
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
    let run = |kernel: Option<(Kernel, bool)>| {
        let (mut dx, mut dw, mut db) = (nan_filled(x.len()), dw0.clone(), db0.clone());
        let dxo = with_dx.then_some(&mut dx[..]);
        let dbo = with_db.then_some(&mut db[..]);
        match kernel {
            None => backward_grouped(&g, c.2, batch, &x, &w, &dy, dxo, &mut dw, dbo).unwrap(),
            Some((k, t)) => {
                backward_kernel(k, t, &g, &gr, batch, &x, &w, &dy, dxo, Some(&mut dw), dbo)
            }
        }
        let what = format!("{c:?} on {kernel:?}");
        if with_dx {
            assert_close(&dx, &want_dx, 1e-4, 1e-4);
        } else {
            assert!(dx.iter().all(|v| v.is_nan()), "{what}: dx written");
        }
        assert_close(&dw, &want_dw, 1e-4, 1e-4);
        assert_close(&db, if with_db { &want_db } else { &db0 }, 1e-4, 1e-4);
    };
    run(None);
    for kernel in backward_kernels(&g, &gr) {
        run(Some(kernel));
    }
}

#[test]
fn grouped_backward_matches_reference() {
    for (i, c) in all_cases().iter().enumerate() {
        check_backward(c, 10 * i as u64, true, true);
    }
    // Without dx (a first layer) and without a bias.
    check_backward(&CASES[0], 1, false, true);
    check_backward(&CASES[12], 2, true, false);
    check_backward(&CASES[19], 3, false, false);
}

/// Central differences of `loss = sum(y * r)` with respect to x, w and b.
fn gradcheck_case(c: &Case, seed: u64) {
    gradcheck_geometry(&geom(c), c.2, c.6, seed);
}

/// The central-difference check of `backward_grouped` on one geometry
/// (dilated or not) with `groups` groups: every bias, and 40 picked
/// elements of the input and weight gradients.
pub(super) fn gradcheck_geometry(g: &Conv2dGeom, groups: usize, batch: usize, seed: u64) {
    let gr = group_sizes(g, groups).unwrap();
    let mut x = random(batch * g.in_len(), seed);
    let mut w = random(gr.w, seed + 1);
    let mut b = random(g.c_out, seed + 2);
    let r = random(batch * g.out_len(), seed + 3);
    let (mut dx, mut dw, mut db) = (nan_filled(x.len()), vec![0.0; w.len()], vec![0.0; b.len()]);
    backward_grouped(
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
        forward_grouped(g, groups, batch, x, w, &ep, &mut y).unwrap();
        dot(&y, &r)
    };
    // The loss is a sum of up to a few hundred f32 products; a step of
    // 1e-3 leaves central differences good to about 1e-3 relative.
    crate::testing::gradcheck_xwb([&mut x, &mut w, &mut b], [&dx, &dw, &db], 1e-2, seed, loss);
}

#[test]
fn grouped_gradients_match_central_differences() {
    for (i, c) in CASES[..9].iter().enumerate() {
        gradcheck_case(c, 1000 + i as u64);
    }
}

#[test]
fn depthwise_gradients_match_central_differences() {
    for (i, c) in CASES[12..18].iter().chain(&CASES[19..22]).enumerate() {
        gradcheck_case(c, 2000 + i as u64);
    }
}

/// `groups == 1` is the dense convolution: same code, same bits.
#[test]
fn one_group_is_the_dense_convolution_bit_for_bit() {
    for (input, c_out, f, s, padding) in [
        ([7, 7, 3], 5, 3, 1, Padding::Explicit(1)),
        ([9, 9, 8], 16, 3, 2, Padding::Same),
        ([6, 6, 4], 4, 1, 1, Padding::Valid),
    ] {
        let g = Conv2dGeom::new(input, c_out, [f, f], [s, s], padding).unwrap();
        let batch = 3;
        let x = random(batch * g.in_len(), 1);
        let w = random(g.weight_len(), 2);
        let b = random(c_out, 3);
        let dy = random(batch * g.out_len(), 4);
        let ep = Epilogue::new(Some(&b), Act::Relu);
        let (mut y1, mut y2) = (nan_filled(dy.len()), nan_filled(dy.len()));
        forward(&g, batch, &x, &w, &ep, &mut y1).unwrap();
        forward_grouped(&g, 1, batch, &x, &w, &ep, &mut y2).unwrap();
        assert!(y1 == y2, "{g:?}: forward differs");
        let grads = |grouped: bool| {
            let (mut dx, mut dw, mut db) =
                (nan_filled(x.len()), random(w.len(), 5), random(c_out, 6));
            let (dxo, dbo) = (Some(&mut dx[..]), Some(&mut db[..]));
            if grouped {
                backward_grouped(&g, 1, batch, &x, &w, &dy, dxo, &mut dw, dbo).unwrap();
            } else {
                backward(&g, batch, &x, &w, &dy, dxo, &mut dw, dbo).unwrap();
            }
            (dx, dw, db)
        };
        assert!(grads(false) == grads(true), "{g:?}: backward differs");
    }
}

#[test]
fn square_group_gradients_match_central_differences() {
    for (i, c) in CASES[SQUARE].iter().enumerate() {
        gradcheck_case(c, 3000 + i as u64);
    }
}

/// The direct kernel runs depthwise layers (any multiplier) and groups of
/// 2 or 4 channels in and out; other groups go to the general kernels.
#[test]
fn the_direct_kernel_is_chosen_where_it_applies() {
    let direct = Kernel::Direct(crate::isa::current());
    let chosen = |c: &Case| super::grouped::choose_kernel(&geom(c), &groups_of(c));
    for i in [12, 19, 24, 25, 26, 27] {
        assert_eq!(chosen(&CASES[i]), direct, "{:?}", CASES[i]);
    }
    // cg 2 -> og 3, cg 5 -> og 2, cg 16, cg 48 -> og 64, cg 8.
    for i in [0, 3, 8, 10, 22, 23] {
        assert_ne!(chosen(&CASES[i]), direct, "{:?}", CASES[i]);
    }
    assert_eq!(
        CASES[SQUARE.start].2, 4,
        "SQUARE must start at the first square case"
    );
}

// Keras's DepthwiseConv2D kernel [fh, fw, c_in, m]: output channel i*m + j
// is input channel i times kernel[.., i, j]. A 1x1 kernel on one pixel
// with channels (2, 3), multiplier 2, kernel [[1, 10], [100, 1000]]:
// y = (2*1, 2*10, 3*100, 3*1000), by hand.
#[test]
fn depthwise_weights_are_in_keras_order() {
    let g = Conv2dGeom::new([1, 1, 2], 4, [1, 1], [1, 1], Padding::Valid).unwrap();
    let w = [1.0, 10.0, 100.0, 1000.0];
    let mut y = nan_filled(4);
    forward_grouped(&g, 2, 1, &[2.0, 3.0], &w, &Epilogue::NONE, &mut y).unwrap();
    assert_eq!(y, [2.0, 20.0, 300.0, 3000.0]);
}

// Keras's grouped Conv2D kernel [fh, fw, c_in / groups, c_out]: group k's
// outputs read input channels k*cg.. through rows 0..cg. Channels
// (1, 2, 3, 4), two groups of 2 -> 1, kernel rows [1, 10] and [100, 1000]:
// y0 = 1*1 + 2*100 = 201, y1 = 3*10 + 4*1000 = 4030, by hand.
#[test]
fn grouped_weights_are_in_keras_order() {
    let g = Conv2dGeom::new([1, 1, 4], 2, [1, 1], [1, 1], Padding::Valid).unwrap();
    let w = [1.0, 10.0, 100.0, 1000.0];
    let mut y = nan_filled(2);
    forward_grouped(&g, 2, 1, &[1.0, 2.0, 3.0, 4.0], &w, &Epilogue::NONE, &mut y).unwrap();
    assert_eq!(y, [201.0, 4030.0]);
}

#[test]
fn grouped_results_do_not_depend_on_the_thread_count() {
    for c in [&CASES[11], &CASES[18]] {
        let (g, gr, batch) = (geom(c), groups_of(c), c.6);
        let x = random(batch * g.in_len(), 1);
        let w = random(gr.w, 2);
        let dy = random(batch * g.out_len(), 3);
        let run = |threads| {
            parallel::set_threads(threads);
            let mut y = vec![0.0; dy.len()];
            forward_grouped(&g, c.2, batch, &x, &w, &Epilogue::NONE, &mut y).unwrap();
            let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
            backward_grouped(&g, c.2, batch, &x, &w, &dy, Some(&mut dx), &mut dw, None).unwrap();
            (y, dx, dw)
        };
        let one = run(1);
        let two = run(2);
        parallel::set_threads(2);
        assert!(one == two, "{c:?}: 1 and 2 threads differ");
    }
}

// A NaN in the input reaches the output through every kernel and every
// fused epilogue, ReLU included.
#[test]
fn grouped_nan_inputs_propagate() {
    for c in [&CASES[0], &CASES[12], &CASES[19]] {
        let (g, gr, batch) = (geom(c), groups_of(c), c.6);
        let mut x = random(batch * g.in_len(), 1);
        x[..g.c_in].fill(f32::NAN);
        let w = random(gr.w, 2);
        let b = random(g.c_out, 3);
        for act in [Act::Relu, Act::LeakyRelu(0.1), Act::Sigmoid] {
            for kernel in kernels(&gr) {
                let mut y = vec![0.0; batch * g.out_len()];
                let ep = Epilogue::new(Some(&b), act);
                let sz = sizes(&g, batch).unwrap();
                forward_kernel(kernel, &g, &gr, sz, &x, &w, &ep, &mut y);
                assert!(y[0].is_nan(), "{kernel:?} {act:?}: {}", y[0]);
            }
        }
    }
}

#[test]
fn bad_groups_are_errors_that_name_the_numbers() {
    let g = Conv2dGeom::new([5, 5, 6], 4, [3, 3], [1, 1], Padding::Same).unwrap();
    let x = vec![0.0; g.in_len()];
    let mut y = vec![0.0; g.out_len()];
    let mut dw = vec![0.0; g.weight_len()];
    let ep = Epilogue::NONE;
    // 0; divides neither; divides c_out only; divides c_in only.
    for (groups, text) in [
        (0, "groups must be positive"),
        (5, "6 % 5 = 1, 4 % 5 = 4"),
        (4, "6 % 4 = 2"),
        (3, "4 % 3 = 1"),
    ] {
        let w = vec![0.0; g.weight_len()];
        let err = forward_grouped(&g, groups, 1, &x, &w, &ep, &mut y).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        assert!(err.to_string().contains(text), "{err}");
        let err = backward_grouped(&g, groups, 1, &x, &w, &y, None, &mut dw, None).unwrap_err();
        assert!(err.to_string().contains(text), "{err}");
    }
}

#[test]
fn grouped_wrong_lengths_and_zero_batch_are_errors() {
    let g = Conv2dGeom::new([5, 5, 4], 6, [3, 3], [1, 1], Padding::Same).unwrap();
    let (groups, batch) = (2, 2);
    let wl = 3 * 3 * 2 * 6;
    let x = vec![0.0; batch * g.in_len()];
    let w = vec![0.0; wl];
    let mut y = vec![0.0; batch * g.out_len()];
    let (b6, b5) = (vec![0.0; 6], vec![0.0; 5]);
    let ep = Epilogue::NONE;
    let fwd = |x: &[f32], w: &[f32], ep: &Epilogue, y: &mut [f32], batch| {
        forward_grouped(&g, groups, batch, x, w, ep, y)
    };
    assert!(fwd(&x, &w, &ep, &mut y, batch).is_ok());
    assert!(fwd(&[], &w, &ep, &mut [], 0).is_err());
    assert!(fwd(&x[1..], &w, &ep, &mut y, batch).is_err());
    // The dense weight length is wrong for a grouped layer.
    let err = fwd(&x, &vec![0.0; g.weight_len()], &ep, &mut y, batch).unwrap_err();
    assert!(err.to_string().contains(&format!("{wl} elements")), "{err}");
    assert!(fwd(&x, &w, &ep, &mut y[1..], batch).is_err());
    assert!(fwd(&x, &w, &ep, &mut y, 3).is_err());
    assert!(fwd(&x, &w, &Epilogue::new(Some(&b5), Act::Relu), &mut y, batch).is_err());
    let bad_affine = Epilogue {
        bias: Some(&b6),
        affine: Some((&b6, &b5)),
        act: Act::Identity,
    };
    let err = fwd(&x, &w, &bad_affine, &mut y, batch).unwrap_err();
    assert!(err.to_string().contains("shift"), "{err}");

    let dy = y.clone();
    let (mut dx, mut dw, mut db) = (x.clone(), w.clone(), b6.clone());
    let bwd = |x: &[f32],
               dy: &[f32],
               dx: Option<&mut [f32]>,
               dw: &mut [f32],
               db: Option<&mut [f32]>,
               batch| { backward_grouped(&g, groups, batch, x, &w, dy, dx, dw, db) };
    assert!(bwd(&x, &dy, Some(&mut dx), &mut dw, Some(&mut db), batch).is_ok());
    assert!(bwd(&[], &[], None, &mut dw, None, 0).is_err());
    assert!(bwd(&x[1..], &dy, None, &mut dw, None, batch).is_err());
    assert!(bwd(&x, &dy[1..], None, &mut dw, None, batch).is_err());
    assert!(bwd(&x, &dy, Some(&mut dx[1..]), &mut dw, None, batch).is_err());
    assert!(bwd(&x, &dy, None, &mut dw[1..], None, batch).is_err());
    let err = bwd(&x, &dy, None, &mut dw, Some(&mut db[1..]), batch).unwrap_err();
    assert!(err.to_string().contains("db"), "{err}");
    let err = backward_grouped(&g, groups, batch, &x, &w[1..], &dy, None, &mut dw, None);
    assert!(err.is_err());
    // A bad geometry is refused before anything is read.
    let bad = Conv2dGeom { out_h: 7, ..g };
    assert!(forward_grouped(&bad, groups, batch, &x, &w, &ep, &mut y).is_err());
    assert!(backward_grouped(&bad, groups, batch, &x, &w, &dy, None, &mut dw, None).is_err());
}

/// A grouped shape's passes are measured once each, keyed with their
/// group count, and the forward returns the chosen kernel's result.
#[test]
fn grouped_passes_are_measured_with_their_groups() {
    if std::env::var("CNN_CONV").as_deref() != Ok("auto") {
        crate::testing::rerun_with(
            &[("CNN_CONV", "auto")],
            &["layers::conv2d::grouped_tests::grouped_passes_are_measured"],
        );
        return;
    }
    // A shape no other test uses: 4 groups of 4 channels.
    let g = Conv2dGeom::new([7, 9, 16], 16, [3, 3], [1, 1], Padding::Same).unwrap();
    let gr = group_sizes(&g, 4).unwrap();
    let batch = 2;
    let x = random(batch * g.in_len(), 21);
    let w = random(gr.w, 22);
    let dy = random(batch * g.out_len(), 23);
    let ep = Epilogue::new(None, Act::Relu);
    let mut y = nan_filled(dy.len());
    forward_grouped(&g, 4, batch, &x, &w, &ep, &mut y).unwrap();
    let (mut dx, mut dw) = (nan_filled(x.len()), vec![0.0; w.len()]);
    backward_grouped(&g, 4, batch, &x, &w, &dy, Some(&mut dx), &mut dw, None).unwrap();
    let mine: Vec<Choice> = choices()
        .into_iter()
        .filter(|c| c.geom == g && c.groups == 4)
        .collect();
    let candidates = super::grouped::kernel_candidates(&g, &gr, false);
    if candidates.as_slice().len() == 1 {
        assert!(mine.is_empty(), "{mine:?}");
        return;
    }
    let pass = |p: Pass| mine.iter().find(|c| c.pass == p);
    let fwd = pass(Pass::Forward).expect("forward measured");
    assert!(
        pass(Pass::Backward).is_some(),
        "backward measured: {mine:?}"
    );
    let kernel = candidates.as_slice()[fwd.chosen].1 .0;
    let mut want = nan_filled(dy.len());
    let sz = sizes(&g, batch).unwrap();
    forward_kernel(kernel, &g, &gr, sz, &x, &w, &ep, &mut want);
    assert!(
        y == want,
        "forward did not return the chosen kernel's result"
    );
    // The dense convolution of the same geometry is a key of its own.
    assert!(choices().iter().all(|c| c.geom != g || c.groups == 4));
}
