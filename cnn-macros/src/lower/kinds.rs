//! The layer kinds of the DSL: their keys, which are required, DESIGN's
//! defaults, and the words help lines use for them.

use crate::ir::{Depth, LayerKind, Pad, UpsampleMode};

/// The layer kinds of the DSL, as written.
pub const KINDS: &[&str] = &[
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "GlobalAvgPool",
    "Flatten",
    "Dense",
    "BatchNorm",
    "GroupNorm",
    "LayerNorm",
    "Scale",
    "Dropout",
    "Relu",
    "LeakyRelu",
    "Tanh",
    "Sigmoid",
    "Relu6",
    "Silu",
    "Hardswish",
    "Hardsigmoid",
    "Gelu",
    "L2Normalize",
    "Softmax",
    "Residual",
    "Concat",
    "AuxHead",
    "Gate",
    "Sequential",
    "DepthwiseConv2d",
    "Conv1d",
    "MaxPool1d",
    "AvgPool1d",
    "ConvTranspose2d",
    "ConvTranspose1d",
    "ConvTranspose3d",
    "Upsample",
    "Conv3d",
    "MaxPool3d",
    "AvgPool3d",
];

/// What a layer list can also hold besides the kinds: `Stage`.
pub const STAGE: &str = "Stage";

/// The kind with DESIGN's defaults, and placeholders for required keys.
pub(super) fn blank(kind: &str) -> Option<LayerKind> {
    let pool = ([1, 1], [1, 1], Pad::Explicit(0));
    // A 3D kind's depth axis; its keys fill it beside the height and width.
    let depth = kind.ends_with("3d").then_some(Depth {
        f: 1,
        s: 1,
        d: 1,
        pad_front: 0,
        output_padding: 0,
    });
    Some(match kind {
        "Conv2d" | "Conv3d" => LayerKind::Conv2d {
            filters: 1,
            kernel: [1, 1],
            stride: [1, 1],
            dilation: [1, 1],
            padding: Pad::Explicit(0),
            bias: true,
            groups: 1,
            depthwise: None,
            seq: false,
            depth,
        },
        "Conv1d" => LayerKind::Conv2d {
            filters: 1,
            kernel: [1, 1],
            stride: [1, 1],
            dilation: [1, 1],
            padding: Pad::Explicit(0),
            bias: true,
            groups: 1,
            depthwise: None,
            seq: true,
            depth: None,
        },
        "DepthwiseConv2d" => LayerKind::Conv2d {
            filters: 1,
            kernel: [1, 1],
            stride: [1, 1],
            dilation: [1, 1],
            padding: Pad::Explicit(0),
            bias: true,
            groups: 1,
            depthwise: Some(1),
            seq: false,
            depth: None,
        },
        "ConvTranspose2d" | "ConvTranspose1d" | "ConvTranspose3d" => LayerKind::ConvTranspose2d {
            filters: 1,
            kernel: [1, 1],
            stride: [1, 1],
            dilation: [1, 1],
            padding: [0, 0],
            output_padding: [0, 0],
            bias: true,
            groups: 1,
            seq: kind == "ConvTranspose1d",
            depth,
        },
        // PyTorch's default mode.
        "Upsample" => LayerKind::Upsample {
            scale: [1, 1],
            scale_pair: false,
            scale_depth: None,
            mode: UpsampleMode::Nearest,
        },
        "MaxPool2d" | "MaxPool1d" | "MaxPool3d" => LayerKind::MaxPool2d {
            size: pool.0,
            stride: pool.1,
            padding: pool.2,
            seq: kind == "MaxPool1d",
            depth,
        },
        "AvgPool2d" | "AvgPool1d" | "AvgPool3d" => LayerKind::AvgPool2d {
            size: pool.0,
            stride: pool.1,
            padding: pool.2,
            seq: kind == "AvgPool1d",
            depth,
        },
        "GlobalAvgPool" => LayerKind::GlobalAvgPool,
        "Flatten" => LayerKind::Flatten,
        "Dense" => LayerKind::Dense {
            units: 1,
            bias: true,
        },
        "BatchNorm" => LayerKind::BatchNorm {
            momentum: 0.99,
            epsilon: 0.001,
        },
        // PyTorch's default epsilon (ConvNeXt writes 1e-6).
        "GroupNorm" => LayerKind::GroupNorm {
            groups: 1,
            epsilon: 1e-5,
        },
        "LayerNorm" => LayerKind::LayerNorm { epsilon: 1e-5 },
        // Starts as the identity unless told otherwise (ConvNeXt: 1e-6).
        "Scale" => LayerKind::Scale { init: 1.0 },
        "Dropout" => LayerKind::Dropout { rate: 0.0 },
        "Relu" => LayerKind::Relu,
        "LeakyRelu" => LayerKind::LeakyRelu { alpha: 0.01 },
        "Tanh" => LayerKind::Tanh,
        "Sigmoid" => LayerKind::Sigmoid,
        "Relu6" => LayerKind::Relu6,
        "Silu" => LayerKind::Silu,
        "Hardswish" => LayerKind::Hardswish,
        "Hardsigmoid" => LayerKind::Hardsigmoid,
        "Gelu" => LayerKind::Gelu { tanh: false },
        "L2Normalize" => LayerKind::L2Normalize,
        "Softmax" => LayerKind::Softmax,
        "Residual" => LayerKind::Residual {
            body: Vec::new(),
            shortcut: Vec::new(),
        },
        "Concat" => LayerKind::Concat {
            branches: Vec::new(),
        },
        "AuxHead" => LayerKind::AuxHead {
            weight: 0.0,
            layers: Vec::new(),
        },
        "Gate" => LayerKind::Gate { body: Vec::new() },
        "Sequential" => LayerKind::Sequential {
            layers: Vec::new(),
            label: "Sequential".to_string(),
            expect_input: None,
            expect_output: None,
        },
        _ => return None,
    })
}

