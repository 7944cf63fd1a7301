//! The convolution's contract: the course's worked examples, Keras's
//! weight layouts by hand, the error paths (geometry, groups, lengths),
//! which kernel the fixed rule picks, and how each pass's algorithm is
//! measured once per shape and group count, or pinned by `CNN_CONV`.

use super::paths::{candidates, dx_candidates, fixed_rule, Kernel};
use super::reference;
use super::split::forward_path;
use super::tests::{geom, groups_of, Case, GROUP_CASES, SQUARE};
use super::*;
use crate::geom::Padding;
use crate::testing::{assert_close, nan_filled, random};

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
    forward(&g, 1, 1, &bright_left, &w, &Epilogue::NONE, &mut y).unwrap();
    let row = [0.0, 30.0, 30.0, 0.0];
    assert_eq!(y, row.repeat(4));
    let dark_left: Vec<f32> = bright_left.iter().map(|v| 10.0 - v).collect();
    forward(&g, 1, 1, &dark_left, &w, &Epilogue::NONE, &mut y).unwrap();
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
    forward(
        &g,
        1,
        1,
        &x,
        &w,
        &Epilogue::new(Some(&b), Act::Relu),
        &mut y,
    )
    .unwrap();
    assert!(y.iter().all(|v| *v >= 0.0));
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
        assert!(forward(&g, 1, 3, &x, &w, &Epilogue::NONE, &mut y).is_err());
        assert!(backward(&g, 1, 3, &x, &w, &y, None, &mut dw, None).is_err());
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
    assert!(forward(&g, 1, batch, &x, &w, &ep, &mut y).is_ok());
    assert!(forward(&g, 1, 0, &[], &w, &ep, &mut []).is_err());
    assert!(forward(&g, 1, batch, &x[1..], &w, &ep, &mut y).is_err());
    assert!(forward(&g, 1, batch, &x, &w[1..], &ep, &mut y).is_err());
    assert!(forward(&g, 1, batch, &x, &w, &ep, &mut y[1..]).is_err());
    assert!(forward(&g, 1, 3, &x, &w, &ep, &mut y).is_err());
    let bad_bias = Epilogue::new(Some(&b2), Act::Relu);
    assert!(forward(&g, 1, batch, &x, &w, &bad_bias, &mut y).is_err());
    let bad_affine = Epilogue {
        bias: Some(&b3),
        affine: Some((&b3, &b2)),
        act: Act::Identity,
    };
    let err = forward(&g, 1, batch, &x, &w, &bad_affine, &mut y).unwrap_err();
    assert!(err.to_string().contains("shift"), "{err}");

    let dy = y.clone();
    let (mut dx, mut dw, mut db) = (x.clone(), w.clone(), b3.clone());
    assert!(backward(
        &g,
        1,
        batch,
        &x,
        &w,
        &dy,
        Some(&mut dx),
        &mut dw,
        Some(&mut db)
    )
    .is_ok());
    assert!(backward(&g, 1, 0, &[], &w, &[], None, &mut dw, None).is_err());
    assert!(backward(&g, 1, batch, &x[1..], &w, &dy, None, &mut dw, None).is_err());
    assert!(backward(&g, 1, batch, &x, &w[1..], &dy, None, &mut dw, None).is_err());
    assert!(backward(&g, 1, batch, &x, &w, &dy[1..], None, &mut dw, None).is_err());
    assert!(backward(&g, 1, batch, &x, &w, &dy, Some(&mut dx[1..]), &mut dw, None).is_err());
    assert!(backward(&g, 1, batch, &x, &w, &dy, None, &mut dw[1..], None).is_err());
    let mut db2 = b2.clone();
    let err = backward(&g, 1, batch, &x, &w, &dy, None, &mut dw, Some(&mut db2)).unwrap_err();
    assert!(err.to_string().contains("db"), "{err}");
}

