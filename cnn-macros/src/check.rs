//! The rules of DESIGN's "What is checked at compile time", one `check_*`
//! function per rule with the rule in words above it, and the shape
//! inference that fills `Layer::input`, `Layer::output` and
//! `Layer::pad_before`. Once a shape is wrong the later shapes are unknown
//! (`None`) and the rules that need them stay quiet, so one mistake gives
//! one message. Value rules (`filters: 0`, `rate: 1.5`) do not need shapes
//! and are checked everywhere. The block rules (Residual, Concat, AuxHead)
//! live in `check/blocks.rs`.

mod blocks;
mod values;

use std::collections::HashMap;

use crate::diag::{Diag, Diags};
use crate::ir::{Layer, LayerKind, Net, Pad, Shape, UpsampleMode};

/// A transposed convolution's hyper-parameters on one axis.
#[derive(Clone, Copy)]
struct Transposed {
    /// ` in depth`, ` in height`, ` in width`.
    name: &'static str,
    n: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: usize,
    output_padding: usize,
}
use crate::shape::{axis, Axis, AxisError};

/// Checks the net and fills in its shapes.
pub fn check(net: &mut Net, known: Known, diags: &mut Diags) {
    let mut checker = Checker { diags };
    let input = if known.input {
        checker.check_input_shape(net)
    } else {
        None
    };
    if known.layers {
        checker.check_has_layers(net);
    }
    let output = checker.block(&mut net.layers, input, Context::main());
    blocks::check_aux_head_classes(checker.diags, &net.layers, output);
    check_unique_names(checker.diags, &net.layers);
    check_taps_name_layers(checker.diags, net);
}

/// Every tap names a layer of the network by its full name (`conv4_2`,
/// `layer3.1`, `trunk.conv1`), once; a group (a template use, a stage,
/// a nested network) taps its last layer's output.
fn check_taps_name_layers(diags: &mut Diags, net: &Net) {
    fn names<'a>(layers: &'a [Layer], out: &mut Vec<&'a str>) {
        for layer in layers {
            out.push(&layer.name);
            for list in layer.children() {
                names(list, out);
            }
        }
    }
    let mut all = Vec::new();
    names(&net.layers, &mut all);
    let mut seen: Vec<&str> = Vec::new();
    for (tap, site) in &net.taps {
        if seen.contains(&tap.as_str()) {
            let message = format!("{}: tap `{tap}` is listed twice", net.name);
            diags.push(Diag::new(*site, message).help("remove one of them"));
            continue;
        }
        seen.push(tap);
        if all.contains(&tap.as_str()) {
            continue;
        }
        let message = format!("{}: tap `{tap}` names no layer", net.name);
        let help = match crate::suggest::closest(tap, &all) {
            Some(hit) => format!("did you mean `{hit}`?"),
            None => "tap a layer by its full name, as the summary shows it (`conv1`, `layer3.1`)"
                .to_string(),
        };
        diags.push(Diag::new(*site, message).help(help));
    }
}

/// What lowering could read: the input shape, and the layer list (when
/// not, lowering reported it and the rules that need them stay quiet).
#[derive(Clone, Copy, Debug)]
pub struct Known {
    pub input: bool,
    pub layers: bool,
}

pub(crate) struct Checker<'d> {
    pub(crate) diags: &'d mut Diags,
}

/// Where a layer list sits, for the rules that depend on it.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The list may end in `Softmax` (the main list and an aux head's).
    pub(crate) softmax_may_end: bool,
    /// The layer that last made the activation flat, for help lines;
    /// `None` when it was flat from the network's input.
    pub(crate) flattened_by: Option<&'a str>,
}

impl Context<'_> {
    fn main() -> Context<'static> {
        Context {
            softmax_may_end: true,
            flattened_by: None,
        }
    }
}

fn hw(h: usize, w: usize) -> String {
    format!("{h}x{w}")
}

/// `7` for a square window, `7x3` otherwise.
fn window(f: [usize; 2]) -> String {
    if f[0] == f[1] {
        f[0].to_string()
    } else {
        hw(f[0], f[1])
    }
}

