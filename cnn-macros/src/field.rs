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

use crate::ir::{dilated_window, Layer, LayerKind, Net, Shape, UpsampleMode};

/// One layer's receptive field in input pixels, per axis `[rows, cols]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Input pixels one output position sees.
    pub size: [usize; 2],
    /// Input pixels between the fields of two neighbouring positions.
    pub jump: [usize; 2],
    /// The first input row and column of position `(0, 0)`'s field.
    pub start: [isize; 2],
}

impl Field {
    /// The input itself: each pixel sees itself.
    const PIXEL: Field = Field {
        size: [1, 1],
        jump: [1, 1],
        start: [0, 0],
    };

    /// A window of `kernel` with `stride` and `pad_before` zeros on this
    /// field's map; `None` when a number overflows.
    fn window(
        self,
        kernel: [usize; 2],
        stride: [usize; 2],
        pad_before: [usize; 2],
    ) -> Option<Field> {
        let mut out = self;
        for a in 0..2 {
            let j = self.jump[a];
            out.size[a] = kernel[a]
                .checked_sub(1)?
                .checked_mul(j)?
                .checked_add(self.size[a])?;
            out.jump[a] = j.checked_mul(stride[a])?;
            let back = isize::try_from(pad_before[a].checked_mul(j)?).ok()?;
            out.start[a] = self.start[a].checked_sub(back)?;
        }
        Some(out)
    }

    /// A layer that grows the map `stride` times (a transposed
    /// convolution, an upsampling): output `o = m s + r` reads the inputs
    /// `m + lo ..= m + hi`, where `reads(a, r)` gives `(lo, hi)` for each
    /// phase `r < s` (`None` where it reads nothing). Its positions are
    /// `j / s` input pixels apart, an integer only when `s` divides the
    /// input's jump `j` (`None` otherwise); its field is the smallest one
    /// of that grid that holds every position's true field: the phases
    /// see different inputs, so some positions see less than `size`.
    fn spread(
        self,
        stride: [usize; 2],
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
        for a in 0..2 {
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
    let Shape::Image { h, w, .. } = net.input else {
        return Vec::new();
    };
    let whole = Field {
        size: [h, w],
        jump: [h, w],
        start: [0, 0],
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

/// One layer's field from its input's (pushing its children's rows).
fn one(
    layer: &Layer,
    input: Option<Field>,
    whole: Field,
    out: &mut Vec<(String, Option<Field>)>,
) -> Option<Field> {
    let field = match &layer.kind {
        // A dilated kernel sees its span `d (f - 1) + 1`, holes included.
        LayerKind::Conv2d {
            kernel,
            stride,
            dilation,
            ..
        } => input?.window(dilated_window(*kernel, *dilation), *stride, layer.pad_before),
        LayerKind::MaxPool2d { size, stride, .. } | LayerKind::AvgPool2d { size, stride, .. } => {
            input?.window(*size, *stride, layer.pad_before)
        }
        // Output `o` reads input `i` through tap `k` when `i s + k d - p =
        // o`: phase `r` reads `m + (r + p - k d) / s` for the taps where
        // that divides.
        LayerKind::ConvTranspose2d {
            kernel,
            stride,
            dilation,
            padding,
            ..
        } => input?.spread(*stride, |a, r| {
            let (s, d, p) = (stride[a] as isize, dilation[a] as isize, padding[a] as isize);
            let offsets = (0..kernel[a] as isize)
                .map(|k| r as isize + p - k * d)
                .filter(|v| v.rem_euclid(s) == 0)
                .map(|v| v.div_euclid(s));
            let (lo, hi) = offsets.fold((isize::MAX, isize::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
            (lo <= hi).then_some((lo, hi))
        }),
        // Nearest: phase `r` reads input `m`. Bilinear: source `m + (2r +
        // 1 - s) / 2s`, its floor and, unless it is whole, the next input
        // (away from the border, where it is clamped as if padded).
        LayerKind::Upsample { scale, mode, .. } => input?.spread(*scale, |a, r| match mode {
            UpsampleMode::Nearest => Some((0, 0)),
            UpsampleMode::Bilinear | UpsampleMode::Linear | UpsampleMode::Trilinear => {
                let (num, den) = (2 * r as isize + 1 - scale[a] as isize, 2 * scale[a] as isize);
                let lo = num.div_euclid(den);
                let whole = num.rem_euclid(den) == 0;
                Some((lo, if whole { lo } else { lo + 1 }))
            }
        }),
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

    fn sq(size: usize, jump: usize, start: isize) -> Field {
        Field {
            size: [size; 2],
            jump: [jump; 2],
            start: [start; 2],
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
        assert_eq!(field_of(&net, "wide").size, [17, 18]);
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
        assert_eq!(wide.size, [15, 19]);
        assert_eq!(wide.jump, [2, 2]);
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
