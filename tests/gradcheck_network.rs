//! Finite-difference checks of the macro-generated backward pass: the loss
//! of a whole network, differentiated by central differences with respect
//! to a sample of the parameters of every tensor, against the gradient that
//! `loss_and_grads` computes. Training-mode batch norm; dropout with a fixed
//! seed so that each evaluation uses the same mask.

use crate::common::{images, labels};
use cnn::network;

network! {
    /// Every plain layer kind: strided, padded, `same`, non-square and 1x1
    /// convolutions, batch norm on images and on vectors, each activation,
    /// max and average pooling (with `same` padding), dropout.
    struct Small {
        input: [9, 9, 2],
        layers: [
            c1: Conv2d { filters: 4, kernel: 3, stride: 2, padding: 1 },
            bn1: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            c2: Conv2d { filters: 5, kernel: [2, 3], padding: same },
            Tanh,
            MaxPool2d { size: 2, stride: 1 },
            c3: Conv2d { filters: 3, kernel: 1, bias: false },
            Sigmoid,
            AvgPool2d { size: 3, stride: 2, padding: same },
            Flatten,
            d1: Dense { units: 6 },
            bn2: BatchNorm,
            Relu,
            Dropout { rate: 0.3 },
            d2: Dense { units: 4 },
            Softmax,
        ],
    }
}

network! {
    /// Global pooling, a dense layer without bias, and no final Softmax:
    /// the outputs are the logits of the loss.
    struct Logits {
        input: [4, 4, 3],
        layers: [
            c: Conv2d { filters: 6, kernel: 3, padding: same },
            Relu,
            GlobalAvgPool,
            d1: Dense { units: 5, bias: false },
            Sigmoid,
            d2: Dense { units: 3 },
        ],
    }
}

