//! The transposed convolution against its loop-by-loop reference (forward
//! with a fused epilogue, every gradient, NaN-filled outputs), against
//! central differences, as the adjoint of the convolution it transposes,
//! and its errors.

use super::*;
use crate::geom::{transposed_axis, Act};
use crate::rng::Rng;
use crate::testing::{assert_close, dot, nan_filled, random};

/// One case: the geometry, its groups and a batch.
#[derive(Clone, Copy, Debug)]
struct Case {
    g: ConvTranspose2dGeom,
    groups: usize,
    batch: usize,
}

/// Input `[h, w, c_in]`, `c_out`, groups, kernel, stride, padding, output
/// padding, dilation, batch.
#[allow(clippy::too_many_arguments)] // one argument per hyper-parameter
fn case(
    input: [usize; 3],
    c_out: usize,
    groups: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    dilation: [usize; 2],
    batch: usize,
) -> Case {
    let g = ConvTranspose2dGeom::new(
        input,
        c_out,
        kernel,
        stride,
        padding,
        output_padding,
        dilation,
    )
    .unwrap();
    Case { g, groups, batch }
}

/// Odd sizes, stride 2 with padding 1 and output padding 1 (the U-Net
/// decoder's doubling), unequal axes, groups (2 and 3, and depthwise),
/// dilation, an output padding below the dilation but not the stride
/// (the widened path), height-1 sequences, batch 3; then random ones.
fn cases() -> Vec<Case> {
    let mut v = vec![
        case([5, 7, 3], 4, 1, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], 3),
        case([4, 4, 8], 6, 1, [2, 2], [2, 2], [0, 0], [0, 0], [1, 1], 2),
        case([3, 5, 2], 5, 1, [3, 2], [2, 3], [1, 0], [1, 2], [1, 1], 3),
        case([6, 5, 4], 6, 2, [3, 3], [2, 1], [1, 1], [0, 0], [1, 1], 2),
        case([5, 5, 6], 9, 3, [3, 3], [1, 1], [0, 1], [0, 0], [2, 2], 3),
        case([7, 6, 4], 4, 4, [3, 3], [2, 2], [1, 1], [1, 0], [1, 1], 2),
        case([5, 6, 3], 2, 1, [3, 3], [2, 1], [2, 1], [1, 0], [2, 3], 3),
        case([4, 5, 2], 3, 1, [3, 2], [1, 1], [1, 0], [1, 1], [2, 2], 3),
        case([1, 9, 3], 5, 1, [1, 4], [1, 2], [0, 1], [0, 1], [1, 1], 3),
        case([1, 11, 4], 4, 2, [1, 3], [1, 1], [0, 2], [0, 1], [1, 3], 2),
        case(
            [16, 16, 32],
            16,
            1,
            [4, 4],
            [2, 2],
            [1, 1],
            [0, 0],
            [1, 1],
            2,
        ),
        case([9, 9, 16], 32, 1, [3, 3], [1, 1], [1, 1], [0, 0], [1, 1], 3),
    ];
    let mut r = Rng::new(2024);
    while v.len() < 40 {
        let groups = [1, 2, 3][r.below(3)];
        let (cg, og) = (1 + r.below(3), 1 + r.below(3));
        let stride = [1 + r.below(3), 1 + r.below(3)];
        let dilation = [1 + r.below(3), 1 + r.below(3)];
        let op = [0, 1].map(|a| r.below(stride[a].max(dilation[a])));
        let input = [1 + r.below(7), 1 + r.below(7), groups * cg];
        let kernel = [1 + r.below(4), 1 + r.below(4)];
        let padding = [r.below(3), r.below(3)];
        let Ok(g) =
            ConvTranspose2dGeom::new(input, groups * og, kernel, stride, padding, op, dilation)
        else {
            continue;
        };
        v.push(Case {
            g,
            groups,
            batch: 1 + r.below(3),
        });
    }
    v
}

fn weight_len(c: &Case) -> usize {
    c.g.fh * c.g.fw * (c.g.c_out / c.groups) * c.g.c_in
}

// PyTorch's ConvTranspose2d docs: H_out = (H_in - 1) stride - 2 padding +
// dilation (kernel_size - 1) + output_padding + 1; the docs' example,
// ConvTranspose2d(16, 33, 3, stride=2) on 50x100, gives 101x201.
#[test]
fn output_size_is_pytorchs() {
    let g = ConvTranspose2dGeom::new([50, 100, 16], 33, [3, 3], [2, 2], [0, 0], [0, 0], [1, 1])
        .unwrap();
    assert_eq!((g.out_h, g.out_w), (101, 201));
    // The U-Net doubling: 7 -> 14 with kernel 3, stride 2, padding 1,
    // output padding 1 ((7 - 1) 2 - 2 + 2 + 1 + 1).
    assert_eq!(transposed_axis(7, 3, 2, 1, 1, 1).unwrap(), 14);
    assert_eq!(transposed_axis(7, 3, 1, 2, 1, 1).unwrap(), 10);
    // The output padding must be below the stride or the dilation.
    let err = transposed_axis(7, 3, 2, 1, 1, 2).unwrap_err().to_string();
    assert!(
        err.contains("smaller than the stride 2 or the dilation 1"),
        "{err}"
    );
    let err = transposed_axis(1, 1, 1, 1, 1, 0).unwrap_err().to_string();
    assert!(err.contains("cuts the whole output"), "{err}");
    // Each case's transposed convolution inverts the convolution's size
    // rule: the convolution maps the output back to (at least) the input.
    for c in cases() {
        let conv = c.g.conv();
        conv.validate().unwrap();
        assert!(conv.out_h >= c.g.in_h && conv.out_w >= c.g.in_w, "{c:?}");
        assert_eq!(
            c.g.is_exact(),
            c.g.out_pad_h < c.g.sh && c.g.out_pad_w < c.g.sw
        );
    }
}

