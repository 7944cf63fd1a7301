//! The `GRAPH` constant against `predict`: an executor that walks the
//! graph node by node (`Graph::run`) gives `predict`'s outputs on networks
//! with every construct (fused batch norm, residuals with projections,
//! concatenations, aux heads left out, groups, templates, flat inputs).

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
