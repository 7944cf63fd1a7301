//! Unit tests of the ONNX export and import of the volume layers that grow
//! a map, on a hand-written graph: a grouped, dilated `ConvTranspose3d`
//! with padding and an output padding at or above the stride on the depth
//! (allowed by its dilation: the export moves it into the padding at the
//! end) and below it on the columns, then trilinear and nearest upsampling
//! of the volume. The model takes NCDHW; the transposed weights are
//! PyTorch's `[in, out / groups, kd, kh, kw]`; the `ConvTranspose` and the
//! 5-D `Resize` nodes carry three axes; the weights come back through the
//! import, whose error on another geometry names node and layer. ONNX
//! Runtime runs the facade's volume decoder (`scripts/onnx_check.py` on
//! `examples/onnx_export.rs`).

use onnx_protobuf::{ModelProto, NodeProto};
use protobuf::Message;

use super::export::model;
use super::import_bytes;
use super::model::read_floats;
use crate::geom::{Act, Interpolation};
use crate::geom3d_grow::{ConvTranspose3dGeom, Upsample3dGeom};
use crate::net::graph::{Graph, Node, ValueShape};
use crate::net::{Init, TensorInfo};

// up: 2x3x3x4 -> 3x5x7x4, kernel 2x3x2, stride 1x1x2, padding 1x1x0,
// output padding 1x0x1, dilation 2x2x1, 2 groups. d: (2 - 1) - 2 + 2*1 +
// 1 + 1 = 3; h: 2 - 2 + 2*2 + 0 + 1 = 5; w: 2*2 - 0 + 1 + 1 + 1 = 7.
const UP: ConvTranspose3dGeom = ConvTranspose3dGeom {
    in_d: 2,
    in_h: 3,
    in_w: 3,
    c_in: 4,
    out_d: 3,
    out_h: 5,
    out_w: 7,
    c_out: 4,
    fd: 2,
    fh: 3,
    fw: 2,
    sd: 1,
    sh: 1,
    sw: 2,
    pad_front: 1,
    pad_top: 1,
    pad_left: 0,
    dd: 2,
    dh: 2,
    dw: 1,
    out_pad_d: 1,
    out_pad_h: 0,
    out_pad_w: 1,
    groups: 2,
};

const TRI: Upsample3dGeom = Upsample3dGeom {
    in_d: 3,
    in_h: 5,
    in_w: 7,
    c: 4,
    sd: 2,
    sh: 1,
    sw: 1,
    mode: Interpolation::Bilinear,
};

const NEAR: Upsample3dGeom = Upsample3dGeom {
    in_d: 6,
    in_h: 5,
    in_w: 7,
    c: 4,
    sd: 1,
    sh: 1,
    sw: 2,
    mode: Interpolation::Nearest,
};

const fn t(name: &'static str, shape: &'static [usize], offset: usize, len: usize) -> TensorInfo {
    TensorInfo {
        name,
        layer: "up",
        shape,
        offset,
        len,
        trainable: true,
        init: Init::Zeros,
    }
}

const TENSORS: &[TensorInfo] = &[
    t("up.weight", &[2, 3, 2, 2, 4], 0, 96),
    t("up.bias", &[4], 96, 4),
];
const PARAMS: usize = 100;

const GRAPH: Graph = Graph {
    values: &[
        ValueShape::Volume([2, 3, 3, 4]),
        ValueShape::Volume([3, 5, 7, 4]),
        ValueShape::Volume([6, 5, 7, 4]),
        ValueShape::Volume([6, 5, 14, 4]),
    ],
    nodes: &[
        Node::ConvTranspose3d {
            x: 0,
            y: 1,
            geom: UP,
            weight: "up.weight",
            bias: Some("up.bias"),
            batch_norm: None,
            act: Act::Relu,
        },
        Node::Upsample3d {
            x: 1,
            y: 2,
            geom: TRI,
        },
        Node::Upsample3d {
            x: 2,
            y: 3,
            geom: NEAR,
        },
    ],
    input: 0,
    output: 3,
};

fn params() -> Vec<f32> {
    crate::testing::random(PARAMS, 11)
}

fn exported() -> ModelProto {
    model("Decoder", &GRAPH, TENSORS, &params(), &[2, 3, 3, 4]).unwrap()
}