/// The keys a kind takes, and which of them it needs.
pub(super) fn keys_of(kind: &LayerKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        LayerKind::Conv2d {
            depthwise: Some(_), ..
        } => (
            &[
                "kernel",
                "stride",
                "padding",
                "dilation",
                "bias",
                "multiplier",
            ],
            &["kernel"],
        ),
        LayerKind::Conv2d { .. } => (
            &[
                "filters", "kernel", "stride", "padding", "dilation", "bias", "groups",
            ],
            &["filters", "kernel"],
        ),
        LayerKind::ConvTranspose2d { .. } => (
            &[
                "filters",
                "kernel",
                "stride",
                "padding",
                "output_padding",
                "dilation",
                "bias",
                "groups",
            ],
            &["filters", "kernel"],
        ),
        LayerKind::Upsample { .. } => (&["scale", "mode"], &["scale"]),
        LayerKind::MaxPool2d { .. } | LayerKind::AvgPool2d { .. } => {
            (&["size", "stride", "padding"], &["size"])
        }
        LayerKind::Dense { .. } => (&["units", "bias"], &["units"]),
        LayerKind::BatchNorm { .. } => (&["momentum", "epsilon"], &[]),
        LayerKind::GroupNorm { .. } => (&["groups", "epsilon"], &["groups"]),
        LayerKind::LayerNorm { .. } => (&["epsilon"], &[]),
        LayerKind::Scale { .. } => (&["init"], &[]),
        LayerKind::Gate { .. } => (&["body"], &["body"]),
        LayerKind::Dropout { .. } => (&["rate"], &["rate"]),
        LayerKind::LeakyRelu { .. } => (&["alpha"], &[]),
        LayerKind::Gelu { .. } => (&["approximate"], &[]),
        LayerKind::Residual { .. } => (&["body", "shortcut"], &["body"]),
        LayerKind::Concat { .. } => (&["branches"], &["branches"]),
        LayerKind::AuxHead { .. } => (&["weight", "layers"], &["weight", "layers"]),
        LayerKind::Sequential { .. } => (&["layers"], &["layers"]),
        _ => (&[], &[]),
    }
}

/// How to write a kind with its required keys, for help lines.
pub(super) fn example(kind: &str) -> &'static str {
    match kind {
        "Conv2d" => "Conv2d { filters: 6, kernel: 5 }",
        "Conv1d" => "Conv1d { filters: 128, kernel: 8 }",
        "MaxPool1d" => "MaxPool1d { size: 2 }",
        "AvgPool1d" => "AvgPool1d { size: 2 }",
        "MaxPool2d" => "MaxPool2d { size: 2 }",
        "Conv3d" => "Conv3d { filters: 16, kernel: 3 }",
        "MaxPool3d" => "MaxPool3d { size: 2 }",
        "AvgPool3d" => "AvgPool3d { size: 2 }",
        "AvgPool2d" => "AvgPool2d { size: 2 }",
        "Dense" => "Dense { units: 10 }",
        "Dropout" => "Dropout { rate: 0.5 }",
        "Residual" => "Residual { body: [ .. ] }",
        "Concat" => "Concat { branches: [[ .. ], [ .. ]] }",
        "AuxHead" => "AuxHead { weight: 0.3, layers: [ .. ] }",
        "Sequential" => "Sequential { layers: [ .. ] }",
        "GroupNorm" => "GroupNorm { groups: 8 }",
        "Gate" => "Gate { body: [ .. ] }",
        "DepthwiseConv2d" => "DepthwiseConv2d { kernel: 3 }",
        "ConvTranspose2d" => "ConvTranspose2d { filters: 16, kernel: 2, stride: 2 }",
        "ConvTranspose1d" => "ConvTranspose1d { filters: 16, kernel: 2, stride: 2 }",
        "ConvTranspose3d" => "ConvTranspose3d { filters: 16, kernel: 2, stride: 2 }",
        "Upsample" => "Upsample { scale: 2 }",
        _ => "",
    }
}

/// What a required key of `kind` is, for the help line when it is missing.
pub(super) fn meaning(kind: &str, key: &str) -> &'static str {
    match (kind, key) {
        ("Gate", "body") => {
            return "add `body: [ .. ]`, the layers that compute the gate from the input (e.g. `[GlobalAvgPool, Dense { units: 4 }, Relu, Dense { units: 16 }, Sigmoid]`)"
        }
        ("GroupNorm", "groups") => {
            return "add `groups: G`, the number of channel groups (it must divide the channels)"
        }
        _ => {}
    }
    match key {
        "filters" => "add `filters: N`, the number of output channels",
        "kernel" => "add `kernel: f` or `kernel: [fh, fw]`, the filter size",
        "size" => "add `size: f` or `size: [fh, fw]`, the pooling window",
        "scale" => "add `scale: s` or `scale: [sh, sw]`, how many times larger the output is",
        "units" => "add `units: N`, the number of outputs",
        "rate" => "add `rate: r`, the fraction of inputs dropped in training (e.g. `rate: 0.5`)",
        "body" => "add `body: [ .. ]`, the layers whose output is added to the shortcut's",
        "branches" => "add `branches: [[ .. ], [ .. ]]`, the layer lists to concatenate",
        "weight" => "add `weight: w`, the factor of this head's loss (GoogLeNet used 0.3)",
        "layers" => "add `layers: [ .. ]`, the layers of the block",
        _ => "add it",
    }
}
