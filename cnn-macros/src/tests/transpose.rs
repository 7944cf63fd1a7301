//! `ConvTranspose2d`, `ConvTranspose1d` and `Upsample`: PyTorch's output
//! rule `(n - 1) s - 2p + d (f - 1) + output_padding + 1`, counts, the
//! weight layout, receptive fields on the stride grid, and the messages of
//! their mistakes.

use super::{errors, find, good, image, net_src, one_error, sequence};
use crate::expand::layout;
use crate::field::{fields, Field};
use crate::ir::{LayerKind, Net};

#[test]
fn output_rule_is_pytorchs() {
    // PyTorch's ConvTranspose2d docs: ConvTranspose2d(16, 33, 3, stride=2)
    // on 50x100 gives 101x201; the U-Net doubling (kernel 3, stride 2,
    // padding 1, output padding 1) takes 7 to (7-1)*2 - 2 + 2 + 1 + 1 = 14;
    // kernel 2, stride 2 doubles exactly.
    let net = good(&net_src(
        "[50, 100, 16]",
        "a: ConvTranspose2d { filters: 33, kernel: 3, stride: 2 }",
    ));
    assert_eq!(find(&net, "a").output, image(101, 201, 33));
    let net = good(&net_src(
        "[7, 6, 4]",
        "a: ConvTranspose2d { filters: 8, kernel: 3, stride: 2, padding: 1, output_padding: 1 },
         b: ConvTranspose2d { filters: 2, kernel: 2, stride: 2 },
         c: ConvTranspose2d { filters: 2, kernel: [3, 1], stride: [1, 2], dilation: [2, 1], padding: [1, 0], output_padding: [1, 1] }",
    ));
    assert_eq!(find(&net, "a").output, image(14, 12, 8));
    assert_eq!(find(&net, "a").pad_before, [1, 1]);
    assert_eq!(find(&net, "b").output, image(28, 24, 2));
    // Rows: (28-1)*1 - 2 + 2*(3-1) + 1 + 1 = 31; columns (24-1)*2 + 0 + 1 + 1 = 48.
    assert_eq!(find(&net, "c").output, image(31, 48, 2));
    // Along a sequence: (10-1)*2 - 2*1 + 3*(4-1) + 1 + 1 = 27.
    let net = good(&net_src(
        "[10, 3]",
        "t: ConvTranspose1d { filters: 5, kernel: 4, stride: 2, padding: 1, dilation: 3, output_padding: 1 },
         u: Upsample { scale: 3 },
         v: Upsample { scale: 2, mode: linear }",
    ));
    assert_eq!(find(&net, "t").output, sequence(27, 5));
    assert_eq!(find(&net, "t").pad_before, [0, 1]);
    let LayerKind::ConvTranspose2d {
        kernel,
        stride,
        dilation,
        output_padding,
        seq: true,
        ..
    } = find(&net, "t").kind
    else {
        panic!("t is a ConvTranspose1d");
    };
    assert_eq!(
        (kernel, stride, dilation, output_padding),
        ([1, 4], [1, 2], [1, 3], [0, 1])
    );
    assert_eq!(find(&net, "u").output, sequence(81, 5));
    assert_eq!(find(&net, "v").output, sequence(162, 5));
    let LayerKind::Upsample { scale, .. } = find(&net, "u").kind else {
        panic!("u is an upsampling");
    };
    assert_eq!(scale, [1, 3]);
    let net = good(&net_src(
        "[5, 7, 3]",
        "u: Upsample { scale: [2, 3], mode: bilinear }",
    ));
    assert_eq!(find(&net, "u").output, image(10, 21, 3));
}

#[test]
fn counts_and_the_weight_layout() {
    // The weights are the transposed convolution's, [fh, fw, filters /
    // groups, c_in] (PyTorch's [c_in, filters / groups, fh, fw]); every
    // input pixel times every tap into its group's filters.
    let src = net_src(
        "[5, 6, 4]",
        "t: ConvTranspose2d { filters: 6, kernel: [3, 2], stride: 2, groups: 2 },
         u: Upsample { scale: 2 },
         n: ConvTranspose2d { filters: 3, kernel: 2, bias: false }",
    );
    let net = good(&src);
    let t = find(&net, "t");
    assert_eq!(t.params, 3 * 2 * 3 * 4 + 6);
    assert_eq!(t.macs, (5 * 6 * 4 * 3 * 2 * 3) as u64);
    assert_eq!(find(&net, "u").params, 0);
    assert_eq!(find(&net, "u").macs, 0);
    let n = find(&net, "n");
    assert_eq!(n.params, 2 * 2 * 3 * 6);
    let params = layout::params(&net.layers);
    let shapes: Vec<(&str, &[usize])> = params
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice()))
        .collect();
    assert_eq!(
        shapes,
        [
            ("t.weight", &[3, 2, 3, 4][..]),
            ("t.bias", &[6][..]),
            ("n.weight", &[2, 2, 3, 6][..])
        ]
    );
    assert_eq!(net.params, t.params + n.params);
}

