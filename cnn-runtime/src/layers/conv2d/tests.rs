//! The fast convolution against the 7-loop reference on fixed and random
//! shapes, central-difference gradient checks, the course's worked
//! examples, and the error paths.

use super::reference;
use super::*;
use crate::geom::Padding;
use crate::rng::Rng;
use crate::testing::{assert_close, dot, nan_filled, random};

/// One test shape: input `[h, w, c]`, filters, kernel, stride, padding, batch.
type Case = ([usize; 3], usize, [usize; 2], [usize; 2], Padding, usize);

/// Odd sizes, stride 2 and 3, padding 1, `same` with an odd total padding,
/// non-square kernels and strides, batch 3 and 1, 1 and 3 input channels,
/// `c_out` not a multiple of 8, the 1x1 stride-1 fast path and 1x1 stride 2.
const CASES: &[Case] = &[
    ([7, 7, 3], 5, [3, 3], [1, 1], Padding::Explicit(1), 3),
    ([9, 8, 1], 6, [5, 5], [1, 1], Padding::Valid, 3),
    ([9, 9, 3], 7, [3, 3], [2, 2], Padding::Explicit(1), 1),
    ([10, 11, 2], 3, [3, 3], [3, 3], Padding::Valid, 3),
    // n = 6, f = 3, s = 2 under 'same': total padding 1, all of it at the end.
    ([6, 6, 3], 4, [3, 3], [2, 2], Padding::Same, 3),
    // n = 5, f = 2, s = 1 under 'same': total 1, at the bottom/right.
    ([5, 5, 1], 9, [2, 2], [1, 1], Padding::Same, 1),
    ([8, 7, 3], 10, [2, 3], [1, 2], Padding::Same, 3),
    ([7, 9, 2], 11, [3, 1], [2, 1], Padding::Explicit(1), 3),
    ([6, 5, 3], 13, [1, 1], [1, 1], Padding::Valid, 3),
    ([7, 7, 4], 17, [1, 1], [2, 2], Padding::Valid, 3),
    ([5, 6, 3], 3, [1, 1], [1, 1], Padding::Explicit(1), 1),
    ([4, 4, 2], 2, [4, 4], [1, 1], Padding::Valid, 3),
    ([3, 3, 1], 2, [5, 5], [2, 2], Padding::Same, 3),
    // Large enough for several tasks and chunks that cut images.
    ([32, 32, 8], 16, [3, 3], [1, 1], Padding::Same, 3),
    ([28, 28, 16], 24, [1, 1], [1, 1], Padding::Valid, 3),
    ([40, 40, 1], 6, [5, 5], [1, 1], Padding::Valid, 1),
    // More than 64 output and input channels: several column groups.
    ([5, 5, 70], 80, [3, 3], [1, 1], Padding::Same, 1),
    // One image large enough that its rows are split over two tasks.
    ([64, 64, 8], 16, [3, 3], [1, 1], Padding::Same, 1),
    // Depth 450 in runs of 150 on rows of 17: `kblock` cuts the forward
    // product within a window row, two column blocks, the last partial.
    ([18, 17, 50], 70, [3, 3], [1, 1], Padding::Same, 2),
    // A 1x1 product over 126 pixels of depth 300: blocked over depth.
    ([9, 7, 300], 20, [1, 1], [1, 1], Padding::Valid, 2),
    // Weights of 1.15 MB, beyond `implicit_big`'s threshold: the forward
    // blocked over depth and channels, with packed weight panels at AVX2.
    ([6, 5, 200], 160, [3, 3], [1, 1], Padding::Same, 2),
];

fn geom(c: &Case) -> Conv2dGeom {
    Conv2dGeom::new(c.0, c.1, c.2, c.3, c.4).unwrap()
}

/// Random shapes from a seed: sizes 1-12, kernels 1-5, strides 1-3, any padding.
fn random_cases(count: usize, seed: u64) -> Vec<Case> {
    let mut r = Rng::new(seed);
    let mut out = Vec::new();
    while out.len() < count {
        let input = [1 + r.below(12), 1 + r.below(12), 1 + r.below(4)];
        let kernel = [1 + r.below(5), 1 + r.below(5)];
        let stride = [1 + r.below(3), 1 + r.below(3)];
        let padding = match r.below(3) {
            0 => Padding::Valid,
            1 => Padding::Same,
            _ => Padding::Explicit(r.below(3)),
        };
        let case = (
            input,
            1 + r.below(12),
            kernel,
            stride,
            padding,
            1 + r.below(3),
        );
        if Conv2dGeom::new(case.0, case.1, case.2, case.3, case.4).is_ok() {
            out.push(case);
        }
    }
    out
}

