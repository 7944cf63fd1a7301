//! GroupNorm, LayerNorm, Gate and Scale in the front end: shapes, counts,
//! names, and the text of each of their rules.

use super::{errors, find, good, image, net_src, one_error};
use crate::ir::Shape;

#[test]
fn norms_keep_the_shape_and_count_gamma_and_beta() {
    let net = good(&net_src(
        "[6, 6, 3]",
        "c: Conv2d { filters: 8, kernel: 3 }, gn: GroupNorm { groups: 4 }, ln: LayerNorm, \
         Flatten, d: Dense { units: 5 }, ln2: LayerNorm { epsilon: 0.000001 }, \
         f: GroupNorm { groups: 5, trainable: false }",
    ));
    assert_eq!(find(&net, "gn").output, image(4, 4, 8));
    assert_eq!(find(&net, "ln").output, image(4, 4, 8));
    assert_eq!(find(&net, "ln2").output, Some(Shape::Flat { n: 5 }));
    let counts = |name| {
        let l = find(&net, name);
        (l.params, l.trainable, l.macs)
    };
    assert_eq!(counts("gn"), (16, 16, 0));
    assert_eq!(counts("ln"), (16, 16, 0));
    assert_eq!(counts("ln2"), (10, 10, 0));
    assert_eq!(counts("f"), (10, 0, 0));
}

#[test]
fn a_scale_keeps_the_shape_and_holds_one_tensor_named_after_it() {
    let net = good(&net_src(
        "[6, 6, 3]",
        "c: Conv2d { filters: 8, kernel: 3 }, ls: Scale { init: 0.000001 }, \
         Flatten, d: Dense { units: 5 }, fs: Scale, f: Scale { trainable: false }",
    ));
    assert_eq!(find(&net, "ls").output, image(4, 4, 8));
    assert_eq!(find(&net, "fs").output, Some(Shape::Flat { n: 5 }));
    let counts = |name| {
        let l = find(&net, name);
        (l.params, l.trainable, l.macs)
    };
    assert_eq!(counts("ls"), (8, 8, 0));
    assert_eq!(counts("fs"), (5, 5, 0));
    assert_eq!(counts("f"), (5, 0, 0));
    let params = crate::expand::layout::params(&net.layers);
    let ls = &params.tensors[params.of("ls").scale.unwrap()];
    assert_eq!((ls.name.as_str(), ls.shape.as_slice()), ("ls", &[8][..]));
    assert_eq!(
        ls.init,
        crate::expand::layout::Init::Constant {
            bits: 0.000001f32.to_bits()
        }
    );
    // Default init: 1, the identity.
    let fs = &params.tensors[params.of("fs").scale.unwrap()];
    assert_eq!(
        fs.init,
        crate::expand::layout::Init::Constant {
            bits: 1f32.to_bits()
        }
    );
    // A factor per channel: each output position sees its input's field.
    let fields = crate::field::fields(&net);
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(field("ls"), field("c"));
}

#[test]
fn a_scale_init_is_a_finite_f32() {
    assert_eq!(
        one_error("[4, 4, 6]", "ls: Scale { init: 1e39 }"),
        "ls: scale init must be a finite f32, got 1e39\n\
         = help: init is every factor's starting value: 1 starts as the identity, ConvNeXt uses `init: 0.000001`"
    );
}

#[test]
fn a_gate_keeps_its_input_shape_and_names_its_body() {
    let net = good(&net_src(
        "[6, 6, 16]",
        "se: Gate { body: [GlobalAvgPool, Dense { units: 4 }, Relu, Dense { units: 16 }, Sigmoid] }, \
         tv: Gate { body: [AvgPool2d { size: 6 }, fc1: Conv2d { filters: 4, kernel: 1 }, Relu, \
                           fc2: Conv2d { filters: 16, kernel: 1 }, Sigmoid] }, \
         sa: Gate { body: [Conv2d { filters: 16, kernel: 1 }, Sigmoid] }",
    ));
    assert_eq!(find(&net, "se").output, image(6, 6, 16));
    assert_eq!(find(&net, "se.dense_2").output, Some(Shape::Flat { n: 16 }));
    assert_eq!(find(&net, "tv.fc2").output, image(1, 1, 16));
    assert_eq!(find(&net, "sa").output, image(6, 6, 16));
    // The body's parameters are the block's.
    assert_eq!(find(&net, "se").params, 16 * 4 + 4 + 4 * 16 + 16);
}

#[test]
fn group_norm_groups_divide_the_channels() {
    assert_eq!(
        one_error("[4, 4, 6]", "gn: GroupNorm { groups: 4 }"),
        "gn: groups 4 does not divide the 6 channels of its input 4x4x6 (6 / 4 = 1 remainder 2)\n\
         = help: each group normalises c / groups channels together: with 6 channels, groups can be 1, 2, 3, 6; try `groups: 3`"
    );
    assert_eq!(
        one_error("[10]", "gn: GroupNorm { groups: 0 }"),
        "gn: groups must be at least 1, got 0\n\
         = help: groups: 1 normalises all channels together"
    );
}

#[test]
fn a_gate_body_gives_a_factor_per_channel_or_per_element() {
    assert_eq!(
        one_error("[4, 4, 6]", "g: Gate { body: [Conv2d { filters: 6, kernel: 3 }] }"),
        "g: the body gives 2x2x6 but the gate multiplies the input 4x4x6, so it must give 6 (one factor per channel) or 4x4x6 (one per element)\n\
         = help: squeeze the body to one value per channel: `GlobalAvgPool, Dense { units: 6 }, Sigmoid`"
    );
    assert_eq!(
        one_error("[8]", "g: Gate { body: [Dense { units: 4 }] }"),
        "g: the body gives 4 but the gate multiplies the input 8, so it must give 8 (one factor per feature)\n\
         = help: end the body with `Dense { units: 8 }, Sigmoid`, one gate per channel"
    );
    let all = errors(&net_src("[4, 4, 6]", "g: Gate { body: [] }"));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].starts_with("g: the body is empty"), "{all:#?}");
}

#[test]
fn pytorchs_eps_is_our_epsilon() {
    assert_eq!(
        one_error("[4, 4, 6]", "ln: LayerNorm { eps: 0.000001 }"),
        "ln: LayerNorm has no key `eps`\n\
         = help: did you mean `epsilon`?"
    );
    // A broken gate keeps its input's shape: the mistake after it shows.
    let all = errors(&net_src(
        "[4, 4, 6]",
        "g: Gate { bdy: [Sigmoid] }, Dense { units: 2 }",
    ));
    assert_eq!(all.len(), 3, "{all:#?}");
}

#[test]
fn norm_epsilon_is_above_zero() {
    assert_eq!(
        one_error("[4, 4, 6]", "ln: LayerNorm { epsilon: -1.0 }"),
        "ln: LayerNorm epsilon must be above 0, got -1.0\n\
         = help: epsilon keeps 1 / sqrt(var + epsilon) finite; PyTorch uses 1e-5 (`epsilon: 0.00001`)"
    );
}
