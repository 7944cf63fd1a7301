//! Rules on a layer's own values, which need no shapes: they are checked
//! on every layer, so they show up even after an earlier shape mistake.

use crate::diag::{Diag, Diags};
use crate::ir::{Layer, LayerKind};

/// Checks every value rule on `layer`; `false` if any failed (its output
/// is then unknown).
pub(crate) fn check_values(diags: &mut Diags, layer: &Layer) -> bool {
    let before = diags.len();
    match &layer.kind {
        LayerKind::Conv2d {
            filters,
            kernel,
            stride,
            dilation,
            groups,
            depthwise,
            seq,
            depth,
            ..
        } => {
            match depthwise {
                Some(multiplier) => check_positive(diags, layer, "multiplier", &[*multiplier]),
                None => {
                    check_positive(diags, layer, "filters", &[*filters]);
                    check_positive(diags, layer, "groups", &[*groups]);
                }
            }
            // A sequence's `[1, k]` shows as the `k` the user wrote, a
            // volume's `[fd, fh, fw]` as written.
            let along = |pair: &[usize; 2], d: Option<usize>| match d {
                Some(d) => vec![d, pair[0], pair[1]],
                None if *seq => vec![pair[1]],
                None => pair.to_vec(),
            };
            check_positive(diags, layer, "kernel", &along(kernel, depth.map(|dp| dp.f)));
            check_positive(diags, layer, "stride", &along(stride, depth.map(|dp| dp.s)));
            check_positive(
                diags,
                layer,
                "dilation",
                &along(dilation, depth.map(|dp| dp.d)),
            );
        }
        LayerKind::ConvTranspose2d {
            filters,
            kernel,
            stride,
            dilation,
            output_padding,
            groups,
            seq,
            depth,
            ..
        } => {
            check_positive(diags, layer, "filters", &[*filters]);
            check_positive(diags, layer, "groups", &[*groups]);
            // Each axis as written: `k` along a sequence, `[fd, fh, fw]`
            // through a volume.
            let along = |pair: &[usize; 2], d: Option<usize>| match d {
                Some(d) => vec![d, pair[0], pair[1]],
                None if *seq => vec![pair[1]],
                None => pair.to_vec(),
            };
            let (kernel, stride, dilation, output_padding) = (
                along(kernel, depth.map(|dp| dp.f)),
                along(stride, depth.map(|dp| dp.s)),
                along(dilation, depth.map(|dp| dp.d)),
                along(output_padding, depth.map(|dp| dp.output_padding)),
            );
            check_positive(diags, layer, "kernel", &kernel);
            check_positive(diags, layer, "stride", &stride);
            check_positive(diags, layer, "dilation", &dilation);
            if !stride.contains(&0) && !dilation.contains(&0) {
                check_output_padding(diags, layer, &stride, &dilation, &output_padding);
            }
        }
        LayerKind::Upsample {
            scale, scale_depth, ..
        } => {
            let mut all: Vec<usize> = scale_depth.iter().copied().collect();
            all.extend(scale);
            check_positive(diags, layer, "scale", &all)
        }
        LayerKind::MaxPool2d {
            size,
            stride,
            depth,
            ..
        }
        | LayerKind::AvgPool2d {
            size,
            stride,
            depth,
            ..
        } => {
            let (size, stride) = match depth {
                Some(dp) => (
                    vec![dp.f, size[0], size[1]],
                    vec![dp.s, stride[0], stride[1]],
                ),
                None => (size.to_vec(), stride.to_vec()),
            };
            check_positive(diags, layer, "size", &size);
            // The stride defaults to the size: a zero size is reported once.
            if !size.contains(&0) {
                check_positive(diags, layer, "stride", &stride);
            }
        }
        LayerKind::Dense { units, .. } => check_positive(diags, layer, "units", &[*units]),
        LayerKind::Dropout { rate } => check_dropout_rate(diags, layer, *rate),
        LayerKind::BatchNorm { momentum, epsilon } => {
            check_batch_norm(diags, layer, *momentum, *epsilon)
        }
        LayerKind::GroupNorm { groups, epsilon } => {
            check_positive(diags, layer, "groups", &[*groups]);
            check_norm_epsilon(diags, layer, *epsilon);
        }
        LayerKind::LayerNorm { epsilon } => check_norm_epsilon(diags, layer, *epsilon),
        LayerKind::LeakyRelu { alpha } => check_leaky_alpha(diags, layer, *alpha),
        LayerKind::Scale { init } => check_scale_init(diags, layer, *init),
        LayerKind::AuxHead { weight, .. } => check_aux_weight(diags, layer, *weight),
        _ => {}
    }
    diags.len() == before
}