impl Checker<'_> {
    fn push(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    /// The network's input: every dimension at least 1, and an image's
    /// `h * w * c` must fit in `usize`.
    fn check_input_shape(&mut self, net: &Net) -> Option<Shape> {
        let dims: Vec<usize> = match net.input {
            Shape::Image {
                w, c, seq: true, ..
            } => vec![w, c],
            Shape::Image {
                h,
                w,
                c,
                depth: Some(d),
                ..
            } => vec![d, h, w, c],
            Shape::Image { h, w, c, .. } => vec![h, w, c],
            Shape::Flat { n } => vec![n],
        };
        let shown: Vec<String> = dims.iter().map(ToString::to_string).collect();
        if dims.contains(&0) {
            let message = format!(
                "{}: every input dimension must be at least 1, got [{}]",
                net.name,
                shown.join(", ")
            );
            self.push(
                Diag::new(net.site_input, message)
                    .help("a 32x32 RGB image is `input: [32, 32, 3]`"),
            );
            return None;
        }
        if net.input.checked_len().is_none() {
            let message = format!(
                "{}: the input size overflows (h * w * c = {})",
                net.name,
                shown.join(" * ")
            );
            self.push(
                Diag::new(net.site_input, message).help("arithmetic overflow: use a smaller input"),
            );
            return None;
        }
        Some(net.input)
    }

    /// A network has at least one layer.
    fn check_has_layers(&mut self, net: &Net) {
        if net.layers.is_empty() {
            let message = format!("{}: the network has no layers", net.name);
            self.push(
                Diag::new(net.site_input, message)
                    .help("add layers, e.g. `layers: [Flatten, Dense { units: 10 }, Softmax]`"),
            );
        }
    }

    /// Runs a layer list on `input`; returns its output, `None` when unknown.
    pub(crate) fn block(
        &mut self,
        layers: &mut [Layer],
        input: Option<Shape>,
        cx: Context<'_>,
    ) -> Option<Shape> {
        let mut shape = input;
        let mut flattened_by = cx.flattened_by.map(str::to_string);
        let count = layers.len();
        for (i, layer) in layers.iter_mut().enumerate() {
            check_softmax_last(self.diags, layer, i + 1 == count && cx.softmax_may_end);
            let here = Context {
                flattened_by: flattened_by.as_deref(),
                // A group may end in the list's final Softmax only when it
                // is the list's last layer.
                softmax_may_end: cx.softmax_may_end && i + 1 == count,
            };
            let was_image = matches!(shape, Some(Shape::Image { .. }));
            shape = self.layer(layer, shape, here);
            if was_image && matches!(shape, Some(Shape::Flat { .. })) {
                flattened_by = Some(layer.name.clone());
            }
        }
        shape
    }

    fn layer(&mut self, layer: &mut Layer, input: Option<Shape>, cx: Context<'_>) -> Option<Shape> {
        layer.input = input;
        let keeps_shape = matches!(
            layer.kind,
            LayerKind::BatchNorm { .. }
                | LayerKind::GroupNorm { .. }
                | LayerKind::LayerNorm { .. }
                | LayerKind::Scale { .. }
                | LayerKind::Dropout { .. }
                | LayerKind::Relu
                | LayerKind::LeakyRelu { .. }
                | LayerKind::Tanh
                | LayerKind::Sigmoid
                | LayerKind::Relu6
                | LayerKind::Silu
                | LayerKind::Hardswish
                | LayerKind::Hardsigmoid
                | LayerKind::Gelu { .. }
                | LayerKind::L2Normalize
                | LayerKind::Softmax
                | LayerKind::AuxHead { .. }
                | LayerKind::Gate { .. }
        );
        if layer.broken {
            layer.output = if keeps_shape { input } else { None };
            return layer.output;
        }
        let values_ok = values::check_values(self.diags, layer);
        let output = if !layer.is_block() {
            match input {
                Some(input) if values_ok => self.plain(layer, input, cx),
                _ if keeps_shape => input,
                _ => None,
            }
        } else {
            blocks::check_block(self, layer, input, cx)
        };
        layer.output = output;
        output
    }

    /// The output of a layer that is not a block, its input known.
    fn plain(&mut self, layer: &mut Layer, input: Shape, cx: Context<'_>) -> Option<Shape> {
        match layer.kind.clone() {
            LayerKind::Conv2d {
                mut filters,
                kernel,
                stride,
                dilation,
                padding,
                groups,
                depthwise,
                seq,
                depth,
                ..
            } => {
                let (h, w, c) = self.check_needs_image(layer, input, cx)?;
                self.check_rank_matches(layer, input)?;
                if let Some(multiplier) = depthwise {
                    // One group per input channel, `multiplier` filters each.
                    let Some(total) = c.checked_mul(multiplier) else {
                        let message = format!(
                            "{}: the filter count c_in * multiplier = {c} * {multiplier} overflows",
                            layer.name
                        );
                        self.push(
                            Diag::new(layer.key_site("multiplier"), message)
                                .help("arithmetic overflow: use a smaller multiplier"),
                        );
                        return None;
                    };
                    filters = total;
                    if let LayerKind::Conv2d {
                        filters: f,
                        groups: g,
                        ..
                    } = &mut layer.kind
                    {
                        *f = total;
                        *g = c;
                    }
                } else {
                    self.check_groups_divide(layer, c, filters, groups)?;
                }
                let out_d = self.check_depth_fits(layer, input, padding)?;
                let [ah, aw] =
                    self.check_window_fits(layer, [h, w], kernel, stride, dilation, padding, seq)?;
                layer.pad_before = [ah.pad_before, aw.pad_before];
                self.check_output_fits(
                    layer,
                    Shape::Image {
                        h: ah.out,
                        w: aw.out,
                        c: filters,
                        seq,
                        depth: depth.and(out_d),
                    },
                )
            }
            LayerKind::ConvTranspose2d {
                filters,
                kernel,
                stride,
                dilation,
                padding,
                output_padding,
                groups,
                seq,
                depth,
                ..
            } => {
                let (h, w, c) = self.check_needs_image(layer, input, cx)?;
                self.check_rank_matches(layer, input)?;
                self.check_groups_divide(layer, c, filters, groups)?;
                let axis = |a: usize, name, n| Transposed {
                    name,
                    n,
                    kernel: kernel[a],
                    stride: stride[a],
                    dilation: dilation[a],
                    padding: padding[a],
                    output_padding: output_padding[a],
                };
                let mut axes = Vec::new();
                if let (Some(dp), Shape::Image { depth: Some(n), .. }) = (depth, input) {
                    axes.push(Transposed {
                        name: " in depth",
                        n,
                        kernel: dp.f,
                        stride: dp.s,
                        dilation: dp.d,
                        padding: dp.pad_front,
                        output_padding: dp.output_padding,
                    });
                }
                if !seq {
                    axes.push(axis(0, " in height", h));
                }
                axes.push(axis(1, " in width", w));
                let out = self.check_transposed_output(layer, &axes)?;
                let (out_d, [oh, ow]) = match (depth, seq, &out[..]) {
                    (Some(_), _, &[d, h, w]) => (Some(d), [h, w]),
                    (_, true, &[l]) => (None, [1, l]),
                    (_, _, &[h, w]) => (None, [h, w]),
                    _ => return None,
                };
                layer.pad_before = padding;
                self.check_output_fits(
                    layer,
                    Shape::Image {
                        h: oh,
                        w: ow,
                        c: filters,
                        seq,
                        depth: out_d,
                    },
                )
            }
            LayerKind::Upsample { .. } => {
                let (h, w, c) = self.check_needs_image(layer, input, cx)?;
                self.check_rank_matches(layer, input)?;
                let (sd, scale) = self.check_upsample_rank(layer, input)?;
                let in_d = match input {
                    Shape::Image { depth, .. } => depth,
                    Shape::Flat { .. } => None,
                };
                let out_d = in_d.map(|d| d.checked_mul(sd.unwrap_or(1)));
                let (Some(oh), Some(ow), None | Some(Some(_))) =
                    (h.checked_mul(scale[0]), w.checked_mul(scale[1]), out_d)
                else {
                    let message = format!(
                        "{}: the output size overflows (h * sh, w * sw = {h} * {}, {w} * {})",
                        layer.name, scale[0], scale[1]
                    );
                    self.push(
                        Diag::new(layer.key_site("scale"), message)
                            .help("arithmetic overflow: use a smaller scale"),
                    );
                    return None;
                };
                let out = Shape::Image {
                    h: oh,
                    w: ow,
                    c,
                    seq: input.is_seq(),
                    depth: out_d.flatten(),
                };
                self.check_output_fits(layer, out)
            }
            LayerKind::MaxPool2d {
                size,
                stride,
                padding,
                seq,
                depth,
            }
            | LayerKind::AvgPool2d {
                size,
                stride,
                padding,
                seq,
                depth,
            } => {
                let (h, w, c) = self.check_needs_image(layer, input, cx)?;
                self.check_rank_matches(layer, input)?;
                let window = match depth {
                    Some(dp) => [size[0].min(size[1]).min(dp.f); 2],
                    None => size,
                };
                self.check_pool_padding(layer, window, padding, seq)?;
                let out_d = self.check_depth_fits(layer, input, padding)?;
                let [ah, aw] =
                    self.check_window_fits(layer, [h, w], size, stride, [1, 1], padding, seq)?;
                layer.pad_before = [ah.pad_before, aw.pad_before];
                Some(Shape::Image {
                    h: ah.out,
                    w: aw.out,
                    c,
                    seq,
                    depth: depth.and(out_d),
                })
            }
            LayerKind::GlobalAvgPool => {
                let (_, _, c) = self.check_needs_image(layer, input, cx)?;
                Some(Shape::Flat { n: c })
            }
            LayerKind::Flatten => Some(Shape::Flat { n: input.len() }),
            LayerKind::Dense { units, .. } => {
                self.check_dense_input(layer, input);
                Some(Shape::Flat { n: units })
            }
            LayerKind::GroupNorm { groups, .. } => {
                self.check_norm_groups_divide(layer, input, groups)?;
                Some(input)
            }
            // Over a vector, or per position over the channels of an
            // image (segmentation: a label per pixel).
            LayerKind::Softmax => Some(input),
            _ => Some(input),
        }
    }

    /// A grouped convolution splits its input and output channels into
    /// `groups` equal parts, each convolved on its own: `groups` divides
    /// both channel counts.
    fn check_groups_divide(
        &mut self,
        layer: &Layer,
        c_in: usize,
        filters: usize,
        groups: usize,
    ) -> Option<()> {
        if groups <= 1 || (c_in.is_multiple_of(groups) && filters.is_multiple_of(groups)) {
            return Some(());
        }
        let name = &layer.name;
        let (what, n) = if !c_in.is_multiple_of(groups) {
            ("input channels", c_in)
        } else {
            ("filters", filters)
        };
        let message = format!(
            "{name}: groups {groups} does not divide the {what} {n} ({n} / {groups} = {} remainder {})",
            n / groups,
            n % groups
        );
        let fits: Vec<String> = (1..=c_in.min(filters))
            .filter(|g| c_in.is_multiple_of(*g) && filters.is_multiple_of(*g))
            .map(|g| g.to_string())
            .collect();
        let shown = if fits.len() > 8 {
            format!("{}, ..", fits[..8].join(", "))
        } else {
            fits.join(", ")
        };
        let help = format!(
            "each group takes c_in / groups channels and gives filters / groups: with {c_in} input channels and {filters} filters, groups can be {shown}"
        );
        self.push(Diag::new(layer.key_site("groups"), message).help(help));
        None
    }

    /// Group norm splits the channels (a flat input's features) into
    /// `groups` equal runs, each normalised on its own: `groups` divides
    /// the channels.
    fn check_norm_groups_divide(
        &mut self,
        layer: &Layer,
        input: Shape,
        groups: usize,
    ) -> Option<()> {
        let c = input.channels();
        if groups == 0 || c.is_multiple_of(groups) {
            return Some(());
        }
        let name = &layer.name;
        let what = match input {
            Shape::Image { .. } => "channels",
            Shape::Flat { .. } => "features",
        };
        let message = format!(
            "{name}: groups {groups} does not divide the {c} {what} of its input {input} ({c} / {groups} = {} remainder {})",
            c / groups,
            c % groups
        );
        let fits: Vec<String> = (1..=c)
            .filter(|g| c.is_multiple_of(*g))
            .map(|g| g.to_string())
            .collect();
        let shown = if fits.len() > 8 {
            format!("{}, ..", fits[..8].join(", "))
        } else {
            fits.join(", ")
        };
        let nearest = (1..=c)
            .filter(|g| c.is_multiple_of(*g))
            .min_by_key(|g| g.abs_diff(groups))
            .unwrap_or(1);
        let help = format!(
            "each group normalises c / groups channels together: with {c} {what}, groups can be {shown}; try `groups: {nearest}`"
        );
        self.push(Diag::new(layer.key_site("groups"), message).help(help));
        None
    }

    /// Convolutions and pooling slide a window over an image: they need an
    /// `h x w x c` input, not a flat vector.
    fn check_needs_image(
        &mut self,
        layer: &Layer,
        input: Shape,
        cx: Context<'_>,
    ) -> Option<(usize, usize, usize)> {
        let n = match input {
            Shape::Image { h, w, c, .. } => return Some((h, w, c)),
            Shape::Flat { n } => n,
        };
        let (name, kind) = (&layer.name, layer.kind.dsl_name());
        let wants = if kind.ends_with("1d") {
            "a sequence (l x c)"
        } else if kind.ends_with("3d") {
            "a volume (d x h x w x c)"
        } else if kind.ends_with("2d") {
            "an image (h x w x c)"
        } else {
            // GlobalAvgPool and Upsample take either.
            "an image (h x w x c) or a sequence (l x c)"
        };
        let message =
            format!("{name}: {kind} needs {wants} but its input is a flat vector of {n} features");
        let help = match cx.flattened_by {
            Some(flattener) => format!("move {name} before `{flattener}`, which makes the input flat"),
            None if kind.ends_with("1d") => format!("the network's input is flat ([{n}]); declare sequences as `input: [length, channels]`"),
            None if kind.ends_with("3d") => format!("the network's input is flat ([{n}]); declare volumes as `input: [depth, height, width, channels]`"),
            None if kind.ends_with("2d") => format!("the network's input is flat ([{n}]); declare images as `input: [height, width, channels]`"),
            None => format!("the network's input is flat ([{n}]); declare images as `input: [height, width, channels]` or sequences as `input: [length, channels]`"),
        };
        self.push(Diag::new(layer.site, message).help(help));
        None
    }

    /// A 1D layer slides along a sequence, a 2D one over an image and a 3D
    /// one through a volume: the kind's rank matches its input's (`Conv2d`
    /// on `[l, c]` is an error naming `Conv1d`, `Conv2d` on `[d, h, w, c]`
    /// one naming `Conv3d`, and so on). `Upsample` takes every rank.
    fn check_rank_matches(&mut self, layer: &Layer, input: Shape) -> Option<()> {
        let (name, kind) = (&layer.name, layer.kind.dsl_name());
        let kind_rank = match &layer.kind {
            LayerKind::Conv2d { seq: true, .. }
            | LayerKind::MaxPool2d { seq: true, .. }
            | LayerKind::AvgPool2d { seq: true, .. }
            | LayerKind::ConvTranspose2d { seq: true, .. } => 1,
            LayerKind::Conv2d { depth: Some(_), .. }
            | LayerKind::MaxPool2d { depth: Some(_), .. }
            | LayerKind::AvgPool2d { depth: Some(_), .. }
            | LayerKind::ConvTranspose2d { depth: Some(_), .. } => 3,
            // Any rank: `check_upsample_rank` checks its scale and mode.
            LayerKind::Upsample { .. } => return Some(()),
            _ => 2,
        };
        let input_rank = if input.is_seq() {
            1
        } else if input.is_volume() {
            3
        } else {
            2
        };
        if kind_rank == input_rank {
            return Some(());
        }
        // The kind of the input's rank, by the family of this one.
        let stem = kind.trim_end_matches(['1', '2', '3', 'd']);
        let stem = if stem == "DepthwiseConv" {
            "Conv"
        } else {
            stem
        };
        let other = format!("{stem}{input_rank}d");
        let has_other = matches!(
            (stem, input_rank),
            ("Conv" | "MaxPool" | "AvgPool" | "ConvTranspose", _)
        );
        let slides = match kind_rank {
            1 => "slides along a sequence",
            3 => "slides through a volume",
            _ if kind == "Upsample" => "scales a sequence or an image",
            _ => "slides over an image",
        };
        let what = match input_rank {
            1 => format!("the sequence {input} (length x channels)"),
            3 => format!("the volume {input} (depth x height x width x channels)"),
            _ => format!("the image {input}"),
        };
        let message = format!("{name}: {kind} {slides} but its input is {what}");
        let declare = match kind_rank {
            1 => "declare a sequence as `input: [length, channels]`",
            3 => "declare a volume as `input: [depth, height, width, channels]`",
            _ => "declare an image as `input: [height, width, channels]`",
        };
        let on = match input_rank {
            1 => "sequences",
            3 => "volumes",
            _ => "images",
        };
        let help = match (has_other, input_rank) {
            (true, 1) => {
                format!("use `{other}` on sequences, with one number per key (`kernel: 8`)")
            }
            (true, 3) => format!(
                "use `{other}` on volumes (`kernel: 3` or `kernel: [fd, fh, fw]`), or {declare}"
            ),
            (true, _) => format!("use `{other}` on {on}, or {declare}"),
            (false, _) => format!("{kind} does not take {on} yet; {declare}"),
        };
        self.push(Diag::new(layer.site, message).help(help));
        None
    }

    /// A 3D kind's window must fit the padded depth too, by the same rule
    /// as the rows (`floor((n + 2p - d(f-1) - 1) / s) + 1`, or `same`).
    /// Returns the output depth (`None` inside for the other kinds), and
    /// stores the frames of padding in front.
    fn check_depth_fits(
        &mut self,
        layer: &mut Layer,
        input: Shape,
        padding: Pad,
    ) -> Option<Option<usize>> {
        let (LayerKind::Conv2d {
            depth: Some(dp), ..
        }
        | LayerKind::MaxPool2d {
            depth: Some(dp), ..
        }
        | LayerKind::AvgPool2d {
            depth: Some(dp), ..
        }) = &mut layer.kind
        else {
            return Some(None);
        };
        let Shape::Image { depth: Some(n), .. } = input else {
            return Some(None);
        };
        let (f, s, d) = (dp.f, dp.s, dp.d);
        match axis(n, f, s, d, padding) {
            Ok(a) => {
                dp.pad_front = a.pad_before;
                return Some(Some(a.out));
            }
            Err(e) => {
                let name = &layer.name;
                let is_conv = matches!(layer.kind, LayerKind::Conv2d { .. });
                let (what, key) = if is_conv {
                    ("kernel", "kernel")
                } else {
                    ("pool window", "size")
                };
                let diag = match e {
                    AxisError::DoesNotFit { n, f, d, p } => {
                        let span = d * (f - 1) + 1;
                        let message = format!(
                            "{name}: {what} depth {f} does not fit the padded input depth {n} (n + 2p = {n} + 2*{p} = {} < d(f-1)+1 = {span})",
                            n + 2 * p
                        );
                        Diag::new(layer.key_site(key), message).help(format!(
                            "lower the {what}'s depth (`{key}: [fd, fh, fw]`), add padding, or remove a pooling layer before {name}"
                        ))
                    }
                    AxisError::Overflow { n, f, p, .. } => Diag::new(
                        layer.key_site("padding"),
                        format!("{name}: the padded input overflows in depth (n = {n}, f = {f}, p = {p})"),
                    )
                    .help("arithmetic overflow: use a smaller padding or window"),
                    AxisError::Empty { n, f, s } => Diag::new(
                        layer.site,
                        format!("{name}: the output size is 0 in depth (n = {n}, f = {f}, s = {s})"),
                    )
                    .help("every output needs at least one frame, row and column"),
                };
                self.push(diag);
            }
        }
        None
    }

    /// A transposed convolution's output, `(n - 1) s - 2p + d (f - 1) +
    /// output_padding + 1` along each axis, has at least one row and
    /// column (and frame): the padding cuts `p` from each end of the full
    /// output and must leave something. `axes` are the ones the layer
    /// slides along (the length of a sequence; `[h, w]`; `[d, h, w]`),
    /// named in the message unless they are all alike.
    fn check_transposed_output(
        &mut self,
        layer: &Layer,
        axes: &[Transposed],
    ) -> Option<Vec<usize>> {
        let key = |t: &Transposed| {
            (
                t.n,
                t.kernel,
                t.stride,
                t.dilation,
                t.padding,
                t.output_padding,
            )
        };
        let square = axes.iter().all(|t| key(t) == key(&axes[0]));
        let mut out = Vec::with_capacity(axes.len());
        for t in axes {
            let (n, f, s, d, p, op) = key(t);
            let which = if square { "" } else { t.name };
            let sum = format!("(n - 1) s - 2p + d(f - 1) + output_padding + 1 = ({n} - 1)*{s} - 2*{p} + {d}*({f} - 1) + {op} + 1");
            let full = (n - 1)
                .checked_mul(s)
                .and_then(|v| v.checked_add((f - 1).checked_mul(d)?))
                .and_then(|v| v.checked_add(op + 1));
            let two_p = p.checked_mul(2);
            let (Some(full), Some(two_p)) = (full, two_p) else {
                let message = format!("{}: the output size overflows{which} ({sum})", layer.name);
                let diag = Diag::new(layer.key_site("stride"), message)
                    .help("arithmetic overflow: use a smaller stride, kernel or dilation");
                self.push(diag);
                return None;
            };
            if two_p >= full {
                let message = format!(
                    "{}: the padding leaves no output{which} ({sum} = {})",
                    layer.name,
                    full as i128 - two_p as i128
                );
                let help = format!(
                    "the padding cuts p rows and columns from each end of the {full} the kernel spreads over: use padding below {}",
                    full.div_ceil(2)
                );
                self.push(Diag::new(layer.key_site("padding"), message).help(help));
                return None;
            }
            out.push(full - two_p);
        }
        Some(out)
    }

    /// `Upsample` takes `scale: s` on every rank, `[sh, sw]` on images
    /// only and `[sd, sh, sw]` on volumes only; `linear` interpolates a
    /// sequence, `bilinear` an image and `trilinear` a volume (PyTorch's
    /// words; it refuses the others too). Returns the frames' scale on a
    /// volume and the scale of rows and columns (`[1, s]` on a sequence),
    /// and stores them in the layer.
    fn check_upsample_rank(
        &mut self,
        layer: &mut Layer,
        input: Shape,
    ) -> Option<(Option<usize>, [usize; 2])> {
        let LayerKind::Upsample {
            scale,
            scale_pair,
            scale_depth,
            mode,
        } = layer.kind
        else {
            return None;
        };
        let name = &layer.name;
        let (seq, volume) = (input.is_seq(), input.is_volume());
        let written = match (scale_depth, scale_pair) {
            (Some(d), _) => Some(format!("[{d}, {}, {}]", scale[0], scale[1])),
            (None, true) => Some(format!("[{}, {}]", scale[0], scale[1])),
            (None, false) => None,
        };
        let wrong_scale = match (seq, volume, scale_depth.is_some(), scale_pair) {
            (true, _, _, _) if written.is_some() => Some((
                format!("the sequence {input} takes one scale"),
                format!("write `scale: {}`, along the sequence", scale[1]),
            )),
            (_, true, false, true) => Some((
                format!("the volume {input} takes one scale or [sd, sh, sw]"),
                format!(
                    "write `scale: [1, {}, {}]` to keep the frames, or one number for every axis",
                    scale[0], scale[1]
                ),
            )),
            (false, false, true, _) => Some((
                format!("the image {input} takes one scale or [sh, sw]"),
                format!("write `scale: [{}, {}]`", scale[0], scale[1]),
            )),
            _ => None,
        };
        if let (Some((what, help)), Some(written)) = (wrong_scale, &written) {
            let message = format!("{name}: Upsample on {what}, got {written}");
            self.push(Diag::new(layer.key_site("scale"), message).help(help));
            return None;
        }
        let (rank, right) = if seq {
            ("the sequence", "use `mode: linear` on sequences")
        } else if volume {
            ("the volume", "use `mode: trilinear` on volumes")
        } else {
            ("the image", "use `mode: bilinear` on images")
        };
        let needs = match mode {
            UpsampleMode::Bilinear if seq || volume => Some("bilinear upsampling needs an image"),
            UpsampleMode::Linear if !seq => Some("linear upsampling is along a sequence"),
            UpsampleMode::Trilinear if !volume => Some("trilinear upsampling needs a volume"),
            _ => None,
        };
        if let Some(needs) = needs {
            let shape = if volume {
                format!("{input} (depth x height x width x channels)")
            } else if seq {
                format!("{input} (length x channels)")
            } else {
                format!("{input}")
            };
            let message = format!("{name}: {needs}, but its input is {rank} {shape}");
            self.push(Diag::new(layer.key_site("mode"), message).help(right));
            return None;
        }
        let hw = if seq { [1, scale[1]] } else { scale };
        let sd = volume.then(|| scale_depth.unwrap_or(scale[0]));
        if let LayerKind::Upsample {
            scale: s,
            scale_depth: d,
            ..
        } = &mut layer.kind
        {
            (*s, *d) = (hw, sd);
        }
        Some((sd, hw))
    }

    /// A kernel or pool window must fit its padded input, `n + 2p >= f`,
    /// along both axes, where a kernel of `f` taps dilated by `d` spans
    /// `d (f - 1) + 1`; the arithmetic must not overflow. Along a sequence
    /// (a height-1 image) only the length is padded and dilated.
    #[allow(clippy::too_many_arguments)] // one argument per hyper-parameter
    fn check_window_fits(
        &mut self,
        layer: &Layer,
        [h, w]: [usize; 2],
        f: [usize; 2],
        s: [usize; 2],
        d: [usize; 2],
        padding: Pad,
        seq: bool,
    ) -> Option<[Axis; 2]> {
        let pad_h = if seq { Pad::Explicit(0) } else { padding };
        let along_h = axis(h, f[0], s[0], d[0], pad_h);
        let along_w = axis(w, f[1], s[1], d[1], padding);
        let (ah, aw) = match (along_h, along_w) {
            (Ok(ah), Ok(aw)) => return Some([ah, aw]),
            (Err(e), _) => (e, "height"),
            (_, Err(e)) => (e, "width"),
        };
        let square = (h == w && f[0] == f[1] && d[0] == d[1]) || seq;
        let (shown_in, shown_f, shown_d) = if seq {
            (w.to_string(), f[1].to_string(), d[1].to_string())
        } else {
            (hw(h, w), window(f), window(d))
        };
        let which = if square {
            String::new()
        } else {
            format!(" in {aw}")
        };
        let name = &layer.name;
        let is_conv = matches!(layer.kind, LayerKind::Conv2d { .. });
        let (what, key) = if is_conv {
            ("kernel", "kernel")
        } else {
            ("pool window", "size")
        };
        let diag = match ah {
            AxisError::DoesNotFit { n, f: fa, d: 1, p } => {
                let message = format!(
                    "{name}: {what} {} does not fit the padded input {}{which} (n + 2p = {n} + 2*{p} = {} < f = {fa})",
                    shown_f,
                    shown_in,
                    n + 2 * p
                );
                let help = if is_conv {
                    format!("lower the kernel size, add padding, or remove a pooling layer before {name}")
                } else {
                    format!(
                        "lower the pool size, add padding, or remove a pooling layer before {name}"
                    )
                };
                Diag::new(layer.key_site(key), message).help(help)
            }
            AxisError::DoesNotFit { n, f: fa, d: da, p } => {
                // Only kernels are dilated. The span cannot overflow here.
                let padded = n + 2 * p;
                let span = da * (fa - 1) + 1;
                let message = format!(
                    "{name}: kernel {shown_f} dilated by {shown_d} does not fit the padded input {shown_in}{which} \
                     (n + 2p = {n} + 2*{p} = {padded} < d(f-1)+1 = {da}*({fa}-1)+1 = {span})"
                );
                let help = format!(
                    "lower the dilation or the kernel size, add padding, or remove a pooling layer before {name}"
                );
                // The kernel alone would fit: the dilation is what to edit.
                let at = if padded >= fa { "dilation" } else { "kernel" };
                Diag::new(layer.key_site(at), message).help(help)
            }
            AxisError::Overflow { n, f: fa, d: da, p } => {
                let f_sum = if da == 1 {
                    format!("f = {fa}")
                } else {
                    format!("f = {fa}, d = {da}")
                };
                let sum = match padding {
                    Pad::Same => format!("(out - 1) * s + d(f-1)+1 with n = {n}, {f_sum}"),
                    _ if da > 1 => format!("n + 2p = {n} + 2*{p}, d(f-1)+1 with {f_sum}"),
                    _ => format!("n + 2p = {n} + 2*{p}"),
                };
                let message = format!("{name}: the padded input overflows{which} ({sum})");
                let help = if da == 1 {
                    "arithmetic overflow: use a smaller padding or window"
                } else {
                    "arithmetic overflow: use a smaller padding, window or dilation"
                };
                Diag::new(layer.key_site("padding"), message).help(help)
            }
            AxisError::Empty { n, f: fa, s } => {
                let message =
                    format!("{name}: the output size is 0{which} (n = {n}, f = {fa}, s = {s})");
                Diag::new(layer.site, message)
                    .help("every output needs at least one row and one column")
            }
        };
        self.push(diag);
        None
    }

    /// A pool's padding must be smaller than its window, or a window could
    /// hold only padded cells (which never win the max and are not
    /// averaged).
    fn check_pool_padding(
        &mut self,
        layer: &Layer,
        size: [usize; 2],
        padding: Pad,
        seq: bool,
    ) -> Option<()> {
        let Pad::Explicit(p) = padding else {
            return Some(());
        };
        // A sequence's window is `[1, f]` and only its length is padded.
        let f = if seq { size[1] } else { size[0].min(size[1]) };
        if p < f {
            return Some(());
        }
        let name = &layer.name;
        let shown = if seq {
            size[1].to_string()
        } else {
            window(size)
        };
        let message = format!("{name}: padding {p} is not smaller than the pool window {shown}, so a window could hold only padding");
        let help = format!("use padding below {f}, or `padding: same`");
        self.push(Diag::new(layer.key_site("padding"), message).help(help));
        None
    }

    /// An output's `h * w * c` must fit in `usize`.
    fn check_output_fits(&mut self, layer: &Layer, out: Shape) -> Option<Shape> {
        if out.checked_len().is_some() {
            return Some(out);
        }
        let Shape::Image {
            h,
            w,
            c,
            seq,
            depth,
        } = out
        else {
            return Some(out);
        };
        let message = if let Some(d) = depth {
            format!(
                "{}: the output size overflows (d * h * w * c = {d} * {h} * {w} * {c})",
                layer.name
            )
        } else if seq {
            format!(
                "{}: the output size overflows (l * c = {w} * {c})",
                layer.name
            )
        } else {
            format!(
                "{}: the output size overflows (h * w * c = {h} * {w} * {c})",
                layer.name
            )
        };
        let (key, help) = match layer.kind {
            LayerKind::Upsample { .. } => ("scale", "arithmetic overflow: use a smaller scale"),
            _ => ("filters", "arithmetic overflow: use fewer filters"),
        };
        self.push(Diag::new(layer.key_site(key), message).help(help));
        None
    }

    /// `Dense` multiplies a flat vector by a matrix: on an image it needs a
    /// `Flatten` (every value a feature) or a `GlobalAvgPool` (one feature
    /// per channel) before it.
    fn check_dense_input(&mut self, layer: &Layer, input: Shape) {
        let Shape::Image {
            h,
            w,
            c,
            seq,
            depth,
        } = input
        else {
            return;
        };
        let name = &layer.name;
        let (message, help) = if let Some(d) = depth {
            (
                format!("{name}: Dense needs a flat input but gets the volume {input}"),
                format!(
                    "add `Flatten` before {name} ({d}*{h}*{w}*{c} = {} features) or `GlobalAvgPool` ({c} features)",
                    input.len()
                ),
            )
        } else if seq {
            (
                format!("{name}: Dense needs a flat input but gets the sequence {w}x{c}"),
                format!(
                    "add `Flatten` before {name} ({w}*{c} = {} features) or `GlobalAvgPool` ({c} features)",
                    input.len()
                ),
            )
        } else {
            (
                format!("{name}: Dense needs a flat input but gets the image {h}x{w}x{c}"),
                format!(
                    "add `Flatten` before {name} ({h}*{w}*{c} = {} features) or `GlobalAvgPool` ({c} features)",
                    input.len()
                ),
            )
        };
        self.push(Diag::new(layer.site, message).help(help));
    }
}