fn check(c: &Case, seed: u64) {
    let (g, groups, batch) = (c.g, c.groups, c.batch);
    let x = random(batch * g.in_len(), seed);
    let w = random(weight_len(c), seed + 1);
    let b = random(g.c_out, seed + 2);
    let dy = random(batch * g.out_len(), seed + 3);
    let what = format!("{c:?}");
    for ep in [
        Epilogue::new(Some(&b), Act::Relu),
        Epilogue::new(None, Act::Identity),
    ] {
        let mut want = vec![0.0; dy.len()];
        reference::forward(&g, groups, batch, &x, &w, &ep, &mut want);
        let mut y = nan_filled(dy.len());
        forward(&g, groups, batch, &x, &w, &ep, &mut y).expect(&what);
        assert_close(&y, &want, 1e-4, 1e-5);
    }
    let (mut want_dx, mut want_dw, mut want_db) =
        (vec![0.0; x.len()], vec![0.5; w.len()], b.clone());
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
    // dw and db are added into: start them away from zero.
    let (mut dx, mut dw, mut db) = (nan_filled(x.len()), vec![0.5; w.len()], b.clone());
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
    .expect(&what);
    assert_close(&dx, &want_dx, 1e-4, 1e-4);
    assert_close(&dw, &want_dw, 1e-4, 1e-4);
    assert_close(&db, &want_db, 1e-4, 1e-4);
    // Without dx and db.
    let mut dw = vec![0.5; w.len()];
    backward(&g, groups, batch, &x, &w, &dy, None, &mut dw, None).expect(&what);
    assert_close(&dw, &want_dw, 1e-4, 1e-4);
    let mut dx = nan_filled(x.len());
    backward_input(&g, groups, batch, &w, &dy, &mut dx).expect(&what);
    assert_close(&dx, &want_dx, 1e-4, 1e-4);
}

#[test]
fn matches_the_reference() {
    for (i, c) in cases().iter().enumerate() {
        check(c, 100 * i as u64);
    }
}

/// `<conv(z), x> = <z, conv_transpose(x)>` for the convolution it
/// transposes, computed by the convolution's own reference: the two are
/// adjoint (on the widened grid, where the extra inputs are zero).
#[test]
fn is_the_adjoint_of_its_convolution() {
    for (i, c) in cases().iter().enumerate().filter(|(_, c)| c.g.is_exact()) {
        let (g, groups, batch) = (c.g, c.groups, c.batch);
        let conv = g.conv();
        let x = random(batch * g.in_len(), i as u64);
        let z = random(batch * g.out_len(), 7 + i as u64);
        let w = random(weight_len(c), 9 + i as u64);
        let mut y = nan_filled(z.len());
        forward(&g, groups, batch, &x, &w, &Epilogue::NONE, &mut y).unwrap();
        let mut cz = vec![0.0; x.len()];
        crate::layers::conv2d::reference::forward(
            &conv,
            groups,
            batch,
            &z,
            &w,
            &Epilogue::NONE,
            &mut cz,
        );
        let (a, b) = (dot(&cz, &x), dot(&z, &y));
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + a.abs()),
            "{c:?}: {a} against {b}"
        );
    }
}

/// Central differences of `loss = sum(y * r)` with respect to x, w and b.
fn gradcheck_case(c: &Case, seed: u64) {
    let (g, groups, batch) = (c.g, c.groups, c.batch);
    let mut x = random(batch * g.in_len(), seed);
    let mut w = random(weight_len(c), seed + 1);
    let mut b = random(g.c_out, seed + 2);
    let r = random(batch * g.out_len(), seed + 3);
    let (mut dx, mut dw, mut db) = (nan_filled(x.len()), vec![0.0; w.len()], vec![0.0; b.len()]);
    backward(
        &g,
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
        forward(&g, groups, batch, x, w, &ep, &mut y).unwrap();
        dot(&y, &r)
    };
    crate::testing::gradcheck_xwb([&mut x, &mut w, &mut b], [&dx, &dw, &db], 1e-2, seed, loss);
}

#[test]
fn gradients_match_central_differences() {
    for (i, c) in cases().iter().take(12).enumerate() {
        gradcheck_case(c, 3000 + i as u64);
    }
}

#[test]
fn wrong_lengths_and_bad_groups_are_errors() {
    let c = cases()[3];
    let (g, batch) = (c.g, c.batch);
    let x = vec![0.0; batch * g.in_len()];
    let w = vec![0.0; weight_len(&c)];
    let mut y = vec![0.0; batch * g.out_len()];
    let ep = Epilogue::NONE;
    assert!(forward(&g, c.groups, batch, &x[1..], &w, &ep, &mut y).is_err());
    assert!(forward(&g, c.groups, batch, &x, &w[1..], &ep, &mut y).is_err());
    assert!(forward(&g, c.groups, 0, &x, &w, &ep, &mut y).is_err());
    assert!(forward(&g, 4, batch, &x, &w, &ep, &mut y).is_err());
    assert!(forward(&g, 0, batch, &x, &w, &ep, &mut y).is_err());
    let bad = ConvTranspose2dGeom {
        out_h: g.out_h + 1,
        ..g
    };
    let err = forward(&bad, c.groups, batch, &x, &w, &ep, &mut y).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    let mut dw = vec![0.0; w.len()];
    assert!(backward(&g, c.groups, batch, &x, &w, &y[1..], None, &mut dw, None).is_err());
    let mut dx = vec![0.0; x.len()];
    assert!(backward_input(&g, c.groups, batch, &w, &y, &mut dx[1..]).is_err());
}
