//! The pure intermediate representation between the front end (parse,
//! lower, check) and the back end (expand). It holds no syn types, so shape
//! rules and counts are tested with plain `#[test]`s; source positions are
//! `Site` handles into a span table that the front end keeps.
//!
//! The network is a tree: a block is a list of layers, and `Residual`,
//! `Concat` and `AuxHead` hold blocks of their own.

/// A handle to a source span (the front end's table maps it to a
/// `proc_macro2::Span`). `Site::CALL` is the whole macro call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Site(pub usize);

impl Site {
    pub const CALL: Site = Site(0);
}

/// The shape of one example's activation (the batch dimension is not part
/// of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `h x w x c`, stored NHWC. A sequence `[l, c]` (`seq: true`) is the
    /// image `1 x l x c`: the kernels run it as a height-1 image, while the
    /// messages, the summary and the generated API speak of `l x c`. A
    /// volume `[d, h, w, c]` (`depth: Some(d)`) is stored NDHWC: to every
    /// layer but the 3D kinds it is `d * h` rows of `w x c` (batch norm,
    /// activations, `GlobalAvgPool` and `Flatten` need nothing more), so
    /// `h` is always one frame's height and `len` counts the frames.
    Image {
        h: usize,
        w: usize,
        c: usize,
        seq: bool,
        depth: Option<usize>,
    },
    /// A flat vector of `n` features.
    Flat { n: usize },
}

impl Shape {
    /// Elements per example. The checker only stores shapes whose length
    /// fits in `usize`, so this does not overflow on a checked net.
    pub fn len(&self) -> usize {
        match *self {
            Shape::Image { h, w, c, depth, .. } => depth.unwrap_or(1) * h * w * c,
            Shape::Flat { n } => n,
        }
    }

    /// Elements per example, `None` when the product overflows.
    pub fn checked_len(&self) -> Option<usize> {
        match *self {
            Shape::Image { h, w, c, depth, .. } => depth
                .unwrap_or(1)
                .checked_mul(h)?
                .checked_mul(w)?
                .checked_mul(c),
            Shape::Flat { n } => Some(n),
        }
    }

    /// The dimensions as written in a declaration: `28, 28, 1` or `10`
    /// (for help lines such as `write \`output: [28, 28, 1]\``).
    pub fn as_list(&self) -> String {
        match *self {
            Shape::Image {
                w, c, seq: true, ..
            } => format!("{w}, {c}"),
            Shape::Image {
                h,
                w,
                c,
                depth: Some(d),
                ..
            } => format!("{d}, {h}, {w}, {c}"),
            Shape::Image { h, w, c, .. } => format!("{h}, {w}, {c}"),
            Shape::Flat { n } => n.to_string(),
        }
    }

    /// Whether this is a sequence `[l, c]`.
    pub fn is_seq(&self) -> bool {
        matches!(self, Shape::Image { seq: true, .. })
    }

    /// Whether this is a volume `[d, h, w, c]`.
    pub fn is_volume(&self) -> bool {
        matches!(self, Shape::Image { depth: Some(_), .. })
    }

    /// An image `h x w x c` (not a sequence, not a volume).
    pub fn image(h: usize, w: usize, c: usize) -> Shape {
        Shape::Image {
            h,
            w,
            c,
            seq: false,
            depth: None,
        }
    }

    /// Channels of an image, features of a flat vector: what a batch norm
    /// normalises over.
    pub fn channels(&self) -> usize {
        match *self {
            Shape::Image { c, .. } => c,
            Shape::Flat { n } => n,
        }
    }
}

impl std::fmt::Display for Shape {
    /// `28x28x6`, `150x128` (a sequence), `16x32x32x1` (a volume) or
    /// `120`, as the summary and the messages print shapes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Shape::Image {
                w, c, seq: true, ..
            } => write!(f, "{w}x{c}"),
            Shape::Image {
                h,
                w,
                c,
                depth: Some(d),
                ..
            } => write!(f, "{d}x{h}x{w}x{c}"),
            Shape::Image { h, w, c, .. } => write!(f, "{h}x{w}x{c}"),
            Shape::Flat { n } => write!(f, "{n}"),
        }
    }
}

/// Padding as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pad {
    Explicit(usize),
    Valid,
    Same,
}

