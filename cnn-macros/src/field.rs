//! Receptive fields: for every layer of a checked net, the input pixels
//! that one output position sees (size), how far apart in the input two
//! neighbouring positions' fields start (jump, the effective stride), and
//! where the field of position 0 starts (negative where it reaches into
//! the padding). The back end turns them into `RECEPTIVE_FIELDS` and the
//! summary's column; they are worked out here, on the pure IR, so the
//! numbers are tested against published tables without a compiler.
//!
//! Along each axis, a window of `k` with stride `s` and `p` zeros before
//! maps the field `(r, j, start)` of its input to
//! `r + (k - 1) * j`, `j * s` and `start - p * j`: the field's first pixel.
//! Its centre, `start + (r - 1) / 2`, follows the usual recurrence
//! `centre + ((k - 1) / 2 - p) * j`. A kernel of `f` taps dilated by `d`
//! is the window `k = d (f - 1) + 1` (its holes are inside the field).
//! A transposed convolution or an upsampling by `s` puts its positions
//! `j / s` apart: its field is the smallest of that grid holding every
//! position's true one (the `s` phases read different inputs), and it is
//! unknown when `s` does not divide `j` (such a layer straight on the
//! input, or after an odd stride: no whole-pixel grid describes it).
//! Element-wise and 1x1 layers keep the
//! field; a `Residual` or `Concat` takes the union of its branches' fields
//! (the largest); layers on a flat vector (`Flatten`, `Dense`,
//! `GlobalAvgPool`'s output) see the whole input.

use crate::ir::{dilated_window, Depth, Layer, LayerKind, Net, Shape, UpsampleMode};

/// One layer's receptive field in input pixels, per axis `[frames, rows,
/// cols]`: a volume's depth first, then its (or an image's) rows and
/// columns. On an image or a sequence the first axis is one frame that
/// sees itself, as a sequence's rows are one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Input pixels one output position sees.
    pub size: [usize; 3],
    /// Input pixels between the fields of two neighbouring positions.
    pub jump: [usize; 3],
    /// The first input frame, row and column of position `(0, 0, 0)`'s
    /// field.
    pub start: [isize; 3],
}

/// A window along each axis `[frames, rows, cols]`: taps spanned, stride
/// and zeros in front. A 2D kind's frame axis is the window of one.
struct Window {
    span: [usize; 3],
    stride: [usize; 3],
    pad_before: [usize; 3],
}

impl Window {
    /// A 2D kind's window (`depth: None`) or a 3D kind's, its depth axis
    /// from `depth`; `dilation` is 1 for pools.
    fn new(
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        pad: [usize; 2],
        depth: &Option<Depth>,
    ) -> Window {
        let [sh, sw] = dilated_window(kernel, dilation);
        let (df, ds, dp) = match depth {
            Some(d) => (dilated_window([d.f, 1], [d.d, 1])[0], d.s, d.pad_front),
            None => (1, 1, 0),
        };
        Window {
            span: [df, sh, sw],
            stride: [ds, stride[0], stride[1]],
            pad_before: [dp, pad[0], pad[1]],
        }
    }
}

impl Field {
    /// The input itself: each pixel sees itself.
    const PIXEL: Field = Field {
        size: [1, 1, 1],
        jump: [1, 1, 1],
        start: [0, 0, 0],
    };

    /// A window on this field's map; `None` when a number overflows.
    fn window(self, w: &Window) -> Option<Field> {
        let mut out = self;
        for a in 0..3 {
            let j = self.jump[a];
            out.size[a] = w.span[a]
                .checked_sub(1)?
                .checked_mul(j)?
                .checked_add(self.size[a])?;
            out.jump[a] = j.checked_mul(w.stride[a])?;
            let back = isize::try_from(w.pad_before[a].checked_mul(j)?).ok()?;
            out.start[a] = self.start[a].checked_sub(back)?;
        }
        Some(out)
    }

