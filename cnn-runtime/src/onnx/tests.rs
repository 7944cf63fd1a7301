//! Unit tests of the ONNX export and import on a hand-written graph with
//! each kind of node: the model's structure (opset, the NCHW input with a
//! dynamic batch, explicit asymmetric pads, the flatten before a dense
//! layer), weights that come back unchanged through export and import, and
//! the import's errors on files that do not fit. That the exported model
//! computes what `predict` does is checked by ONNX Runtime
//! (`scripts/onnx_check.py`); that the import reads PyTorch's layouts, by
//! the facade's `tests/onnx.rs` on a PyTorch fixture.

use onnx_protobuf::tensor_shape_proto::dimension::Value as Dim;
use onnx_protobuf::type_proto::Value;
use onnx_protobuf::{ModelProto, NodeProto};
use protobuf::Message;

use super::export::{far_pad, model};
use super::import_bytes;
use crate::geom::{Act, Conv2dGeom, PoolGeom};
use crate::net::graph::{BatchNormTensors, Graph, Node, ValueShape};
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

// conv1: 7x7x2 -> 4 (`same`, stride 2 on 9x8: odd total padding),
// groups 2, a bias and a folded batch norm; a 'same' max pool; a standalone
// batch norm; a dense layer on the flattened 3x2x4 image; softmax.
const TENSORS: &[TensorInfo] = &[
    t("conv1.weight", "conv1", &[3, 3, 1, 4], 0, 36),
    t("conv1.bias", "conv1", &[4], 36, 4),
    t("bn1.gamma", "bn1", &[4], 40, 4),
    t("bn1.beta", "bn1", &[4], 44, 4),
    t("bn1.moving_mean", "bn1", &[4], 48, 4),
    t("bn1.moving_variance", "bn1", &[4], 52, 4),
    t("fc.weight", "fc", &[24, 3], 56, 72),
    t("fc.bias", "fc", &[3], 128, 3),
    t("bn2.gamma", "bn2", &[3], 131, 3),
    t("bn2.beta", "bn2", &[3], 134, 3),
    t("bn2.moving_mean", "bn2", &[3], 137, 3),
    t("bn2.moving_variance", "bn2", &[3], 140, 3),
];
const PARAMS: usize = 143;

const BN1: BatchNormTensors = BatchNormTensors {
    gamma: "bn1.gamma",
    beta: "bn1.beta",
    mean: "bn1.moving_mean",
    var: "bn1.moving_variance",
    epsilon: 1e-3,
};
const BN2: BatchNormTensors = BatchNormTensors {
    gamma: "bn2.gamma",
    beta: "bn2.beta",
    mean: "bn2.moving_mean",
    var: "bn2.moving_variance",
    epsilon: 1e-5,
};

// 9x8x2 input; conv 3x3 stride 2 'same': out 5x4, total padding
// (5-1)*2+3-9 = 2 rows (1 + 1) and (4-1)*2+3-8 = 1 column (0 + 1).
const CONV: Conv2dGeom = Conv2dGeom {
    in_h: 9,
    in_w: 8,
    c_in: 2,
    out_h: 5,
    out_w: 4,
    c_out: 4,
    fh: 3,
    fw: 3,
    sh: 2,
    sw: 2,
    pad_top: 1,
    pad_left: 0,
    dh: 1,
    dw: 1,
};
// 5x4x4, max pool 2 stride 2 'same': out 3x2, one row after.
const POOL: PoolGeom = PoolGeom {
    in_h: 5,
    in_w: 4,
    c: 4,
    out_h: 3,
    out_w: 2,
    fh: 2,
    fw: 2,
    sh: 2,
    sw: 2,
    pad_top: 0,
    pad_left: 0,
};

