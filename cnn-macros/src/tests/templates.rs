//! Block templates, stages, `Sequential`, networks used as layers and
//! grouped convolutions in the front end: names, shapes, counts, and the
//! messages of their rules.

use super::{all_layers, errors, find, good, image};
use crate::ir::LayerKind;

fn names(src: &str) -> Vec<String> {
    all_layers(&good(src).layers)
        .iter()
        .map(|l| l.name.clone())
        .collect()
}

const BASIC: &str = "
    block Basic(filters, stride: 1, project: stride != 1) = [
        Residual {
            body: [
                conv1: Conv2d { filters: filters, kernel: 3, stride: stride, padding: 1, bias: false },
                bn1: BatchNorm,
                Relu,
                conv2: Conv2d { filters: filters, kernel: 3, padding: 1, bias: false },
                bn2: BatchNorm,
            ],
            shortcut: if project {
                [downsample: Sequential { layers: [Conv2d { filters: filters, kernel: 1, stride: stride, bias: false }, BatchNorm] }]
            } else { [] },
        },
        Relu,
    ];";

#[test]
fn a_template_use_names_its_layers_under_the_use_and_an_unnamed_residual_adds_no_level() {
    let src = format!(
        "{BASIC} struct Net {{ input: [8, 8, 4], layers: [
            layer1: Stage {{ block: Basic {{ filters: 4 }}, repeat: 2 }},
            layer2: Basic {{ filters: 8, stride: 2 }},
            GlobalAvgPool, Dense {{ units: 3 }}, Softmax,
        ] }}"
    );
    let got = names(&src);
    let want = [
        "layer1",
        "layer1.0",
        "layer1.0.residual_1",
        "layer1.0.conv1",
        "layer1.0.bn1",
        "layer1.0.relu_1",
        "layer1.0.conv2",
        "layer1.0.bn2",
        "layer1.0.relu_2",
        "layer1.1",
        "layer1.1.residual_1",
        "layer1.1.conv1",
        "layer1.1.bn1",
        "layer1.1.relu_1",
        "layer1.1.conv2",
        "layer1.1.bn2",
        "layer1.1.relu_2",
        "layer2",
        "layer2.residual_1",
        "layer2.conv1",
        "layer2.bn1",
        "layer2.relu_1",
        "layer2.conv2",
        "layer2.bn2",
        "layer2.downsample",
        "layer2.downsample.0",
        "layer2.downsample.1",
        "layer2.relu_2",
        "global_avg_pool_1",
        "dense_1",
        "softmax_1",
    ];
    assert_eq!(got, want);
    let net = good(&src);
    assert_eq!(find(&net, "layer2.conv1").output, image(4, 4, 8));
    assert_eq!(find(&net, "layer2.downsample").output, image(4, 4, 8));
    assert_eq!(find(&net, "layer1").label(), "2 x Basic");
    assert_eq!(find(&net, "layer1.1").label(), "Basic");
    // A group's counts are its layers'.
    let conv = 3 * 3 * 4 * 4;
    assert_eq!(find(&net, "layer1.0").params, 2 * conv + 2 * 4 * 4);
}

#[test]
fn expressions_and_defaults_are_worked_out_per_use() {
    let net = good(
        "block B(filters, expansion: 4, out: filters * expansion, pad: (3 - 1) / 2) = [
            c: Conv2d { filters: out - filters % 3, kernel: 3, padding: pad },
            d: Dropout { rate: if out > 10 && !(filters == 0) { 0.5 } else { 0.25 } },
         ];
         struct Net { input: [6, 6, 1], layers: [a: B { filters: 2 }, b: B { filters: 4, expansion: 3 }, Flatten] }",
    );
    match find(&net, "a.c").kind {
        LayerKind::Conv2d { filters, .. } => assert_eq!(filters, 8 - 2),
        _ => panic!("a conv"),
    }
    assert_eq!(find(&net, "a.c").output, image(6, 6, 6));
    match find(&net, "b.c").kind {
        LayerKind::Conv2d { filters, .. } => assert_eq!(filters, 12 - 1),
        _ => panic!("a conv"),
    }
    match (&find(&net, "a.d").kind, &find(&net, "b.d").kind) {
        (LayerKind::Dropout { rate: a }, LayerKind::Dropout { rate: b }) => {
            assert_eq!((*a, *b), (0.25, 0.5))
        }
        _ => panic!("dropouts"),
    }
}

