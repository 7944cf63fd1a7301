//! Checked networks built by hand for the back end's unit tests, with a
//! small shape inference of their own (the front end's is tested on its
//! side; these only need to be right for the nets below).

use crate::ir::{Layer, LayerKind, Net, Pad, Shape, Site};

/// Output size and leading padding of one axis (course formula, `same` as
/// TensorFlow).
fn axis(n: usize, f: usize, s: usize, p: Pad) -> (usize, usize) {
    match p {
        Pad::Same => {
            let out = n.div_ceil(s);
            (out, ((out - 1) * s + f).saturating_sub(n) / 2)
        }
        Pad::Valid => ((n - f) / s + 1, 0),
        Pad::Explicit(p) => ((n + 2 * p - f) / s + 1, p),
    }
}

/// A sequential net; layers without a name get `<stem>_<k>`.
pub fn net(name: &str, input: Shape, layers: Vec<(Option<&str>, LayerKind)>) -> Net {
    let mut shape = input;
    let mut counts = std::collections::HashMap::new();
    let mut out = Vec::new();
    for (name, kind) in layers {
        let name = name.map(str::to_string).unwrap_or_else(|| {
            let k = counts.entry(kind.auto_stem()).or_insert(0);
            *k += 1;
            format!("{}_{}", kind.auto_stem(), k)
        });
        let mut pad_before = [0, 0];
        let (mut params, mut trainable, mut macs) = (0, 0, 0u64);
        let output = match (&kind, shape) {
            (
                LayerKind::Conv2d {
                    filters,
                    kernel,
                    stride,
                    padding,
                    bias,
                },
                Shape::Image { h, w, c },
            ) => {
                let (oh, pt) = axis(h, kernel[0], stride[0], *padding);
                let (ow, pl) = axis(w, kernel[1], stride[1], *padding);
                pad_before = [pt, pl];
                params = kernel[0] * kernel[1] * c * filters + if *bias { *filters } else { 0 };
                trainable = params;
                macs = (oh * ow * filters * kernel[0] * kernel[1] * c) as u64;
                Shape::Image {
                    h: oh,
                    w: ow,
                    c: *filters,
                }
            }
            (
                LayerKind::MaxPool2d {
                    size,
                    stride,
                    padding,
                }
                | LayerKind::AvgPool2d {
                    size,
                    stride,
                    padding,
                },
                Shape::Image { h, w, c },
            ) => {
                let (oh, pt) = axis(h, size[0], stride[0], *padding);
                let (ow, pl) = axis(w, size[1], stride[1], *padding);
                pad_before = [pt, pl];
                Shape::Image { h: oh, w: ow, c }
            }
            (LayerKind::GlobalAvgPool, Shape::Image { c, .. }) => Shape::Flat { n: c },
            (LayerKind::Flatten, s) => Shape::Flat { n: s.len() },
            (LayerKind::Dense { units, bias }, Shape::Flat { n }) => {
                params = n * units + if *bias { *units } else { 0 };
                trainable = params;
                macs = (n * units) as u64;
                Shape::Flat { n: *units }
            }
            (LayerKind::BatchNorm { .. }, s) => {
                let c = match s {
                    Shape::Image { c, .. } => c,
                    Shape::Flat { n } => n,
                };
                params = 4 * c;
                trainable = 2 * c;
                s
            }
            (_, s) => s,
        };
        out.push(Layer {
            name,
            named_by_user: false,
            kind,
            site: Site::CALL,
            input: Some(shape),
            output: Some(output),
            pad_before,
            params,
            trainable,
            macs,
        });
        shape = output;
    }
    Net {
        name: name.to_string(),
        input,
        site_input: Site::CALL,
        layers: out,
    }
}

pub fn conv(filters: usize, kernel: usize) -> LayerKind {
    LayerKind::Conv2d {
        filters,
        kernel: [kernel, kernel],
        stride: [1, 1],
        padding: Pad::Valid,
        bias: true,
    }
}

pub fn max_pool(size: usize) -> LayerKind {
    LayerKind::MaxPool2d {
        size: [size, size],
        stride: [size, size],
        padding: Pad::Valid,
    }
}

pub fn dense(units: usize) -> LayerKind {
    LayerKind::Dense { units, bias: true }
}

/// LeNet-5 as in DESIGN.md.
pub fn lenet5() -> Net {
    net(
        "LeNet5",
        Shape::Image { h: 32, w: 32, c: 1 },
        vec![
            (Some("conv1"), conv(6, 5)),
            (None, LayerKind::Relu),
            (None, max_pool(2)),
            (Some("conv2"), conv(16, 5)),
            (None, LayerKind::Relu),
            (None, max_pool(2)),
            (None, LayerKind::Flatten),
            (Some("fc3"), dense(120)),
            (None, LayerKind::Relu),
            (Some("fc4"), dense(84)),
            (None, LayerKind::Relu),
            (Some("fc5"), dense(10)),
            (None, LayerKind::Softmax),
        ],
    )
}

/// conv -> batch norm -> relu -> dropout -> global pool -> dense.
pub fn bn_net() -> Net {
    net(
        "BnNet",
        Shape::Image { h: 6, w: 6, c: 3 },
        vec![
            (Some("conv"), conv(8, 3)),
            (
                Some("bn"),
                LayerKind::BatchNorm {
                    momentum: 0.99,
                    epsilon: 1e-3,
                },
            ),
            (None, LayerKind::Relu),
            (None, LayerKind::Dropout { rate: 0.5 }),
            (None, LayerKind::GlobalAvgPool),
            (Some("out"), dense(4)),
            (None, LayerKind::Softmax),
        ],
    )
}