/// The whole network. Once checked, sums over it cannot overflow: every
/// stored shape's length fits in `usize`, 4 bytes times the sum of every
/// layer's output length (blocks and their layers alike) fits in `usize`,
/// and the sum of every layer's `params` (`macs`) over all rows fits in
/// `usize` (`u64`); where they would not, an error was reported and the
/// shapes or counts were forgotten.
#[derive(Clone, Debug)]
pub struct Net {
    /// The struct's name, e.g. `LeNet5`.
    pub name: String,
    pub input: Shape,
    pub site_input: Site,
    pub layers: Vec<Layer>,
    /// `taps: [..]`: the layers whose outputs a held pass exposes, by full
    /// name, each with where it is written.
    pub taps: Vec<(String, Site)>,
    /// Filled by the counter: the totals over every layer (top-level layers
    /// only, since a block's counts already include its children's).
    pub params: usize,
    pub trainable: usize,
    pub macs: u64,
}

/// One layer, with what the checker worked out about it.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Full name: `conv1`, `conv2d_1`, `res3a.conv1` inside a block.
    pub name: String,
    /// Whether the user wrote the name (auto names are still unique).
    #[allow(dead_code)] // for the back end's summary; read by the tests
    pub named_by_user: bool,
    pub kind: LayerKind,
    /// The span of the layer as written (its kind, or `name: Kind`).
    pub site: Site,
    /// The span of each key as written (`kernel: 7`), and of the user's
    /// name under `"name"`; for messages that point at what to edit.
    pub keys: Vec<(&'static str, Site)>,
    /// `trainable: false` on the layer or on a block, template use or
    /// network around it: its parameters are laid out with the
    /// non-trainable ones, get no gradient and no update, and a batch norm
    /// normalises with its moving statistics in training too (as Keras
    /// does for a frozen `BatchNormalization`).
    pub frozen: bool,
    /// Lowering found a mistake in this layer (unknown kind, missing or
    /// mistyped key) and reported it; the kind holds placeholders. The
    /// checker reports nothing more about it, and its output is unknown
    /// unless its kind keeps the shape.
    pub broken: bool,
    /// Filled by the checker; `None` once an earlier shape is wrong.
    pub input: Option<Shape>,
    pub output: Option<Shape>,
    /// For convolutions and pooling: the zero rows above and columns left of
    /// the input (`same` resolved with TensorFlow's rule), filled by the
    /// checker; `[0, 0]` for other kinds.
    pub pad_before: [usize; 2],
    /// Filled by the counter: every parameter, the trainable ones, and the
    /// multiply-adds of one example's forward pass. A block's counts are the
    /// sums over the layers it holds (so do not add both).
    pub params: usize,
    pub trainable: usize,
    pub macs: u64,
}

impl Layer {
    /// Where the key was written, or the layer's own site when it was not
    /// (a default, or a missing key).
    pub fn key_site(&self, key: &str) -> Site {
        self.keys
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(self.site, |&(_, site)| site)
    }

    /// `Residual`, `Concat`, `AuxHead`, `Gate` or `Sequential`: a layer that holds
    /// layer lists.
    pub fn is_block(&self) -> bool {
        matches!(
            self.kind,
            LayerKind::Residual { .. }
                | LayerKind::Concat { .. }
                | LayerKind::AuxHead { .. }
                | LayerKind::Gate { .. }
                | LayerKind::Sequential { .. }
        )
    }

    /// What the summary shows in its kind column: the DSL kind, or for a
    /// group the template, stage or network it came from.
    pub fn label(&self) -> String {
        match &self.kind {
            LayerKind::Sequential { label, .. } => label.clone(),
            LayerKind::Conv2d {
                depthwise: Some(_), ..
            } => "DepthwiseConv2d".to_string(),
            kind => kind.dsl_name().to_string(),
        }
    }

    /// The layer lists a block holds (body then shortcut; each branch; the
    /// head's layers); empty for plain layers.
    pub fn children(&self) -> Vec<&[Layer]> {
        match &self.kind {
            LayerKind::Residual { body, shortcut } => vec![body, shortcut],
            LayerKind::Concat { branches } => branches.iter().map(Vec::as_slice).collect(),
            LayerKind::AuxHead { layers, .. } | LayerKind::Sequential { layers, .. } => {
                vec![layers]
            }
            LayerKind::Gate { body } => vec![body],
            _ => Vec::new(),
        }
    }

    /// Mutable [`Layer::children`].
    pub fn children_mut(&mut self) -> Vec<&mut Vec<Layer>> {
        match &mut self.kind {
            LayerKind::Residual { body, shortcut } => vec![body, shortcut],
            LayerKind::Concat { branches } => branches.iter_mut().collect(),
            LayerKind::AuxHead { layers, .. } | LayerKind::Sequential { layers, .. } => {
                vec![layers]
            }
            LayerKind::Gate { body } => vec![body],
            _ => Vec::new(),
        }
    }
}

