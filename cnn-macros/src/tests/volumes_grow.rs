//! Volumes that grow: `ConvTranspose3d` with the rule `(n - 1) s - 2p +
//! d (f - 1) + output_padding + 1` on each axis and PyTorch's counts, and
//! `Upsample` on volumes (`scale: s` or `[sd, sh, sw]`, nearest or
//! trilinear), with the messages of their mistakes.

use super::{find, good, net_src, one_error, volume};
use crate::ir::{LayerKind, UpsampleMode};

#[test]
fn transposed_volume_shapes_and_counts() {
    // Depth (3 - 1)*2 - 2*1 + 1*(3 - 1) + 1 + 1 = 6, height (4 - 1)*2 -
    // 0 + 2*(2 - 1) + 0 + 1 = 9, width (5 - 1)*1 - 0 + 1*(3 - 1) + 0 + 1 = 7.
    let net = good(&net_src(
        "[3, 4, 5, 4]",
        "t: ConvTranspose3d { filters: 6, kernel: [3, 2, 3], stride: [2, 2, 1], padding: [1, 0, 0], output_padding: [1, 0, 0], dilation: [1, 2, 1], groups: 2 },
         u: ConvTranspose3d { filters: 2, kernel: 2, stride: 2, bias: false }",
    ));
    assert_eq!(find(&net, "t").output, volume(6, 9, 7, 6));
    assert_eq!(find(&net, "u").output, volume(12, 18, 14, 2));
    assert_eq!(find(&net, "t").kind.dsl_name(), "ConvTranspose3d");
    // fd * fh * fw * (filters / groups) * c_in + filters, as PyTorch's
    // ConvTranspose3d(4, 6, groups=2) counts its [4, 3, 3, 2, 3] weight.
    assert_eq!(find(&net, "t").params, 3 * 2 * 3 * 3 * 4 + 6);
    assert_eq!(find(&net, "u").params, 8 * 2 * 6);
    // in_d * in_h * in_w * c_in * fd * fh * fw * (filters / groups).
    assert_eq!(find(&net, "t").macs, 3 * 4 * 5 * 4 * 18 * 3);
    let LayerKind::ConvTranspose2d {
        depth: Some(dp), ..
    } = find(&net, "t").kind
    else {
        panic!("no depth axis");
    };
    assert_eq!(
        (dp.f, dp.s, dp.d, dp.pad_front, dp.output_padding),
        (3, 2, 1, 1, 1)
    );
}

#[test]
fn upsampling_a_volume() {
    let net = good(&net_src(
        "[3, 4, 5, 2]",
        "a: Upsample { scale: 2 },
         b: Upsample { scale: [1, 2, 3], mode: trilinear }",
    ));
    assert_eq!(find(&net, "a").output, volume(6, 8, 10, 2));
    assert_eq!(find(&net, "b").output, volume(6, 16, 30, 2));
    let LayerKind::Upsample {
        scale,
        scale_depth,
        mode,
        ..
    } = find(&net, "b").kind
    else {
        panic!("not an upsampling");
    };
    assert_eq!(
        (scale, scale_depth, mode),
        ([2, 3], Some(1), UpsampleMode::Trilinear)
    );
    assert_eq!(find(&net, "a").params, 0);
}

#[test]
fn transposed_kinds_of_the_other_rank_name_the_kind_to_use() {
    assert_eq!(
        one_error("[4, 8, 8, 2]", "t: ConvTranspose2d { filters: 4, kernel: 2, stride: 2 }"),
        "t: ConvTranspose2d slides over an image but its input is the volume 4x8x8x2 (depth x height x width x channels)\n\
         = help: use `ConvTranspose3d` on volumes (`kernel: 3` or `kernel: [fd, fh, fw]`), or declare an image as `input: [height, width, channels]`"
    );
    assert_eq!(
        one_error("[8, 8, 2]", "t: ConvTranspose3d { filters: 4, kernel: 2, stride: 2 }"),
        "t: ConvTranspose3d slides through a volume but its input is the image 8x8x2\n\
         = help: use `ConvTranspose2d` on images, or declare a volume as `input: [depth, height, width, channels]`"
    );
    assert_eq!(
        one_error("[16, 2]", "t: ConvTranspose3d { filters: 4, kernel: 2, stride: 2 }"),
        "t: ConvTranspose3d slides through a volume but its input is the sequence 16x2 (length x channels)\n\
         = help: use `ConvTranspose1d` on sequences, with one number per key (`kernel: 8`)"
    );
}

#[test]
fn transposed_volume_mistakes() {
    assert_eq!(
        one_error(
            "[2, 4, 4, 1]",
            "t: ConvTranspose3d { filters: 2, kernel: 3, stride: [1, 2, 2], padding: [2, 0, 0] }"
        ),
        "t: the padding leaves no output in depth ((n - 1) s - 2p + d(f - 1) + output_padding + 1 = (2 - 1)*1 - 2*2 + 1*(3 - 1) + 0 + 1 = 0)\n\
         = help: the padding cuts p rows and columns from each end of the 4 the kernel spreads over: use padding below 2"
    );
    assert_eq!(
        one_error(
            "[2, 4, 4, 1]",
            "t: ConvTranspose3d { filters: 2, kernel: 3, stride: [1, 2, 2], output_padding: 1 }"
        ),
        "t: output padding 1 in depth must be smaller than the stride 1 or the dilation 1 (output_padding < max(s, d) = 1)\n\
         = help: output padding adds rows and columns at the end of the output, to give back one of the sizes that a stride-1 convolution maps to the same output: use 0"
    );
}

#[test]
fn upsampling_mistakes_on_volumes() {
    assert_eq!(
        one_error("[4, 8, 8, 2]", "u: Upsample { scale: 2, mode: bilinear }"),
        "u: bilinear upsampling needs an image, but its input is the volume 4x8x8x2 (depth x height x width x channels)\n\
         = help: use `mode: trilinear` on volumes"
    );
    assert_eq!(
        one_error("[8, 8, 2]", "u: Upsample { scale: 2, mode: trilinear }"),
        "u: trilinear upsampling needs a volume, but its input is the image 8x8x2\n\
         = help: use `mode: bilinear` on images"
    );
    assert_eq!(
        one_error("[4, 8, 8, 2]", "u: Upsample { scale: [2, 2] }"),
        "u: Upsample on the volume 4x8x8x2 takes one scale or [sd, sh, sw], got [2, 2]\n\
         = help: write `scale: [1, 2, 2]` to keep the frames, or one number for every axis"
    );
    assert_eq!(
        one_error("[8, 8, 2]", "u: Upsample { scale: [1, 2, 2] }"),
        "u: Upsample on the image 8x8x2 takes one scale or [sh, sw], got [1, 2, 2]\n\
         = help: write `scale: [2, 2]`"
    );
    assert_eq!(
        one_error("[4, 8, 8, 2]", "u: Upsample { scale: [0, 2, 2] }"),
        "u: scale must be at least 1, got [0, 2, 2]\n\
         = help: the scale is how many times larger the output is; 1 keeps the size"
    );
}