fn all_cases() -> Vec<Case> {
    let mut v = CASES.to_vec();
    v.extend(random_cases(40, 7));
    v
}

/// The forward algorithms this CPU can run.
fn paths() -> Vec<Path> {
    let mut v = vec![Path::Gemm];
    if microkernel::available() {
        v.push(Path::Implicit);
    }
    v
}

/// Every (weight-gradient, input-gradient) combination this CPU can run on
/// `g`: each pass is measured and chosen on its own (`tune.rs`), so any
/// pairing may run.
fn backward_paths(g: &Conv2dGeom) -> Vec<(Path, DxPath)> {
    let mut dx = vec![DxPath::Gemm];
    if microkernel::available() {
        dx.push(DxPath::Scatter);
        if implicit::dx_supported(g) {
            dx.push(DxPath::Transposed);
        }
    }
    paths()
        .into_iter()
        .flat_map(|p| dx.iter().map(move |&d| (p, d)))
        .collect()
}

fn check_forward(c: &Case, ep: &Epilogue, seed: u64) {
    let g = geom(c);
    let batch = c.5;
    let x = random(batch * g.in_len(), seed);
    let w = random(g.weight_len(), seed + 1);
    let mut want = vec![0.0; batch * g.out_len()];
    reference::forward(&g, batch, &x, &w, ep, &mut want);
    check_forward_against(c, ep, &x, &w, &want);
}

/// The fast forward and each path of it on `x` and `w` against `want`.
fn check_forward_against(c: &Case, ep: &Epilogue, x: &[f32], w: &[f32], want: &[f32]) {
    let g = geom(c);
    let batch = c.5;
    let mut y = nan_filled(batch * g.out_len());
    forward(&g, batch, x, w, ep, &mut y).unwrap();
    assert_close(&y, want, 1e-4, 1e-5);
    for path in paths() {
        let mut y = nan_filled(batch * g.out_len());
        forward_path(path, &g, sizes(&g, batch).unwrap(), x, w, ep, &mut y);
        assert_close(&y, want, 1e-4, 1e-5);
    }
}