const GRAPH: Graph = Graph {
    values: &[
        ValueShape::Image([9, 8, 2]),
        ValueShape::Image([5, 4, 4]),
        ValueShape::Image([3, 2, 4]),
        ValueShape::Flat(3),
        ValueShape::Flat(3),
        ValueShape::Flat(3),
    ],
    nodes: &[
        Node::Conv {
            x: 0,
            y: 1,
            geom: CONV,
            groups: 2,
            weight: "conv1.weight",
            bias: Some("conv1.bias"),
            batch_norm: Some(BN1),
            act: Act::LeakyRelu(0.1),
        },
        Node::MaxPool {
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
        Node::BatchNorm {
            x: 3,
            y: 4,
            tensors: BN2,
            act: Act::Tanh,
        },
        Node::Softmax { x: 4, y: 5 },
    ],
    input: 0,
    output: 5,
};

fn params() -> Vec<f32> {
    let mut p = crate::testing::random(PARAMS, 7);
    // Variances must be positive.
    for v in &mut p[52..56] {
        *v = v.abs() + 0.5;
    }
    for v in &mut p[140..143] {
        *v = v.abs() + 0.5;
    }
    p
}

fn exported() -> ModelProto {
    model("Tiny", &GRAPH, TENSORS, &params(), &[9, 8, 2]).unwrap()
}

fn bytes(m: &ModelProto) -> Vec<u8> {
    m.write_to_bytes().unwrap()
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

fn import(b: &[u8]) -> Result<Vec<f32>, String> {
    let mut p = vec![0.0; PARAMS];
    import_bytes(b, &GRAPH, TENSORS, &mut p).map(|()| p)
}

#[test]
fn far_pads_are_symmetric_where_they_can_be_and_tensorflow_like_otherwise() {
    // PyTorch's padding 1, stride 2 on 56: 28 outputs, 1 after as before.
    assert_eq!(far_pad(56, 28, 3, 2, 1).unwrap(), 1);
    // 'same' on 224 with 7x7 stride 2: 112 outputs, total 5 = 2 + 3.
    assert_eq!(far_pad(224, 112, 7, 2, 2).unwrap(), 3);
    // 'same', 2x2 stride 1: total 1 = 0 + 1.
    assert_eq!(far_pad(5, 5, 2, 1, 0).unwrap(), 1);
    // Valid, stride 2 leaving the last row unread: nothing after.
    assert_eq!(far_pad(6, 2, 3, 2, 0).unwrap(), 0);
    assert!(far_pad(6, 2, 3, 2, 5).is_err());
    assert!(far_pad(6, 2, 3, 0, 0).is_err());
}

#[test]
fn the_model_takes_nchw_with_a_dynamic_batch_and_says_opset_17() {
    let m = exported();
    assert_eq!((m.ir_version, m.opset_import[0].version), (8, 17));
    assert!(m.opset_import[0].domain.is_empty());
    let shape = |v: &onnx_protobuf::ValueInfoProto| -> Vec<String> {
        let Some(Value::TensorType(t)) = &v.type_.value else {
            panic!("not a tensor")
        };
        assert_eq!(t.elem_type, 1, "float32");
        t.shape
            .dim
            .iter()
            .map(|d| match &d.value {
                Some(Dim::DimValue(v)) => v.to_string(),
                Some(Dim::DimParam(p)) => p.clone(),
                _ => "?".into(),
            })
            .collect()
    };
    assert_eq!(shape(&m.graph.input[0]), ["N", "2", "9", "8"]);
    assert_eq!(shape(&m.graph.output[0]), ["N", "3"]);
    assert_eq!(m.graph.input[0].name, "input");
    assert_eq!(m.graph.output[0].name, "output");
    let ops: Vec<&str> = m.graph.node.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(
        ops,
        [
            "Conv",
            "BatchNormalization",
            "LeakyRelu",
            "MaxPool",
            "Flatten",
            "Gemm",
            "BatchNormalization",
            "Tanh",
            "Softmax",
            "Identity"
        ]
    );
}

#[test]
fn geometry_and_attributes_are_explicit() {
    let m = exported();
    let conv = find(&m, "Conv");
    assert_eq!(conv.name, "conv1");
    assert_eq!(ints(conv, "pads"), [1, 0, 1, 1]); // top, left, bottom, right
    assert_eq!(ints(conv, "strides"), [2, 2]);
    assert_eq!(ints(conv, "kernel_shape"), [3, 3]);
    let group = conv.attribute.iter().find(|a| a.name == "group").unwrap();
    assert_eq!(group.i, 2);
    assert_eq!(ints(find(&m, "MaxPool"), "pads"), [0, 0, 1, 0]);
    let alpha = find(&m, "LeakyRelu").attribute[0].f;
    assert_eq!(alpha, 0.1);
    assert_eq!(find(&m, "Softmax").attribute[0].i, 1);
    let eps: Vec<f32> = m
        .graph
        .node
        .iter()
        .filter(|n| n.op_type == "BatchNormalization")
        .map(|n| n.attribute[0].f)
        .collect();
    assert_eq!(eps, [1e-3, 1e-5]);
    // The conv weight is [c_out, c_in / groups, fh, fw]; the dense B is
    // [in, units] with its rows in channel-first order.
    let init = |name: &str| m.graph.initializer.iter().find(|t| t.name == name).unwrap();
    assert_eq!(init("conv1.weight").dims, [4, 1, 3, 3]);
    assert_eq!(init("fc.weight").dims, [24, 3]);
    let p = params();
    let fc = &init("fc.weight").raw_data;
    let row = |r: usize| -> Vec<f32> {
        fc[r * 12..(r + 1) * 12]
            .chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    // ONNX row c * h * w + y * w + x is our row (y * w + x) * c + ch:
    // (ch 1, y 2, x 0) is ONNX row 1 * 6 + 4 = 10 and our row 4 * 4 + 1 = 17.
    assert_eq!(row(10), p[56 + 17 * 3..56 + 18 * 3]);
}

#[test]
fn weights_come_back_unchanged_through_export_and_import() {
    let p = params();
    assert_eq!(import(&bytes(&exported())).unwrap(), p);
}

#[test]
fn an_unsupported_operator_is_named() {
    let mut m = exported();
    // (Clip is ReLU6 now.)
    m.graph.mut_or_insert_default().node[2].op_type = "Elu".into();
    let e = import(&bytes(&m)).unwrap_err();
    assert!(
        e.starts_with("node conv1/LeakyRelu: operator Elu is not supported"),
        "{e}"
    );
}

#[test]
fn a_weight_that_does_not_fit_names_the_node_and_the_layer() {
    let mut m = exported();
    let g = m.graph.mut_or_insert_default();
    let w = g
        .initializer
        .iter_mut()
        .find(|t| t.name == "conv1.weight")
        .unwrap();
    w.dims = vec![4, 1, 9, 1];
    let e = import(&bytes(&m)).unwrap_err();
    assert_eq!(
        e,
        "node conv1: weight 4x1x9x1 does not fit conv1, which takes 3x3x1 -> 4 (4x1x3x3 in ONNX's layout)"
    );
}

#[test]
fn another_geometry_or_order_is_an_error() {
    let mut m = exported();
    let conv = &mut m.graph.mut_or_insert_default().node[0];
    conv.attribute
        .iter_mut()
        .find(|a| a.name == "pads")
        .unwrap()
        .ints = vec![1, 1, 1, 1];
    let e = import(&bytes(&m)).unwrap_err();
    assert!(
        e.starts_with("node conv1: strides 2x2 and pads 1,1,1,1"),
        "{e}"
    );

    // The dense layer's Gemm moved in front of the convolution.
    let mut m = exported();
    let nodes = &mut m.graph.mut_or_insert_default().node;
    let gemm = nodes.remove(5);
    nodes.insert(0, gemm);
    let e = import(&bytes(&m)).unwrap_err();
    assert!(
        e.starts_with("node fc: a Gemm where the declaration has conv1, a convolution"),
        "{e}"
    );

    // One batch norm too many, one too few.
    let mut m = exported();
    m.graph.mut_or_insert_default().node.remove(6);
    let e = import(&bytes(&m)).unwrap_err();
    assert!(
        e.starts_with("bn2 (a batch norm) has no node left in the ONNX graph"),
        "{e}"
    );
}

#[test]
fn a_folded_batch_norm_becomes_the_identity() {
    // The BatchNormalization after the conv removed: our bn1 passes values
    // through and the conv keeps its weights and bias.
    let mut m = exported();
    let nodes = &mut m.graph.mut_or_insert_default().node;
    let bn = nodes.remove(1);
    nodes[1].input[0] = bn.input[0].clone();
    let p = import(&bytes(&m)).unwrap();
    let want = params();
    assert_eq!(p[..40], want[..40]);
    assert_eq!(p[40..44], [1.0; 4]); // gamma
    assert_eq!(p[44..48], [0.0; 4]); // beta: the bias stays the conv's
    assert_eq!(p[48..52], [0.0; 4]); // mean
    assert_eq!(p[52..56], [1.0 - 1e-3; 4]); // var + eps = 1
}

#[test]
fn another_epsilon_moves_into_the_variance() {
    let mut m = exported();
    let bn = m
        .graph
        .mut_or_insert_default()
        .node
        .iter_mut()
        .find(|n| n.op_type == "BatchNormalization")
        .unwrap();
    bn.attribute[0].f = 1e-5;
    let p = import(&bytes(&m)).unwrap();
    let want = params();
    for o in 0..4 {
        let (got, file) = (p[52 + o], want[52 + o]);
        assert!((got + 1e-3 - (file + 1e-5)).abs() < 1e-6, "{got} {file}");
    }
}

#[test]
fn bad_bytes_are_errors() {
    assert!(import(b"").unwrap_err().starts_with("not an ONNX model"));
    assert!(import(b"\x89PNG\r\n\x1a\n")
        .unwrap_err()
        .starts_with("not an ONNX model"));
    let good = bytes(&exported());
    // Every cut: the graph is the last field we write, so a cut either
    // breaks it (its length says so) or leaves none.
    for len in 0..good.len() {
        assert!(
            import(&good[..len]).is_err(),
            "cut at {len} of {}",
            good.len()
        );
    }
    // No opset.
    let mut m = exported();
    m.opset_import.clear();
    assert!(import(&bytes(&m)).unwrap_err().contains("imports no opset"));
    // Every single-bit flip (one bit per byte, in turn): an error or
    // weights, never a panic.
    let mut errors = 0;
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 1 << (i % 8);
        errors += usize::from(import(&b).is_err());
    }
    assert!(
        errors > good.len() / 20,
        "{errors} errors from {} flips",
        good.len()
    );
}

#[test]
fn a_dense_layer_reads_from_matmul_and_add_or_a_transposed_gemm() {
    let want = params();
    // MatMul then Add of the bias, as some exporters write a Linear.
    let mut m = exported();
    let g = m.graph.mut_or_insert_default();
    let i = g.node.iter().position(|n| n.op_type == "Gemm").unwrap();
    let gemm = g.node[i].clone();
    let product = format!("{}/matmul", gemm.output[0]);
    let mut matmul = gemm.clone();
    matmul.op_type = "MatMul".into();
    matmul.input.truncate(2);
    matmul.output = vec![product.clone()];
    let mut add = gemm.clone();
    add.op_type = "Add".into();
    add.name = "fc/Add".into();
    add.input = vec![product, gemm.input[2].clone()];
    g.node[i] = matmul;
    g.node.insert(i + 1, add);
    assert_eq!(import(&bytes(&m)).unwrap(), want);

    // Gemm with B stored [units, in] (transB = 1), as PyTorch writes it.
    let mut m = exported();
    let g = m.graph.mut_or_insert_default();
    let b = g
        .initializer
        .iter_mut()
        .find(|t| t.name == "fc.weight")
        .unwrap();
    let rows: Vec<[u8; 4]> = b
        .raw_data
        .chunks(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    let (n_in, units) = (24, 3);
    let rows = &rows;
    b.raw_data = (0..units)
        .flat_map(|o| (0..n_in).flat_map(move |r| rows[r * units + o]))
        .collect();
    b.dims = vec![units as i64, n_in as i64];
    let gemm = g.node.iter_mut().find(|n| n.op_type == "Gemm").unwrap();
    gemm.attribute.push(super::model::int("transB", 1));
    assert_eq!(import(&bytes(&m)).unwrap(), want);

    // A stored tensor added anywhere else is a bias no layer has.
    let mut m = exported();
    let g = m.graph.mut_or_insert_default();
    let relu = g
        .node
        .iter_mut()
        .find(|n| n.op_type == "LeakyRelu")
        .unwrap();
    relu.op_type = "Add".into();
    relu.input.push("bn1.beta".into());
    let e = import(&bytes(&m)).unwrap_err();
    assert!(
        e.starts_with("node conv1/LeakyRelu: adds the stored tensor `bn1.beta`"),
        "{e}"
    );
}

// conv1 dilated [2, 3] with stride [1, 2] and 'same' padding on 9x8x2,
// groups 2, no batch norm: its windows span 5 rows and 7 columns, so the
// padding is 4 rows (2 + 2) and (4 - 1) * 2 + 7 - 8 = 5 columns (2 + 3).
const DILATED: Conv2dGeom = Conv2dGeom {
    in_h: 9,
    in_w: 8,
    c_in: 2,
    out_h: 9,
    out_w: 4,
    c_out: 4,
    fh: 3,
    fw: 3,
    sh: 1,
    sw: 2,
    pad_top: 2,
    pad_left: 2,
    dh: 2,
    dw: 3,
};

const DILATED_GRAPH: Graph = Graph {
    values: &[ValueShape::Image([9, 8, 2]), ValueShape::Image([9, 4, 4])],
    nodes: &[Node::Conv {
        x: 0,
        y: 1,
        geom: DILATED,
        groups: 2,
        weight: "conv1.weight",
        bias: Some("conv1.bias"),
        batch_norm: None,
        act: Act::Identity,
    }],
    input: 0,
    output: 1,
};

#[test]
fn a_dilated_convolution_exports_and_imports_its_dilations() {
    let built = Conv2dGeom::dilated(
        [9, 8, 2],
        4,
        [3, 3],
        [1, 2],
        [2, 3],
        crate::geom::Padding::Same,
    )
    .unwrap();
    assert_eq!(built, DILATED);
    let tensors = &TENSORS[..2];
    let p = crate::testing::random(40, 3);
    let m = model("Dilated", &DILATED_GRAPH, tensors, &p, &[9, 8, 2]).unwrap();
    let conv = find(&m, "Conv");
    assert_eq!(ints(conv, "dilations"), [2, 3]);
    assert_eq!(ints(conv, "pads"), [2, 2, 2, 3]); // top, left, bottom, right
    assert_eq!(ints(conv, "kernel_shape"), [3, 3]);
    // The undilated model says so too.
    assert_eq!(ints(find(&exported(), "Conv"), "dilations"), [1, 1]);

    let import = |m: &ModelProto| {
        let mut q = vec![0.0; 40];
        import_bytes(&bytes(m), &DILATED_GRAPH, tensors, &mut q).map(|()| q)
    };
    assert_eq!(import(&m).unwrap(), p);
    let set = |m: &mut ModelProto, name: &str, v: Vec<i64>| {
        let conv = &mut m.graph.mut_or_insert_default().node[0];
        conv.attribute
            .iter_mut()
            .find(|a| a.name == name)
            .unwrap()
            .ints = v;
    };
    let mut other = m.clone();
    set(&mut other, "dilations", vec![1, 1]);
    assert_eq!(
        import(&other).unwrap_err(),
        "node conv1: dilations 1x1, but conv1 has dilation 2x3"
    );
    let mut zero = m.clone();
    set(&mut zero, "dilations", vec![2, 0]);
    assert!(
        import(&zero)
            .unwrap_err()
            .contains("a dilation is at least 1"),
        "zero dilation"
    );
    // Pads that fit an undilated window give the wrong output size.
    let mut pads = m.clone();
    set(&mut pads, "pads", vec![1, 1, 1, 1]);
    let e = import(&pads).unwrap_err();
    assert!(
        e.starts_with("node conv1: strides 1x2 and pads 1,1,1,1"),
        "{e}"
    );
    // SAME_UPPER works the padding out from the dilated window.
    let mut auto = m.clone();
    let conv = &mut auto.graph.mut_or_insert_default().node[0];
    conv.attribute.retain(|a| a.name != "pads");
    let mut same = super::model::int("auto_pad", 0);
    same.type_ = onnx_protobuf::attribute_proto::AttributeType::STRING.into();
    same.s = b"SAME_UPPER".to_vec();
    conv.attribute.push(same);
    assert_eq!(import(&auto).unwrap(), p);
}

// up: a transposed 3x3, stride 2, padding 1, output padding 1, groups 2,
// on 4x3x2: (4-1)*2 - 2 + 2 + 1 + 1 = 8 rows, 6 columns, 4 filters; then
// nearest by 2x1 and bilinear by 2.
const TRANSPOSED: crate::geom::ConvTranspose2dGeom = crate::geom::ConvTranspose2dGeom {
    in_h: 4,
    in_w: 3,
    c_in: 2,
    out_h: 8,
    out_w: 6,
    c_out: 4,
    fh: 3,
    fw: 3,
    sh: 2,
    sw: 2,
    pad_top: 1,
    pad_left: 1,
    dh: 1,
    dw: 1,
    out_pad_h: 1,
    out_pad_w: 1,
};

const UP_TENSORS: &[TensorInfo] = &[
    t("up.weight", "up", &[3, 3, 2, 2], 0, 36),
    t("up.bias", "up", &[4], 36, 4),
];

const UP_GRAPH: Graph = Graph {
    values: &[
        ValueShape::Image([4, 3, 2]),
        ValueShape::Image([8, 6, 4]),
        ValueShape::Image([16, 6, 4]),
        ValueShape::Image([32, 12, 4]),
    ],
    nodes: &[
        Node::ConvTranspose {
            x: 0,
            y: 1,
            geom: TRANSPOSED,
            groups: 2,
            weight: "up.weight",
            bias: Some("up.bias"),
            batch_norm: None,
            act: Act::Relu,
        },
        Node::Upsample {
            x: 1,
            y: 2,
            geom: crate::geom::UpsampleGeom {
                in_h: 8,
                in_w: 6,
                c: 4,
                sh: 2,
                sw: 1,
                mode: crate::geom::Interpolation::Nearest,
            },
        },
        Node::Upsample {
            x: 2,
            y: 3,
            geom: crate::geom::UpsampleGeom {
                in_h: 16,
                in_w: 6,
                c: 4,
                sh: 2,
                sw: 2,
                mode: crate::geom::Interpolation::Bilinear,
            },
        },
    ],
    input: 0,
    output: 3,
};

fn strings(n: &NodeProto, name: &str) -> String {
    let a = n.attribute.iter().find(|a| a.name == name).unwrap();
    String::from_utf8(a.s.clone()).unwrap()
}

#[test]
fn transposed_convolutions_and_upsampling_export_and_import() {
    assert_eq!(
        crate::geom::ConvTranspose2dGeom::new([4, 3, 2], 4, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1])
            .unwrap(),
        TRANSPOSED
    );
    let p = crate::testing::random(40, 5);
    let m = model("Up", &UP_GRAPH, UP_TENSORS, &p, &[4, 3, 2]).unwrap();
    let conv = find(&m, "ConvTranspose");
    assert_eq!(ints(conv, "kernel_shape"), [3, 3]);
    assert_eq!(ints(conv, "strides"), [2, 2]);
    assert_eq!(ints(conv, "pads"), [1, 1, 1, 1]);
    assert_eq!(ints(conv, "output_padding"), [1, 1]);
    assert_eq!(ints(conv, "dilations"), [1, 1]);
    assert_eq!(ints(conv, "group"), Vec::<i64>::new());
    let g = conv.attribute.iter().find(|a| a.name == "group").unwrap();
    assert_eq!(g.i, 2);
    // ONNX's (PyTorch's) layout: [c_in, c_out / groups, fh, fw].
    let w = m
        .graph
        .initializer
        .iter()
        .find(|t| t.name == "up.weight")
        .unwrap();
    assert_eq!(w.dims, [2, 2, 3, 3]);
    let resizes: Vec<&NodeProto> = m
        .graph
        .node
        .iter()
        .filter(|n| n.op_type == "Resize")
        .collect();
    assert_eq!(resizes.len(), 2);
    assert_eq!(strings(resizes[0], "mode"), "nearest");
    assert_eq!(
        strings(resizes[0], "coordinate_transformation_mode"),
        "asymmetric"
    );
    assert_eq!(strings(resizes[0], "nearest_mode"), "floor");
    assert_eq!(strings(resizes[1], "mode"), "linear");
    assert_eq!(
        strings(resizes[1], "coordinate_transformation_mode"),
        "half_pixel"
    );
    let scales = m
        .graph
        .initializer
        .iter()
        .find(|t| t.name == resizes[1].input[2])
        .unwrap();
    let (_, values) = super::model::read_floats(scales).unwrap();
    assert_eq!(values, [1.0, 1.0, 2.0, 2.0]);

    let import = |m: &ModelProto| {
        let mut q = vec![0.0; 40];
        import_bytes(&bytes(m), &UP_GRAPH, UP_TENSORS, &mut q).map(|()| q)
    };
    assert_eq!(import(&m).unwrap(), p);
    let set = |m: &mut ModelProto, name: &str, v: Vec<i64>| {
        let conv = &mut m.graph.mut_or_insert_default().node[0];
        conv.attribute
            .iter_mut()
            .find(|a| a.name == name)
            .unwrap()
            .ints = v;
    };
    let mut other = m.clone();
    set(&mut other, "output_padding", vec![0, 0]);
    assert_eq!(
        import(&other).unwrap_err(),
        "node up: kernel [3, 3], strides [2, 2], dilations [1, 1], pads [1, 1, 1, 1] and output_padding [0, 0], \
         but up has kernel [3, 3], stride [2, 2], dilation [1, 1], padding [1, 1, 1, 1] (top, left, bottom, right) \
         and output padding [1, 1]"
    );
    // A transposed layer does not take a Conv's weights, nor the reverse.
    let e = import_bytes(&bytes(&m), &DILATED_GRAPH, &TENSORS[..2], &mut [0.0; 40]).unwrap_err();
    assert!(e.contains("node up") && e.contains("conv1"), "{e}");
}

// ONNX Runtime refuses an output padding not below the stride, which
// PyTorch allows below the dilation: 1 with stride 1 and dilation 2 is
// written as one row less of padding at the end, and read back. Rows:
// (4-1)*1 - 4 + 2*2 + 1 + 1 = 5; columns (3-1)*2 - 2 + 2 + 1 + 1 = 6.
const AT_STRIDE: crate::geom::ConvTranspose2dGeom = crate::geom::ConvTranspose2dGeom {
    out_h: 5,
    out_w: 6,
    sw: 2,
    sh: 1,
    pad_top: 2,
    dh: 2,
    ..TRANSPOSED
};

const AT_STRIDE_GRAPH: Graph = Graph {
    values: &[ValueShape::Image([4, 3, 2]), ValueShape::Image([5, 6, 4])],
    nodes: &[Node::ConvTranspose {
        x: 0,
        y: 1,
        geom: AT_STRIDE,
        groups: 2,
        weight: "up.weight",
        bias: Some("up.bias"),
        batch_norm: None,
        act: Act::Identity,
    }],
    input: 0,
    output: 1,
};

#[test]
fn an_output_padding_at_the_stride_moves_into_the_padding_at_the_end() {
    let built =
        crate::geom::ConvTranspose2dGeom::new([4, 3, 2], 4, [3, 3], [1, 2], [2, 1], [1, 1], [2, 1])
            .unwrap();
    assert_eq!(built, AT_STRIDE);
    let p = crate::testing::random(40, 6);
    let m = model("Up", &AT_STRIDE_GRAPH, UP_TENSORS, &p, &[4, 3, 2]).unwrap();
    let conv = find(&m, "ConvTranspose");
    assert_eq!(ints(conv, "pads"), [2, 1, 1, 1]); // top, left, bottom, right
    assert_eq!(ints(conv, "output_padding"), [0, 1]);
    let mut q = vec![0.0; 40];
    import_bytes(&bytes(&m), &AT_STRIDE_GRAPH, UP_TENSORS, &mut q).unwrap();
    assert_eq!(q, p);
}