network! {
    /// Nothing to train below the first layers: pooling first, then batch
    /// norm (whose input gradient nobody needs).
    struct PoolFirst {
        input: [6, 6, 2],
        layers: [
            MaxPool2d { size: 2 },
            bn: BatchNorm,
            c: Conv2d { filters: 3, kernel: 2 },
            Relu,
            Flatten,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

network! {
    /// Blocks: residuals with an identity shortcut (whose body starts with
    /// an activation, which must not overwrite the shared input) and with a
    /// projection, an auxiliary head followed by an activation on the value
    /// it taps, and a concatenation with a pooling and an identity branch.
    struct Blocks {
        input: [6, 6, 3],
        layers: [
            c0: Conv2d { filters: 4, kernel: 3, padding: same },
            res: Residual {
                body: [Relu, b1: Conv2d { filters: 4, kernel: 3, padding: same }, bn: BatchNorm, Tanh, b2: Conv2d { filters: 4, kernel: 1 }],
            },
            Relu,
            proj: Residual {
                body: [p1: Conv2d { filters: 5, kernel: 3, stride: 2, padding: 1 }, Tanh],
                shortcut: [ps: Conv2d { filters: 5, kernel: 1, stride: 2 }],
            },
            aux: AuxHead { weight: 0.4, layers: [ac: Conv2d { filters: 2, kernel: 1 }, Flatten, ad: Dense { units: 3 }, Softmax] },
            Sigmoid,
            inc: Concat {
                branches: [
                    [i1: Conv2d { filters: 2, kernel: 1 }, LeakyRelu { alpha: 0.1 }],
                    [MaxPool2d { size: 3, stride: 1, padding: same }],
                    [AvgPool2d { size: 2, stride: 1, padding: same }],
                ],
            },
            GlobalAvgPool,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

network! {
    /// Grouped and depthwise convolutions, with and without bias, each
    /// followed by batch norm or an activation fused into it, and a
    /// depthwise separable block from a template.
    block Separable(filters, stride: 1) = [
        dw: DepthwiseConv2d { kernel: 3, stride: stride, padding: same, bias: false },
        dw_bn: BatchNorm,
        Relu,
        pw: Conv2d { filters: filters, kernel: 1 },
        Tanh,
    ];

    struct Grouped {
        input: [7, 7, 4],
        layers: [
            g1: Conv2d { filters: 6, kernel: 3, padding: 1, groups: 2 },
            Relu,
            g2: Conv2d { filters: 6, kernel: [3, 2], stride: 2, groups: 3, bias: false },
            bn: BatchNorm,
            sep: Separable { filters: 5, stride: 2 },
            dw2: DepthwiseConv2d { kernel: 2, multiplier: 2, padding: same },
            Sigmoid,
            Flatten,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

network! {
    /// Frozen layers between trainable ones: the gradient passes through a
    /// frozen batch norm (its moving statistics' affine map, with a fused
    /// activation), a frozen convolution and a frozen dense layer.
    struct Sandwich {
        input: [6, 6, 2],
        layers: [
            c1: Conv2d { filters: 3, kernel: 3, padding: same },
            bn: BatchNorm { trainable: false },
            Tanh,
            c2: Conv2d { filters: 4, kernel: 3, trainable: false },
            Relu,
            Flatten,
            d1: Dense { units: 5, trainable: false },
            Sigmoid,
            d2: Dense { units: 3 },
            Softmax,
        ],
    }
}

network! {
    /// A decoder: a strided transposed convolution with output padding and
    /// a fused activation, a batch norm after one, a grouped one with its
    /// output padding below the dilation only (the widened grid), a frozen
    /// depthwise one between trainable layers (its input gradient alone),
    /// nearest and bilinear upsampling. Smooth activations only: a ReLU
    /// after the batch norm puts some value within the step of its kink
    /// whenever t1's bias moves every value.
    struct Decoder {
        input: [4, 3, 2],
        layers: [
            t1: ConvTranspose2d { filters: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1 },
            Tanh,
            t2: ConvTranspose2d { filters: 4, kernel: [2, 3], stride: [1, 2], dilation: [2, 1], output_padding: [1, 0], groups: 2 },
            bn: BatchNorm,
            Sigmoid,
            Upsample { scale: [2, 1] },
            t3: ConvTranspose2d { filters: 4, kernel: 3, padding: 1, groups: 4, trainable: false },
            Upsample { scale: 2, mode: bilinear },
            c: Conv2d { filters: 2, kernel: 3, stride: 3 },
            Flatten,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

/// Checks six elements of every trainable tensor by central differences
/// (`assert_param_grads!`) on a batch of random images.
macro_rules! check_net {
    ($net:ty, $batch:expr, $seed:expr) => {
        check_net!($net, $batch, $seed, |_net: &mut $net| {}, &[])
    };
    // `setup` runs on the new network; `frozen` lists the layers it froze
    // at run time, whose tensors have no gradient to check.
    ($net:ty, $batch:expr, $seed:expr, $setup:expr, $frozen:expr) => {{
        let mut net = <$net>::new($seed);
        $setup(&mut net);
        let [h, w, c] = <$net>::INPUT_SHAPE;
        let x = images($batch, h, w, c, $seed + 1);
        let y = labels($batch, <$net>::OUTPUT_SIZE);
        crate::assert_param_grads!(net: $net, x, y, 99, $frozen)
    }};
}

#[test]
fn every_layer_kind() {
    let checked = check_net!(Small, 5, 1);
    assert!(checked >= 50, "{checked} elements checked");
}

#[test]
fn logits_out() {
    check_net!(Logits, 4, 2);
}

#[test]
fn nothing_trains_below_the_first_parameters() {
    check_net!(PoolFirst, 3, 3);
}

#[test]
fn residual_concat_and_aux_head() {
    let checked = check_net!(Blocks, 4, 4);
    assert!(checked >= 60, "{checked} elements checked");
}

#[test]
fn grouped_and_depthwise_convolutions() {
    let checked = check_net!(Grouped, 3, 5);
    assert!(checked >= 50, "{checked} elements checked");
}

#[test]
fn transposed_convolutions_and_upsampling() {
    let checked = check_net!(Decoder, 3, 8);
    assert!(checked >= 40, "{checked} elements checked");
}

#[test]
fn through_frozen_layers() {
    // c1's weight and bias, d2's weight and bias.
    let checked = check_net!(Sandwich, 4, 6);
    assert!(checked >= 15, "{checked} elements checked");
}

#[test]
fn through_layers_frozen_at_run_time() {
    // The first batch norm frozen at run time: it normalises with its
    // moving statistics, and the gradient of c1 goes through that map.
    let checked = check_net!(
        Small,
        5,
        7,
        |net: &mut Small| {
            net.tensor_mut("bn1.moving_mean")
                .unwrap()
                .copy_from_slice(&[0.1, -0.1, 0.2, 0.0]);
            net.tensor_mut("bn1.moving_variance")
                .unwrap()
                .copy_from_slice(&[0.5, 1.5, 2.0, 1.0]);
            net.freeze("bn1").unwrap();
        },
        &["bn1"]
    );
    assert!(checked >= 40, "{checked} elements checked");
}

/// The checks above again under each other instruction set this CPU runs
/// (`CNN_ISA=avx2`, `portable`): every kernel path's gradients. The filter
/// reruns this module only, not the whole test binary it shares.
#[test]
fn every_check_passes_under_every_instruction_set() {
    cnn_runtime::testing::rerun_under_other_isas(&[
        "gradcheck_network::",
        "--skip",
        "every_check_passes_under",
    ]);
}