    /// A layer that grows the map `stride` times along each axis (a
    /// transposed convolution, an upsampling): output `o = m s + r` reads
    /// the inputs `m + lo ..= m + hi`, where `reads(a, r)` gives `(lo,
    /// hi)` for each phase `r < s` (`None` where it reads nothing). Its
    /// positions are `j / s` input pixels apart, an integer only when `s`
    /// divides the input's jump `j` (`None` otherwise); its field is the
    /// smallest one of that grid that holds every position's true field:
    /// the phases see different inputs, so some positions see less than
    /// `size`.
    fn spread(
        self,
        stride: [usize; 3],
        reads: impl Fn(usize, usize) -> Option<(isize, isize)>,
    ) -> Option<Field> {
        let mut out = self;
        for (a, &s) in stride.iter().enumerate() {
            let j = self.jump[a];
            if s == 0 || !j.is_multiple_of(s) {
                return None;
            }
            let (jo, ji) = (isize::try_from(j / s).ok()?, isize::try_from(j).ok()?);
            let size = isize::try_from(self.size[a]).ok()?;
            let (mut first, mut last) = (isize::MAX, isize::MIN);
            for r in 0..s {
                let Some((lo, hi)) = reads(a, r) else {
                    continue;
                };
                let shift = isize::try_from(r).ok()?.checked_mul(jo)?;
                first = first.min(lo.checked_mul(ji)?.checked_sub(shift)?);
                last = last.max(hi.checked_mul(ji)?.checked_add(size)?.checked_sub(shift)?);
            }
            if first > last {
                return None;
            }
            out.start[a] = self.start[a].checked_add(first)?;
            out.size[a] = usize::try_from(last - first).ok()?;
            out.jump[a] = j / s;
        }
        Some(out)
    }

    /// The smallest field holding both (the branches of a block).
    fn union(self, other: Field) -> Option<Field> {
        let mut out = self;
        for a in 0..3 {
            let end = |f: Field| f.start[a].checked_add(isize::try_from(f.size[a]).ok()?);
            let last = end(self)?.max(end(other)?);
            out.start[a] = self.start[a].min(other.start[a]);
            out.size[a] = usize::try_from(last.checked_sub(out.start[a])?).ok()?;
            out.jump[a] = self.jump[a].max(other.jump[a]);
        }
        Some(out)
    }
}

/// Every layer's field, in the order of `summary()`'s rows (depth first,
/// a block before the layers it holds), by full name; `None` where the
/// field is unknown (a wrong shape before it, or a number too large).
/// Empty for a net whose input is a flat vector, which has no pixels.
pub fn fields(net: &Net) -> Vec<(String, Option<Field>)> {
    let Shape::Image { h, w, depth, .. } = net.input else {
        return Vec::new();
    };
    let d = depth.unwrap_or(1);
    let whole = Field {
        size: [d, h, w],
        jump: [d, h, w],
        start: [0, 0, 0],
    };
    let mut out = Vec::new();
    list(&net.layers, Some(Field::PIXEL), whole, &mut out);
    out
}

/// The fields of a list of layers whose input has field `field`; returns
/// the last one's (the list's output).
fn list(
    layers: &[Layer],
    mut field: Option<Field>,
    whole: Field,
    out: &mut Vec<(String, Option<Field>)>,
) -> Option<Field> {
    for layer in layers {
        let row = out.len();
        // Named as the summary's rows are.
        let name = match layer.name.as_str() {
            "" => layer.kind.auto_stem(),
            name => name,
        };
        out.push((name.to_string(), None));
        field = one(layer, field, whole, out);
        out[row].1 = field;
    }
    field
}

