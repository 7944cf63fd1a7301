//! The `GRAPH` constant against `predict`: an executor that walks the
//! graph node by node (`Graph::run`) gives `predict`'s outputs on networks
//! with every construct (fused batch norm, residuals with projections,
//! concatenations, aux heads left out, groups, templates, flat inputs,
//! volumes with every 3-D kind).

use crate::common::{images, vectors};
use cnn::network;

network! {
    block Unit(filters, stride: 1) = [
        Residual {
            body: [
                c1: Conv2d { filters: filters, kernel: 3, stride: stride, padding: 1, bias: false },
                bn1: BatchNorm,
                Relu,
                c2: Conv2d { filters: filters, kernel: 3, padding: same, groups: 2 },
                bn2: BatchNorm,
            ],
            shortcut: if stride != 1 { [p: Conv2d { filters: filters, kernel: 1, stride: stride }] } else { [] },
        },
        Relu,
    ];

    struct Everything {
        input: [12, 11, 3],
        layers: [
            stem: Conv2d { filters: 4, kernel: 3, padding: same },
            stem_bn: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            u1: Unit { filters: 4 },
            aux: AuxHead { weight: 0.3, layers: [GlobalAvgPool, Dense { units: 3 }, Softmax] },
            u2: Unit { filters: 6, stride: 2 },
            inc: Concat { branches: [
                [Conv2d { filters: 2, kernel: 1 }, Tanh],
                [MaxPool2d { size: 3, stride: 1, padding: same }],
                [AvgPool2d { size: 2, stride: 1, padding: same }, DepthwiseConv2d { kernel: 3, padding: same }],
            ] },
            BatchNorm,
            Sigmoid,
            MaxPool2d { size: 2 },
            Flatten,
            Dropout { rate: 0.3 },
            d1: Dense { units: 7 },
            Relu,
            d2: Dense { units: 3 },
            Softmax,
        ],
    }

    /// Nodes that read an image as the flat vector a `Flatten` made of it
    /// (a flatten makes no node): batch norm, softmax, an addition.
    struct AfterFlatten {
        input: [6, 5, 2],
        layers: [
            Conv2d { filters: 3, kernel: 3, padding: same },
            Relu,
            res: Residual { body: [Flatten, Dense { units: 90 }], shortcut: [Flatten] },
            Tanh,
            Dense { units: 12 },
            Softmax,
        ],
    }

    struct NormAfterFlatten {
        input: [6, 5, 2],
        layers: [Conv2d { filters: 3, kernel: 3, padding: same }, Flatten, BatchNorm, Relu, Dense { units: 4 }, Softmax],
    }

    struct SoftmaxAfterFlatten {
        input: [4, 3, 2],
        layers: [Conv2d { filters: 2, kernel: 3, padding: same }, Flatten, Softmax],
    }

    struct FlatIn {
        input: [10],
        layers: [Dense { units: 6 }, BatchNorm, Relu, Dense { units: 4 }],
    }

    /// A volume network with every 3-D kind: strided `same`, grouped and
    /// dilated `Conv3d`s, a residual with a strided projection, both pools
    /// padded, a flatten of a volume before a dense layer.
    pub struct Clip {
        input: [6, 7, 5, 2],
        layers: [
            stem: Conv3d { filters: 4, kernel: [2, 3, 3], stride: [1, 2, 1], padding: same },
            stem_bn: BatchNorm,
            Relu,
            res: Residual {
                body: [
                    g: Conv3d { filters: 4, kernel: 3, dilation: [2, 1, 1], padding: same, groups: 2, bias: false },
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

    /// The layers that do not look at the spatial layout, on a volume: a
    /// layer norm, a squeeze-and-excitation gate, a group norm in a
    /// concatenation, global pooling.
    pub struct ClipHead {
        input: [4, 5, 3, 3],
        layers: [
            c: Conv3d { filters: 4, kernel: 3, padding: same },
            ln: LayerNorm,
            se: Gate { body: [GlobalAvgPool, Dense { units: 2 }, Relu, Dense { units: 4 }, Sigmoid] },
            cat: Concat { branches: [[Conv3d { filters: 2, kernel: 1 }], [gn: GroupNorm { groups: 2 }]] },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 3 },
        ],
    }
}

/// `GRAPH.run` against `predict` on volumes, the batch norms' moving
/// statistics moved off their initial values.
#[test]
fn the_graph_computes_what_predict_computes_on_volumes() {
    use cnn::ndarray::Array5;
    macro_rules! same_on_volumes {
        ($net:ident) => {{
            let mut net = $net::new(5);
            for t in $net::TENSORS {
                let v = net.tensor_mut(t.name).unwrap();
                if t.name.ends_with("moving_variance") {
                    v.iter_mut()
                        .enumerate()
                        .for_each(|(i, v)| *v = 0.5 + 0.1 * i as f32);
                } else if t.name.ends_with("moving_mean") {
                    v.iter_mut()
                        .enumerate()
                        .for_each(|(i, v)| *v = 0.05 * i as f32 - 0.1);
                }
            }
            let [d, h, w, c] = $net::INPUT_SHAPE;
            let x = Array5::from_shape_vec(
                (3, d, h, w, c),
                crate::common::random(3 * d * h * w * c, 11),
            )
            .unwrap();
            let want = net.predict(x.view()).unwrap();
            let got = $net::GRAPH
                .run($net::TENSORS, net.params(), 3, x.as_slice().unwrap())
                .unwrap();
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(want.iter()) {
                assert!((a - b).abs() <= 1e-6, "{}: {a} vs {b}", stringify!($net));
            }
        }};
    }
    same_on_volumes!(Clip);
    same_on_volumes!(ClipHead);
    use cnn::net::graph::{Node, ValueShape};
    let g = Clip::GRAPH;
    assert_eq!(g.values[g.input], ValueShape::Volume([6, 7, 5, 2]));
    let conv3d = |name: &str| {
        g.nodes.iter().find_map(|n| match n {
            Node::Conv3d { geom, weight, .. } if *weight == name => Some(*geom),
            _ => None,
        })
    };
    let grouped = conv3d("res.g.weight").unwrap();
    assert_eq!((grouped.groups, grouped.dd, grouped.dh), (2, 2, 1));
    assert_eq!((grouped.out_d, grouped.out_h, grouped.out_w), (6, 4, 5));
    assert!(g
        .nodes
        .iter()
        .any(|n| matches!(n, Node::MaxPool3d { geom, .. } if geom.pad_front == 1)));
    assert!(g
        .nodes
        .iter()
        .any(|n| matches!(n, Node::AvgPool3d { geom, .. } if geom.sh == 2)));
    assert!(g.nodes.iter().any(|n| matches!(n, Node::Add { .. })));
}

#[test]
fn the_graph_computes_what_predict_computes() {
    let mut net = Everything::new(3);
    // Moving statistics that are not the initial ones.
    for t in Everything::TENSORS
        .iter()
        .filter(|t| t.name.ends_with("moving_variance"))
    {
        net.tensor_mut(t.name)
            .unwrap()
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = 0.5 + 0.1 * i as f32);
    }
    for t in Everything::TENSORS
        .iter()
        .filter(|t| t.name.ends_with("moving_mean"))
    {
        net.tensor_mut(t.name)
            .unwrap()
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = 0.05 * i as f32 - 0.1);
    }
    let x = images(3, 12, 11, 3, 9);
    let want = net.predict(x.view()).unwrap();
    let got = Everything::GRAPH
        .run(Everything::TENSORS, net.params(), 3, x.as_slice().unwrap())
        .unwrap();
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(want.iter()) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
    // No node of the aux head, no dropout; one Concat node with three inputs.
    let g = Everything::GRAPH;
    assert!(g
        .nodes
        .iter()
        .any(|n| matches!(n, cnn::net::graph::Node::Concat { inputs, .. } if inputs.len() == 3)));
    assert_eq!(g.values[g.output], cnn::net::graph::ValueShape::Flat(3));
    // SSA: every value but the input is written once.
    let mut written = vec![0; g.values.len()];
    for n in g.nodes {
        use cnn::net::graph::Node::*;
        let y = match *n {
            Conv { y, .. }
            | ConvTranspose { y, .. }
            | Upsample { y, .. }
            | Dense { y, .. }
            | BatchNorm { y, .. }
            | Activation { y, .. }
            | Softmax { y, .. }
            | L2Normalize { y, .. }
            | MaxPool { y, .. }
            | AvgPool { y, .. }
            | GlobalAvgPool { y, .. }
            | Add { y, .. }
            | Concat { y, .. }
            | GroupNorm { y, .. }
            | LayerNorm { y, .. }
            | Scale { y, .. }
            | Gate { y, .. }
            | Conv3d { y, .. }
            | MaxPool3d { y, .. }
            | AvgPool3d { y, .. } => y,
            _ => unreachable!("a node this test does not know: {n:?}"),
        };
        written[y] += 1;
    }
    assert!(
        written
            .iter()
            .enumerate()
            .all(|(i, &w)| w == usize::from(i != g.input)),
        "{written:?}"
    );

    macro_rules! same_as_predict {
        ($net:ident, $h:expr, $w:expr, $c:expr) => {{
            let mut net = $net::new(4);
            for t in $net::TENSORS
                .iter()
                .filter(|t| t.name.ends_with("moving_variance"))
            {
                net.tensor_mut(t.name)
                    .unwrap()
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = 0.5 + 0.01 * i as f32);
            }
            let x = images(2, $h, $w, $c, 5);
            let want = net.predict(x.view()).unwrap();
            let got = $net::GRAPH
                .run($net::TENSORS, net.params(), 2, x.as_slice().unwrap())
                .unwrap();
            for (a, b) in got.iter().zip(want.iter()) {
                assert!((a - b).abs() <= 1e-6, "{}: {a} vs {b}", stringify!($net));
            }
        }};
    }
    same_as_predict!(AfterFlatten, 6, 5, 2);
    same_as_predict!(NormAfterFlatten, 6, 5, 2);
    same_as_predict!(SoftmaxAfterFlatten, 4, 3, 2);

    let flat = FlatIn::new(2);
    let x = vectors(4, 10, 1);
    let want = flat.predict(x.view()).unwrap();
    let got = FlatIn::GRAPH
        .run(FlatIn::TENSORS, flat.params(), 4, x.as_slice().unwrap())
        .unwrap();
    for (a, b) in got.iter().zip(want.iter()) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
}
