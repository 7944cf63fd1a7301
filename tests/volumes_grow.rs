//! Volumes that grow: a small encoder-decoder declared with `Conv3d`,
//! `ConvTranspose3d` (strided with output padding; grouped and dilated
//! with an output padding below the dilation only) and `Upsample` on
//! volumes (nearest with `[sd, sh, sw]`, trilinear) reproduces PyTorch's
//! output and the gradients of a mean squared error
//! (`scripts/make_volume_transpose_fixture.py`, its `ConvTranspose3d
//! [in, out / groups, kd, kh, kw]` weights loaded by `load_pytorch`),
//! `predict` and `GRAPH` agree with it, the shapes and counts follow
//! PyTorch's, a network with batch norm after a transposed 3-D
//! convolution passes a finite-difference check, and a frozen one passes
//! the gradient to the layers below it.

use crate::common::{labels, random};
use cnn::ndarray::{Array5, Ix5};
use cnn::net::graph::Node;
use cnn::prelude::*;
use cnn::Interpolation;

network! {
    /// `Decoder` of make_volume_transpose_fixture.py, in its names.
    pub(crate) struct VolumeDecoder {
        input: [3, 4, 4, 2],
        layers: [
            down: Conv3d { filters: 4, kernel: 3, stride: 2, padding: 1 },
            Relu,
            up: ConvTranspose3d { filters: 6, kernel: 3, stride: 2, padding: 1, output_padding: 1 },
            Relu,
            g: ConvTranspose3d {
                filters: 4, kernel: 2, padding: [1, 0, 1], output_padding: [1, 0, 0],
                dilation: [2, 1, 1], groups: 2,
            },
            near: Upsample { scale: [1, 1, 2] },
            tri: Upsample { scale: 2, mode: trilinear },
            head: Conv3d { filters: 2, kernel: 1 },
        ],
    }
}

