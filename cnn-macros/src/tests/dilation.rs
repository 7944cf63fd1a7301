//! `dilation` on `Conv2d`, `Conv1d` and `DepthwiseConv2d`: the output rule
//! `floor((n + 2p - d(f - 1) - 1) / s) + 1`, `same` with a dilated window,
//! counts that do not change, and the messages of its mistakes.

use super::{errors, find, good, image, net_src, one_error, sequence};
use crate::ir::LayerKind;

#[test]
fn output_rule_uses_the_dilated_window() {
    // PyTorch's Conv2d docs: floor((10 + 0 - 2*(3-1) - 1) / 1) + 1 = 6;
    // floor((10 + 2*1 - 3*(3-1) - 1) / 2) + 1 = 3 rows and, with one
    // column between taps, floor((10 + 2 - 2 - 1) / 2) + 1 = 5 columns.
    let net = good(&net_src(
        "[10, 10, 3]",
        "a: Conv2d { filters: 4, kernel: 3, dilation: 2 },
         b: Conv2d { filters: 4, kernel: 3, dilation: 1 }",
    ));
    assert_eq!(find(&net, "a").output, image(6, 6, 4));
    let net = good(&net_src(
        "[10, 10, 3]",
        "c: Conv2d { filters: 4, kernel: 3, stride: 2, padding: 1, dilation: [3, 1] }",
    ));
    assert_eq!(find(&net, "c").output, image(3, 5, 4));
    let LayerKind::Conv2d { dilation, .. } = find(&net, "c").kind else {
        panic!("c is a convolution");
    };
    assert_eq!(dilation, [3, 1]);
}

#[test]
fn same_padding_keeps_ceil_n_over_s_with_dilation() {
    // n = 9, f = 3, d = 2, s = 1: span 5, total (9 - 1) + 5 - 9 = 4, two
    // before. n = 9, s = 2: out 5, total 4 * 2 + 5 - 9 = 4. Width 8,
    // f = 2, d = 3, s = 2: out 4, span 4, total 3 * 2 + 4 - 8 = 2.
    let net = good(&net_src(
        "[9, 8, 2]",
        "a: Conv2d { filters: 4, kernel: 3, dilation: 2, padding: same },
         b: Conv2d { filters: 4, kernel: [3, 2], stride: 2, dilation: [2, 3], padding: same }",
    ));
    let (a, b) = (find(&net, "a"), find(&net, "b"));
    assert_eq!(a.output, image(9, 8, 4));
    assert_eq!(a.pad_before, [2, 2]);
    assert_eq!(b.output, image(5, 4, 4));
    assert_eq!(b.pad_before, [2, 1]);
}

#[test]
fn conv1d_and_depthwise_take_dilation() {
    // Along the length only: floor((20 + 0 - 4*(3-1) - 1) / 1) + 1 = 12;
    // same keeps a's 12 with a total padding of 11 + 9 - 12 = 8, four before.
    let net = good(&net_src(
        "[20, 3]",
        "a: Conv1d { filters: 4, kernel: 3, dilation: 4 },
         b: Conv1d { filters: 4, kernel: 3, dilation: 4, padding: same }",
    ));
    assert_eq!(find(&net, "a").output, sequence(12, 4));
    assert_eq!(find(&net, "b").output, sequence(12, 4));
    assert_eq!(find(&net, "b").pad_before, [0, 4]);
    let LayerKind::Conv2d { dilation, .. } = find(&net, "a").kind else {
        panic!("a is a convolution");
    };
    assert_eq!(dilation, [1, 4]);
    let net = good(&net_src(
        "[9, 9, 6]",
        "d: DepthwiseConv2d { kernel: 3, dilation: 2, multiplier: 2 }",
    ));
    assert_eq!(find(&net, "d").output, image(5, 5, 12));
}

