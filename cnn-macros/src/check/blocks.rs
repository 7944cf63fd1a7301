//! The block rules: a `Residual` adds its body's output to its shortcut's,
//! so the two shapes agree; a `Concat` joins its branches along channels,
//! so they agree in height and width; an `AuxHead` passes its input on
//! unchanged and ends in a flat class vector of the network's classes; a
//! `Gate` multiplies its input by its body's output, so the body gives one
//! factor per channel or one per element.

use super::{Checker, Context};
use crate::diag::{Diag, Diags};
use crate::ir::{Layer, LayerKind, Shape, Site};

/// What the block rules say about the block itself.
struct Head {
    name: String,
    site: Site,
    shortcut_site: Site,
}

/// A network used as a layer takes the input it was declared for: its
/// shapes were worked out (and its weights are laid out) for that input.
fn check_network_input(
    diags: &mut Diags,
    head: &Head,
    net: &str,
    want: Shape,
    got: Shape,
) -> Option<()> {
    if want == got {
        return Some(());
    }
    let message = format!(
        "{}: {net} takes {want} (its declared input) but gets {got} here",
        head.name
    );
    let help = format!(
        "resize or pool the activation to {want} before {}, or declare {net} with `input: [{}]`",
        head.name,
        got.as_list()
    );
    diags.push(Diag::new(head.site, message).help(help));
    None
}

/// A network used as a layer gives the output its use states
/// (`output: [..]`), when the use states one.
fn check_network_output(
    diags: &mut Diags,
    head: &Head,
    net: &str,
    want: Shape,
    got: Shape,
) -> Option<()> {
    if want == got {
        return Some(());
    }
    let message = format!(
        "{}: the use states that {net} gives {want}, but it gives {got}",
        head.name
    );
    let help = format!("write `output: [{}]`", got.as_list());
    diags.push(Diag::new(head.site, message).help(help));
    None
}

/// The output of a block layer, its children checked and shaped.
pub(crate) fn check_block(
    ck: &mut Checker<'_>,
    layer: &mut Layer,
    input: Option<Shape>,
    cx: Context<'_>,
) -> Option<Shape> {
    let head = Head {
        name: layer.name.clone(),
        site: layer.site,
        shortcut_site: layer.key_site("shortcut"),
    };
    let inner = Context {
        softmax_may_end: false,
        ..cx
    };
    match &mut layer.kind {
        LayerKind::Sequential {
            layers,
            label,
            expect_input,
            expect_output,
        } => {
            let label = label.clone();
            let (expect_input, expect_output) = (*expect_input, *expect_output);
            if let (Some(want), Some(got)) = (expect_input, input) {
                check_network_input(ck.diags, &head, &label, want, got)?;
            }
            let group = Context {
                softmax_may_end: cx.softmax_may_end,
                ..cx
            };
            let out = ck.block(layers, input, group);
            if let (Some(want), Some(got)) = (expect_output, out) {
                check_network_output(ck.diags, &head, &label, want, got)?;
            }
            out
        }
        LayerKind::Residual { body, shortcut } => {
            check_not_empty(
                ck.diags,
                &head,
                body.is_empty(),
                "the body is empty",
                "add the layers of the residual branch: `body: [ .. ]`",
            )?;
            let body_out = ck.block(body, input, inner);
            let identity = shortcut.is_empty();
            let shortcut_out = if identity {
                input
            } else {
                ck.block(shortcut, input, inner)
            };
            check_residual_shapes(ck.diags, &head, input, body_out?, shortcut_out?, identity)
        }
        LayerKind::Concat { branches } => {
            let help = "add the branches to concatenate: `branches: [[ .. ], [ .. ]]`";
            check_not_empty(
                ck.diags,
                &head,
                branches.is_empty(),
                "Concat needs at least one branch",
                help,
            )?;
            let outs: Vec<Option<Shape>> = branches
                .iter_mut()
                .map(|b| ck.block(b, input, inner))
                .collect();
            let outs: Option<Vec<Shape>> = outs.into_iter().collect();
            check_concat_shapes(ck.diags, &head, &outs?)
        }
        LayerKind::Gate { body } => {
            check_not_empty(
                ck.diags,
                &head,
                body.is_empty(),
                "the body is empty",
                "add the layers that compute the gate, e.g. `body: [GlobalAvgPool, Dense { units: 4 }, Relu, Dense { units: 16 }, Sigmoid]`",
            )?;
            let out = ck.block(body, input, inner);
            check_gate_shapes(ck.diags, &head, input?, out?)
        }
        LayerKind::AuxHead { layers, .. } => {
            let help = "add the head's layers, e.g. `layers: [GlobalAvgPool, Dense { units: 10 }, Softmax]`";
            if check_not_empty(
                ck.diags,
                &head,
                layers.is_empty(),
                "the head has no layers",
                help,
            )
            .is_some()
            {
                let head_cx = Context {
                    softmax_may_end: true,
                    ..cx
                };
                if let Some(out) = ck.block(layers, input, head_cx) {
                    check_aux_head_output(ck.diags, &head, layers, out);
                }
            }
            input
        }
        _ => input,
    }
}

