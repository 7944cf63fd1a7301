//! One test per rule: the text users read, message and help line.

use super::{errors, net_src, one_error};

#[test]
fn kernel_fits_padded_input() {
    assert_eq!(
        one_error("[5, 5, 3]", "conv2: Conv2d { filters: 4, kernel: 7 }"),
        "conv2: kernel 7 does not fit the padded input 5x5 (n + 2p = 5 + 2*0 = 5 < f = 7)\n\
         = help: lower the kernel size, add padding, or remove a pooling layer before conv2"
    );
    assert_eq!(
        one_error("[5, 9, 3]", "conv2: Conv2d { filters: 4, kernel: [3, 12], padding: 1 }"),
        "conv2: kernel 3x12 does not fit the padded input 5x9 in width (n + 2p = 9 + 2*1 = 11 < f = 12)\n\
         = help: lower the kernel size, add padding, or remove a pooling layer before conv2"
    );
}

#[test]
fn pool_window_fits_padded_input() {
    assert_eq!(
        one_error("[4, 4, 3]", "MaxPool2d { size: 2 }, MaxPool2d { size: 2 }, MaxPool2d { size: 2 }"),
        "max_pool2d_3: pool window 2 does not fit the padded input 1x1 (n + 2p = 1 + 2*0 = 1 < f = 2)\n\
         = help: lower the pool size, add padding, or remove a pooling layer before max_pool2d_3"
    );
}

#[test]
fn pool_padding_smaller_than_window() {
    assert_eq!(
        one_error("[4, 4, 3]", "p: AvgPool2d { size: 2, padding: 2 }"),
        "p: padding 2 is not smaller than the pool window 2, so a window could hold only padding\n\
         = help: use padding below 2, or `padding: same`"
    );
}

#[test]
fn unknown_kind_says_the_closest() {
    assert_eq!(
        one_error("[4, 4, 3]", "Conv2D { filters: 4, kernel: 1 }, Relu"),
        "unknown layer kind `Conv2D`\n= help: did you mean `Conv2d`?"
    );
    assert_eq!(
        one_error("[4]", "fc: Linear { units: 4 }"),
        "fc: unknown layer kind `Linear`\n= help: did you mean `Dense`?"
    );
    assert!(one_error("[4]", "Transformer").contains("the layer kinds are `Conv2d`, "));
}

#[test]
fn unknown_key_says_the_closest() {
    assert_eq!(
        one_error("[4, 4, 3]", "Conv2d { filters: 4, kernel: 1, strides: 2 }"),
        "conv2d_1: Conv2d has no key `strides`\n= help: did you mean `stride`?"
    );
    assert_eq!(
        one_error("[4, 4, 3]", "Relu { alpha: 0.1 }"),
        "relu_1: Relu has no key `alpha`\n= help: for a leaky ReLU write `LeakyRelu { alpha: .. }`"
    );
    assert_eq!(
        one_error("[4]", "Dense { units: 4, activation: 3 }"),
        "dense_1: Dense has no key `activation`\n= help: Dense takes `units` or `bias`"
    );
}

#[test]
fn missing_keys() {
    assert_eq!(
        one_error("[4, 4, 3]", "Conv2d { kernel: 1 }"),
        "conv2d_1: Conv2d needs `filters`\n= help: add `filters: N`, the number of output channels"
    );
    assert_eq!(
        one_error("[4, 4, 3]", "Conv2d"),
        "conv2d_1: Conv2d needs `filters` and `kernel`\n= help: add them, e.g. `Conv2d { filters: 6, kernel: 5 }`"
    );
    assert!(one_error("[4]", "Dropout").starts_with("dropout_1: Dropout needs `rate`"));
    assert!(one_error("[4]", "Dense").starts_with("dense_1: Dense needs `units`"));
    assert!(one_error("[4, 4, 1]", "MaxPool2d").starts_with("max_pool2d_1: MaxPool2d needs `size`"));
}

