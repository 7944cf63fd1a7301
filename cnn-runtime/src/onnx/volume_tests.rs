//! Unit tests of the ONNX export and import of a volume network, on a
//! hand-written graph: a grouped, strided, dilated `Conv3d` with padding on
//! two of its three axes, a padded `AvgPool3d`, and a dense layer on the
//! flattened volume. The model takes NCDHW, the weights are in PyTorch's
//! `[out, in / groups, kd, kh, kw]` with the dense layer's rows in the
//! channels-first order of the flatten, the attributes carry three axes,
//! and everything comes back through the import, whose errors on a file
//! of another geometry name the node and the layer. That the model
//! computes what `predict` does is checked by ONNX Runtime
//! (`scripts/onnx_check.py` on `examples/onnx_export.rs`'s volume
//! network); that the macro's graphs of volumes come back, by the facade's
//! `tests/onnx/volumes.rs`.

use onnx_protobuf::tensor_shape_proto::dimension::Value as Dim;
use onnx_protobuf::type_proto::Value;
use onnx_protobuf::{ModelProto, NodeProto};
use protobuf::Message;

use super::export::model;
use super::import_bytes;
use super::model::read_floats;
use crate::geom::Act;
use crate::geom3d::{Conv3dGeom, Pool3dGeom};
use crate::net::graph::{Graph, Node, ValueShape};
use crate::net::{Init, TensorInfo};

const fn t(
    name: &'static str,
    layer: &'static str,
    shape: &'static [usize],
    offset: usize,
    len: usize,
) -> TensorInfo {
    TensorInfo {
        name,
        layer,
        shape,
        offset,
        len,
        trainable: true,
        init: Init::Zeros,
    }
}

// conv: 5x6x4x2 -> 3x4x2x4, kernel 3x3x2, stride 2x1x2, dilation 1x2x1,
// padding 1, 1, 0 in front, 2 groups. d: (5 + 2 - 3) / 2 + 1 = 3; h: the
// dilated window spans 5, (6 + 2 - 5) + 1 = 4; w: (4 - 2) / 2 + 1 = 2.
const CONV: Conv3dGeom = Conv3dGeom {
    in_d: 5,
    in_h: 6,
    in_w: 4,
    c_in: 2,
    out_d: 3,
    out_h: 4,
    out_w: 2,
    c_out: 4,
    fd: 3,
    fh: 3,
    fw: 2,
    sd: 2,
    sh: 1,
    sw: 2,
    pad_front: 1,
    pad_top: 1,
    pad_left: 0,
    dd: 1,
    dh: 2,
    dw: 1,
    groups: 2,
};

// pool: 3x4x2x4 -> 4x2x3x4, window 2, stride 1x2x1, padding 1, 0, 1.
const POOL: Pool3dGeom = Pool3dGeom {
    in_d: 3,
    in_h: 4,
    in_w: 2,
    c: 4,
    out_d: 4,
    out_h: 2,
    out_w: 3,
    fd: 2,
    fh: 2,
    fw: 2,
    sd: 1,
    sh: 2,
    sw: 1,
    pad_front: 1,
    pad_top: 0,
    pad_left: 1,
};

const TENSORS: &[TensorInfo] = &[
    t("conv.weight", "conv", &[3, 3, 2, 1, 4], 0, 72),
    t("conv.bias", "conv", &[4], 72, 4),
    t("fc.weight", "fc", &[96, 3], 76, 288),
    t("fc.bias", "fc", &[3], 364, 3),
];
const PARAMS: usize = 367;

const GRAPH: Graph = Graph {
    values: &[
        ValueShape::Volume([5, 6, 4, 2]),
        ValueShape::Volume([3, 4, 2, 4]),
        ValueShape::Volume([4, 2, 3, 4]),
        ValueShape::Flat(3),
    ],
    nodes: &[
        Node::Conv3d {
            x: 0,
            y: 1,
            geom: CONV,
            weight: "conv.weight",
            bias: Some("conv.bias"),
            batch_norm: None,
            act: Act::Relu,
        },
        Node::AvgPool3d {
            x: 1,
            y: 2,
            geom: POOL,
        },
        Node::Dense {
            x: 2,
            y: 3,
            weight: "fc.weight",
            bias: Some("fc.bias"),
            act: Act::Identity,
        },
    ],
    input: 0,
    output: 3,
};

