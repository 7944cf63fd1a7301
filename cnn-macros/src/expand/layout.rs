//! The parameter arena, worked out at compile time: every tensor of every
//! layer gets an offset in one `f32` buffer, trainable tensors first (in
//! layer order, walking into blocks), then the moving statistics that
//! training updates (batch norm's, outside frozen layers), then everything
//! of the frozen layers (`trainable: false`), which nothing changes in
//! training. An optimizer steps `params[..TRAINABLE]`, and a training step
//! backs up only `params[TRAINABLE..MUTABLE]` to restore it after a
//! non-finite loss.
//! Also the initialiser of each tensor (He before ReLU, Glorot elsewhere).

use std::collections::HashMap;

use crate::ir::{Layer, LayerKind, Shape};

/// How a tensor is initialised (mirrors `cnn_runtime::net::Init`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    HeNormal {
        fan_in: usize,
    },
    GlorotUniform {
        fan_in: usize,
        fan_out: usize,
    },
    Zeros,
    Ones,
    /// Every element the `f32` with these bits (a `Scale`'s `init`).
    Constant {
        bits: u32,
    },
}

/// One tensor of the arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    /// `conv1.weight`.
    pub name: String,
    pub layer: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub trainable: bool,
    pub init: Init,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Where one layer's tensors are: indices into [`Params::tensors`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerTensors {
    pub weight: Option<usize>,
    pub bias: Option<usize>,
    pub gamma: Option<usize>,
    pub beta: Option<usize>,
    pub moving_mean: Option<usize>,
    pub moving_variance: Option<usize>,
    /// A `Scale`'s factors (the tensor named after the layer itself).
    pub scale: Option<usize>,
}

/// The arena: tensors in offset order, and each layer's by name.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pub tensors: Vec<Tensor>,
    pub by_layer: HashMap<String, LayerTensors>,
    pub trainable: usize,
    /// Where the frozen layers' tensors start: `trainable..mutable` is
    /// what training updates besides the trainable part.
    pub mutable: usize,
    pub total: usize,
}

impl Params {
    /// The tensors of a layer (all `None` for a layer without parameters).
    pub fn of(&self, layer: &str) -> LayerTensors {
        self.by_layer.get(layer).copied().unwrap_or_default()
    }
}

/// A tensor before it has an offset.
struct Pending {
    layer: String,
    suffix: &'static str,
    shape: Vec<usize>,
    /// 0: trainable; 1: updated in training (moving statistics); 2: frozen.
    group: u8,
    init: Init,
}

/// Lays out every parameter of the network.
pub fn params(layers: &[Layer]) -> Params {
    let mut pending = Vec::new();
    collect(layers, &mut pending);
    let mut out = Params::default();
    let mut offset = 0;
    // Trainable first, then the moving statistics, then frozen layers';
    // each group in layer order.
    for group in [0, 1, 2] {
        if group == 2 {
            out.mutable = offset;
        }
        let trainable = group == 0;
        for p in pending.iter().filter(|p| p.group == group) {
            // A tensor without a suffix is the layer's one parameter,
            // named as PyTorch names a bare `nn.Parameter` attribute.
            let name = match p.suffix {
                "" => p.layer.clone(),
                suffix => format!("{}.{suffix}", p.layer),
            };
            let t = Tensor {
                name,
                layer: p.layer.clone(),
                shape: p.shape.clone(),
                offset,
                trainable,
                init: p.init,
            };
            offset += t.len();
            let idx = out.tensors.len();
            let slot = out.by_layer.entry(p.layer.clone()).or_default();
            let field = match p.suffix {
                "weight" => &mut slot.weight,
                "bias" => &mut slot.bias,
                "gamma" => &mut slot.gamma,
                "beta" => &mut slot.beta,
                "moving_mean" => &mut slot.moving_mean,
                "" => &mut slot.scale,
                _ => &mut slot.moving_variance,
            };
            *field = Some(idx);
            out.tensors.push(t);
        }
        if trainable {
            out.trainable = offset;
        }
    }
    out.total = offset;
    out
}