network! {
    /// A decoder step whose batch norm folds into the transposed
    /// convolution at inference, classified after nearest upsampling.
    pub(crate) struct Grow {
        input: [2, 3, 3, 3],
        layers: [
            up: ConvTranspose3d { filters: 4, kernel: [2, 3, 2], stride: [2, 1, 2], padding: [0, 1, 0], groups: 1 },
            bn: BatchNorm,
            Tanh,
            Upsample { scale: [2, 1, 1] },
            t: ConvTranspose3d { filters: 2, kernel: 2, dilation: 2, output_padding: 1, bias: false },
            Upsample { scale: 2, mode: trilinear },
            GlobalAvgPool,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

network! {
    /// A frozen `ConvTranspose3d` between trainable layers: backward
    /// passes its input gradient alone, through the widened grid.
    struct FrozenUp {
        input: [2, 3, 3, 2],
        layers: [
            c: Conv3d { filters: 3, kernel: 1 },
            Tanh,
            t: ConvTranspose3d { filters: 2, kernel: 2, dilation: [2, 1, 1], padding: [1, 0, 0], output_padding: [1, 0, 0], trainable: false },
            Upsample { scale: [1, 2, 1], mode: trilinear },
            GlobalAvgPool,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

fn clips(n: usize, [d, h, w, c]: [usize; 4], seed: u64) -> Array5<f32> {
    Array5::from_shape_vec((n, d, h, w, c), random(n * d * h * w * c, seed)).unwrap()
}

#[test]
fn shapes_and_counts_follow_pytorch() {
    // down: 3x4x4 -> 2x2x2; up: (2 - 1)*2 - 2 + 2 + 1 + 1 = 4 on each
    // axis; g: depth (4 - 1) - 2 + 2*1 + 1 + 1 = 5, rows 3 + 1 + 1 = 5,
    // columns 3 - 2 + 1 + 1 = 3; near 5x5x6; tri 10x10x12.
    let s = VolumeDecoder::summary();
    let shown = |name: &str| {
        let row = s.rows.iter().find(|r| r.name == name).unwrap();
        (row.output.to_string(), row.params, row.macs)
    };
    assert_eq!(shown("down").0, "2x2x2x4");
    // PyTorch's ConvTranspose3d(4, 6, 3): 4 * 6 * 27 weights + 6 biases;
    // every input voxel times every tap: 8 * 4 * 27 * 6 multiply-adds.
    assert_eq!(
        shown("up"),
        ("4x4x4x6".into(), 4 * 6 * 27 + 6, 8 * 4 * 27 * 6)
    );
    // groups 2: [6, 2, 2, 2, 2] weights.
    assert_eq!(
        shown("g"),
        ("5x5x3x4".into(), 6 * 2 * 8 + 4, 64 * 6 * 8 * 2)
    );
    assert_eq!(shown("near").0, "5x5x6x4");
    assert_eq!(shown("tri"), ("10x10x12x4".into(), 0, 0));
    assert_eq!(VolumeDecoder::OUTPUT_SIZE, 10 * 10 * 12 * 2);
    let text = s.to_string();
    assert!(text.contains("ConvTranspose3d"), "{text}");
}

#[test]
fn output_and_gradients_match_pytorch() {
    let checked =
        crate::assert_reproduces_pytorch!(VolumeDecoder, "volume", "decoder", Ix5, graph: true);
    assert_eq!(checked, 8, "every weight and bias");
}

#[test]
fn graph_carries_the_volume_geometry_and_the_modes() {
    let nodes: Vec<String> = VolumeDecoder::GRAPH
        .nodes
        .iter()
        .filter_map(|n| match n {
            Node::ConvTranspose3d { geom: g, .. } => Some(format!(
                "t {}x{}x{} s{}x{}x{} p{}x{}x{} op{}x{}x{} d{}x{}x{} g{}",
                g.fd,
                g.fh,
                g.fw,
                g.sd,
                g.sh,
                g.sw,
                g.pad_front,
                g.pad_top,
                g.pad_left,
                g.out_pad_d,
                g.out_pad_h,
                g.out_pad_w,
                g.dd,
                g.dh,
                g.dw,
                g.groups
            )),
            Node::Upsample3d { geom: g, .. } => {
                let linear = g.mode == Interpolation::Bilinear;
                Some(format!("u {}x{}x{} {linear}", g.sd, g.sh, g.sw))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        nodes,
        [
            "t 3x3x3 s2x2x2 p1x1x1 op1x1x1 d1x1x1 g1",
            "t 2x2x2 s1x1x1 p1x0x1 op1x0x0 d2x1x1 g2",
            "u 1x1x2 false",
            "u 2x2x2 true",
        ]
    );
}

#[test]
fn finite_differences_agree_with_backward() {
    // Central differences in f32 with step 1e-3; |a - n| <= 1e-3 + 2e-2 *
    // max(|a|, |n|), as in gradcheck_network.rs.
    let mut net = Grow::new(3);
    let x = clips(3, [2, 3, 3, 3], 5);
    let y = labels(3, 3);
    let checked = crate::assert_param_grads!(net: Grow, x, y, 7, &[]);
    assert!(checked >= 20, "{checked} elements checked");
}

#[test]
fn a_frozen_transposed_convolution_passes_the_gradient_through() {
    let mut net = FrozenUp::new(4);
    let before = net.params().to_vec();
    let x = clips(3, [2, 3, 3, 2], 6);
    let y = labels(3, 3);
    let checked = crate::assert_param_grads!(net: FrozenUp, x, y, 7, &["t"]);
    assert!(checked >= 10, "{checked} elements checked");
    let mut opt = Sgd::new(0.1);
    net.train_step(x.view(), &y, &mut opt).unwrap();
    let t = FrozenUp::TENSORS
        .iter()
        .find(|t| t.name == "t.weight")
        .unwrap();
    assert_eq!(net.params()[t.range()], before[t.range()]);
    let c = FrozenUp::TENSORS
        .iter()
        .find(|t| t.name == "c.weight")
        .unwrap();
    assert_ne!(net.params()[c.range()], before[c.range()]);
}

#[test]
fn training_folds_the_batch_norm_and_the_graph_agrees() {
    let mut net = Grow::new(5);
    let x = clips(4, [2, 3, 3, 3], 8);
    let y = labels(4, 3);
    let mut opt = Sgd::new(0.05).momentum(0.9);
    let first = net.train_step(x.view(), &y, &mut opt).unwrap();
    for _ in 0..4 {
        net.train_step(x.view(), &y, &mut opt).unwrap();
    }
    let last = net.train_step(x.view(), &y, &mut opt).unwrap();
    assert!(last < first, "loss {first} -> {last}");
    let predicted = net.predict(x.view()).unwrap();
    let run = Grow::GRAPH
        .run(Grow::TENSORS, net.params(), 4, x.as_slice().unwrap())
        .unwrap();
    crate::common::assert_close("GRAPH", &run, predicted.as_slice().unwrap(), 1e-5);
}