/// The direct kernel runs depthwise layers (any multiplier) and groups of
/// 2 or 4 channels in and out; other groups go to the general kernels.
#[test]
fn the_direct_kernel_is_chosen_where_it_applies() {
    let direct = Kernel::Direct(crate::isa::current());
    let chosen = |c: &Case| fixed_rule(&geom(c), &groups_of(c));
    for i in [12, 19, 24, 25, 26, 27] {
        assert_eq!(chosen(&GROUP_CASES[i]), direct, "{:?}", GROUP_CASES[i]);
    }
    // cg 2 -> og 3, cg 5 -> og 2, cg 16, cg 48 -> og 64, cg 8.
    for i in [0, 3, 8, 10, 22, 23] {
        assert_ne!(chosen(&GROUP_CASES[i]), direct, "{:?}", GROUP_CASES[i]);
    }
    assert_eq!(
        GROUP_CASES[SQUARE.start].2, 4,
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
    forward(&g, 2, 1, &[2.0, 3.0], &w, &Epilogue::NONE, &mut y).unwrap();
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
    forward(&g, 2, 1, &[1.0, 2.0, 3.0, 4.0], &w, &Epilogue::NONE, &mut y).unwrap();
    assert_eq!(y, [201.0, 4030.0]);
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
        let err = forward(&g, groups, 1, &x, &w, &ep, &mut y).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        assert!(err.to_string().contains(text), "{err}");
        let err = backward(&g, groups, 1, &x, &w, &y, None, &mut dw, None).unwrap_err();
        assert!(err.to_string().contains(text), "{err}");
    }
}