/// Output `o` of a transposed convolution reads input `i` through tap `k`
/// when `i s + k d - p = o`: phase `r` reads `m + (r + p - k d) / s` for
/// the taps where that divides. `(lo, hi)` of those offsets, `None` when
/// no tap lands on phase `r`.
fn transposed_reads(r: usize, f: usize, s: usize, d: usize, p: usize) -> Option<(isize, isize)> {
    let (s, d, p) = (s as isize, d as isize, p as isize);
    let offsets = (0..f as isize)
        .map(|k| r as isize + p - k * d)
        .filter(|v| v.rem_euclid(s) == 0)
        .map(|v| v.div_euclid(s));
    let (lo, hi) = offsets.fold((isize::MAX, isize::MIN), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    (lo <= hi).then_some((lo, hi))
}

/// Nearest: phase `r` of `s` reads input `m`. (Bi/tri)linear: source `m +
/// (2r + 1 - s) / 2s`, its floor and, unless it is whole, the next input
/// (away from the border, where it is clamped as if padded).
fn upsample_reads(r: usize, s: usize, mode: UpsampleMode) -> (isize, isize) {
    match mode {
        UpsampleMode::Nearest => (0, 0),
        UpsampleMode::Bilinear | UpsampleMode::Linear | UpsampleMode::Trilinear => {
            let (num, den) = (2 * r as isize + 1 - s as isize, 2 * s as isize);
            let lo = num.div_euclid(den);
            let whole = num.rem_euclid(den) == 0;
            (lo, if whole { lo } else { lo + 1 })
        }
    }
}

/// One layer's field from its input's (pushing its children's rows).
fn one(
    layer: &Layer,
    input: Option<Field>,
    whole: Field,
    out: &mut Vec<(String, Option<Field>)>,
) -> Option<Field> {
    let [ph, pw] = layer.pad_before;
    let field = match &layer.kind {
        // A dilated kernel sees its span `d (f - 1) + 1`, holes included.
        LayerKind::Conv2d {
            kernel,
            stride,
            dilation,
            depth,
            ..
        } => input?.window(&Window::new(*kernel, *stride, *dilation, [ph, pw], depth)),
        LayerKind::MaxPool2d {
            size, stride, depth, ..
        }
        | LayerKind::AvgPool2d {
            size, stride, depth, ..
        } => input?.window(&Window::new(*size, *stride, [1, 1], [ph, pw], depth)),
        LayerKind::ConvTranspose2d {
            kernel,
            stride,
            dilation,
            padding,
            depth,
            ..
        } => {
            // An image's frame axis: one tap, stride 1, no padding.
            let (df, ds, dd, dp) = depth.map_or((1, 1, 1, 0), |d| (d.f, d.s, d.d, d.pad_front));
            let f = [df, kernel[0], kernel[1]];
            let s = [ds, stride[0], stride[1]];
            let dil = [dd, dilation[0], dilation[1]];
            let p = [dp, padding[0], padding[1]];
            input?.spread(s, |a, r| transposed_reads(r, f[a], s[a], dil[a], p[a]))
        }
        LayerKind::Upsample {
            scale,
            scale_depth,
            mode,
            ..
        } => {
            let s = [scale_depth.unwrap_or(1), scale[0], scale[1]];
            input?.spread(s, |a, r| Some(upsample_reads(r, s[a], *mode)))
        }
        LayerKind::GlobalAvgPool | LayerKind::Flatten | LayerKind::Dense { .. } => Some(whole),
        LayerKind::BatchNorm { .. }
        | LayerKind::Dropout { .. }
        | LayerKind::Relu
        | LayerKind::LeakyRelu { .. }
        | LayerKind::Tanh
        | LayerKind::Sigmoid
        | LayerKind::Softmax
        | LayerKind::Relu6
        | LayerKind::Silu
        | LayerKind::Hardswish
        | LayerKind::Hardsigmoid
        | LayerKind::Gelu { .. }
        // Per vector over the channels: each position's own.
        | LayerKind::L2Normalize => input,
        // Normalisation statistics are left out, as batch norm's are: the
        // field is where the value itself comes from.
        LayerKind::GroupNorm { .. } | LayerKind::LayerNorm { .. } => input,
        // A factor per channel: each position is its input's alone.
        LayerKind::Scale { .. } => input,
        // The input times what the body computes from it: a pooled
        // (squeeze-and-excitation) body sees the whole input.
        LayerKind::Gate { body } => {
            let b = list(body, input, whole, out);
            b?.union(input?)
        }
        LayerKind::Residual { body, shortcut } => {
            let b = list(body, input, whole, out);
            let s = list(shortcut, input, whole, out);
            b?.union(s?)
        }
        LayerKind::Concat { branches } => {
            let mut merged = None::<Field>;
            for branch in branches {
                let f = list(branch, input, whole, out)?;
                merged = Some(match merged {
                    None => f,
                    Some(m) => m.union(f)?,
                });
            }
            merged.or(input)
        }
        // A side head reads the value and passes it on unchanged.
        LayerKind::AuxHead { layers, .. } => {
            list(layers, input, whole, out);
            input
        }
        LayerKind::Sequential { layers, .. } => list(layers, input, whole, out),
    };
    match layer.output {
        // After a wrong shape nothing is known.
        None => None,
        // A layer whose output is flat sees the whole input.
        Some(Shape::Flat { .. }) => Some(whole),
        Some(Shape::Image { .. }) => field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{good, net_src};

    fn field_of(net: &Net, name: &str) -> Field {
        fields(net)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no layer {name}"))
            .1
            .unwrap_or_else(|| panic!("{name}: no field"))
    }

    impl Field {
        /// The same field with `n` rows and columns seen, jumps of `n`.
        fn with_hw(mut self, n: usize) -> Field {
            self.size[1..].fill(n);
            self.jump[1..].fill(n);
            self
        }
    }

    /// A square field on an image (one frame).
    fn sq(size: usize, jump: usize, start: isize) -> Field {
        Field {
            size: [1, size, size],
            jump: [1, jump, jump],
            start: [0, start, start],
        }
    }

    #[test]
    fn lenet5_fields() {
        // By hand: conv1 5 (jump 1); pool 5 + 1 = 6 (jump 2); conv2
        // 6 + 4 * 2 = 14; pool 14 + 1 * 2 = 16 (jump 4); then the whole
        // 32x32 picture.
        let net = good(crate::tests::course::LENET5);
        assert_eq!(field_of(&net, "conv1"), sq(5, 1, 0));
        assert_eq!(field_of(&net, "relu_1"), sq(5, 1, 0));
        assert_eq!(field_of(&net, "max_pool2d_1"), sq(6, 2, 0));
        assert_eq!(field_of(&net, "conv2"), sq(14, 2, 0));
        assert_eq!(field_of(&net, "max_pool2d_2"), sq(16, 4, 0));
        assert_eq!(field_of(&net, "fc3"), sq(32, 32, 0));
        assert_eq!(fields(&net).len(), 13);
    }

    /// VGG-16 (configuration D, 224x224x3): 3x3 convolutions with padding
    /// 1 and 2x2 pools. Araujo, Norris and Sim, "Computing receptive
    /// fields of convolutional neural networks" (Distill, 2019), table 1:
    /// VGG-16 at pool5, r = 212, effective stride 32, effective padding
    /// 90. By hand, conv5_3: 212 - 1 * 16 = 196, jump 16, start -90.
    #[test]
    fn vgg16_fields_match_the_published_table() {
        let mut layers = String::new();
        for (block, (filters, convs)) in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
            .into_iter()
            .enumerate()
        {
            for c in 1..=convs {
                layers += &format!(
                    "conv{b}_{c}: Conv2d {{ filters: {filters}, kernel: 3, padding: 1 }}, Relu,",
                    b = block + 1
                );
            }
            layers += &format!("pool{}: MaxPool2d {{ size: 2 }},", block + 1);
        }
        layers += "Flatten, fc6: Dense { units: 4096 }, Relu, fc7: Dense { units: 4096 }, Relu, fc8: Dense { units: 1000 }, Softmax";
        let net = good(&net_src("[224, 224, 3]", &layers));
        assert_eq!(field_of(&net, "conv1_1"), sq(3, 1, -1));
        assert_eq!(field_of(&net, "pool1"), sq(6, 2, -2));
        assert_eq!(field_of(&net, "conv3_3"), sq(40, 4, -18));
        assert_eq!(field_of(&net, "conv4_3"), sq(92, 8, -42));
        assert_eq!(field_of(&net, "conv5_3"), sq(196, 16, -90));
        assert_eq!(field_of(&net, "pool5"), sq(212, 32, -90));
        assert_eq!(field_of(&net, "fc6"), sq(224, 224, 0));
    }

    /// AlexNet as published (227x227x3, `examples/classic_nets.rs`):
    /// Araujo et al. (2019), table 1: AlexNet at pool5, r = 195,
    /// effective stride 32, effective padding 64. By hand: conv1 11
    /// (jump 4); pool 11 + 2 * 4 = 19 (jump 8); conv2 19 + 4 * 8 = 51,
    /// start -2 * 8 = -16; pool 51 + 2 * 8 = 67 (jump 16); conv3, conv4,
    /// conv5 add 2 * 16 each: 99, 131, 163, start -32, -48, -64.
    #[test]
    fn alexnet_fields_match_the_published_table() {
        let net = good(&net_src(
            "[227, 227, 3]",
            "conv1: Conv2d { filters: 96, kernel: 11, stride: 4 }, Relu,
             pool1: MaxPool2d { size: 3, stride: 2 },
             conv2: Conv2d { filters: 256, kernel: 5, padding: same, groups: 2 }, Relu,
             pool2: MaxPool2d { size: 3, stride: 2 },
             conv3: Conv2d { filters: 384, kernel: 3, padding: same }, Relu,
             conv4: Conv2d { filters: 384, kernel: 3, padding: same, groups: 2 }, Relu,
             conv5: Conv2d { filters: 256, kernel: 3, padding: same, groups: 2 }, Relu,
             pool5: MaxPool2d { size: 3, stride: 2 }",
        ));
        assert_eq!(field_of(&net, "conv1"), sq(11, 4, 0));
        assert_eq!(field_of(&net, "pool1"), sq(19, 8, 0));
        assert_eq!(field_of(&net, "conv2"), sq(51, 8, -16));
        assert_eq!(field_of(&net, "pool2"), sq(67, 16, -16));
        assert_eq!(field_of(&net, "conv3"), sq(99, 16, -32));
        assert_eq!(field_of(&net, "conv5"), sq(163, 16, -64));
        assert_eq!(field_of(&net, "pool5"), sq(195, 32, -64));
    }

    /// Yu and Koltun (2016), "Multi-scale context aggregation by dilated
    /// convolutions", section 2: 3x3 convolutions dilated by 1, 2, 4
    /// have receptive fields of 3x3, 7x7 and 15x15 (`2^(i+2) - 1`), the
    /// resolution kept; `padding: same` centres each window.
    #[test]
    fn dilated_kernels_grow_the_field_exponentially() {
        let net = good(&net_src(
            "[32, 32, 1]",
            "f1: Conv2d { filters: 2, kernel: 3, padding: same },
             f2: Conv2d { filters: 2, kernel: 3, dilation: 2, padding: same },
             f3: Conv2d { filters: 2, kernel: 3, dilation: 4, padding: same },
             wide: Conv2d { filters: 2, kernel: [3, 2], dilation: [1, 3] }",
        ));
        assert_eq!(field_of(&net, "f1"), sq(3, 1, -1));
        assert_eq!(field_of(&net, "f2"), sq(7, 1, -3));
        assert_eq!(field_of(&net, "f3"), sq(15, 1, -7));
        // Rows 15 + 2, columns 15 + 3 (two taps three apart span 4).
        assert_eq!(field_of(&net, "wide").size, [1, 17, 18]);
    }

    #[test]
    fn blocks_take_the_union_of_their_branches() {
        // The body sees 3 + 2 = 5 pixels from start -2; the projection
        // shortcut (1x1, stride 2) one pixel: the union is the body's.
        // The concat's 5x5 branch reaches further than its 1x1 and 3x3
        // ones; the side head passes its input's field on.
        let net = good(&net_src(
            "[16, 16, 1]",
            "res: Residual {
                body: [a: Conv2d { filters: 4, kernel: 3, stride: 2, padding: 1 }, b: Conv2d { filters: 4, kernel: 3, padding: 1 }],
                shortcut: [p: Conv2d { filters: 4, kernel: 1, stride: 2 }],
             },
             cat: Concat { branches: [
                [one: Conv2d { filters: 2, kernel: 1 }],
                [three: Conv2d { filters: 2, kernel: 3, padding: same }],
                [five: Conv2d { filters: 2, kernel: 5, padding: same }],
             ] },
             head: AuxHead { weight: 0.3, layers: [GlobalAvgPool, aux: Dense { units: 3 }, Softmax] },
             wide: Conv2d { filters: 2, kernel: [1, 3], padding: 0 }",
        ));
        assert_eq!(field_of(&net, "res.a"), sq(3, 2, -1));
        assert_eq!(field_of(&net, "res.b"), sq(7, 2, -3));
        assert_eq!(field_of(&net, "res.p"), sq(1, 2, 0));
        assert_eq!(field_of(&net, "res"), sq(7, 2, -3));
        assert_eq!(field_of(&net, "cat.one"), sq(7, 2, -3));
        assert_eq!(field_of(&net, "cat.five"), sq(15, 2, -7));
        assert_eq!(field_of(&net, "cat"), sq(15, 2, -7));
        assert_eq!(field_of(&net, "head.aux"), sq(16, 16, 0));
        assert_eq!(field_of(&net, "head"), sq(15, 2, -7));
        let wide = field_of(&net, "wide");
        assert_eq!(wide.size, [1, 15, 19]);
        assert_eq!(wide.jump, [1, 2, 2]);
    }

    /// C3D's pattern (Tran et al. 2015): 3x3x3 convolutions, padding 1,
    /// and 2x2x2 pools, each axis by the same rule. By hand, c1 3 (jump
    /// 1, start -1); the pool 4 (jump 2); c2 4 + 2 * 2 = 8, start -1 - 2 =
    /// -3; then a pool that keeps the frames (`[1, 2, 2]`): 8 frames
    /// (jump 2), 10 rows and columns (jump 4). A `ConvTranspose3d` of 2
    /// (stride 2) back on that grid halves the jumps. `GlobalAvgPool`
    /// sees the whole 16x32x32 clip.
    #[test]
    fn volumes_have_fields_in_depth_too() {
        let net = good(&net_src(
            "[16, 32, 32, 1]",
            "c1: Conv3d { filters: 2, kernel: 3, padding: 1 },
             p1: MaxPool3d { size: 2 },
             c2: Conv3d { filters: 2, kernel: 3, padding: 1 },
             p2: MaxPool3d { size: [1, 2, 2] },
             up: ConvTranspose3d { filters: 2, kernel: 2, stride: 2 },
             wide: Conv3d { filters: 2, kernel: [2, 1, 1], dilation: [3, 1, 1] },
             GlobalAvgPool",
        ));
        let cube = |size: usize, jump: usize, start: isize| Field {
            size: [size; 3],
            jump: [jump; 3],
            start: [start; 3],
        };
        assert_eq!(field_of(&net, "c1"), cube(3, 1, -1));
        assert_eq!(field_of(&net, "p1"), cube(4, 2, -1));
        assert_eq!(field_of(&net, "c2"), cube(8, 2, -3));
        let p2 = field_of(&net, "p2");
        assert_eq!(
            (p2.size, p2.jump, p2.start),
            ([8, 10, 10], [2, 4, 4], [-3; 3])
        );
        // Phases 0 and 1 both read input m: on the grid of half the jump,
        // the field starts one new step earlier and spans one step more.
        let up = field_of(&net, "up");
        assert_eq!(
            (up.size, up.jump, up.start),
            ([9, 12, 12], [1, 2, 2], [-4, -5, -5])
        );
        // Two frames three apart span 4 frames: 9 + 3 * 1.
        assert_eq!(field_of(&net, "wide").size, [12, 12, 12]);
        assert_eq!(
            field_of(&net, "global_avg_pool_1"),
            cube(16, 16, 0).with_hw(32)
        );
    }

    /// Wang et al.'s FCN on a sequence of 150: kernels of 8, 5 and 3,
    /// `same` (TensorFlow's split: 3 before for 8, 2 for 5, 1 for 3),
    /// see 8, 12 and 14 steps; the rows are one row.
    #[test]
    fn sequences_have_fields_along_the_sequence() {
        let net = good(&net_src(
            "[150, 1]",
            "c1: Conv1d { filters: 2, kernel: 8, padding: same },
             c2: Conv1d { filters: 2, kernel: 5, padding: same },
             c3: Conv1d { filters: 2, kernel: 3, padding: same },
             MaxPool1d { size: 2 }",
        ));
        let line = |size: usize, jump: usize, start: isize| Field {
            size: [1, 1, size],
            jump: [1, 1, jump],
            start: [0, 0, start],
        };
        assert_eq!(field_of(&net, "c1"), line(8, 1, -3));
        assert_eq!(field_of(&net, "c2"), line(12, 1, -5));
        assert_eq!(field_of(&net, "c3"), line(14, 1, -6));
        assert_eq!(field_of(&net, "max_pool1d_1"), line(15, 2, -6));
    }

    #[test]
    fn a_flat_net_has_no_fields_and_a_wrong_shape_none_after_it() {
        assert!(fields(&good(&net_src("[20]", "Dense { units: 3 }"))).is_empty());
        let front = crate::tests::run(&net_src(
            "[8, 8, 1]",
            "a: Conv2d { filters: 2, kernel: 3 }, b: Conv2d { filters: 2, kernel: 9 }, c: Conv2d { filters: 2, kernel: 1 }",
        ));
        let all: Vec<Option<Field>> = fields(&front.net).into_iter().map(|(_, f)| f).collect();
        assert_eq!(all, [Some(sq(3, 1, 0)), None, None]);
    }
}