/// Marks a layer and everything inside it frozen.
pub fn freeze(layer: &mut Layer) {
    layer.frozen = true;
    for list in layer.children_mut() {
        list.iter_mut().for_each(freeze);
    }
}

/// The layers of a list with every `Sequential` opened up in place: the
/// order in which the kernels run them (a group is only a namespace).
pub fn flatten_groups(layers: &[Layer]) -> Vec<&Layer> {
    let mut out = Vec::new();
    for layer in layers {
        match &layer.kind {
            LayerKind::Sequential { layers, .. } => out.extend(flatten_groups(layers)),
            _ => out.push(layer),
        }
    }
    out
}

/// The inputs a kernel of `f` taps `d` apart spans along each axis,
/// `d (f - 1) + 1` (saturating: the checker reported a window whose span
/// overflows, and such a layer has no output).
pub fn dilated_window(kernel: [usize; 2], dilation: [usize; 2]) -> [usize; 2] {
    [0, 1].map(|i| {
        kernel[i]
            .saturating_sub(1)
            .saturating_mul(dilation[i])
            .saturating_add(1)
    })
}

/// The depth axis of a 3D kind (`Conv3d`, `MaxPool3d`, `AvgPool3d`,
/// `ConvTranspose3d`): the kind's other keys hold the height and width, as
/// for the 2D kinds, and this the third axis in front of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Depth {
    /// Taps (window) along the depth.
    pub f: usize,
    pub s: usize,
    /// Frames between taps (1 for pooling).
    pub d: usize,
    /// Zero frames in front of the input, filled by the checker (`same`
    /// resolved with TensorFlow's rule, as for the rows); for
    /// `ConvTranspose3d` the frames cut from each end of its output, as
    /// written.
    pub pad_front: usize,
    /// `ConvTranspose3d`'s frames added at the end (0 for the others).
    pub output_padding: usize,
}

/// How `Upsample` fills the new pixels (PyTorch's `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpsampleMode {
    Nearest,
    /// On images, `align_corners=False`.
    Bilinear,
    /// On sequences, `align_corners=False`.
    Linear,
    /// On volumes, `align_corners=False` (PyTorch's `trilinear`).
    Trilinear,
}