fn nodes<'m>(m: &'m ModelProto, op: &str) -> Vec<&'m NodeProto> {
    m.graph.node.iter().filter(|n| n.op_type == op).collect()
}

fn ints(n: &NodeProto, name: &str) -> Vec<i64> {
    n.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.ints.clone())
        .unwrap_or_default()
}

fn string(n: &NodeProto, name: &str) -> String {
    n.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| String::from_utf8_lossy(&a.s).into_owned())
        .unwrap_or_default()
}

fn initializer(m: &ModelProto, name: &str) -> (Vec<usize>, Vec<f32>) {
    read_floats(m.graph.initializer.iter().find(|t| t.name == name).unwrap()).unwrap()
}

fn import(m: &ModelProto) -> Result<Vec<f32>, String> {
    let mut p = vec![0.0; PARAMS];
    import_bytes(&m.write_to_bytes().unwrap(), &GRAPH, TENSORS, &mut p).map(|()| p)
}

#[test]
fn the_hand_written_geometry_is_consistent() {
    UP.validate().unwrap();
    assert!(!UP.is_exact(), "the depth's output padding widens the grid");
}

#[test]
fn the_transposed_convolution_and_the_resizes_have_three_axes() {
    let m = exported();
    let up = nodes(&m, "ConvTranspose")[0];
    assert_eq!(ints(up, "kernel_shape"), [2, 3, 2]);
    assert_eq!(ints(up, "strides"), [1, 1, 2]);
    assert_eq!(ints(up, "dilations"), [2, 2, 1]);
    // The depth's output padding 1 is at its stride 1: it comes off the
    // padding at the back instead (1 - 1 = 0), which gives the same frames.
    assert_eq!(ints(up, "pads"), [1, 1, 0, 0, 1, 0]);
    assert_eq!(ints(up, "output_padding"), [0, 0, 1]);
    let group = up.attribute.iter().find(|a| a.name == "group").unwrap();
    assert_eq!(group.i, 2);
    let resizes = nodes(&m, "Resize");
    assert_eq!(resizes.len(), 2);
    let scales = |n: &NodeProto| initializer(&m, &n.input[2]);
    assert_eq!(scales(resizes[0]), (vec![5], vec![1.0, 1.0, 2.0, 1.0, 1.0]));
    assert_eq!(string(resizes[0], "mode"), "linear");
    assert_eq!(
        string(resizes[0], "coordinate_transformation_mode"),
        "half_pixel"
    );
    assert_eq!(scales(resizes[1]), (vec![5], vec![1.0, 1.0, 1.0, 1.0, 2.0]));
    assert_eq!(string(resizes[1], "mode"), "nearest");
    assert_eq!(string(resizes[1], "nearest_mode"), "floor");
}

#[test]
fn weights_are_in_pytorchs_layout() {
    let (m, p) = (exported(), params());
    let (shape, w) = initializer(&m, "up.weight");
    assert_eq!(shape, [4, 2, 2, 3, 2]); // [in, out / groups, kd, kh, kw]
    for i in 0..4 {
        for j in 0..2 {
            for (z, y, x) in [(0, 0, 0), (1, 2, 1), (0, 1, 1), (1, 0, 0)] {
                let theirs = w[(((i * 2 + j) * 2 + z) * 3 + y) * 2 + x];
                let ours = p[((((z * 3 + y) * 2 + x) * 2 + j) * 4) + i];
                assert_eq!(theirs, ours);
            }
        }
    }
}

#[test]
fn the_decoder_comes_back_and_another_geometry_is_refused() {
    let m = exported();
    assert_eq!(import(&m).unwrap(), params());
    let mut other = m.clone();
    let up = other
        .graph
        .mut_or_insert_default()
        .node
        .iter_mut()
        .find(|n| n.op_type == "ConvTranspose")
        .unwrap();
    up.attribute
        .iter_mut()
        .find(|a| a.name == "strides")
        .unwrap()
        .ints = vec![1, 1, 1];
    let e = import(&other).unwrap_err();
    assert!(
        e.starts_with("node up: kernel [2, 3, 2], strides [1, 1, 1]")
            && e.contains("but up has kernel [2, 3, 2], stride [1, 1, 2], dilation [2, 2, 1], padding [1, 1, 0, 1, 1, 0] (front, top, left, back, bottom, right) and output padding [1, 0, 1]"),
        "{e}"
    );
}