/// A block holds layers: an empty body, branch list or head is a mistake.
fn check_not_empty(
    diags: &mut Diags,
    head: &Head,
    empty: bool,
    what: &str,
    help: &str,
) -> Option<()> {
    if !empty {
        return Some(());
    }
    diags.push(Diag::new(head.site, format!("{}: {what}", head.name)).help(help));
    None
}

/// A residual block adds the body's output to the shortcut's (the input
/// itself when there is no shortcut), so the two shapes must be equal.
/// When they differ, suggest the 1x1 projection shortcut that would fix it.
fn check_residual_shapes(
    diags: &mut Diags,
    head: &Head,
    input: Option<Shape>,
    body: Shape,
    shortcut: Shape,
    identity: bool,
) -> Option<Shape> {
    if body == shortcut {
        return Some(body);
    }
    let which = if identity {
        "the identity shortcut"
    } else {
        "the shortcut"
    };
    let message = format!(
        "{}: the body gives {body} but {which} gives {shortcut}; they must match to be added",
        head.name
    );
    let help = match input.and_then(|input| projection(input, body)) {
        Some(fix) => format!("use a projection shortcut: {fix}"),
        None => format!(
            "make the body and the shortcut end in the same shape (the body ends in {body})"
        ),
    };
    let site = if identity {
        head.site
    } else {
        head.shortcut_site
    };
    diags.push(Diag::new(site, message).help(help));
    None
}

/// The shortcut that maps `input` to `body`'s shape: a 1x1 convolution
/// with the body's channels and the smallest stride `s` for which
/// `ceil(n / s)` (a 1x1 window's output size) gives the body's height and
/// width; a dense layer for flat shapes.
fn projection(input: Shape, body: Shape) -> Option<String> {
    match (input, body) {
        (
            Shape::Image { h, w, depth, .. },
            Shape::Image {
                h: bh,
                w: bw,
                c,
                seq,
                depth: b_depth,
            },
        ) => {
            // A volume's projection would need the depth's stride too.
            if depth.is_some() || b_depth.is_some() {
                return (depth == b_depth && h == bh && w == bw)
                    .then(|| format!("shortcut: [Conv3d {{ filters: {c}, kernel: 1 }}]"));
            }
            let (lo_h, hi_h) = strides_giving(h, bh)?;
            let (lo_w, hi_w) = strides_giving(w, bw)?;
            let stride = lo_h.max(lo_w);
            if stride > hi_h.min(hi_w) {
                return None;
            }
            let stride = if stride == 1 {
                String::new()
            } else {
                format!(", stride: {stride}")
            };
            let kind = if seq { "Conv1d" } else { "Conv2d" };
            Some(format!(
                "shortcut: [{kind} {{ filters: {c}, kernel: 1{stride} }}]"
            ))
        }
        (Shape::Flat { .. }, Shape::Flat { n }) => {
            Some(format!("shortcut: [Dense {{ units: {n} }}]"))
        }
        _ => None,
    }
}