/// The layer kinds of the DSL with their keys, defaults applied.
#[derive(Clone, Debug)]
pub enum LayerKind {
    Conv2d {
        filters: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        /// Rows and columns between kernel taps (PyTorch's `dilation`,
        /// Keras's `dilation_rate`; 1 is an ordinary convolution): the
        /// window spans `d (f - 1) + 1` inputs. `[1, d]` for `Conv1d`.
        dilation: [usize; 2],
        padding: Pad,
        bias: bool,
        /// Input and output channels split into this many groups, each
        /// convolved on its own (1: an ordinary convolution).
        groups: usize,
        /// `Some(multiplier)` for `DepthwiseConv2d`: the checker sets
        /// `groups` to the input channels and `filters` to `groups *
        /// multiplier`.
        depthwise: Option<usize>,
        /// `Conv1d`: `kernel`, `stride` and `dilation` are `[1, k]`,
        /// `[1, s]` and `[1, d]`, and the padding applies along the
        /// sequence only (a height-1 image).
        seq: bool,
        /// `Conv3d`: the depth axis; `kernel`, `stride` and `dilation`
        /// hold the height and width, and `padding` applies to all three.
        depth: Option<Depth>,
    },
    /// A transposed convolution (PyTorch's `ConvTranspose2d`): each input
    /// pixel spreads the kernel over the output, `stride` apart; output
    /// `(n - 1) s - 2p + d (f - 1) + output_padding + 1` along each axis.
    /// Its weights are `[fh, fw, filters / groups, c_in]`.
    ConvTranspose2d {
        filters: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        /// Rows and columns cut from both ends of the full output.
        padding: [usize; 2],
        /// Rows and columns added at the bottom and right, below the
        /// stride or the dilation (PyTorch's rule).
        output_padding: [usize; 2],
        bias: bool,
        groups: usize,
        /// `ConvTranspose1d`: every pair is `[1, k]` or `[0, p]`, a
        /// height-1 image, as for `Conv2d`'s `seq`.
        seq: bool,
        /// `ConvTranspose3d`: the depth axis, as for `Conv2d`'s `depth`
        /// (`padding` and `output_padding` along it too).
        depth: Option<Depth>,
    },
    /// Each pixel repeated (`Nearest`) or interpolated (`Bilinear`,
    /// `Linear`, `Trilinear`) into `scale` rows and columns; on a sequence
    /// `[1, s]`, on a volume `scale_depth` frames too.
    Upsample {
        scale: [usize; 2],
        /// `scale: [sh, sw]` was written (a sequence takes one number).
        scale_pair: bool,
        /// The frames per input frame: `scale: [sd, sh, sw]` as written,
        /// or the checker's on a volume (`scale: s` is `[s, s, s]`).
        scale_depth: Option<usize>,
        mode: UpsampleMode,
    },
    MaxPool2d {
        size: [usize; 2],
        stride: [usize; 2],
        padding: Pad,
        /// `MaxPool1d`, as for `Conv2d`'s `seq`.
        seq: bool,
        /// `MaxPool3d`, as for `Conv2d`'s `depth`.
        depth: Option<Depth>,
    },
    AvgPool2d {
        size: [usize; 2],
        stride: [usize; 2],
        padding: Pad,
        /// `AvgPool1d`, as for `Conv2d`'s `seq`.
        seq: bool,
        /// `AvgPool3d`, as for `Conv2d`'s `depth`.
        depth: Option<Depth>,
    },
    GlobalAvgPool,
    Flatten,
    Dense {
        units: usize,
        bias: bool,
    },
    BatchNorm {
        momentum: f64,
        epsilon: f64,
    },
    /// Per example, over the channels of each group and every position
    /// (PyTorch's `GroupNorm`); `groups` divides the channels.
    GroupNorm {
        groups: usize,
        epsilon: f64,
    },
    /// Per position over the channels (PyTorch's `LayerNorm(C)` on NHWC
    /// data, as ConvNeXt uses it); a flat input is one vector.
    LayerNorm {
        epsilon: f64,
    },
    /// Each channel times its own learnable factor, `[c]` shared by every
    /// position and example (ConvNeXt's `layer_scale`); the factors start
    /// at `init`. Its one tensor is named after the layer itself.
    Scale {
        init: f64,
    },
    Dropout {
        rate: f64,
    },
    Relu,
    LeakyRelu {
        alpha: f64,
    },
    Tanh,
    Sigmoid,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `x * sigmoid(x)` (swish).
    Silu,
    /// `x * relu6(x + 3) / 6`.
    Hardswish,
    /// `relu6(x + 3) / 6`.
    Hardsigmoid,
    /// `x * Phi(x)`; `tanh`: the tanh approximation.
    Gelu {
        tanh: bool,
    },
    /// Each vector (a flat example, or an image's channels at each
    /// position) divided by its L2 norm.
    L2Normalize,
    Softmax,
    /// The body's output plus the shortcut's (identity when empty).
    Residual {
        body: Vec<Layer>,
        shortcut: Vec<Layer>,
    },
    /// Branches on the same input, concatenated along channels.
    Concat {
        branches: Vec<Vec<Layer>>,
    },
    /// A side classifier on the current activation; its loss is added with
    /// `weight` in training. It passes its input through unchanged.
    AuxHead {
        weight: f64,
        layers: Vec<Layer>,
    },
    /// The input times what the body computes from it: a `[c]` (or
    /// `1x1xc`) output broadcast over the positions, or one of the
    /// input's shape, element by element (squeeze-and-excitation).
    Gate {
        body: Vec<Layer>,
    },
    /// Layers run in order under one name: `Sequential { layers }`, a use
    /// of a block template, a stage, or a network used as a layer. Only a
    /// namespace: the kernels run its layers as if they were written out.
    Sequential {
        layers: Vec<Layer>,
        /// The summary's kind column: `Sequential`, the template's name,
        /// `Stage`, or the network's name.
        label: String,
        /// A network used as a layer: the input it was declared for.
        expect_input: Option<Shape>,
        /// The output shape the use states (`output: [..]`), if it does.
        expect_output: Option<Shape>,
    },
}

