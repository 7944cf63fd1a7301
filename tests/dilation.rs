//! Dilated convolutions end to end: two networks with a dilated `Conv2d`
//! (`padding: same`), a dilated depthwise and a dilated grouped `Conv2d`,
//! and dilated `Conv1d`s on a sequence reproduce PyTorch's output and the
//! gradients of a mean squared error (`scripts/make_dilation_fixture.py`,
//! loaded by `load_pytorch`, run through the held pass); `predict` and
//! `GRAPH` agree with the held pass and carry the dilation.

use cnn::net::graph::Node;
use cnn::prelude::*;

network! {
    /// `Image` of make_dilation_fixture.py, in our names.
    struct Image {
        input: [9, 8, 3],
        layers: [
            conv1: Conv2d { filters: 4, kernel: 3, dilation: 2, padding: same },
            Relu,
            dw: DepthwiseConv2d { kernel: 3, dilation: [2, 1], padding: 1, multiplier: 2 },
            g: Conv2d { filters: 6, kernel: [2, 3], stride: 2, dilation: [1, 2], groups: 2 },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 3 },
        ],
    }
}

network! {
    /// `Sequence` of make_dilation_fixture.py, in our names.
    struct Sequence {
        input: [16, 3],
        layers: [
            c1: Conv1d { filters: 4, kernel: 2, dilation: 3, padding: same },
            Relu,
            c2: Conv1d { filters: 5, kernel: 3, stride: 2, padding: 1, dilation: 4 },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 2 },
        ],
    }
}

#[test]
fn shapes_follow_the_dilated_rule() {
    // conv1 'same' keeps 9x8; dw: floor((9 + 2 - 2*2 - 1) / 1) + 1 = 7 rows,
    // 8 columns; g: floor((7 - 1 - 1) / 2) + 1 = 3 rows, floor((8 - 2*2 - 1)
    // / 2) + 1 = 2 columns. c2: floor((16 + 2 - 4*2 - 1) / 2) + 1 = 5.
    let s = Image::summary();
    let shown = |name: &str| {
        let row = s.rows.iter().find(|r| r.name == name).unwrap();
        (row.output, row.params)
    };
    assert_eq!(shown("conv1"), ("9x8x4", 3 * 3 * 3 * 4 + 4));
    assert_eq!(shown("dw"), ("7x8x8", 3 * 3 * 8 + 8));
    assert_eq!(shown("g"), ("3x2x6", 2 * 3 * 4 * 6 + 6));
    let s = Sequence::summary();
    let c2 = s.rows.iter().find(|r| r.name == "c2").unwrap();
    assert_eq!(c2.output, "5x5");
}

#[test]
fn image_output_and_gradients_match_pytorch() {
    let checked = crate::assert_reproduces_pytorch!(Image, "dilation", "image", cnn::ndarray::Ix4, graph: true);
    assert_eq!(checked, 8, "every weight and bias");
}

#[test]
fn sequence_output_and_gradients_match_pytorch() {
    crate::assert_reproduces_pytorch!(Sequence, "dilation", "sequence", cnn::ndarray::Ix3, graph: false);
}

#[test]
fn graph_carries_the_dilation() {
    let dilations: Vec<(usize, usize, usize)> = Image::GRAPH
        .nodes
        .iter()
        .filter_map(|n| match n {
            Node::Conv { geom, groups, .. } => Some((geom.dh, geom.dw, *groups)),
            _ => None,
        })
        .collect();
    assert_eq!(dilations, [(2, 2, 1), (2, 1, 4), (1, 2, 2)]);
    let along: Vec<(usize, usize)> = Sequence::GRAPH
        .nodes
        .iter()
        .filter_map(|n| match n {
            Node::Conv { geom, .. } => Some((geom.dh, geom.dw)),
            _ => None,
        })
        .collect();
    assert_eq!(along, [(1, 3), (1, 4)]);
}