/// `filters`, `kernel`, `size`, `stride`, `dilation` and `units` are at
/// least 1: a layer with no filters or units has no output, a window of 0
/// sees nothing, the output size divides by the stride, and taps 0 apart
/// would all read one input.
fn check_positive(diags: &mut Diags, layer: &Layer, key: &str, values: &[usize]) {
    if !values.contains(&0) {
        return;
    }
    let got = match values {
        [a, b] if a != b => format!("[{a}, {b}]"),
        [a, b, c] if !(a == b && b == c) => format!("[{a}, {b}, {c}]"),
        _ => "0".to_string(),
    };
    let help = match key {
        "filters" => "a convolution needs at least one filter",
        "units" => "a dense layer needs at least one unit",
        "groups" if matches!(layer.kind, LayerKind::GroupNorm { .. }) => {
            "groups: 1 normalises all channels together"
        }
        "groups" => "groups: 1 is an ordinary convolution",
        "multiplier" => "each input channel needs at least one filter",
        "stride" => "the stride is the step between windows; 1 visits every position",
        "dilation" => "the dilation is the step between kernel taps; 1 is an ordinary convolution",
        "scale" => "the scale is how many times larger the output is; 1 keeps the size",
        _ => "the window needs at least one row and one column",
    };
    let message = format!("{}: {key} must be at least 1, got {got}", layer.name);
    diags.push(Diag::new(layer.key_site(key), message).help(help));
}

/// A transposed convolution's output padding is below its stride or its
/// dilation, along each axis (PyTorch's rule): a stride-`s` convolution
/// maps `s` input sizes to one output size, and the output padding picks
/// which of them the transpose gives back, so `s` choices exist (or `d`,
/// the rows between the last taps). The axes are as written: the length
/// of a sequence, `[h, w]` of an image, `[d, h, w]` of a volume.
fn check_output_padding(
    diags: &mut Diags,
    layer: &Layer,
    stride: &[usize],
    dilation: &[usize],
    output_padding: &[usize],
) {
    let Some(a) = (0..stride.len()).find(|&a| output_padding[a] >= stride[a].max(dilation[a]))
    else {
        return;
    };
    let (op, s, d) = (output_padding[a], stride[a], dilation[a]);
    let same = |v: &[usize]| v.iter().all(|&x| x == v[0]);
    let square = same(stride) && same(dilation) && same(output_padding);
    let names: &[&str] = if stride.len() == 3 {
        &[" in depth", " in height", " in width"]
    } else {
        &[" in height", " in width"]
    };
    let along = if square || stride.len() == 1 {
        ""
    } else {
        names[a]
    };
    let choices = match s.max(d) {
        1 => "use 0".to_string(),
        2 => "use 0 or 1".to_string(),
        m => format!("use 0 to {}", m - 1),
    };
    let message = format!(
        "{}: output padding {op}{along} must be smaller than the stride {s} or the dilation {d} (output_padding < max(s, d) = {})",
        layer.name,
        s.max(d)
    );
    let help = format!(
        "output padding adds rows and columns at the end of the output, to give back one of the sizes that a stride-{s} convolution maps to the same output: {choices}"
    );
    diags.push(Diag::new(layer.key_site("output_padding"), message).help(help));
}