impl LayerKind {
    /// The DSL spelling, e.g. `Conv2d`.
    pub fn dsl_name(&self) -> &'static str {
        match self {
            LayerKind::Conv2d { seq: true, .. } => "Conv1d",
            LayerKind::Conv2d { depth: Some(_), .. } => "Conv3d",
            LayerKind::MaxPool2d { depth: Some(_), .. } => "MaxPool3d",
            LayerKind::AvgPool2d { depth: Some(_), .. } => "AvgPool3d",
            LayerKind::ConvTranspose2d { seq: true, .. } => "ConvTranspose1d",
            LayerKind::ConvTranspose2d { depth: Some(_), .. } => "ConvTranspose3d",
            LayerKind::ConvTranspose2d { .. } => "ConvTranspose2d",
            LayerKind::Upsample { .. } => "Upsample",
            LayerKind::MaxPool2d { seq: true, .. } => "MaxPool1d",
            LayerKind::AvgPool2d { seq: true, .. } => "AvgPool1d",
            LayerKind::Conv2d { .. } => "Conv2d",
            LayerKind::MaxPool2d { .. } => "MaxPool2d",
            LayerKind::AvgPool2d { .. } => "AvgPool2d",
            LayerKind::GlobalAvgPool => "GlobalAvgPool",
            LayerKind::Flatten => "Flatten",
            LayerKind::Dense { .. } => "Dense",
            LayerKind::BatchNorm { .. } => "BatchNorm",
            LayerKind::GroupNorm { .. } => "GroupNorm",
            LayerKind::LayerNorm { .. } => "LayerNorm",
            LayerKind::Scale { .. } => "Scale",
            LayerKind::Dropout { .. } => "Dropout",
            LayerKind::Relu => "Relu",
            LayerKind::LeakyRelu { .. } => "LeakyRelu",
            LayerKind::Tanh => "Tanh",
            LayerKind::Sigmoid => "Sigmoid",
            LayerKind::Relu6 => "Relu6",
            LayerKind::Silu => "Silu",
            LayerKind::Hardswish => "Hardswish",
            LayerKind::Hardsigmoid => "Hardsigmoid",
            LayerKind::Gelu { .. } => "Gelu",
            LayerKind::L2Normalize => "L2Normalize",
            LayerKind::Softmax => "Softmax",
            LayerKind::Residual { .. } => "Residual",
            LayerKind::Concat { .. } => "Concat",
            LayerKind::AuxHead { .. } => "AuxHead",
            LayerKind::Gate { .. } => "Gate",
            LayerKind::Sequential { .. } => "Sequential",
        }
    }

    /// The stem of auto names: `conv2d` in `conv2d_1`.
    pub fn auto_stem(&self) -> &'static str {
        match self {
            LayerKind::Conv2d { seq: true, .. } => "conv1d",
            LayerKind::Conv2d { depth: Some(_), .. } => "conv3d",
            LayerKind::MaxPool2d { depth: Some(_), .. } => "max_pool3d",
            LayerKind::AvgPool2d { depth: Some(_), .. } => "avg_pool3d",
            LayerKind::ConvTranspose2d { seq: true, .. } => "conv_transpose1d",
            LayerKind::ConvTranspose2d { depth: Some(_), .. } => "conv_transpose3d",
            LayerKind::ConvTranspose2d { .. } => "conv_transpose2d",
            LayerKind::Upsample { .. } => "upsample",
            LayerKind::MaxPool2d { seq: true, .. } => "max_pool1d",
            LayerKind::AvgPool2d { seq: true, .. } => "avg_pool1d",
            LayerKind::Conv2d { .. } => "conv2d",
            LayerKind::MaxPool2d { .. } => "max_pool2d",
            LayerKind::AvgPool2d { .. } => "avg_pool2d",
            LayerKind::GlobalAvgPool => "global_avg_pool",
            LayerKind::Flatten => "flatten",
            LayerKind::Dense { .. } => "dense",
            LayerKind::BatchNorm { .. } => "batch_norm",
            LayerKind::GroupNorm { .. } => "group_norm",
            LayerKind::LayerNorm { .. } => "layer_norm",
            LayerKind::Scale { .. } => "scale",
            LayerKind::Dropout { .. } => "dropout",
            LayerKind::Relu => "relu",
            LayerKind::LeakyRelu { .. } => "leaky_relu",
            LayerKind::Tanh => "tanh",
            LayerKind::Sigmoid => "sigmoid",
            LayerKind::Relu6 => "relu6",
            LayerKind::Silu => "silu",
            LayerKind::Hardswish => "hardswish",
            LayerKind::Hardsigmoid => "hardsigmoid",
            LayerKind::Gelu { .. } => "gelu",
            LayerKind::L2Normalize => "l2_normalize",
            LayerKind::Softmax => "softmax",
            LayerKind::Residual { .. } => "residual",
            LayerKind::Concat { .. } => "concat",
            LayerKind::AuxHead { .. } => "aux_head",
            LayerKind::Gate { .. } => "gate",
            LayerKind::Sequential { .. } => "sequential",
        }
    }
}
