//! Auto names, block prefixes and defaults.

use super::{all_layers, find, good, net_src};
use crate::ir::{LayerKind, Pad};

fn names(input: &str, layers: &str) -> Vec<String> {
    let net = good(&net_src(input, layers));
    all_layers(&net.layers)
        .iter()
        .map(|l| l.name.clone())
        .collect()
}

#[test]
fn auto_names_count_within_each_kind() {
    let got = names(
        "[8, 8, 1]",
        "Conv2d { filters: 2, kernel: 3 }, Relu, c: Conv2d { filters: 2, kernel: 1 }, Conv2d { filters: 2, kernel: 1 }, Relu, Flatten, Dense { units: 3 }",
    );
    assert_eq!(
        got,
        [
            "conv2d_1",
            "relu_1",
            "c",
            "conv2d_2",
            "relu_2",
            "flatten_1",
            "dense_1"
        ]
    );
}

#[test]
fn auto_names_skip_names_the_user_took() {
    let got = names(
        "[4]",
        "Dense { units: 3 }, dense_2: Dense { units: 3 }, Dense { units: 3 }",
    );
    assert_eq!(got, ["dense_1", "dense_2", "dense_3"]);
    let net = good(&net_src(
        "[4]",
        "Dense { units: 3 }, dense_2: Dense { units: 3 }",
    ));
    assert!(!net.layers[0].named_by_user);
    assert!(net.layers[1].named_by_user);
}

#[test]
fn blocks_prefix_their_layers_and_count_within_the_block() {
    let got = names(
        "[8, 8, 4]",
        "Conv2d { filters: 4, kernel: 1 },
         blk: Residual { body: [Conv2d { filters: 4, kernel: 1 }, b1: Relu], shortcut: [Conv2d { filters: 4, kernel: 1 }] },
         Residual { body: [Conv2d { filters: 4, kernel: 1 }] },
         Concat { branches: [[Conv2d { filters: 1, kernel: 1 }], [inner: Concat { branches: [[Relu]] }]] }",
    );
    assert_eq!(
        got,
        [
            "conv2d_1",
            "blk",
            "blk.conv2d_1",
            "blk.b1",
            "blk.conv2d_2",
            "residual_1",
            "residual_1.conv2d_1",
            "concat_1",
            "concat_1.conv2d_1",
            "concat_1.inner",
            "concat_1.inner.relu_1",
        ]
    );
}

#[test]
fn defaults_follow_design() {
    let net = good(&net_src(
        "[8, 8, 1]",
        "c: Conv2d { filters: 2, kernel: [3, 1] }, p: MaxPool2d { size: 2 }, b: BatchNorm, l: LeakyRelu,
         Flatten, d: Dense { units: 2, bias: false }",
    ));
    let LayerKind::Conv2d {
        stride,
        padding,
        bias,
        kernel,
        ..
    } = find(&net, "c").kind
    else {
        panic!()
    };
    assert_eq!(
        (kernel, stride, padding, bias),
        ([3, 1], [1, 1], Pad::Explicit(0), true)
    );
    let LayerKind::MaxPool2d { stride, .. } = find(&net, "p").kind else {
        panic!()
    };
    assert_eq!(stride, [2, 2]);
    let LayerKind::BatchNorm { momentum, epsilon } = find(&net, "b").kind else {
        panic!()
    };
    assert_eq!((momentum, epsilon), (0.99, 0.001));
    let LayerKind::LeakyRelu { alpha } = find(&net, "l").kind else {
        panic!()
    };
    assert_eq!(alpha, 0.01);
    // 6x8x2 -> pool 2 -> 3x4x2 = 24 inputs, 2 units without bias.
    assert_eq!(find(&net, "d").params, 48);
    assert_eq!(find(&net, "b").params, 8);
    assert_eq!(find(&net, "b").trainable, 4);
}

#[test]
fn a_quoted_name_may_be_any_word_without_dots() {
    // torchvision's RegNets name their units `block1-0`.
    let got = names(
        "[8, 8, 1]",
        r#""block1-0": Sequential { layers: [Conv2d { filters: 2, kernel: 3 }] }, Flatten, "fc-1": Dense { units: 3 }"#,
    );
    assert_eq!(got, ["block1-0", "block1-0.0", "flatten_1", "fc-1"]);
    let src = net_src("[8, 8, 1]", r#""a.b": Dense { units: 3 }"#);
    let tokens: proc_macro2::TokenStream = src.parse().expect("lexes");
    let err = crate::front(tokens)
        .err()
        .expect("a syntax error")
        .to_string();
    assert!(err.contains("cannot be empty or hold `.`"), "{err}");
}