fn field_of(net: &Net, name: &str) -> Option<Field> {
    fields(net)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no layer {name}"))
        .1
}

fn sq(size: usize, jump: usize, start: isize) -> Option<Field> {
    Some(Field {
        size: [1, size, size],
        jump: [1, jump, jump],
        start: [0, start, start],
    })
}

#[test]
fn fields_are_the_smallest_on_the_stride_grid() {
    // down: 2x2 stride 2, field 2, jump 2. up (kernel 2, stride 2): output
    // o = 2m + r reads down's m in both phases, pixels [2m, 2m + 2); on a
    // grid of jump 1 the smallest field holding them starts at o - 1 and
    // spans 3. The stride 1 transposed 3x3 after it (padding 1) reads
    // up's o - 1 ..= o + 1: 3 + 2 = 5 from o - 2. nearest reads down's m
    // as up does; bilinear reads m - 1, m (pixels [2m - 2, 2m + 2)) for
    // o = 2m and m, m + 1 ([2m, 2m + 4)) for o = 2m + 1: both inside
    // [o - 2, o + 3), size 5.
    let net = good(&net_src(
        "[8, 8, 1]",
        "down: Conv2d { filters: 2, kernel: 2, stride: 2 },
         up: ConvTranspose2d { filters: 2, kernel: 2, stride: 2 },
         same: ConvTranspose2d { filters: 2, kernel: 3, padding: 1 }",
    ));
    assert_eq!(field_of(&net, "down"), sq(2, 2, 0));
    assert_eq!(field_of(&net, "up"), sq(3, 1, -1));
    assert_eq!(field_of(&net, "same"), sq(5, 1, -2));
    let net = good(&net_src(
        "[8, 8, 1]",
        "down: Conv2d { filters: 2, kernel: 2, stride: 2 },
         nearest: Upsample { scale: 2 }",
    ));
    assert_eq!(field_of(&net, "nearest"), sq(3, 1, -1));
    let net = good(&net_src(
        "[8, 8, 1]",
        "down: Conv2d { filters: 2, kernel: 2, stride: 2 },
         bilinear: Upsample { scale: 2, mode: bilinear }",
    ));
    assert_eq!(field_of(&net, "bilinear"), sq(5, 1, -2));
    // Straight on the input, the outputs are half a pixel apart: no
    // whole-pixel grid, so the field is unknown (and so after it).
    let net = good(&net_src(
        "[8, 8, 1]",
        "up: Upsample { scale: 2 },
         c: Conv2d { filters: 2, kernel: 3 }",
    ));
    assert_eq!(field_of(&net, "up"), None);
    assert_eq!(field_of(&net, "c"), None);
    // A stride-1 transposed convolution is a convolution's window.
    let net = good(&net_src(
        "[8, 8, 1]",
        "t: ConvTranspose2d { filters: 2, kernel: 3, dilation: 2 }",
    ));
    assert_eq!(field_of(&net, "t"), sq(5, 1, -4));
}

#[test]
fn padding_that_leaves_no_output_is_an_error() {
    assert_eq!(
        one_error(
            "[3, 3, 4]",
            "up: ConvTranspose2d { filters: 2, kernel: 3, padding: 4 }"
        ),
        "up: the padding leaves no output ((n - 1) s - 2p + d(f - 1) + output_padding + 1 = \
         (3 - 1)*1 - 2*4 + 1*(3 - 1) + 0 + 1 = -3)\n\
         = help: the padding cuts p rows and columns from each end of the 5 the kernel spreads over: use padding below 3"
    );
    assert_eq!(
        one_error(
            "[1, 4, 4]",
            "up: ConvTranspose2d { filters: 2, kernel: [1, 3], padding: [1, 0] }"
        ),
        "up: the padding leaves no output in height ((n - 1) s - 2p + d(f - 1) + output_padding + 1 = \
         (1 - 1)*1 - 2*1 + 1*(1 - 1) + 0 + 1 = -1)\n\
         = help: the padding cuts p rows and columns from each end of the 1 the kernel spreads over: use padding below 1"
    );
}