#[test]
fn a_whole_network_can_be_a_template() {
    let src = format!(
        "{BASIC}
         block Tiny(classes) = [stem: Conv2d {{ filters: 4, kernel: 3, padding: same }}, layer1: Basic {{ filters: 4 }}, GlobalAvgPool, fc: Dense {{ units: classes }}, Softmax];
         struct Net {{ input: [8, 8, 1], layers: Tiny {{ classes: 7 }} }}"
    );
    let net = good(&src);
    assert_eq!(net.layers[0].name, "stem");
    assert_eq!(find(&net, "layer1.conv2").output, image(8, 8, 4));
    assert_eq!(net.layers.last().unwrap().output.unwrap().len(), 7);
}

#[test]
fn mistakes_in_uses_name_the_use() {
    let src = format!(
        "{BASIC} struct Net {{ input: [4, 4, 4], layers: [
            layer1: Stage {{ block: Basic {{ filters: 4 }}, repeat: 2, first: {{ stride: 2 }} }},
            layer2: Stage {{ block: Basic {{ filters: 8 }}, repeat: 2, first: {{ stride: 2 }} }},
            layer3: Stage {{ block: Basic {{ filters: 8 }}, repeat: 1, first: {{ stride: 3 }} }},
            GlobalAvgPool, Dense {{ units: 3 }}, Softmax,
        ] }}"
    );
    let all = errors(&src);
    // 4 -> 2 -> 1: the third stage's 3x3 (padding 1) with stride 3 still
    // fits; its shortcut 1x1 stride 3 gives 1x1 too, so no error there:
    assert!(all.is_empty(), "{all:#?}");

    let src = format!(
        "{BASIC} struct Net {{ input: [4, 4, 4], layers: [
            a: Basic {{ filters: 4 }}, b: Basic {{ filters: 4 }},
            c: Basic {{ filters: 4, stride: 0 }},
            GlobalAvgPool, Dense {{ units: 3 }}, Softmax,
        ] }}"
    );
    let all = errors(&src);
    assert!(
        all.iter()
            .any(|e| e.starts_with("c.conv1: stride must be at least 1")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .all(|e| !e.starts_with("a.") && !e.starts_with("b.")),
        "{all:#?}"
    );
}

#[test]
fn template_rules() {
    let cases = [
        (
            "a: B { filters: 2, filtres: 3 }",
            "a: B has no parameter `filtres`\n= help: did you mean `filters`?",
        ),
        (
            "a: B",
            "a: B needs `filters`\n= help: add them: `B { filters: .. }`",
        ),
        (
            "a: B { filters: 2, filters: 3 }",
            "a: `filters` is given twice",
        ),
        (
            "s: Stage { block: B { filters: 2 }, repeat: 0 }",
            "s: a stage of zero blocks (repeat: 0)",
        ),
        (
            "s: Stage { block: Relu, repeat: 2 }",
            "s: `block` takes a block template, got `Relu`",
        ),
        (
            "s: Stage { block: B { filters: 2 } }",
            "s: Stage needs `repeat`",
        ),
        (
            "s: Stage { block: B { filters: 2 }, repeat: 1, firts: {} }",
            "s: Stage has no key `firts`\n= help: did you mean `first`?",
        ),
        (
            "a: B { filters: 0 - 1 }",
            "a.c: filters cannot be negative, got -1",
        ),
        ("a: B { filters: 2 / 0 }", "division by zero in 2 / 0"),
        (
            "a: Bb { filters: 2 }",
            "unknown layer kind `Bb`\n= help: did you mean `B`?",
        ),
    ];
    for (layer, want) in cases {
        let src = format!(
            "block B(filters) = [c: Conv2d {{ filters: filters, kernel: 1 }}];
             struct Net {{ input: [4, 4, 1], layers: [{layer}, Flatten] }}"
        );
        let all = errors(&src);
        assert!(
            all.iter().any(|e| e.contains(want)),
            "{layer}: want {want:?} in {all:#?}"
        );
    }
}