/// The strides `s` (an inclusive range) with `ceil(n / s) = out`:
/// `ceil(n / out) <= s <= (n - 1) / (out - 1)`, unbounded above for one
/// output; `None` when there is none (`out > n`).
fn strides_giving(n: usize, out: usize) -> Option<(usize, usize)> {
    if out == 0 || n == 0 {
        return None;
    }
    let lo = n.div_ceil(out);
    let hi = if out == 1 {
        usize::MAX
    } else {
        (n - 1) / (out - 1)
    };
    (lo <= hi).then_some((lo, hi))
}

/// A gate multiplies its input by its body's output: one factor per
/// channel (`[c]`, or `1x1xc`), broadcast over the positions, or one per
/// element (the input's own shape). Anything else cannot be multiplied.
fn check_gate_shapes(diags: &mut Diags, head: &Head, input: Shape, body: Shape) -> Option<Shape> {
    let c = input.channels();
    let fits = body == input
        || body == (Shape::Flat { n: c })
        || matches!(body, Shape::Image { h: 1, w: 1, c: bc, depth: None | Some(1), .. } if bc == c);
    if fits {
        return Some(input);
    }
    let name = &head.name;
    let wanted = match input {
        Shape::Image { .. } => format!("{c} (one factor per channel) or {input} (one per element)"),
        Shape::Flat { .. } => format!("{input} (one factor per feature)"),
    };
    let message = format!(
        "{name}: the body gives {body} but the gate multiplies the input {input}, so it must give {wanted}"
    );
    let help = match (input, body) {
        (_, Shape::Flat { .. }) => format!(
            "end the body with `Dense {{ units: {c} }}, Sigmoid`, one gate per channel"
        ),
        (Shape::Image { h, w, depth, .. }, Shape::Image { h: bh, w: bw, depth: bd, .. })
            if h == bh && w == bw && depth == bd =>
        {
            let kind = if depth.is_some() { "Conv3d" } else { "Conv2d" };
            format!("end the body with `{kind} {{ filters: {c}, kernel: 1 }}, Sigmoid`, one gate per element")
        }
        (Shape::Image { .. }, Shape::Image { .. }) => format!(
            "squeeze the body to one value per channel: `GlobalAvgPool, Dense {{ units: {c} }}, Sigmoid`"
        ),
        (Shape::Flat { .. }, Shape::Image { .. }) => format!(
            "end the body with `Flatten, Dense {{ units: {c} }}, Sigmoid`"
        ),
    };
    diags.push(Diag::new(head.site, message).help(help));
    None
}

/// Concat joins its branches' outputs along channels, so every branch
/// gives an image of the same height and width (or every branch a flat
/// vector); the channels add up and must not overflow.
fn check_concat_shapes(diags: &mut Diags, head: &Head, outs: &[Shape]) -> Option<Shape> {
    let list = || -> String {
        let shown: Vec<String> = outs
            .iter()
            .enumerate()
            .map(|(i, s)| format!("branch {} gives {s}", i + 1))
            .collect();
        shown.join(", ")
    };
    let first = *outs.first()?;
    let mut total: usize = 0;
    for out in outs {
        let (agrees, channels) = match (first, *out) {
            (
                Shape::Image { h, w, depth, .. },
                Shape::Image {
                    h: oh,
                    w: ow,
                    c,
                    depth: od,
                    ..
                },
            ) => (h == oh && w == ow && depth == od, c),
            (Shape::Flat { .. }, Shape::Flat { n }) => (true, n),
            (_, shape) => (false, shape.channels()),
        };
        if !agrees {
            let message = format!(
                "{}: branches must agree in height and width to be concatenated: {}",
                head.name,
                list()
            );
            let help = "give every branch the same output size, e.g. `padding: same` and stride 1 on its convolutions and pools";
            diags.push(Diag::new(head.site, message).help(help));
            return None;
        }
        let Some(sum) = total.checked_add(channels) else {
            let message = format!(
                "{}: the concatenated channels overflow ({})",
                head.name,
                list()
            );
            diags.push(
                Diag::new(head.site, message).help("arithmetic overflow: use fewer channels"),
            );
            return None;
        };
        total = sum;
    }
    let out = match first {
        Shape::Image {
            h, w, seq, depth, ..
        } => Shape::Image {
            h,
            w,
            c: total,
            seq,
            depth,
        },
        Shape::Flat { .. } => Shape::Flat { n: total },
    };
    if out.checked_len().is_none() {
        let message = format!(
            "{}: the concatenated output size overflows ({out})",
            head.name
        );
        diags.push(Diag::new(head.site, message).help("arithmetic overflow: use fewer channels"));
        return None;
    }
    Some(out)
}