#[test]
fn wrong_lengths_in_groups_are_errors() {
    let g = Conv2dGeom::new([5, 5, 4], 6, [3, 3], [1, 1], Padding::Same).unwrap();
    let (groups, batch) = (2, 2);
    let wl = 3 * 3 * 2 * 6;
    let x = vec![0.0; batch * g.in_len()];
    let w = vec![0.0; wl];
    let mut y = vec![0.0; batch * g.out_len()];
    let (b6, b5) = (vec![0.0; 6], vec![0.0; 5]);
    let ep = Epilogue::NONE;
    let fwd = |x: &[f32], w: &[f32], ep: &Epilogue, y: &mut [f32], batch| {
        forward(&g, groups, batch, x, w, ep, y)
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
               batch| { backward(&g, groups, batch, x, &w, dy, dx, dw, db) };
    assert!(bwd(&x, &dy, Some(&mut dx), &mut dw, Some(&mut db), batch).is_ok());
    assert!(bwd(&[], &[], None, &mut dw, None, 0).is_err());
    assert!(bwd(&x[1..], &dy, None, &mut dw, None, batch).is_err());
    assert!(bwd(&x, &dy[1..], None, &mut dw, None, batch).is_err());
    assert!(bwd(&x, &dy, Some(&mut dx[1..]), &mut dw, None, batch).is_err());
    assert!(bwd(&x, &dy, None, &mut dw[1..], None, batch).is_err());
    let err = bwd(&x, &dy, None, &mut dw, Some(&mut db[1..]), batch).unwrap_err();
    assert!(err.to_string().contains("db"), "{err}");
    let err = backward(&g, groups, batch, &x, &w[1..], &dy, None, &mut dw, None);
    assert!(err.is_err());
    // A bad geometry is refused before anything is read.
    let bad = Conv2dGeom { out_h: 7, ..g };
    assert!(forward(&bad, groups, batch, &x, &w, &ep, &mut y).is_err());
    assert!(backward(&bad, groups, batch, &x, &w, &dy, None, &mut dw, None).is_err());
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
    forward(g, 1, batch, &x, &w, &Epilogue::new(None, Act::Relu), &mut y).unwrap();
    let (mut dx, mut dw) = (nan_filled(x.len()), vec![0.0; w.len()]);
    backward(g, 1, batch, &x, &w, &dy, Some(&mut dx), &mut dw, None).unwrap();
    let mut dx_alone = nan_filled(x.len());
    backward_input(g, 1, batch, &w, &dy, &mut dx_alone).unwrap();
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
            &["layers::conv2d::api_tests::each_pass_is_measured"],
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
    let gr = Groups::one(&g);
    if candidates(&g, &gr).as_slice().len() == 1 {
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
    let kernel = candidates(&g, &gr).as_slice()[fwd.chosen].1;
    let (x, w) = (random(3 * g.in_len(), 11), random(g.weight_len(), 12));
    let mut y = nan_filled(3 * g.out_len());
    let ep = Epilogue::new(None, Act::Relu);
    let (_, sz) = sizes(&g, 1, 3).unwrap();
    forward_path(kernel, &g, &gr, sz, &x, &w, &ep, &mut y);
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
                &["layers::conv2d::api_tests::cnn_conv_pins"],
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
        Kernel::Gemm
    } else {
        Kernel::Implicit
    };
    let gr = Groups::one(&g);
    let kernels: Vec<_> = candidates(&g, &gr).as_slice().iter().map(|c| c.1).collect();
    assert_eq!(kernels, [want]);
    assert_eq!(dx_candidates(&g, &gr).as_slice().len(), 1);
    let x = random(2 * g.in_len(), 11);
    let w = random(g.weight_len(), 12);
    let dy = random(2 * g.out_len(), 13);
    let mut want_y = vec![0.0; y.len()];
    reference::forward(
        &g,
        1,
        2,
        &x,
        &w,
        &Epilogue::new(None, Act::Relu),
        &mut want_y,
    );
    assert_close(&y, &want_y, 1e-4, 1e-4);
    let (mut want_dx, mut want_dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
    reference::backward(
        &g,
        1,
        2,
        &x,
        &w,
        &dy,
        Some(&mut want_dx),
        &mut want_dw,
        None,
    );
    assert_close(&dx, &want_dx, 1e-4, 1e-4);
    assert_close(&dx_alone, &want_dx, 1e-4, 1e-4);
    assert_close(&dw, &want_dw, 1e-4, 1e-4);
}

/// A grouped shape's passes are measured once each, keyed with their
/// group count, and the forward returns the chosen kernel's result.
#[test]
fn grouped_passes_are_measured_with_their_groups() {
    if std::env::var("CNN_CONV").as_deref() != Ok("auto") {
        crate::testing::rerun_with(
            &[("CNN_CONV", "auto")],
            &["layers::conv2d::api_tests::grouped_passes_are_measured"],
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
    forward(&g, 4, batch, &x, &w, &ep, &mut y).unwrap();
    let (mut dx, mut dw) = (nan_filled(x.len()), vec![0.0; w.len()]);
    backward(&g, 4, batch, &x, &w, &dy, Some(&mut dx), &mut dw, None).unwrap();
    let mine: Vec<Choice> = choices()
        .into_iter()
        .filter(|c| c.geom == g && c.groups == 4)
        .collect();
    let candidates = candidates(&g, &gr);
    if candidates.as_slice().len() == 1 {
        assert!(mine.is_empty(), "{mine:?}");
        return;
    }
    let pass = |p: Pass| mine.iter().find(|c| c.pass == p);
    let fwd = pass(Pass::Forward).expect("forward measured");
    for p in [Pass::WeightGrad, Pass::InputGrad] {
        assert!(pass(p).is_some(), "{p:?} measured: {mine:?}");
    }
    let kernel = candidates.as_slice()[fwd.chosen].1;
    let mut want = nan_filled(dy.len());
    let (_, sz) = sizes(&g, 4, batch).unwrap();
    forward_path(kernel, &g, &gr, sz, &x, &w, &ep, &mut want);
    assert!(
        y == want,
        "forward did not return the chosen kernel's result"
    );
    // The dense convolution of the same geometry is a key of its own.
    assert!(choices().iter().all(|c| c.geom != g || c.groups == 4));
}