#[test]
fn forward_matches_reference() {
    let b = random(256, 99);
    for (i, c) in all_cases().iter().enumerate() {
        let g = geom(c);
        check_forward(c, &Epilogue::NONE, i as u64);
        check_forward(
            c,
            &Epilogue::new(Some(&b[..g.c_out]), Act::Relu),
            100 + i as u64,
        );
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
    // A general case, the 1x1 stride-1 path, the depth-blocked ones and
    // the big-weights one. The reference's sums are computed once per
    // case: they were most of this test's time, 44 times over.
    for c in [
        &CASES[0],
        &CASES[8],
        &CASES[CASES.len() - 3],
        &CASES[CASES.len() - 2],
        &CASES[CASES.len() - 1],
    ] {
        let g = geom(c);
        let batch = c.5;
        let x = random(batch * g.in_len(), 5);
        let w = random(g.weight_len(), 6);
        let sums = reference::sums(&g, batch, &x, &w);
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
    let g = geom(c);
    let batch = c.5;
    let x = random(batch * g.in_len(), seed);
    let w = random(g.weight_len(), seed + 1);
    let dy = random(batch * g.out_len(), seed + 2);
    let dw0 = random(g.weight_len(), seed + 3);
    let db0 = random(g.c_out, seed + 4);
    let (mut want_dx, mut want_dw, mut want_db) = (vec![0.0; x.len()], dw0.clone(), db0.clone());
    reference::backward(
        &g,
        batch,
        &x,
        &w,
        &dy,
        Some(&mut want_dx),
        &mut want_dw,
        Some(&mut want_db),
    );
    let run = |path: Option<(Path, DxPath)>| {
        let (mut dx, mut dw, mut db) = (nan_filled(x.len()), dw0.clone(), db0.clone());
        let dxo = with_dx.then_some(&mut dx[..]);
        let dbo = with_db.then_some(&mut db[..]);
        match path {
            None => backward(&g, batch, &x, &w, &dy, dxo, &mut dw, dbo).unwrap(),
            Some((p, d)) => backward_path(
                p,
                d,
                &g,
                sizes(&g, batch).unwrap(),
                batch,
                &x,
                &w,
                &dy,
                dxo,
                Some(&mut dw),
                dbo,
            ),
        }
        if with_dx {
            assert_close(&dx, &want_dx, 1e-4, 1e-4);
        } else {
            assert!(
                dx.iter().all(|v| v.is_nan()),
                "dx written although not asked for"
            );
        }
        assert_close(&dw, &want_dw, 1e-4, 1e-4);
        assert_close(&db, if with_db { &want_db } else { &db0 }, 1e-4, 1e-4);
    };
    run(None);
    for path in backward_paths(&g) {
        run(Some(path));
    }
    // The input gradient alone (a frozen layer): the same dx, on every path.
    if with_dx {
        let mut dx = nan_filled(x.len());
        backward_input(&g, batch, &w, &dy, &mut dx).unwrap();
        assert_close(&dx, &want_dx, 1e-4, 1e-4);
        for (p, d) in backward_paths(&g) {
            let mut dx = nan_filled(x.len());
            let sz = sizes(&g, batch).unwrap();
            backward_path(p, d, &g, sz, batch, &[], &w, &dy, Some(&mut dx), None, None);
            assert_close(&dx, &want_dx, 1e-4, 1e-4);
        }
    }
}

#[test]
fn backward_matches_reference() {
    for (i, c) in all_cases().iter().enumerate() {
        check_backward(c, 10 * i as u64, true, true);
    }
    // Without dx (a first layer) and without a bias.
    check_backward(&CASES[0], 1, false, true);
    check_backward(&CASES[1], 2, true, false);
    check_backward(&CASES[8], 3, false, false);
}

/// Central differences of `loss = sum(y * r)` with respect to x, w and b.
fn gradcheck_case(c: &Case, seed: u64) {
    let g = geom(c);
    let batch = c.5;
    let mut x = random(batch * g.in_len(), seed);
    let mut w = random(g.weight_len(), seed + 1);
    let mut b = random(g.c_out, seed + 2);
    let r = random(batch * g.out_len(), seed + 3);
    let (mut dx, mut dw, mut db) = (nan_filled(x.len()), vec![0.0; w.len()], vec![0.0; b.len()]);
    backward(&g, batch, &x, &w, &r, Some(&mut dx), &mut dw, Some(&mut db)).unwrap();
    let loss = |x: &[f32], w: &[f32], b: &[f32]| {
        let mut y = vec![0.0; batch * g.out_len()];
        forward(
            &g,
            batch,
            x,
            w,
            &Epilogue::new(Some(b), Act::Identity),
            &mut y,
        )
        .unwrap();
        dot(&y, &r)
    };
    crate::testing::gradcheck_xwb([&mut x, &mut w, &mut b], [&dx, &dw, &db], 1e-2, seed, loss);
}

#[test]
fn gradients_match_central_differences() {
    for (i, c) in CASES.iter().take(13).enumerate() {
        gradcheck_case(c, 1000 + i as u64);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let c = &CASES[13];
    let g = geom(c);
    let x = random(c.5 * g.in_len(), 1);
    let w = random(g.weight_len(), 2);
    let dy = random(c.5 * g.out_len(), 3);
    let run = |threads| {
        parallel::set_threads(threads);
        let mut y = vec![0.0; dy.len()];
        forward(&g, c.5, &x, &w, &Epilogue::NONE, &mut y).unwrap();
        let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
        backward(&g, c.5, &x, &w, &dy, Some(&mut dx), &mut dw, None).unwrap();
        (y, dx, dw)
    };
    let one = run(1);
    let two = run(2);
    parallel::set_threads(2);
    assert!(one == two, "1 and 2 threads differ");
}

// Course, "Edge detection example": a 6x6 image, three columns of 10 then
// three of 0, convolved with the vertical edge filter [[1,0,-1]] x 3 gives
// a 4x4 image with columns 0, 30, 30, 0; the mirrored image gives -30.
#[test]
fn course_vertical_edge_example() {
    let g = Conv2dGeom::new([6, 6, 1], 1, [3, 3], [1, 1], Padding::Valid).unwrap();
    let w = [1.0, 0.0, -1.0, 1.0, 0.0, -1.0, 1.0, 0.0, -1.0];
    let bright_left: Vec<f32> = (0..36)
        .map(|i| if i % 6 < 3 { 10.0 } else { 0.0 })
        .collect();
    let mut y = nan_filled(16);
    forward(&g, 1, &bright_left, &w, &Epilogue::NONE, &mut y).unwrap();
    let row = [0.0, 30.0, 30.0, 0.0];
    assert_eq!(y, row.repeat(4));
    let dark_left: Vec<f32> = bright_left.iter().map(|v| 10.0 - v).collect();
    forward(&g, 1, &dark_left, &w, &Epilogue::NONE, &mut y).unwrap();
    assert_eq!(y, row.map(|v| -v).repeat(4));
}

// Course, "Convolutions over volumes" and "One layer of a convolutional
// network": ten 3x3x3 filters on a 6x6x3 image give 4x4x10, and the layer
// has 10 * (27 + 1) = 280 parameters.
#[test]
fn course_volume_example() {
    let g = Conv2dGeom::new([6, 6, 3], 10, [3, 3], [1, 1], Padding::Valid).unwrap();
    assert_eq!((g.out_h, g.out_w, g.c_out), (4, 4, 10));
    assert_eq!(g.weight_len() + g.c_out, 280);
    let x = random(g.in_len(), 1);
    let w = random(g.weight_len(), 2);
    let b = random(10, 3);
    let mut y = nan_filled(4 * 4 * 10);
    forward(&g, 1, &x, &w, &Epilogue::new(Some(&b), Act::Relu), &mut y).unwrap();
    assert!(y.iter().all(|v| *v >= 0.0));
}

// A NaN in the input reaches the output through every epilogue (ReLU
// included), so that a diverging network shows it in its loss.
#[test]
fn nan_inputs_propagate_through_the_epilogue() {
    let c = &CASES[0];
    let g = geom(c);
    let mut x = random(c.5 * g.in_len(), 1);
    x[0] = f32::NAN;
    let w = random(g.weight_len(), 2);
    let b = random(g.c_out, 3);
    for act in [Act::Relu, Act::LeakyRelu(0.1), Act::Sigmoid] {
        for path in paths() {
            let mut y = vec![0.0; c.5 * g.out_len()];
            let ep = Epilogue::new(Some(&b), act);
            forward_path(path, &g, sizes(&g, c.5).unwrap(), &x, &w, &ep, &mut y);
            assert!(y[0].is_nan(), "{path:?} {act:?}: {}", y[0]);
        }
    }
}

#[test]
fn every_built_geometry_validates() {
    for n in 1..12 {
        for f in 1..6 {
            for s in 1..4 {
                for padding in [
                    Padding::Valid,
                    Padding::Same,
                    Padding::Explicit(1),
                    Padding::Explicit(3),
                ] {
                    if let Ok(g) = Conv2dGeom::new([n, n + 1, 2], 3, [f, f], [s, s], padding) {
                        g.validate().unwrap_or_else(|e| panic!("{g:?}: {e}"));
                    }
                }
            }
        }
    }
}

#[test]
fn bad_geometries_are_errors() {
    let good = Conv2dGeom::new([7, 7, 3], 4, [3, 3], [2, 2], Padding::Explicit(1)).unwrap();
    let bad = [
        Conv2dGeom {
            out_h: good.out_h + 1,
            ..good
        },
        Conv2dGeom {
            out_w: good.out_w - 1,
            ..good
        },
        Conv2dGeom { pad_top: 4, ..good },
        Conv2dGeom { fh: 0, ..good },
        Conv2dGeom { sw: 0, ..good },
        Conv2dGeom { dh: 0, ..good },
        // Taps 2 apart span 5 rows: floor((7 + 2 - 5) / 2) + 1 = 3 outputs, not 4.
        Conv2dGeom { dh: 2, ..good },
        Conv2dGeom { c_in: 0, ..good },
        Conv2dGeom { out_h: 0, ..good },
        Conv2dGeom {
            in_h: usize::MAX / 2,
            ..good
        },
        Conv2dGeom {
            c_in: usize::MAX / 4,
            c_out: 5,
            ..good
        },
    ];
    let x = vec![0.0; 3 * good.in_len()];
    let w = vec![0.0; good.weight_len()];
    let mut y = vec![0.0; 3 * good.out_len()];
    let mut dw = w.clone();
    for g in bad {
        assert!(g.validate().is_err(), "{g:?}");
        assert!(forward(&g, 3, &x, &w, &Epilogue::NONE, &mut y).is_err());
        assert!(backward(&g, 3, &x, &w, &y, None, &mut dw, None).is_err());
    }
}

#[test]
fn wrong_lengths_and_zero_batch_are_errors() {
    let g = Conv2dGeom::new([5, 5, 2], 3, [3, 3], [1, 1], Padding::Same).unwrap();
    let batch = 2;
    let x = vec![0.0; batch * g.in_len()];
    let w = vec![0.0; g.weight_len()];
    let mut y = vec![0.0; batch * g.out_len()];
    let (b3, b2) = (vec![0.0; 3], vec![0.0; 2]);
    let ep = Epilogue::NONE;
    assert!(forward(&g, batch, &x, &w, &ep, &mut y).is_ok());
    assert!(forward(&g, 0, &[], &w, &ep, &mut []).is_err());
    assert!(forward(&g, batch, &x[1..], &w, &ep, &mut y).is_err());
    assert!(forward(&g, batch, &x, &w[1..], &ep, &mut y).is_err());
    assert!(forward(&g, batch, &x, &w, &ep, &mut y[1..]).is_err());
    assert!(forward(&g, 3, &x, &w, &ep, &mut y).is_err());
    let bad_bias = Epilogue::new(Some(&b2), Act::Relu);
    assert!(forward(&g, batch, &x, &w, &bad_bias, &mut y).is_err());
    let bad_affine = Epilogue {
        bias: Some(&b3),
        affine: Some((&b3, &b2)),
        act: Act::Identity,
    };
    let err = forward(&g, batch, &x, &w, &bad_affine, &mut y).unwrap_err();
    assert!(err.to_string().contains("shift"), "{err}");

    let dy = y.clone();
    let (mut dx, mut dw, mut db) = (x.clone(), w.clone(), b3.clone());
    assert!(backward(
        &g,
        batch,
        &x,
        &w,
        &dy,
        Some(&mut dx),
        &mut dw,
        Some(&mut db)
    )
    .is_ok());
    assert!(backward(&g, 0, &[], &w, &[], None, &mut dw, None).is_err());
    assert!(backward(&g, batch, &x[1..], &w, &dy, None, &mut dw, None).is_err());
    assert!(backward(&g, batch, &x, &w[1..], &dy, None, &mut dw, None).is_err());
    assert!(backward(&g, batch, &x, &w, &dy[1..], None, &mut dw, None).is_err());
    assert!(backward(&g, batch, &x, &w, &dy, Some(&mut dx[1..]), &mut dw, None).is_err());
    assert!(backward(&g, batch, &x, &w, &dy, None, &mut dw[1..], None).is_err());
    let mut db2 = b2.clone();
    let err = backward(&g, batch, &x, &w, &dy, None, &mut dw, Some(&mut db2)).unwrap_err();
    assert!(err.to_string().contains("db"), "{err}");
}

/// Every convolution test again with the blocked forward of
/// `implicit_big.rs` (weights beyond L2) taken by every shape.
#[test]
fn every_test_passes_with_the_blocked_forward() {
    crate::testing::rerun_with(
        &[("CNN_CONV_BIG", "0")],
        &["layers::conv2d::", "--skip", "every_test_passes_with"],
    );
}

/// Forward, backward (with dx) and the input gradient alone of `g` at
/// `batch`, on fixed data.
fn all_passes(g: &Conv2dGeom, batch: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let x = random(batch * g.in_len(), 11);
    let w = random(g.weight_len(), 12);
    let dy = random(batch * g.out_len(), 13);
    let mut y = nan_filled(dy.len());
    forward(g, batch, &x, &w, &Epilogue::new(None, Act::Relu), &mut y).unwrap();
    let (mut dx, mut dw) = (nan_filled(x.len()), vec![0.0; w.len()]);
    backward(g, batch, &x, &w, &dy, Some(&mut dx), &mut dw, None).unwrap();
    let mut dx_alone = nan_filled(x.len());
    backward_input(g, batch, &w, &dy, &mut dx_alone).unwrap();
    (y, dx, dw, dx_alone)
}

/// The first call of each pass of a shape measures every candidate path
/// and keeps the fastest; later calls, and batches that round up to the
/// same power of two, run it without measuring again, and the call that
/// measured returns the chosen path's result, bit for bit.
#[test]
fn each_pass_is_measured_once_per_shape_and_kept() {
    if std::env::var("CNN_CONV").as_deref() != Ok("auto") {
        crate::testing::rerun_with(
            &[("CNN_CONV", "auto")],
            &["layers::conv2d::tests::each_pass_is_measured"],
        );
        return;
    }
    // A shape no other test uses, so this test's choices are its own.
    let g = Conv2dGeom::new([9, 7, 5], 6, [3, 3], [1, 1], Padding::Same).unwrap();
    let first = all_passes(&g, 3);
    let again = all_passes(&g, 3);
    all_passes(&g, 4);
    assert!(
        first == again,
        "the measuring call's results differ from the next call's"
    );
    let mine: Vec<Choice> = choices().into_iter().filter(|c| c.geom == g).collect();
    if candidates(&g).len() == 1 {
        assert!(mine.is_empty(), "one candidate, yet measured: {mine:?}");
        return;
    }
    let passes: Vec<Pass> = mine.iter().map(|c| c.pass).collect();
    assert_eq!(mine.len(), 3, "one choice per pass: {mine:?}");
    for pass in [Pass::Forward, Pass::WeightGrad, Pass::InputGrad] {
        assert!(passes.contains(&pass), "{pass:?} not measured: {mine:?}");
    }
    for c in &mine {
        assert_eq!(c.batch, 4, "batch 3 rounds up to 4: {c:?}");
        assert_eq!(c.isa, crate::isa::current());
        assert!(c.chosen < c.times.len() && c.times.len() >= 2, "{c:?}");
        assert!(
            c.times.iter().all(|t| t.1.is_finite() && t.1 > 0.0),
            "{c:?}"
        );
    }
    // The forward result is the chosen path's.
    let fwd = mine.iter().find(|c| c.pass == Pass::Forward).unwrap();
    let path = candidates(&g)[fwd.chosen].1;
    let (x, w) = (random(3 * g.in_len(), 11), random(g.weight_len(), 12));
    let mut y = nan_filled(3 * g.out_len());
    let ep = Epilogue::new(None, Act::Relu);
    forward_path(path, &g, sizes(&g, 3).unwrap(), &x, &w, &ep, &mut y);
    assert!(
        y == first.0,
        "forward did not return the chosen path's result"
    );
}

/// `CNN_CONV=gemm` and `CNN_CONV=implicit` pin one family and measure
/// nothing; the results still match the reference.
#[test]
fn cnn_conv_pins_one_family_and_measures_nothing() {
    let Ok(mode) = std::env::var("CNN_CONV") else {
        for mode in ["gemm", "implicit"] {
            crate::testing::rerun_with(
                &[("CNN_CONV", mode)],
                &["layers::conv2d::tests::cnn_conv_pins"],
            );
        }
        return;
    };
    if mode == "auto" {
        return;
    }
    let g = Conv2dGeom::new([8, 6, 4], 5, [3, 3], [1, 1], Padding::Same).unwrap();
    let (y, dx, dw, dx_alone) = all_passes(&g, 2);
    assert!(choices().is_empty(), "measured under CNN_CONV={mode}");
    let want = if mode == "gemm" || !microkernel::available() {
        Path::Gemm
    } else {
        Path::Implicit
    };
    assert_eq!(
        candidates(&g).iter().map(|c| c.1).collect::<Vec<_>>(),
        [want]
    );
    assert_eq!(dx_candidates(&g).len(), 1);
    let x = random(2 * g.in_len(), 11);
    let w = random(g.weight_len(), 12);
    let dy = random(2 * g.out_len(), 13);
    let mut want_y = vec![0.0; y.len()];
    reference::forward(&g, 2, &x, &w, &Epilogue::new(None, Act::Relu), &mut want_y);
    assert_close(&y, &want_y, 1e-4, 1e-4);
    let (mut want_dx, mut want_dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
    reference::backward(&g, 2, &x, &w, &dy, Some(&mut want_dx), &mut want_dw, None);
    assert_close(&dx, &want_dx, 1e-4, 1e-4);
    assert_close(&dx_alone, &want_dx, 1e-4, 1e-4);
    assert_close(&dw, &want_dw, 1e-4, 1e-4);
}