fn params() -> Vec<f32> {
    crate::testing::random(PARAMS, 9)
}

fn exported() -> ModelProto {
    model("Clip", &GRAPH, TENSORS, &params(), &[5, 6, 4, 2]).unwrap()
}

fn find<'m>(m: &'m ModelProto, op: &str) -> &'m NodeProto {
    m.graph
        .node
        .iter()
        .find(|n| n.op_type == op)
        .unwrap_or_else(|| panic!("no {op}"))
}

fn ints(n: &NodeProto, name: &str) -> Vec<i64> {
    n.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.ints.clone())
        .unwrap_or_default()
}

fn set(m: &mut ModelProto, name: &str, v: Vec<i64>) {
    m.graph
        .mut_or_insert_default()
        .node
        .iter_mut()
        .find(|n| n.op_type == "Conv")
        .unwrap()
        .attribute
        .iter_mut()
        .find(|a| a.name == name)
        .unwrap()
        .ints = v;
}

fn import(m: &ModelProto) -> Result<Vec<f32>, String> {
    let mut p = vec![0.0; PARAMS];
    import_bytes(&m.write_to_bytes().unwrap(), &GRAPH, TENSORS, &mut p).map(|()| p)
}

fn initializer(m: &ModelProto, name: &str) -> (Vec<usize>, Vec<f32>) {
    read_floats(m.graph.initializer.iter().find(|t| t.name == name).unwrap()).unwrap()
}

#[test]
fn the_hand_written_geometries_are_consistent() {
    CONV.validate().unwrap();
    POOL.validate().unwrap();
}

#[test]
fn a_volume_is_ncdhw_and_its_layers_have_three_axes() {
    let m = exported();
    let Some(Value::TensorType(input)) = &m.graph.input[0].type_.value else {
        panic!("not a tensor")
    };
    let dims: Vec<String> = input
        .shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(Dim::DimValue(v)) => v.to_string(),
            Some(Dim::DimParam(p)) => p.clone(),
            _ => "?".into(),
        })
        .collect();
    assert_eq!(dims, ["N", "2", "5", "6", "4"]);
    let ops: Vec<&str> = m.graph.node.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(
        ops,
        ["Conv", "Relu", "AveragePool", "Flatten", "Gemm", "Identity"]
    );
    let conv = find(&m, "Conv");
    assert_eq!(ints(conv, "kernel_shape"), [3, 3, 2]);
    assert_eq!(ints(conv, "strides"), [2, 1, 2]);
    assert_eq!(ints(conv, "dilations"), [1, 2, 1]);
    // Front, top, left, then back, bottom, right: the last window of each
    // axis ends one past the input in depth and height, and at it in width.
    assert_eq!(ints(conv, "pads"), [1, 1, 0, 1, 1, 0]);
    let group = conv.attribute.iter().find(|a| a.name == "group").unwrap();
    assert_eq!(group.i, 2);
    let pool = find(&m, "AveragePool");
    assert_eq!(ints(pool, "kernel_shape"), [2, 2, 2]);
    assert_eq!(ints(pool, "strides"), [1, 2, 1]);
    assert_eq!(ints(pool, "pads"), [1, 0, 1, 1, 0, 1]);
    let count = pool
        .attribute
        .iter()
        .find(|a| a.name == "count_include_pad");
    assert_eq!(count.map(|a| a.i), Some(0));
}