#[test]
fn zero_filters_kernel_stride_units() {
    assert_eq!(
        errors(&net_src("[4, 4, 3]", "Conv2d { filters: 0, kernel: 1, stride: [1, 0] }, Flatten, Dense { units: 0 }")),
        [
            "conv2d_1: filters must be at least 1, got 0\n= help: a convolution needs at least one filter",
            "conv2d_1: stride must be at least 1, got [1, 0]\n= help: the stride is the step between windows; 1 visits every position",
            "dense_1: units must be at least 1, got 0\n= help: a dense layer needs at least one unit",
        ]
    );
    assert!(one_error("[4, 4, 3]", "MaxPool2d { size: 0 }")
        .starts_with("max_pool2d_1: size must be at least 1, got 0"));
}

#[test]
fn values_in_range() {
    assert_eq!(
        errors(&net_src("[4]", "Dropout { rate: 1 }, BatchNorm { momentum: 1.5, epsilon: 0 }, LeakyRelu { alpha: -0.1 }")),
        [
            "dropout_1: dropout rate 1.0 is outside [0, 1)\n= help: the rate is the fraction of inputs dropped in training, e.g. `rate: 0.5`",
            "batch_norm_1: batch norm momentum 1.5 is outside [0, 1)\n= help: moving = momentum * moving + (1 - momentum) * batch; Keras uses 0.99",
            "batch_norm_1: batch norm epsilon must be above 0, got 0.0\n= help: epsilon keeps 1 / sqrt(var + epsilon) finite; Keras uses 0.001",
            "leaky_relu_1: leaky relu alpha must be 0 or more, got -0.1\n= help: alpha is the slope for negative inputs, e.g. `alpha: 0.01`",
        ]
    );
}

#[test]
fn value_types() {
    assert_eq!(
        errors(&net_src("[4, 4, 3]", "Conv2d { filters: 4.5, kernel: same, padding: sane, bias: 1 }")),
        [
            "conv2d_1: filters must be a whole number, got `4.5`\n= help: use a positive whole number",
            "conv2d_1: `kernel` takes a number or [height, width], got `same`\n= help: for example `kernel: 3` or `kernel: [3, 1]`",
            "conv2d_1: unknown padding `sane`\n= help: did you mean `same`?",
            "conv2d_1: `bias` takes `true` or `false`, got `1`\n= help: for example `bias: false`",
        ]
    );
    assert_eq!(
        one_error("[4, 4, 3]", "Conv2d { filters: 4, kernel: -1 }"),
        "conv2d_1: kernel cannot be negative, got -1\n= help: use a positive whole number"
    );
    assert_eq!(
        one_error("[4, 4, 3]", "3"),
        "expected a layer, found 3\n= help: a layer is `Kind`, `Kind { key: value, .. }` or `name: Kind { .. }`"
    );
}

#[test]
fn duplicate_keys_and_names() {
    assert_eq!(
        one_error("[4]", "Dense { units: 4, units: 5 }"),
        "dense_1: `units` is given twice\n= help: remove one of them"
    );
    assert_eq!(
        one_error("[4]", "a: Relu, a: Relu"),
        "a: another layer already has this name\n= help: give each layer its own name (weights are saved under it)"
    );
    // Inside a block the full name counts: `b.a` is not `a`.
    assert!(errors(&net_src("[4]", "a: Relu, b: Residual { body: [a: Relu] }")).is_empty());
}

#[test]
fn dense_needs_a_flat_input() {
    assert_eq!(
        one_error("[5, 5, 16]", "fc1: Dense { units: 10 }"),
        "fc1: Dense needs a flat input but gets the image 5x5x16\n\
         = help: add `Flatten` before fc1 (5*5*16 = 400 features) or `GlobalAvgPool` (16 features)"
    );
}

#[test]
fn spatial_layers_need_an_image() {
    assert_eq!(
        one_error("[4, 4, 3]", "Flatten, c: Conv2d { filters: 4, kernel: 1 }"),
        "c: Conv2d needs an image (h x w x c) but its input is a flat vector of 48 features\n\
         = help: move c before `flatten_1`, which makes the input flat"
    );
    assert_eq!(
        one_error("[48]", "GlobalAvgPool"),
        "global_avg_pool_1: GlobalAvgPool needs an image (h x w x c) or a sequence (l x c) but its input is a flat vector of 48 features\n\
         = help: the network's input is flat ([48]); declare images as `input: [height, width, channels]` or sequences as `input: [length, channels]`"
    );
}