#[test]
fn output_padding_is_below_the_stride_or_the_dilation() {
    assert_eq!(
        one_error(
            "[5, 7, 4]",
            "up: ConvTranspose2d { filters: 2, kernel: 3, stride: 2, output_padding: 2 }"
        ),
        "up: output padding 2 must be smaller than the stride 2 or the dilation 1 (output_padding < max(s, d) = 2)\n\
         = help: output padding adds rows and columns at the end of the output, to give back one of the sizes that a stride-2 convolution maps to the same output: use 0 or 1"
    );
    assert_eq!(
        one_error(
            "[5, 7, 4]",
            "up: ConvTranspose2d { filters: 2, kernel: 3, stride: [2, 1], output_padding: 1 }"
        ),
        "up: output padding 1 in width must be smaller than the stride 1 or the dilation 1 (output_padding < max(s, d) = 1)\n\
         = help: output padding adds rows and columns at the end of the output, to give back one of the sizes that a stride-1 convolution maps to the same output: use 0"
    );
    // Below the dilation is enough (PyTorch's rule).
    good(&net_src(
        "[5, 7, 4]",
        "up: ConvTranspose2d { filters: 2, kernel: 3, dilation: 3, output_padding: 2 }",
    ));
}

#[test]
fn the_wrong_rank_names_the_kind_to_use() {
    assert_eq!(
        one_error("[5, 7]", "up: ConvTranspose2d { filters: 6, kernel: 3 }"),
        "up: ConvTranspose2d slides over an image but its input is the sequence 5x7 (length x channels)\n\
         = help: use `ConvTranspose1d` on sequences, with one number per key (`kernel: 8`)"
    );
    assert_eq!(
        one_error("[5, 7, 4]", "up: ConvTranspose1d { filters: 6, kernel: 3 }"),
        "up: ConvTranspose1d slides along a sequence but its input is the image 5x7x4\n\
         = help: use `ConvTranspose2d` on images, or declare a sequence as `input: [length, channels]`"
    );
    assert_eq!(
        one_error("[5, 7]", "up: Upsample { scale: 2, mode: bilinear }"),
        "up: bilinear upsampling needs an image, but its input is the sequence 5x7 (length x channels)\n\
         = help: use `mode: linear` on sequences"
    );
    assert_eq!(
        one_error("[5, 7, 3]", "up: Upsample { scale: 2, mode: linear }"),
        "up: linear upsampling is along a sequence, but its input is the image 5x7x3\n\
         = help: use `mode: bilinear` on images"
    );
    assert_eq!(
        one_error("[5, 7]", "up: Upsample { scale: [2, 2] }"),
        "up: Upsample on the sequence 5x7 takes one scale, got [2, 2]\n\
         = help: write `scale: 2`, along the sequence"
    );
}

#[test]
fn keys_and_values_are_checked() {
    assert_eq!(
        one_error(
            "[5, 7, 4]",
            "up: ConvTranspose2d { filters: 6, kernel: 3, padding: same }"
        ),
        "up: `padding` takes a number or [height, width], got `same`\n\
         = help: for example `padding: 1` or `padding: [1, 0]`: a transposed convolution cuts that many rows and columns from each end of its output"
    );
    assert_eq!(
        one_error("[5, 7, 4]", "up: ConvTranspose2d { filters: 6, kernel: 3, groups: 3 }"),
        "up: groups 3 does not divide the input channels 4 (4 / 3 = 1 remainder 1)\n\
         = help: each group takes c_in / groups channels and gives filters / groups: with 4 input channels and 6 filters, groups can be 1, 2"
    );
    assert_eq!(
        one_error("[5, 7, 3]", "up: Upsample { scale: 2, mode: bicubic }"),
        "up: unknown upsampling mode `bicubic`\n\
         = help: mode is `nearest`, `bilinear` (images), `linear` (sequences) or `trilinear` (volumes)"
    );
    assert_eq!(
        one_error("[5, 7, 3]", "up: Upsample { scale: 2, mode: bilnear }"),
        "up: unknown upsampling mode `bilnear`\n= help: did you mean `bilinear`?"
    );
    assert_eq!(
        one_error("[5, 7, 3]", "up: Upsample { scale: 0 }"),
        "up: scale must be at least 1, got 0\n\
         = help: the scale is how many times larger the output is; 1 keeps the size"
    );
    assert_eq!(
        one_error("[5, 7, 3]", "up: Upsample { mode: nearest }"),
        "up: Upsample needs `scale`\n\
         = help: add `scale: s` or `scale: [sh, sw]`, how many times larger the output is"
    );
    assert_eq!(
        one_error("[5, 7, 3]", "up: UpSample { scale: 2 }"),
        "up: unknown layer kind `UpSample`\n= help: did you mean `Upsample`?"
    );
    // Every independent mistake in one build.
    let all = errors(&net_src(
        "[5, 7, 4]",
        "a: ConvTranspose2d { filters: 0, kernel: 3, stride: 2, output_padding: 3 },
         b: Upsample { scale: [0, 2] }",
    ));
    assert_eq!(all.len(), 3, "{all:#?}");
}