/// `Softmax` is the last layer of the network (or of an aux head):
/// `train_step` fuses it with the cross-entropy loss.
fn check_softmax_last(diags: &mut Diags, layer: &Layer, may_be_softmax: bool) {
    if matches!(layer.kind, LayerKind::Softmax) && !may_be_softmax && !layer.broken {
        let message = format!(
            "{}: Softmax must be the last layer of the network or of an aux head",
            layer.name
        );
        let help =
            "remove it, or move it to the end (training fuses it with the cross-entropy loss)";
        diags.push(Diag::new(layer.site, message).help(help));
    }
}

/// Names are unique in the whole network, full names (`blk.conv1`)
/// included: weights are saved under them.
fn check_unique_names(diags: &mut Diags, layers: &[Layer]) {
    fn walk<'a>(diags: &mut Diags, layers: &'a [Layer], seen: &mut HashMap<&'a str, ()>) {
        for layer in layers {
            if seen.insert(&layer.name, ()).is_some() {
                let message = format!("{}: another layer already has this name", layer.name);
                let help = "give each layer its own name (weights are saved under it)";
                diags.push(Diag::new(layer.key_site("name"), message).help(help));
            }
            for list in layer.children() {
                walk(diags, list, seen);
            }
        }
    }
    walk(diags, layers, &mut HashMap::new());
}