#[test]
fn softmax_is_last_and_flat() {
    assert_eq!(
        one_error("[4]", "Softmax, Dense { units: 3 }"),
        "softmax_1: Softmax must be the last layer of the network or of an aux head\n\
         = help: remove it, or move it to the end (training fuses it with the cross-entropy loss)"
    );
    // A final Softmax on an image acts per position over the channels.
    super::good(&super::net_src(
        "[4, 4, 3]",
        "Conv2d { filters: 5, kernel: 1 }, Softmax",
    ));
}

#[test]
fn input_shape() {
    assert_eq!(
        one_error("[4, 4, 4, 4, 4]", "Relu"),
        "Net: input must be [height, width, channels], [length, channels], [depth, height, width, channels] or [features], got [4, 4, 4, 4, 4]\n\
         = help: a 32x32 grayscale image is `input: [32, 32, 1]`"
    );
    assert!(one_error("[0, 4, 3]", "Relu")
        .starts_with("Net: every input dimension must be at least 1, got [0, 4, 3]"));
    assert_eq!(errors("struct N { input: [3] }"), ["N: the network needs `layers`\n= help: add `layers: [ .. ]`, e.g. `layers: [Flatten, Dense { units: 10 }, Softmax]`"]);
    assert_eq!(errors("struct N { input: [3], layers: [] }"), ["N: the network has no layers\n= help: add layers, e.g. `layers: [Flatten, Dense { units: 10 }, Softmax]`"]);
    assert_eq!(
        errors("struct N { input: [3], layer: [Relu] }"),
        ["N: unknown field `layer`\n= help: did you mean `layers`?"]
    );
}

#[test]
fn overflow() {
    assert_eq!(
        one_error(
            "[4, 4, 3]",
            "Conv2d { filters: 4, kernel: 1, padding: 18446744073709551615 }"
        ),
        "conv2d_1: the padded input overflows (n + 2p = 4 + 2*18446744073709551615)\n\
         = help: arithmetic overflow: use a smaller padding or window"
    );
    assert_eq!(
        one_error("[100000000000, 100000000000, 3]", "Relu"),
        "Net: the input size overflows (h * w * c = 100000000000 * 100000000000 * 3)\n\
         = help: arithmetic overflow: use a smaller input"
    );
    assert_eq!(
        one_error("[4]", "Dense { units: 18446744073709551615 }"),
        "dense_1: the parameter count inputs * units = 4 * 18446744073709551615 overflows\n\
         = help: arithmetic overflow: make the layer smaller"
    );
    assert_eq!(
        one_error("[4, 4, 3]", "Conv2d { filters: 99999999999999999999999, kernel: 1 }"),
        "conv2d_1: filters 99999999999999999999999 is too large (the largest is 18446744073709551615)\n\
         = help: arithmetic overflow: use a smaller number"
    );
    // The output h * w * c overflows though each factor fits.
    assert!(
        one_error("[4294967296, 4294967296, 1]", "Flatten, Dense { units: 2 }")
            .starts_with("Net: the input size overflows")
    );
    assert!(one_error(
        "[65536, 65536, 1]",
        "Conv2d { filters: 18446744073709551615, kernel: 1 }"
    )
    .starts_with(
        "conv2d_1: the output size overflows (h * w * c = 65536 * 65536 * 18446744073709551615)"
    ));
}

#[test]
fn two_independent_mistakes_show_together() {
    assert_eq!(
        errors(&net_src(
            "[28, 28, 1]",
            "c1: Conv2d { filters: 6, kernel: 5, strides: 1 }, Relu, Dropout { rate: 2 }, MaxPool2d { size: 2 }"
        )),
        [
            "c1: Conv2d has no key `strides`\n= help: did you mean `stride`?",
            "dropout_1: dropout rate 2.0 is outside [0, 1)\n= help: the rate is the fraction of inputs dropped in training, e.g. `rate: 0.5`",
        ]
    );
}

