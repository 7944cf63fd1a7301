//! Transposed convolutions and upsampling end to end: an image network
//! that halves and doubles its map (a strided `ConvTranspose2d` with
//! output padding, a grouped one whose output padding is below the
//! dilation only, nearest and bilinear `Upsample`, a depthwise transposed
//! convolution) and a sequence network (`ConvTranspose1d`s, linear and
//! nearest `Upsample`) reproduce PyTorch's output and the gradients of a
//! mean squared error (`scripts/make_transpose_fixture.py`, loaded by
//! `load_pytorch`, run through the held pass); `predict` and `GRAPH`
//! agree with the held pass, and a batch norm after a transposed
//! convolution folds into it at inference.

use cnn::net::graph::Node;
use cnn::pass::Mode;
use cnn::prelude::*;
use cnn::Interpolation;

network! {
    /// `Image` of make_transpose_fixture.py, in our names.
    pub(crate) struct Image {
        input: [5, 4, 3],
        layers: [
            down: Conv2d { filters: 4, kernel: 3, stride: 2, padding: 1 },
            Relu,
            up: ConvTranspose2d { filters: 6, kernel: 3, stride: 2, padding: 1, output_padding: 1 },
            Relu,
            g: ConvTranspose2d {
                filters: 4, kernel: [2, 3], stride: [1, 2], padding: [1, 0],
                output_padding: [1, 1], dilation: [2, 1], groups: 2,
            },
            near: Upsample { scale: [2, 1] },
            bi: Upsample { scale: 2, mode: bilinear },
            dw: ConvTranspose2d { filters: 4, kernel: 3, padding: 1, groups: 4, bias: false },
            head: Conv2d { filters: 2, kernel: 1 },
        ],
    }
}

network! {
    /// `Sequence` of make_transpose_fixture.py, in our names.
    struct Sequence {
        input: [10, 3],
        layers: [
            t1: ConvTranspose1d { filters: 4, kernel: 4, stride: 2, padding: 1 },
            Relu,
            t2: ConvTranspose1d { filters: 6, kernel: 3, dilation: 2, padding: 2, output_padding: 1, groups: 2 },
            lin: Upsample { scale: 2, mode: linear },
            near: Upsample { scale: 3 },
            head: Conv1d { filters: 2, kernel: 1 },
        ],
    }
}

network! {
    /// A decoder step with a batch norm that inference folds into the
    /// transposed convolution, and an activation fused into it.
    struct Folded {
        input: [4, 3, 5],
        layers: [
            up: ConvTranspose2d { filters: 6, kernel: 2, stride: 2 },
            bn: BatchNorm,
            Relu,
            Upsample { scale: 2, mode: bilinear },
            Flatten,
            Dense { units: 3 },
        ],
    }
}

/// `|ours - theirs| <= 1e-5 * (1 + |theirs|)`, element by element.
fn assert_matches(what: &str, ours: &[f32], theirs: &[f32]) {
    crate::common::assert_close(what, ours, theirs, 1e-5);
}

#[test]
fn shapes_and_counts_follow_pytorch() {
    // down: 5x4 -> 3x2; up: (3-1)*2 - 2 + 2 + 1 + 1 = 6 rows, 4 columns;
    // g: (6-1)*1 - 2 + 2*1 + 1 + 1 = 7 rows, (4-1)*2 + 2 + 1 + 1 = 10
    // columns; near 14x10, bi 28x20. t1: (10-1)*2 - 2 + 3 + 1 = 20; t2:
    // 19 - 4 + 4 + 1 + 1 = 21; lin 42, near 126.
    let s = Image::summary();
    let shown = |name: &str| {
        let row = s.rows.iter().find(|r| r.name == name).unwrap();
        (row.output, row.params)
    };
    assert_eq!(shown("up"), ("6x4x6", 3 * 3 * 6 * 4 + 6));
    assert_eq!(shown("g"), ("7x10x4", 2 * 3 * 2 * 6 + 4));
    assert_eq!(shown("near"), ("14x10x4", 0));
    assert_eq!(shown("bi"), ("28x20x4", 0));
    assert_eq!(shown("dw"), ("28x20x4", 3 * 3 * 4));
    let s = Sequence::summary();
    let shown = |name: &str| s.rows.iter().find(|r| r.name == name).unwrap().output;
    assert_eq!(shown("t1"), "20x4");
    assert_eq!(shown("t2"), "21x6");
    assert_eq!(shown("near"), "126x6");
    assert_eq!(Sequence::OUTPUT_SIZE, 126 * 2);
}

#[test]
fn image_output_and_gradients_match_pytorch() {
    let checked = crate::assert_reproduces_pytorch!(Image, "transpose", "image", cnn::ndarray::Ix4, graph: true);
    assert_eq!(checked, 9, "every weight and bias");
}

#[test]
fn sequence_output_and_gradients_match_pytorch() {
    crate::assert_reproduces_pytorch!(Sequence, "transpose", "sequence", cnn::ndarray::Ix3, graph: false);
}

#[test]
fn graph_carries_the_transposed_geometry_and_the_modes() {
    let nodes: Vec<String> = Image::GRAPH
        .nodes
        .iter()
        .filter_map(|n| match n {
            Node::ConvTranspose { geom, groups, .. } => Some(format!(
                "t {}x{} s{}x{} p{}x{} op{}x{} d{}x{} g{groups}",
                geom.fh,
                geom.fw,
                geom.sh,
                geom.sw,
                geom.pad_top,
                geom.pad_left,
                geom.out_pad_h,
                geom.out_pad_w,
                geom.dh,
                geom.dw
            )),
            Node::Upsample { geom, .. } => {
                let bilinear = geom.mode == Interpolation::Bilinear;
                Some(format!("u {}x{} {bilinear}", geom.sh, geom.sw))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        nodes,
        [
            "t 3x3 s2x2 p1x1 op1x1 d1x1 g1",
            "t 2x3 s1x2 p1x0 op1x1 d2x1 g2",
            "u 2x1 false",
            "u 2x2 true",
            "t 3x3 s1x1 p1x1 op0x0 d1x1 g4",
        ]
    );
}

#[test]
fn a_batch_norm_after_a_transposed_convolution_folds_at_inference() {
    let mut net = Folded::new(3);
    let x = crate::common::images(4, 4, 3, 5, 9);
    let labels = crate::common::labels(4, 3);
    let mut opt = Sgd::new(0.05);
    // A few steps move the moving statistics away from 0 and 1.
    for _ in 0..3 {
        net.train_step(x.view(), &labels, &mut opt).unwrap();
    }
    let held = net.forward(x.view(), Mode::Infer).unwrap();
    let want = held.output().as_slice().unwrap().to_vec();
    drop(held);
    let predicted = net.predict(x.view()).unwrap();
    assert_matches("predict", predicted.as_slice().unwrap(), &want);
    let folded = Folded::GRAPH.nodes.iter().any(|n| {
        matches!(
            n,
            Node::ConvTranspose {
                batch_norm: Some(_),
                act: cnn::Act::Relu,
                ..
            }
        )
    });
    assert!(folded, "{:?}", Folded::GRAPH.nodes);
}
