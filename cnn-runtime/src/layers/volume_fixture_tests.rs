//! The 3-D kernels against PyTorch, on the fixture that
//! `scripts/make_volume_kernel_fixture.py` made and that is committed in
//! `tests/fixtures/volume/kernels.safetensors`: `Conv3d` (grouped, strided,
//! padded and dilated unequally per axis; and a one-channel `padding=1`
//! layer), `MaxPool3d` and `AvgPool3d` with padding: outputs, and the
//! gradients of `sum(y * r)` with respect to the input and every
//! parameter. No Python runs at test time.

use crate::geom::{Act, Padding};
use crate::io::Checkpoint;
use crate::layers::conv2d::Epilogue;
use crate::layers::{conv3d, pool3d};
use crate::testing::{assert_close, nan_filled};
use crate::{Conv3dGeom, Pool3dGeom};

fn fixture() -> Checkpoint {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/volume/kernels.safetensors"
    );
    crate::io::load(std::path::Path::new(path)).unwrap()
}

fn tensor(f: &Checkpoint, name: &str) -> (Vec<usize>, Vec<f32>) {
    let (shape, values) = f.tensor(name).unwrap();
    (shape.to_vec(), values)
}

/// The batch and `[d, h, w, c]` of an NDHWC tensor.
fn volume(shape: &[usize]) -> (usize, [usize; 4]) {
    (shape[0], [shape[1], shape[2], shape[3], shape[4]])
}

/// PyTorch computed in f64 and stored f32: ours agree to f32 rounding.
fn close(got: &[f32], want: &[f32]) {
    assert_close(got, want, 1e-4, 1e-5);
}

fn conv_case(
    case: &str,
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    dilation: [usize; 3],
    groups: usize,
) {
    let f = fixture();
    let t = |n: &str| tensor(&f, &format!("{case}.{n}"));
    let ((xs, x), (_, w), (_, b), (ys, want_y), (_, r)) = (t("x"), t("w"), t("b"), t("y"), t("r"));
    let (batch, input) = volume(&xs);
    let c_out = ys[4];
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
    assert_eq!([g.out_d, g.out_h, g.out_w], [ys[1], ys[2], ys[3]], "{case}");
    let mut y = nan_filled(want_y.len());
    let ep = Epilogue::new(Some(&b), Act::Identity);
    conv3d::forward(&g, batch, &x, &w, &ep, &mut y).unwrap();
    close(&y, &want_y);
    let (mut dx, mut dw, mut db) = (nan_filled(x.len()), vec![0.0; w.len()], vec![0.0; b.len()]);
    conv3d::backward(&g, batch, &x, &w, &r, Some(&mut dx), &mut dw, Some(&mut db)).unwrap();
    close(&dx, &t("dx").1);
    close(&dw, &t("dw").1);
    close(&db, &t("db").1);
}

#[test]
fn conv3d_matches_pytorch() {
    conv_case("conv_a", [3, 2, 3], [2, 1, 2], [1, 0, 1], [1, 2, 1], 2);
    conv_case("conv_b", [3; 3], [1; 3], [1; 3], [1; 3], 1);
}

#[test]
fn pool3d_matches_pytorch() {
    let f = fixture();
    for (case, size) in [("max", [3; 3]), ("avg", [2, 3, 2])] {
        let t = |n: &str| tensor(&f, &format!("{case}.{n}"));
        let ((xs, x), (ys, want_y), (_, r), (_, want_dx)) = (t("x"), t("y"), t("r"), t("dx"));
        let (batch, input) = volume(&xs);
        let g = Pool3dGeom::new(input, size, [2; 3], [Padding::Explicit(1); 3]).unwrap();
        assert_eq!([g.out_d, g.out_h, g.out_w], [ys[1], ys[2], ys[3]], "{case}");
        let (mut y, mut dx) = (nan_filled(want_y.len()), nan_filled(x.len()));
        if case == "max" {
            let mut argmax = vec![0; y.len()];
            pool3d::max_forward(&g, batch, &x, &mut y, &mut argmax).unwrap();
            pool3d::max_backward(&g, batch, &r, &argmax, &mut dx).unwrap();
        } else {
            pool3d::avg_forward(&g, batch, &x, &mut y).unwrap();
            pool3d::avg_backward(&g, batch, &r, &mut dx).unwrap();
        }
        close(&y, &want_y);
        close(&dx, &want_dx);
    }
}