#[test]
fn counts_do_not_change_with_dilation() {
    // The same taps, the same parameters; the multiply-adds are
    // out_h * out_w * filters * fh * fw * c_in of the (smaller) output.
    let net = good(&net_src(
        "[12, 12, 3]",
        "plain: Conv2d { filters: 8, kernel: 3, padding: same },
         dilated: Conv2d { filters: 8, kernel: 3, padding: same, dilation: 3 },
         narrow: Conv2d { filters: 8, kernel: 3, dilation: 2 }",
    ));
    let (plain, dilated, narrow) = (
        find(&net, "plain"),
        find(&net, "dilated"),
        find(&net, "narrow"),
    );
    assert_eq!(plain.params, 3 * 3 * 3 * 8 + 8);
    assert_eq!(dilated.params, 3 * 3 * 8 * 8 + 8);
    assert_eq!(plain.macs, 12 * 12 * 8 * 3 * 3 * 3);
    assert_eq!(dilated.macs, 12 * 12 * 8 * 3 * 3 * 8);
    // 12 - 2*(3-1) = 8 rows and columns.
    assert_eq!(narrow.output, image(8, 8, 8));
    assert_eq!(narrow.macs, 8 * 8 * 8 * 3 * 3 * 8);
}

#[test]
fn a_dilated_kernel_must_fit_the_padded_input() {
    // The kernel alone (3) fits the 4 inputs; dilated by 2 it spans 5.
    assert_eq!(
        one_error("[4, 4, 3]", "conv2: Conv2d { filters: 4, kernel: 3, dilation: 2 }"),
        "conv2: kernel 3 dilated by 2 does not fit the padded input 4x4 \
         (n + 2p = 4 + 2*0 = 4 < d(f-1)+1 = 2*(3-1)+1 = 5)\n\
         = help: lower the dilation or the kernel size, add padding, or remove a pooling layer before conv2"
    );
    assert_eq!(
        one_error(
            "[9, 5, 3]",
            "conv2: Conv2d { filters: 4, kernel: [3, 3], dilation: [1, 4], padding: 1 }"
        ),
        "conv2: kernel 3 dilated by 1x4 does not fit the padded input 9x5 in width \
         (n + 2p = 5 + 2*1 = 7 < d(f-1)+1 = 4*(3-1)+1 = 9)\n\
         = help: lower the dilation or the kernel size, add padding, or remove a pooling layer before conv2"
    );
}

#[test]
fn a_dilated_sequence_kernel_speaks_of_lengths() {
    assert_eq!(
        one_error("[6, 2]", "c: Conv1d { filters: 4, kernel: 4, dilation: 2 }"),
        "c: kernel 4 dilated by 2 does not fit the padded input 6 \
         (n + 2p = 6 + 2*0 = 6 < d(f-1)+1 = 2*(4-1)+1 = 7)\n\
         = help: lower the dilation or the kernel size, add padding, or remove a pooling layer before c"
    );
    assert_eq!(
        one_error(
            "[6, 2]",
            "c: Conv1d { filters: 4, kernel: 3, dilation: [2, 2] }"
        ),
        "c: `dilation` takes one number along the sequence, got `[2, 2]`\n\
         = help: for example `dilation: 2` or `dilation: [2, 1]`"
    );
}

#[test]
fn dilation_zero_is_an_error_naming_the_key() {
    assert_eq!(
        one_error(
            "[8, 8, 3]",
            "c: Conv2d { filters: 4, kernel: 3, dilation: 0 }"
        ),
        "c: dilation must be at least 1, got 0\n\
         = help: the dilation is the step between kernel taps; 1 is an ordinary convolution"
    );
    assert_eq!(
        one_error(
            "[8, 8, 3]",
            "d: DepthwiseConv2d { kernel: 3, dilation: [2, 0] }"
        ),
        "d: dilation must be at least 1, got [2, 0]\n\
         = help: the dilation is the step between kernel taps; 1 is an ordinary convolution"
    );
    assert_eq!(
        one_error(
            "[8, 8, 3]",
            "c: Conv2d { filters: 4, kernel: 3, dilation: same }"
        ),
        "c: `dilation` takes a number or [height, width], got `same`\n\
         = help: for example `dilation: 2` or `dilation: [2, 1]`"
    );
    // Pooling has no dilation; the closest key is offered.
    let all = errors(&net_src(
        "[8, 8, 3]",
        "p: MaxPool2d { size: 2, dilation: 2 }",
    ));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(
        all[0].starts_with("p: MaxPool2d has no key `dilation`"),
        "{all:#?}"
    );
}
