//! Sequences: `input: [l, c]`, `Conv1d`, `MaxPool1d` and `AvgPool1d` on
//! height-1 images, with shapes, counts and messages that speak of `l x c`.

use super::{errors, find, good, net_src, one_error, sequence};
use crate::ir::Shape;

/// Wang et al. 2017's FCN on GunPoint (150 steps, 1 channel, 2 classes).
const FCN: &str = "
    struct Fcn {
        input: [150, 1],
        layers: [
            c1: Conv1d { filters: 128, kernel: 8, padding: same }, BatchNorm, Relu,
            c2: Conv1d { filters: 256, kernel: 5, padding: same }, BatchNorm, Relu,
            c3: Conv1d { filters: 128, kernel: 3, padding: same }, BatchNorm, Relu,
            gap: GlobalAvgPool,
            out: Dense { units: 2 },
            Softmax,
        ],
    }";

#[test]
fn fcn_shapes_and_counts() {
    let net = good(FCN);
    assert_eq!(net.input, sequence(150, 1).unwrap());
    assert_eq!(find(&net, "c1").output, sequence(150, 128));
    assert_eq!(find(&net, "c3").output, sequence(150, 128));
    assert_eq!(find(&net, "gap").output, Some(Shape::Flat { n: 128 }));
    // k * c_in * filters + filters, as PyTorch's Conv1d counts them.
    assert_eq!(find(&net, "c1").params, 8 * 128 + 128);
    assert_eq!(find(&net, "c2").params, 5 * 128 * 256 + 256);
    assert_eq!(find(&net, "c3").params, 3 * 256 * 128 + 128);
    // l_out * filters * k * c_in multiply-adds.
    assert_eq!(find(&net, "c2").macs, 150 * 256 * 5 * 128);
    assert_eq!(find(&net, "c1").output.unwrap().to_string(), "150x128");
    assert_eq!(find(&net, "c1").kind.dsl_name(), "Conv1d");
}

#[test]
fn length_rule_floor_l_plus_2p_minus_f_over_s_plus_1() {
    // floor((100 + 2*2 - 7) / 3) + 1 = 33; the height stays 1 (no padding
    // across it).
    let net = good(&net_src(
        "[100, 3]",
        "c: Conv1d { filters: 4, kernel: 7, stride: 3, padding: 2 },
         p: MaxPool1d { size: 2 }, a: AvgPool1d { size: 3, stride: 1, padding: 1 },
         r: Residual { body: [Conv1d { filters: 4, kernel: 3, padding: same }] },
         k: Concat { branches: [[Conv1d { filters: 2, kernel: 1 }], [Conv1d { filters: 3, kernel: 5, padding: same }]] },
         Dropout { rate: 0.1 }, f: Flatten",
    ));
    assert_eq!(find(&net, "c").output, sequence(33, 4));
    assert_eq!(find(&net, "p").output, sequence(16, 4));
    assert_eq!(find(&net, "a").output, sequence(16, 4));
    assert_eq!(find(&net, "k").output, sequence(16, 5));
    assert_eq!(find(&net, "f").output, Some(Shape::Flat { n: 80 }));
    // A grouped Conv1d: 4 groups of 8 -> 4 channels, 3 taps each.
    let net = good(&net_src(
        "[10, 8]",
        "g: Conv1d { filters: 16, kernel: 3, groups: 4 }",
    ));
    assert_eq!(find(&net, "g").params, 3 * 2 * 16 + 16);
}

#[test]
fn kinds_of_the_other_rank_name_the_kind_to_use() {
    assert_eq!(
        one_error("[100, 3]", "c: Conv2d { filters: 4, kernel: 3 }"),
        "c: Conv2d slides over an image but its input is the sequence 100x3 (length x channels)\n\
         = help: use `Conv1d` on sequences, with one number per key (`kernel: 8`)"
    );
    assert_eq!(
        one_error("[28, 28, 1]", "p: MaxPool1d { size: 2 }"),
        "p: MaxPool1d slides along a sequence but its input is the image 28x28x1\n\
         = help: use `MaxPool2d` on images, or declare a sequence as `input: [length, channels]`"
    );
    assert_eq!(
        one_error("[8]", "c: Conv1d { filters: 4, kernel: 3 }"),
        "c: Conv1d needs a sequence (l x c) but its input is a flat vector of 8 features\n\
         = help: the network's input is flat ([8]); declare sequences as `input: [length, channels]`"
    );
}

#[test]
fn sequence_messages_show_lengths() {
    assert_eq!(
        one_error("[5, 2]", "c: Conv1d { filters: 4, kernel: 7 }"),
        "c: kernel 7 does not fit the padded input 5 (n + 2p = 5 + 2*0 = 5 < f = 7)\n\
         = help: lower the kernel size, add padding, or remove a pooling layer before c"
    );
    assert_eq!(
        one_error("[5, 2]", "d: Dense { units: 3 }"),
        "d: Dense needs a flat input but gets the sequence 5x2\n\
         = help: add `Flatten` before d (5*2 = 10 features) or `GlobalAvgPool` (2 features)"
    );
    let all = errors(&net_src(
        "[5, 2]",
        "c: Conv1d { filters: 4, kernel: [1, 3] }",
    ));
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].starts_with("c: `kernel` takes one number along the sequence"),
        "{all:?}"
    );
    // A pool's padding is compared with its length, not the height of 1.
    good(&net_src("[9, 2]", "MaxPool1d { size: 3, padding: 1 }"));
}