#[test]
fn weights_are_in_pytorchs_layout() {
    let (m, p) = (exported(), params());
    let (shape, w) = initializer(&m, "conv.weight");
    assert_eq!(shape, [4, 1, 3, 3, 2]); // [out, in / groups, kd, kh, kw]
    let ours = &p[0..72];
    for o in 0..4 {
        for z in 0..3 {
            for y in 0..3 {
                for x in 0..2 {
                    let theirs = w[((o * 3 + z) * 3 + y) * 2 + x];
                    assert_eq!(theirs, ours[((z * 3 + y) * 2 + x) * 4 + o]);
                }
            }
        }
    }
    // The dense layer's row for our (d, h, w, c) is the flatten's row for
    // (c, d, h, w) of the 4x2x3x4 volume.
    let (shape, fc) = initializer(&m, "fc.weight");
    assert_eq!(shape, [96, 3]);
    let ours = &p[76..364];
    for (d, h, w, c) in [(0, 0, 0, 0), (3, 1, 2, 3), (1, 0, 2, 1), (2, 1, 0, 2)] {
        let (row, theirs) = (
            (((d * 2) + h) * 3 + w) * 4 + c,
            ((c * 4 + d) * 2 + h) * 3 + w,
        );
        assert_eq!(fc[theirs * 3..theirs * 3 + 3], ours[row * 3..row * 3 + 3]);
    }
}

#[test]
fn a_volume_network_comes_back_through_export_and_import() {
    assert_eq!(import(&exported()).unwrap(), params());
}

#[test]
fn another_geometry_is_an_error_naming_node_and_layer() {
    let m = exported();
    let mut other = m.clone();
    set(&mut other, "dilations", vec![1, 1, 1]);
    assert_eq!(
        import(&other).unwrap_err(),
        "node conv: dilations 1x1x1, but conv has dilation 1x2x1"
    );
    let mut four = m.clone();
    set(&mut four, "pads", vec![1, 1, 1, 1]);
    assert_eq!(
        import(&four).unwrap_err(),
        "node conv: pads [1, 1, 1, 1] are not six sizes (front, top, left, back, bottom, right)"
    );
    let mut shifted = m.clone();
    set(&mut shifted, "pads", vec![0, 1, 0, 2, 1, 0]);
    assert_eq!(
        import(&shifted).unwrap_err(),
        "node conv: strides 2x1x2 and pads 0,1,0,2,1,0 (front, top, left, back, bottom, right) \
         give 3x4x2 outputs from conv's 5x6x4 input, but conv has stride 2x1x2, padding 1 in \
         front, 1 on top and 0 on the left, and 3x4x2 outputs"
    );
    let mut flat = m.clone();
    set(&mut flat, "kernel_shape", vec![3, 3]);
    assert_eq!(
        import(&flat).unwrap_err(),
        "node conv: kernel_shape [3, 3] is not three sizes (depth, height, width)"
    );
}

#[test]
fn a_pool_padded_past_its_window_is_refused_by_name() {
    // A 1x2x2 pool padded 1 on every axis: ONNX wants pads below the window.
    let pool = Pool3dGeom::new(
        [3, 4, 2, 4],
        [1, 2, 2],
        [1, 1, 1],
        [crate::geom::Padding::Explicit(1); 3],
    )
    .unwrap();
    let out = [pool.out_d, pool.out_h, pool.out_w, 4];
    let graph = Graph {
        values: &[ValueShape::Volume([3, 4, 2, 4])],
        nodes: &[],
        input: 0,
        output: 0,
    };
    let values = [graph.values[0], ValueShape::Volume(out)];
    let nodes = [Node::MaxPool3d {
        x: 0,
        y: 1,
        geom: pool,
    }];
    let graph = Graph {
        values: Box::leak(Box::new(values)),
        nodes: Box::leak(Box::new(nodes)),
        output: 1,
        ..graph
    };
    let e = model("Pool", &graph, &[], &[], &[3, 4, 2, 4])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "a 1x2x2 pool padded 1,1,1,1,1,1: ONNX needs the padding smaller than the window"
        ),
        "{e}"
    );
}