#[test]
fn a_wrong_shape_early_stays_quiet_later() {
    // conv1 does not fit; everything after it (which would also fail on
    // the wrong shapes) stays quiet.
    assert_eq!(
        errors(&net_src(
            "[5, 5, 1]",
            "conv1: Conv2d { filters: 6, kernel: 7 }, MaxPool2d { size: 2 }, Conv2d { filters: 4, kernel: 5 }, Dense { units: 10 }, Softmax"
        )),
        ["conv1: kernel 7 does not fit the padded input 5x5 (n + 2p = 5 + 2*0 = 5 < f = 7)\n\
          = help: lower the kernel size, add padding, or remove a pooling layer before conv1"]
    );
}

#[test]
fn blocks_are_not_empty() {
    assert_eq!(
        one_error("[8, 8, 4]", "inc: Concat { branches: [] }"),
        "inc: Concat needs at least one branch\n= help: add the branches to concatenate: `branches: [[ .. ], [ .. ]]`"
    );
    assert!(one_error("[8, 8, 4]", "r: Residual { body: [] }").starts_with("r: the body is empty"));
    assert!(
        one_error("[8, 8, 4]", "a: AuxHead { weight: 1, layers: [] }")
            .starts_with("a: the head has no layers")
    );
}

#[test]
fn activation_bytes_overflow() {
    // Each output fits in usize, but not their bytes together.
    assert_eq!(
        one_error("[4611686018427387904]", "Relu"),
        "Net: the activations of one example overflow (4 bytes per value)\n\
         = help: arithmetic overflow: use a smaller network"
    );
}

#[test]
fn taps_name_layers() {
    let src = "struct Net { input: [8, 8, 1], layers: [
        conv1: Conv2d { filters: 2, kernel: 3 }, Relu,
        blk: Residual { body: [c: Conv2d { filters: 2, kernel: 1 }] },
        Flatten, fc: Dense { units: 3 },
    ], taps: [conv1, blk.c, blk, fc] }";
    assert_eq!(super::good(src).taps.len(), 4);
    let all = super::errors(
        "struct Net { input: [4], layers: [fc1: Dense { units: 3 }], taps: [fc2, fc1, fc1] }",
    );
    assert_eq!(
        all,
        [
            "Net: tap `fc2` names no layer\n= help: did you mean `fc1`?",
            "Net: tap `fc1` is listed twice\n= help: remove one of them",
        ]
    );
}

#[test]
fn gelu_approximation_is_none_or_tanh() {
    assert_eq!(
        one_error("[4]", "g: Gelu { approximate: tahn }"),
        "g: unknown approximation `tahn`\n= help: did you mean `tanh`?"
    );
    assert_eq!(
        one_error("[4]", "g: Gelu { approximate: erf }"),
        "g: unknown approximation `erf`\n\
         = help: approximate is `none` (the exact GELU, with erf) or `tanh`"
    );
    assert_eq!(
        one_error("[4]", "g: Gelu { approximate: 1 }"),
        "g: `approximate` takes `none` or `tanh`, got `1`\n= help: for example `approximate: tanh`"
    );
    assert_eq!(
        one_error("[4]", "g: Silu { alpha: 1 }"),
        "g: Silu has no key `alpha`\n= help: Silu takes no keys; write just `Silu`"
    );
}

#[test]
fn new_kinds_are_known_and_their_other_names_suggest_them() {
    // Relu6 is a kind now, no longer "did you mean `Relu`".
    let all = "Relu6, Silu, Hardswish, Hardsigmoid, Gelu, L2Normalize";
    assert!(errors(&net_src("[4]", all)).is_empty());
    assert_eq!(
        one_error("[4]", "Swish"),
        "unknown layer kind `Swish`\n= help: did you mean `Silu`?"
    );
    assert_eq!(
        one_error("[4]", "HardSwish"),
        "unknown layer kind `HardSwish`\n= help: did you mean `Hardswish`?"
    );
    assert_eq!(
        one_error("[4]", "Normalize"),
        "unknown layer kind `Normalize`\n= help: did you mean `L2Normalize`?"
    );
    assert_eq!(
        one_error("[4]", "GELU"),
        "unknown layer kind `GELU`\n= help: did you mean `Gelu`?"
    );
}
