//! ONNX in and out of networks on volumes (feature `onnx`): `tests/graph.rs`'s
//! `Clip` (strided `same`, grouped and dilated `Conv3d`s, a residual with
//! a strided projection, both pools padded, a flatten before a dense
//! layer) and `ClipHead` (layer norm, a gate, a group norm in a
//! concatenation, global pooling on a volume), and `tests/volumes.rs`'s
//! C3dSmall, and `tests/volumes_grow.rs`'s `VolumeDecoder` (strided and
//! grouped-dilated `ConvTranspose3d`, nearest and trilinear `Upsample`)
//! and `Grow` (a batch norm after a `ConvTranspose3d` whose output padding
//! widens its grid), each with stirred batch-norm statistics, come back from their
//! own export with the same weights and the same predictions; a
//! declaration that does not fit the file (another dilation, an image
//! network's file) is an error naming the node and the layer that leaves
//! the weights as they were. (A pool padded past its window, which ONNX
//! cannot say, is a compile error; the export's own check of it is in
//! `cnn-runtime/src/onnx/volume_tests.rs`.)
//!
//! That the exported models compute what `predict` does is checked by
//! ONNX Runtime in `.ci/run` (`scripts/onnx_check.py` on
//! `examples/onnx_export.rs`'s volume network).

use std::path::PathBuf;

use super::{refused, stir};
use crate::common::random;
use crate::graph::{Clip, ClipHead};
use crate::volumes::C3dSmall;
use crate::volumes_grow::{Grow, VolumeDecoder};
use cnn::ndarray::Array5;
use cnn::network;

network! {
    /// `Clip` with its grouped convolution undilated: the same shapes
    /// (`padding: same`), another geometry.
    struct ClipUndilated {
        input: [6, 7, 5, 2],
        layers: [
            stem: Conv3d { filters: 4, kernel: [2, 3, 3], stride: [1, 2, 1], padding: same },
            stem_bn: BatchNorm,
            Relu,
            res: Residual {
                body: [
                    g: Conv3d { filters: 4, kernel: 3, padding: same, groups: 2, bias: false },
                    g_bn: BatchNorm,
                    Relu,
                    s: Conv3d { filters: 6, kernel: 3, stride: 2, padding: 1 },
                ],
                shortcut: [p: Conv3d { filters: 6, kernel: 1, stride: 2 }],
            },
            Relu,
            MaxPool3d { size: 2, stride: 1, padding: 1 },
            AvgPool3d { size: 2, stride: [1, 2, 1], padding: 1 },
            Tanh,
            Flatten,
            d: Dense { units: 3 },
            Softmax,
        ],
    }

    /// An image network whose first layer has `Clip`'s name.
    struct Frame {
        input: [7, 5, 2],
        layers: [stem: Conv2d { filters: 4, kernel: 3 }, GlobalAvgPool, d: Dense { units: 3 }],
    }
}

fn temp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("onnx-volumes-{}-{name}", std::process::id()))
}

fn clips([d, h, w, c]: [usize; 4], n: usize, seed: u64) -> Array5<f32> {
    Array5::from_shape_vec((n, d, h, w, c), random(n * d * h * w * c, seed)).unwrap()
}

/// `$net::new($seed)` with stirred batch-norm statistics, exported and
/// read back: every weight bit for bit, and the same predictions.
macro_rules! round_trip {
    ($net:ty, $seed:expr, $file:expr) => {{
        let mut net = <$net>::new($seed);
        stir(net.params_mut(), <$net>::TENSORS);
        let path = temp($file);
        net.export_onnx(&path).unwrap();
        let back = <$net>::from_onnx(&path).unwrap();
        assert_eq!(back.params(), net.params(), "{}", $file);
        let x = clips(<$net>::INPUT_SHAPE, 2, $seed + 1);
        assert_eq!(
            back.predict(x.view()).unwrap(),
            net.predict(x.view()).unwrap()
        );
        std::fs::remove_file(&path).ok();
    }};
}

#[test]
fn volume_networks_come_back_from_their_own_export() {
    round_trip!(Clip, 3, "clip.onnx");
    round_trip!(ClipHead, 4, "clip-head.onnx");
    round_trip!(C3dSmall, 5, "c3d.onnx");
    round_trip!(VolumeDecoder, 6, "volume-decoder.onnx");
    round_trip!(Grow, 7, "grow.onnx");
}

#[test]
fn a_volume_declaration_that_does_not_fit_is_an_error_naming_node_and_layer() {
    let path = temp("clip-dilated.onnx");
    Clip::new(1).export_onnx(&path).unwrap();
    let err = refused(
        &mut ClipUndilated::new(2),
        &path,
        |n, p| n.load_onnx(p),
        |n| n.params().to_vec(),
    );
    assert!(
        err.ends_with("node res.g: dilations 2x1x1, but res.g has dilation 1x1x1"),
        "{err}"
    );
    let frame = temp("frame.onnx");
    Frame::new(1).export_onnx(&frame).unwrap();
    let err = refused(
        &mut Clip::new(2),
        &frame,
        |n, p| n.load_onnx(p),
        |n| n.params().to_vec(),
    );
    assert!(
        err.ends_with(
            "node stem: weight 4x2x3x3 does not fit stem, which takes 2x3x3x2 -> 4 \
             (4x2x2x3x3 in ONNX's layout)"
        ),
        "{err}"
    );
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(&frame).ok();
}