/// Pushes the tensors of `layers` (and of the blocks inside) in order.
/// Groups are opened up first, so a weight's initialiser sees the layers
/// that follow it whatever group they are in.
fn collect(layers: &[Layer], out: &mut Vec<Pending>) {
    let flat: Vec<Layer> = crate::ir::flatten_groups(layers)
        .into_iter()
        .cloned()
        .collect();
    let layers = flat.as_slice();
    for (i, l) in layers.iter().enumerate() {
        let input = l.input.unwrap_or(Shape::Flat { n: 0 });
        let frozen = l.frozen;
        let mut push = |suffix, shape: Vec<usize>, trainable: bool, init| {
            out.push(Pending {
                layer: l.name.clone(),
                suffix,
                shape,
                group: match (frozen, trainable) {
                    (true, _) => 2,
                    (false, true) => 0,
                    (false, false) => 1,
                },
                init,
            })
        };
        match &l.kind {
            LayerKind::Conv2d {
                filters,
                kernel,
                bias,
                groups,
                depth,
                ..
            } => {
                // Keras's grouped layout: each filter sees c_in / groups.
                let c_in = input.channels() / (*groups).max(1);
                // A volume's kernel is `[fd, fh, fw, c_in, filters]`.
                let fd = depth.map(|dp| dp.f);
                let area = fd.unwrap_or(1) * kernel[0] * kernel[1];
                let (fan_in, fan_out) = (area * c_in, area * filters);
                let mut shape: Vec<usize> = fd.into_iter().collect();
                shape.extend([kernel[0], kernel[1], c_in, *filters]);
                push(
                    "weight",
                    shape,
                    true,
                    weight_init(&layers[i + 1..], fan_in, fan_out),
                );
                if *bias {
                    push("bias", vec![*filters], true, Init::Zeros);
                }
            }
            // The weights of the convolution it transposes: `[fh, fw,
            // filters / groups, c_in]` (PyTorch's `[c_in, filters / groups,
            // fh, fw]` permuted as a convolution's is). Each output sums
            // about `c_in / groups * fh * fw / (sh * sw)` products, each
            // input feeds `filters / groups * fh * fw`.
            LayerKind::ConvTranspose2d {
                filters,
                kernel,
                stride,
                bias,
                groups,
                depth,
                ..
            } => {
                let g = (*groups).max(1);
                let (c_in, og) = (input.channels(), filters / g);
                // A volume's weights are `[fd, fh, fw, filters / groups,
                // c_in]`, its depth one more factor of the fans.
                let (fd, sd) = depth.map_or((1, 1), |dp| (dp.f, dp.s));
                let area = fd * kernel[0] * kernel[1];
                let strides = (sd * stride[0] * stride[1]).max(1);
                let fan_in = (area * (c_in / g) / strides).max(1);
                let mut shape: Vec<usize> = depth.map(|dp| dp.f).into_iter().collect();
                shape.extend([kernel[0], kernel[1], og, c_in]);
                push(
                    "weight",
                    shape,
                    true,
                    weight_init(&layers[i + 1..], fan_in, area * og),
                );
                if *bias {
                    push("bias", vec![*filters], true, Init::Zeros);
                }
            }
            LayerKind::Dense { units, bias } => {
                let n_in = input.len();
                push(
                    "weight",
                    vec![n_in, *units],
                    true,
                    weight_init(&layers[i + 1..], n_in, *units),
                );
                if *bias {
                    push("bias", vec![*units], true, Init::Zeros);
                }
            }
            LayerKind::BatchNorm { .. } => {
                let c = input.channels();
                push("gamma", vec![c], true, Init::Ones);
                push("beta", vec![c], true, Init::Zeros);
                push("moving_mean", vec![c], false, Init::Zeros);
                push("moving_variance", vec![c], false, Init::Ones);
            }
            // Named as batch norm's, so `load_pytorch` maps PyTorch's
            // `weight` and `bias` onto them the same way.
            LayerKind::GroupNorm { .. } | LayerKind::LayerNorm { .. } => {
                let c = input.channels();
                push("gamma", vec![c], true, Init::Ones);
                push("beta", vec![c], true, Init::Zeros);
            }
            // The layer's own tensor (no suffix): `blk.layer_scale`, as
            // torchvision's `CNBlock.layer_scale`.
            LayerKind::Scale { init } => {
                let bits = (*init as f32).to_bits();
                push("", vec![input.channels()], true, Init::Constant { bits });
            }
            LayerKind::Gate { body } => collect(body, out),
            LayerKind::Residual { body, shortcut } => {
                collect(body, out);
                collect(shortcut, out);
            }
            LayerKind::Concat { branches } => branches.iter().for_each(|b| collect(b, out)),
            LayerKind::AuxHead { layers, .. } => collect(layers, out),
            _ => {}
        }
    }
}

/// He normal when the next activation after the layer (looking past
/// normalisation and dropout) is ReLU, ReLU6 or LeakyRelu; Glorot uniform
/// otherwise.
fn weight_init(after: &[Layer], fan_in: usize, fan_out: usize) -> Init {
    let next = after.iter().find(|l| {
        !matches!(
            l.kind,
            LayerKind::BatchNorm { .. }
                | LayerKind::GroupNorm { .. }
                | LayerKind::LayerNorm { .. }
                | LayerKind::Dropout { .. }
        )
    });
    match next.map(|l| &l.kind) {
        Some(LayerKind::Relu | LayerKind::Relu6 | LayerKind::LeakyRelu { .. }) => {
            Init::HeNormal { fan_in }
        }
        _ => Init::GlorotUniform { fan_in, fan_out },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::testnets::{bn_net, lenet5};

    #[test]
    fn lenet5_has_61706_parameters_in_order() {
        let p = params(&lenet5().layers);
        assert_eq!((p.total, p.trainable), (61_706, 61_706));
        let names: Vec<&str> = p.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "conv1.weight",
                "conv1.bias",
                "conv2.weight",
                "conv2.bias",
                "fc3.weight",
                "fc3.bias",
                "fc4.weight",
                "fc4.bias",
                "fc5.weight",
                "fc5.bias"
            ]
        );
        assert_eq!(p.tensors[2].shape, [5, 5, 6, 16]);
        assert_eq!(p.tensors[2].offset, 156);
        assert_eq!(p.tensors[4].shape, [400, 120]);
        assert_eq!(p.tensors[0].init, Init::HeNormal { fan_in: 25 });
        // fc5 is followed by Softmax: Glorot.
        assert_eq!(
            p.tensors[8].init,
            Init::GlorotUniform {
                fan_in: 84,
                fan_out: 10
            }
        );
    }

    #[test]
    fn moving_statistics_come_after_every_trainable_tensor() {
        let p = params(&bn_net().layers);
        let first_frozen = p.tensors.iter().position(|t| !t.trainable).unwrap();
        assert!(p.tensors[first_frozen..].iter().all(|t| !t.trainable));
        assert_eq!(p.tensors[first_frozen].offset, p.trainable);
        assert_eq!(p.total - p.trainable, 2 * 8);
        // conv -> BatchNorm -> Relu: He.
        let conv = p.of("conv").weight.unwrap();
        assert_eq!(p.tensors[conv].init, Init::HeNormal { fan_in: 27 });
        let bn = p.of("bn");
        assert_eq!(p.tensors[bn.moving_variance.unwrap()].init, Init::Ones);
    }
}
