//! Volumes: `input: [d, h, w, c]`, `Conv3d`, `MaxPool3d` and `AvgPool3d`,
//! with the per-axis shape rule, counts as PyTorch's `Conv3d` has them,
//! and messages that speak of `d x h x w x c`.

use super::{errors, find, good, net_src, one_error, volume};
use crate::ir::Shape;

/// The clips network (C3dSmall in the PyTorch peer): 16 frames of 32x32.
const C3D: &str = "
    struct C3d {
        input: [16, 32, 32, 1],
        layers: [
            c1: Conv3d { filters: 16, kernel: 3, padding: 1 }, BatchNorm, Relu,
            p1: MaxPool3d { size: 2 },
            c2: Conv3d { filters: 32, kernel: 3, padding: 1 }, BatchNorm, Relu,
            p2: MaxPool3d { size: 2 },
            c3: Conv3d { filters: 64, kernel: 3, padding: 1 }, BatchNorm, Relu,
            gap: GlobalAvgPool,
            fc: Dense { units: 40 },
            Softmax,
        ],
    }";

#[test]
fn c3d_shapes_and_counts() {
    let net = good(C3D);
    assert_eq!(net.input, volume(16, 32, 32, 1).unwrap());
    assert_eq!(find(&net, "c1").output, volume(16, 32, 32, 16));
    assert_eq!(find(&net, "p1").output, volume(8, 16, 16, 16));
    assert_eq!(find(&net, "p2").output, volume(4, 8, 8, 32));
    assert_eq!(find(&net, "c3").output, volume(4, 8, 8, 64));
    assert_eq!(find(&net, "gap").output, Some(Shape::Flat { n: 64 }));
    // fd * fh * fw * c_in * filters + filters, as PyTorch's Conv3d counts.
    assert_eq!(find(&net, "c1").params, 27 * 16 + 16);
    assert_eq!(find(&net, "c2").params, 27 * 16 * 32 + 32);
    assert_eq!(find(&net, "c3").params, 27 * 32 * 64 + 64);
    // out_d * out_h * out_w * filters * fd * fh * fw * c_in.
    assert_eq!(find(&net, "c2").macs, 8 * 16 * 16 * 32 * 27 * 16);
    assert_eq!(find(&net, "p1").output.unwrap().to_string(), "8x16x16x16");
    assert_eq!(find(&net, "c1").kind.dsl_name(), "Conv3d");
    assert_eq!(find(&net, "p2").kind.dsl_name(), "MaxPool3d");
    // 448 + 64 + 13,856 + 128 + 55,360 + 256 + 2,600.
    assert_eq!(net.params, 72_712);
}

#[test]
fn each_axis_follows_the_rule() {
    // Depth floor((9 + 2*1 - 2*(3-1) - 1) / 2) + 1 = 4, height
    // floor((10 + 2 - 1*(2-1) - 1) / 1) + 1 = 11, width
    // floor((11 + 2 - 1*(5-1) - 1) / 3) + 1 = 3.
    let net = good(&net_src(
        "[9, 10, 11, 2]",
        "c: Conv3d { filters: 4, kernel: [3, 2, 5], stride: [2, 1, 3], padding: 1, dilation: [2, 1, 1] },
         s: Conv3d { filters: 3, kernel: 3, stride: 2, padding: same, groups: 1 },
         a: AvgPool3d { size: [1, 2, 2] },
         m: MaxPool3d { size: 2, stride: 1, padding: 1 },
         f: Flatten",
    ));
    assert_eq!(find(&net, "c").output, volume(4, 11, 3, 4));
    // `same`: ceil(n / s) along every axis.
    assert_eq!(find(&net, "s").output, volume(2, 6, 2, 3));
    assert_eq!(find(&net, "a").output, volume(2, 3, 1, 3));
    // floor((n + 2 - 2) / 1) + 1 = n + 1 along each axis.
    assert_eq!(find(&net, "m").output, volume(3, 4, 2, 3));
    assert_eq!(find(&net, "f").output, Some(Shape::Flat { n: 72 }));
    assert_eq!(find(&net, "c").params, 3 * 2 * 5 * 2 * 4 + 4);
    // A grouped Conv3d: 2 groups, each 4 channels in and 3 filters out.
    let net = good(&net_src(
        "[4, 4, 4, 8]",
        "g: Conv3d { filters: 6, kernel: 1, groups: 2 }",
    ));
    assert_eq!(find(&net, "g").params, 4 * 6 + 6);
}

#[test]
fn kinds_of_the_other_rank_name_the_kind_to_use() {
    assert_eq!(
        one_error("[16, 32, 32, 1]", "c: Conv2d { filters: 4, kernel: 3 }"),
        "c: Conv2d slides over an image but its input is the volume 16x32x32x1 (depth x height x width x channels)\n\
         = help: use `Conv3d` on volumes (`kernel: 3` or `kernel: [fd, fh, fw]`), or declare an image as `input: [height, width, channels]`"
    );
    assert_eq!(
        one_error("[32, 32, 1]", "c: Conv3d { filters: 4, kernel: 3 }"),
        "c: Conv3d slides through a volume but its input is the image 32x32x1\n\
         = help: use `Conv2d` on images, or declare a volume as `input: [depth, height, width, channels]`"
    );
    assert_eq!(
        one_error("[100, 3]", "p: MaxPool3d { size: 2 }"),
        "p: MaxPool3d slides through a volume but its input is the sequence 100x3 (length x channels)\n\
         = help: use `MaxPool1d` on sequences, with one number per key (`kernel: 8`)"
    );
    assert_eq!(
        one_error("[8]", "c: Conv3d { filters: 4, kernel: 3 }"),
        "c: Conv3d needs a volume (d x h x w x c) but its input is a flat vector of 8 features\n\
         = help: the network's input is flat ([8]); declare volumes as `input: [depth, height, width, channels]`"
    );
}

#[test]
fn volume_messages_show_the_depth() {
    assert_eq!(
        one_error("[2, 8, 8, 1]", "c: Conv3d { filters: 4, kernel: 3 }"),
        "c: kernel depth 3 does not fit the padded input depth 2 (n + 2p = 2 + 2*0 = 2 < d(f-1)+1 = 3)\n\
         = help: lower the kernel's depth (`kernel: [fd, fh, fw]`), add padding, or remove a pooling layer before c"
    );
    assert_eq!(
        one_error("[2, 3, 3, 2]", "d: Dense { units: 3 }"),
        "d: Dense needs a flat input but gets the volume 2x3x3x2\n\
         = help: add `Flatten` before d (2*3*3*2 = 36 features) or `GlobalAvgPool` (2 features)"
    );
    let all = errors(&net_src(
        "[4, 4, 4, 1]",
        "c: Conv3d { filters: 4, kernel: [1, 3] }",
    ));
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].contains("a number or [depth, height, width]"),
        "{all:?}"
    );
    assert_eq!(
        one_error(
            "[4, 4, 4, 1]",
            "c: Conv3d { filters: 4, kernel: [0, 3, 3] }"
        ),
        "c: kernel must be at least 1, got [0, 3, 3]\n\
         = help: the window needs at least one row and one column"
    );
    assert_eq!(
        one_error(
            "[4, 4, 4, 1]",
            "p: MaxPool3d { size: [1, 2, 2], padding: 1 }"
        ),
        "p: padding 1 is not smaller than the pool window 1, so a window could hold only padding\n\
         = help: use padding below 1, or `padding: same`"
    );
}