/// An aux head is a side classifier: its layers end in `Softmax` over a
/// flat vector of class scores (its loss is their cross-entropy).
fn check_aux_head_output(diags: &mut Diags, head: &Head, layers: &[Layer], out: Shape) {
    let name = &head.name;
    if let Shape::Image { .. } = out {
        let message =
            format!("{name}: the head must end in a flat vector of class scores but gives {out}");
        let help =
            "end the head with `Flatten` (or `GlobalAvgPool`), `Dense { units: N }` and `Softmax`";
        diags.push(Diag::new(head.site, message).help(help));
    } else if !matches!(layers.last().map(|l| &l.kind), Some(LayerKind::Softmax)) {
        let message = format!("{name}: the head must end in `Softmax` (its loss is the cross-entropy of its class scores)");
        diags.push(
            Diag::new(head.site, message).help("add `Softmax` at the end of the head's layers"),
        );
    }
}

/// An aux head learns the same labels as the network, so its number of
/// classes is the network's output size.
pub(crate) fn check_aux_head_classes(
    diags: &mut Diags,
    layers: &[Layer],
    net_output: Option<Shape>,
) {
    let Some(Shape::Flat { n: classes }) = net_output else {
        return;
    };
    for layer in layers {
        if let LayerKind::AuxHead { layers: head, .. } = &layer.kind {
            let out = head.last().and_then(|l| l.output);
            if let Some(Shape::Flat { n }) = out {
                if n != classes {
                    let dense = head
                        .iter()
                        .rev()
                        .find(|l| matches!(l.kind, LayerKind::Dense { .. }));
                    let site = dense.map_or(layer.site, |d| d.key_site("units"));
                    let message = format!(
                        "{}: the head gives {n} classes but the network gives {classes}; both learn the same labels",
                        layer.name
                    );
                    let help = match dense {
                        Some(d) => format!("set `units: {classes}` on {}", d.name),
                        None => format!(
                            "end the head with `Dense {{ units: {classes} }}` and `Softmax`"
                        ),
                    };
                    diags.push(Diag::new(site, message).help(help));
                }
            }
        }
        for list in layer.children() {
            check_aux_head_classes(diags, list, net_output);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_giving_an_output_size() {
        for n in 1usize..60 {
            for out in 1..70 {
                let want: Vec<usize> = (1..=n + 1).filter(|&s| n.div_ceil(s) == out).collect();
                match strides_giving(n, out) {
                    None => assert!(want.is_empty(), "n {n} out {out}"),
                    Some((lo, hi)) => {
                        assert_eq!(want.first(), Some(&lo), "n {n} out {out}");
                        assert!(
                            want.iter().all(|&s| s <= hi) && (hi > n || want.contains(&hi)),
                            "n {n} out {out}"
                        );
                    }
                }
            }
        }
        let image = Shape::image;
        assert_eq!(
            projection(image(56, 56, 64), image(28, 28, 128)).as_deref(),
            Some("shortcut: [Conv2d { filters: 128, kernel: 1, stride: 2 }]")
        );
        assert_eq!(
            projection(image(7, 9, 1), image(3, 3, 8)).as_deref(),
            Some("shortcut: [Conv2d { filters: 8, kernel: 1, stride: 3 }]")
        );
        assert_eq!(projection(image(8, 8, 1), image(9, 9, 1)), None);
        assert!(projection(image(usize::MAX / 2, 1, 1), image(3, 1, 1)).is_some());
    }
}