/// A dropout rate is the fraction of inputs zeroed in training: in
/// `[0, 1)`, since a rate of 1 drops everything (and divides by 0).
fn check_dropout_rate(diags: &mut Diags, layer: &Layer, rate: f64) {
    if (0.0..1.0).contains(&rate) {
        return;
    }
    let message = format!("{}: dropout rate {rate:?} is outside [0, 1)", layer.name);
    let help = "the rate is the fraction of inputs dropped in training, e.g. `rate: 0.5`";
    diags.push(Diag::new(layer.key_site("rate"), message).help(help));
}

/// Batch norm's momentum weighs the old moving statistics, in `[0, 1)`;
/// its epsilon keeps `1 / sqrt(var + eps)` finite, so it is above 0.
fn check_batch_norm(diags: &mut Diags, layer: &Layer, momentum: f64, epsilon: f64) {
    let name = &layer.name;
    if !(0.0..1.0).contains(&momentum) {
        let message = format!("{name}: batch norm momentum {momentum:?} is outside [0, 1)");
        let help = "moving = momentum * moving + (1 - momentum) * batch; Keras uses 0.99";
        diags.push(Diag::new(layer.key_site("momentum"), message).help(help));
    }
    if !(epsilon > 0.0 && epsilon.is_finite()) {
        let message = format!("{name}: batch norm epsilon must be above 0, got {epsilon:?}");
        let help = "epsilon keeps 1 / sqrt(var + epsilon) finite; Keras uses 0.001";
        diags.push(Diag::new(layer.key_site("epsilon"), message).help(help));
    }
}

/// Group and layer norm's epsilon keeps `1 / sqrt(var + eps)` finite, so
/// it is above 0.
fn check_norm_epsilon(diags: &mut Diags, layer: &Layer, epsilon: f64) {
    if epsilon > 0.0 && epsilon.is_finite() {
        return;
    }
    let kind = layer.kind.dsl_name();
    let message = format!(
        "{}: {kind} epsilon must be above 0, got {epsilon:?}",
        layer.name
    );
    let help =
        "epsilon keeps 1 / sqrt(var + epsilon) finite; PyTorch uses 1e-5 (`epsilon: 0.00001`)";
    diags.push(Diag::new(layer.key_site("epsilon"), message).help(help));
}

/// A leaky ReLU's slope below 0 is a finite number `>= 0` (its gradient
/// is read from the sign of the output, which a negative slope flips).
fn check_leaky_alpha(diags: &mut Diags, layer: &Layer, alpha: f64) {
    if alpha >= 0.0 && alpha.is_finite() {
        return;
    }
    let message = format!(
        "{}: leaky relu alpha must be 0 or more, got {alpha:?}",
        layer.name
    );
    let help = "alpha is the slope for negative inputs, e.g. `alpha: 0.01`";
    diags.push(Diag::new(layer.key_site("alpha"), message).help(help));
}

/// A scale's factors start at `init`, an `f32` like every parameter, so
/// it is finite at `f32` precision.
fn check_scale_init(diags: &mut Diags, layer: &Layer, init: f64) {
    if (init as f32).is_finite() {
        return;
    }
    let message = format!(
        "{}: scale init must be a finite f32, got {init:?}",
        layer.name
    );
    let help = "init is every factor's starting value: 1 starts as the identity, ConvNeXt uses `init: 0.000001`";
    diags.push(Diag::new(layer.key_site("init"), message).help(help));
}

/// An aux head's loss weight is a finite number `>= 0`.
fn check_aux_weight(diags: &mut Diags, layer: &Layer, weight: f64) {
    if weight >= 0.0 && weight.is_finite() {
        return;
    }
    let message = format!(
        "{}: aux head weight must be 0 or more, got {weight:?}",
        layer.name
    );
    let help = "the head's loss is added times the weight; GoogLeNet used 0.3";
    diags.push(Diag::new(layer.key_site("weight"), message).help(help));
}