#[test]
fn a_template_that_uses_itself_stops_with_an_error() {
    let all = errors(
        "block Loop(n) = [inner: Loop { n: n }];
         struct Net { input: [4], layers: [l: Loop { n: 1 }, Dense { units: 2 }] }",
    );
    assert!(
        all.iter().any(|e| e.contains("`Loop` uses itself")),
        "{all:#?}"
    );
}

#[test]
fn a_network_used_as_a_layer_checks_the_shapes_it_states() {
    let src = "struct Net { input: [10, 10, 1], layers: [t: Trunk { output: [8, 8, 2] }, Flatten, Dense { units: 2 }] }
               struct Trunk { input: [10, 10, 1], layers: [c: Conv2d { filters: 2, kernel: 3 }, Relu] }";
    let net = good(src);
    assert_eq!(find(&net, "t.c").output, image(8, 8, 2));
    assert_eq!(find(&net, "t").label(), "Trunk");
    let wrong = src.replace("output: [8, 8, 2]", "output: [8, 8, 3]");
    let all = errors(&wrong);
    assert_eq!(all, ["t: the use states that Trunk gives 8x8x3, but it gives 8x8x2\n= help: write `output: [8, 8, 2]`"]);
    let small = src.replace(
        "struct Net { input: [10, 10, 1]",
        "struct Net { input: [12, 12, 1]",
    );
    let all = errors(&small);
    assert!(
        all[0].starts_with("t: Trunk takes 10x10x1 (its declared input) but gets 12x12x1 here"),
        "{all:#?}"
    );
}

#[test]
fn groups_and_depthwise_convolutions() {
    let net = good(
        "struct Net { input: [8, 8, 6], layers: [
            g: Conv2d { filters: 4, kernel: 3, groups: 2, padding: same },
            dw: DepthwiseConv2d { kernel: 3, multiplier: 2, bias: false },
            Flatten,
        ] }",
    );
    // Each of g's 4 filters sees 6 / 2 = 3 channels.
    let g = find(&net, "g");
    assert_eq!(g.params, 3 * 3 * 3 * 4 + 4);
    assert_eq!(g.macs, (8 * 8 * 4 * 3 * 3 * 3) as u64);
    let dw = find(&net, "dw");
    assert_eq!(dw.output, image(6, 6, 8));
    assert_eq!(dw.params, 3 * 3 * 8);
    assert_eq!(dw.macs, (6 * 6 * 8 * 3 * 3) as u64);
    assert_eq!(dw.label(), "DepthwiseConv2d");
    match dw.kind {
        LayerKind::Conv2d {
            groups, filters, ..
        } => assert_eq!((groups, filters), (4, 8)),
        _ => panic!("a conv"),
    }
    let all = errors("struct Net { input: [8, 8, 6], layers: [Conv2d { filters: 9, kernel: 1, groups: 3 }, Conv2d { filters: 4, kernel: 1, groups: 3 }, Flatten] }");
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(
        all[0].starts_with(
            "conv2d_2: groups 3 does not divide the filters 4 (4 / 3 = 1 remainder 1)"
        ),
        "{all:#?}"
    );
    let all = errors("struct Net { input: [8, 8, 6], layers: [Conv2d { filters: 4, kernel: 1, groups: 0 }, Flatten] }");
    assert!(
        all[0].starts_with("conv2d_1: groups must be at least 1"),
        "{all:#?}"
    );
}

#[test]
fn a_spread_template_puts_its_layers_in_place() {
    let net = good(
        "block Stem(filters) = [conv1: Conv2d { filters: filters, kernel: 3, padding: same }, Relu];
         block Net2(classes) = [..Stem { filters: 4 }, pool: MaxPool2d { size: 2 }, Flatten, fc: Dense { units: classes }];
         struct Net { input: [8, 8, 1], layers: [..Net2 { classes: 3 }, Softmax] }",
    );
    let got: Vec<&str> = net.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        got,
        ["conv1", "relu_1", "pool", "flatten_1", "fc", "softmax_1"]
    );
    assert_eq!(find(&net, "fc").output.unwrap().len(), 3);
    let all = errors("struct Net { input: [4], layers: [..Relu, Dense { units: 2 }] }");
    assert!(
        all[0].starts_with("`..` takes a block template, got `Relu`"),
        "{all:#?}"
    );
}
