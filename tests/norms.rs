//! GroupNorm, LayerNorm, Gate and Scale through the whole pipeline:
//! parameter counts and names, the generated backward against central
//! differences (gradients through both of a gate's factors, through norms
//! and scales frozen in the declaration and at run time), training and inference computing the
//! same thing, `GRAPH` against `predict`, and PyTorch's numbers
//! (`scripts/make_norms_fixture.py`: `nn.GroupNorm`, ConvNeXt's
//! channels-last `nn.LayerNorm`, torchvision's `SqueezeExcitation`).

use std::path::PathBuf;

use crate::common::{images, labels, vectors};
use cnn::ndarray::Array4;
use cnn::pass::Mode;
use cnn::prelude::*;

network! {
    /// Every new kind on images: group norm (2 groups; one group a
    /// channel), layer norm per position, a squeeze-and-excitation gate
    /// with dense layers, an element-wise gate, a gate whose body starts
    /// with an activation (which must not overwrite the shared input), and
    /// a layer norm on a flat vector; a learnt per-channel scale after the
    /// layer norm (ConvNeXt's layer scale).
    struct Norms {
        input: [5, 4, 3],
        layers: [
            c1: Conv2d { filters: 4, kernel: 3, padding: same },
            gn: GroupNorm { groups: 2 },
            Relu,
            se: Gate { body: [GlobalAvgPool, fc1: Dense { units: 2 }, Relu, fc2: Dense { units: 4 }, Sigmoid] },
            c2: Conv2d { filters: 6, kernel: 3, stride: 2, padding: 1 },
            ln: LayerNorm { epsilon: 0.000001 },
            ls: Scale { init: 0.5 },
            sa: Gate { body: [sc: Conv2d { filters: 6, kernel: 1 }, Sigmoid] },
            inst: GroupNorm { groups: 6 },
            silu: Gate { body: [Sigmoid] },
            Flatten,
            d1: Dense { units: 5 },
            ln2: LayerNorm,
            Tanh,
            d2: Dense { units: 3 },
            Softmax,
        ],
    }

    /// Torchvision's squeeze-and-excitation, its `fc1`, `fc2` as 1x1
    /// convolutions after a pool to 1x1xc; norms frozen in the declaration.
    struct Frozen {
        input: [4, 4, 2],
        layers: [
            c1: Conv2d { filters: 4, kernel: 3, padding: same },
            gn: GroupNorm { groups: 2, trainable: false },
            Relu,
            se: Gate { body: [
                AvgPool2d { size: 4 },
                fc1: Conv2d { filters: 2, kernel: 1 },
                Relu,
                fc2: Conv2d { filters: 4, kernel: 1 },
                Sigmoid,
            ] },
            ln: LayerNorm { trainable: false },
            ls: Scale { trainable: false },
            Flatten,
            d: Dense { units: 3 },
            Softmax,
        ],
    }

    /// Flat input: group norm over features, a scale per feature, a gate
    /// on a vector, and a gate whose body is the identity in training too
    /// (`x * x`).
    struct Flat {
        input: [8],
        layers: [
            d1: Dense { units: 6 },
            gn: GroupNorm { groups: 3 },
            fs: Scale { init: -0.75 },
            g: Gate { body: [gd: Dense { units: 6 }, Sigmoid] },
            sq: Gate { body: [Dropout { rate: 0.0 }] },
            d2: Dense { units: 3 },
            Softmax,
        ],
    }
}

network! {
    /// A squeeze-and-excitation template, as torchvision's, used in stages.
    block Se(c, squeeze) = [
        Gate { body: [
            GlobalAvgPool,
            fc1: Dense { units: squeeze },
            Relu,
            fc2: Dense { units: c },
            Sigmoid,
        ] },
    ];
    block Unit(c) = [
        conv: Conv2d { filters: c, kernel: 3, padding: same },
        gn: GroupNorm { groups: c / 2 },
        Relu,
        // An unnamed gate in a template adds no level: `se.fc1`.
        se: Se { c: c, squeeze: c / 4 },
    ];

    struct Templated {
        input: [6, 6, 8],
        layers: [
            stage: Stage { block: Unit { c: 8 }, repeat: 2 },
            GlobalAvgPool,
            fc: Dense { units: 3 },
            Softmax,
        ],
    }
}

const UNIT: usize = (3 * 3 * 8 * 8 + 8) + 2 * 8 + (8 * 2 + 2) + (2 * 8 + 8);
const _: () = assert!(Templated::PARAMS == 2 * UNIT + 8 * 3 + 3);

#[test]
fn templates_name_the_gate_s_layers() {
    let names: Vec<&str> = Templated::TENSORS.iter().map(|t| t.name).collect();
    for name in [
        "stage.0.gn.gamma",
        "stage.1.se.fc1.weight",
        "stage.1.se.fc2.bias",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
}

#[test]
fn parameters_are_gamma_and_beta_per_channel() {
    let gn = Norms::TENSORS
        .iter()
        .find(|t| t.name == "gn.gamma")
        .unwrap();
    assert_eq!((gn.shape, gn.trainable), (&[4][..], true));
    assert!(Norms::TENSORS.iter().any(|t| t.name == "ln.beta"));
    assert!(Norms::TENSORS.iter().any(|t| t.name == "se.fc1.weight"));
    assert!(Norms::TENSORS.iter().any(|t| t.name == "sa.sc.weight"));
    // conv 3*3*3*4+4, gn 8, se 4*2+2 + 2*4+4, c2 3*3*4*6+6, ln 12, ls 6,
    // sa 6*6+6, inst 12, d1 (3*2*6)*5+5, ln2 10, d2 5*3+3.
    let want = 112 + 8 + 22 + 222 + 12 + 6 + 42 + 12 + 185 + 10 + 18;
    assert_eq!((Norms::PARAMS, Norms::TRAINABLE_PARAMS), (want, want));
    // A scale: one tensor named after the layer, `[c]`, starting at init.
    let ls = Norms::TENSORS.iter().find(|t| t.layer == "ls").unwrap();
    assert_eq!((ls.name, ls.shape, ls.trainable), ("ls", &[6][..], true));
    assert_eq!(ls.init, cnn::net::Init::Constant { value: 0.5 });
    let net = Flat::new(0);
    assert_eq!(net.tensor("fs").unwrap(), [-0.75; 6]);
    // Frozen norms and scale: non-trainable, after the trainable tensors.
    assert_eq!(Frozen::PARAMS - Frozen::TRAINABLE_PARAMS, 8 + 8 + 4);
    let text = Norms::summary().to_string();
    assert!(text.contains("gn (GroupNorm)"), "{text}");
    assert!(text.contains("ln (LayerNorm)"), "{text}");
    assert!(text.contains("ls (Scale)"), "{text}");
    assert!(text.contains("se (Gate)"), "{text}");
}

/// Checks up to six elements of every trainable tensor of `net` (the
/// tensors of `frozen` layers excepted) on `x` by central differences
/// (`assert_param_grads!`); returns how many.
macro_rules! check_net {
    ($net:ident: $ty:ty, $x:expr, $frozen:expr) => {{
        let x = $x;
        let y = labels(x.shape()[0], <$ty>::OUTPUT_SIZE);
        crate::assert_param_grads!($net: $ty, x, y, 0, $frozen)
    }};
}

#[test]
fn gradients_match_central_differences() {
    let mut net = Norms::new(1);
    let checked = check_net!(net: Norms, images(3, 5, 4, 3, 2), &[]);
    assert!(checked >= 80, "{checked} elements checked");
    let mut net = Flat::new(3);
    let checked = check_net!(net: Flat, vectors(4, 8, 4), &[]);
    assert!(checked >= 20, "{checked} elements checked");
}

#[test]
fn gradients_pass_through_frozen_norms() {
    let mut net = Frozen::new(5);
    let checked = check_net!(net: Frozen, images(3, 4, 4, 2, 6), &[]);
    // c1 (weight, bias), fc1, fc2 (weight, bias), d (weight, bias).
    assert!(checked >= 30, "{checked} elements checked");
    // Frozen at run time: no gradient for the layer, the rest as before.
    let mut net = Norms::new(7);
    net.freeze("ln").unwrap();
    net.freeze("gn").unwrap();
    net.freeze("ls").unwrap();
    let checked = check_net!(net: Norms, images(2, 5, 4, 3, 8), &["ln", "gn", "ls"]);
    assert!(checked >= 60, "{checked} elements checked");
}

#[test]
fn training_and_inference_compute_the_same() {
    let mut net = Norms::new(9);
    let x = images(4, 5, 4, 3, 10);
    let infer = net
        .forward(x.view(), Mode::Infer)
        .unwrap()
        .output()
        .to_owned();
    let train = net
        .forward(x.view(), Mode::Train)
        .unwrap()
        .output()
        .to_owned();
    let predicted = net.predict(x.view()).unwrap();
    for ((a, b), c) in infer.iter().zip(train.iter()).zip(predicted.iter()) {
        assert!(
            (a - b).abs() <= 1e-6 && (a - c).abs() <= 1e-6,
            "{a} {b} {c}"
        );
    }
}

#[test]
fn the_graph_computes_what_predict_computes() {
    let net = Norms::new(11);
    let x = images(3, 5, 4, 3, 12);
    let want = net.predict(x.view()).unwrap();
    let got = Norms::GRAPH
        .run(Norms::TENSORS, net.params(), 3, x.as_slice().unwrap())
        .unwrap();
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(want.iter()) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
    let net = Frozen::new(13);
    let x = images(2, 4, 4, 2, 14);
    let want = net.predict(x.view()).unwrap();
    let got = Frozen::GRAPH
        .run(Frozen::TENSORS, net.params(), 2, x.as_slice().unwrap())
        .unwrap();
    for (a, b) in got.iter().zip(want.iter()) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
}

network! {
    /// `Net` of make_norms_fixture.py, in our names.
    struct Torch {
        input: [6, 5, 4],
        layers: [
            conv1: Conv2d { filters: 8, kernel: 3, padding: 1 },
            gn: GroupNorm { groups: 4 },
            Relu,
            se: Gate { body: [
                AvgPool2d { size: [6, 5] },
                fc1: Conv2d { filters: 2, kernel: 1 },
                Relu,
                fc2: Conv2d { filters: 8, kernel: 1 },
                Sigmoid,
            ] },
            ln: LayerNorm { epsilon: 0.000001 },
            Flatten,
            fc: Dense { units: 3 },
        ],
    }
}

fn fixture(name: &str) -> PathBuf {
    crate::common::fixture("norms", name)
}

/// `|ours - theirs| <= 1e-5 * (1 + |theirs|)`, element by element.
fn assert_matches(what: &str, ours: &[f32], theirs: &[f32]) {
    crate::common::assert_close(what, ours, theirs, 1e-5);
}

#[test]
fn outputs_and_gradients_match_pytorch() {
    let mut net = Torch::new(1);
    // PyTorch's names are ours: `gn.weight` -> `gn.gamma`, `se.fc1.weight`.
    let report = net
        .load_pytorch(fixture("state_dict.safetensors"), |k| Some(k.to_string()))
        .unwrap();
    assert!(report.is_complete(), "{report}");
    let file = cnn::io::load(&fixture("grads.safetensors")).unwrap();
    let get = |name: &str| file.tensor(name).unwrap();
    let (shape, x) = get("x");
    let x = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), x).unwrap();
    let predicted = net.predict(x.view()).unwrap();
    assert_matches("predict", predicted.as_slice().unwrap(), &get("output").1);
    crate::common::assert_mse_pass(net.forward(x.view(), Mode::Train).unwrap(), &file, 1e-5);
    for t in Torch::TENSORS.iter().filter(|t| t.trainable) {
        assert_matches(t.name, &net.grads()[t.range()], &get(t.name).1);
    }
}

/// ONNX out and back in (feature `onnx`); ONNX Runtime runs the exports
/// in `scripts/onnx_check.py` (`onnx_export`'s `norms` and `norms_flat`).
#[cfg(feature = "onnx")]
mod onnx {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("norms-{}-{name}", std::process::id()))
    }

    /// Gamma, beta and scales away from ones and zeros, so that a tensor read
    /// back wrong shows.
    fn stir(params: &mut [f32], tensors: &[cnn::net::TensorInfo]) {
        for t in tensors {
            let v = &mut params[t.range()];
            if t.name.ends_with("gamma") {
                v.iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = 0.6 + 0.1 * i as f32);
            } else if t.name.ends_with("beta") {
                v.iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = 0.05 * i as f32 - 0.1);
            } else if t.name == t.layer {
                // A scale's factors.
                v.iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = 0.3 + 0.2 * i as f32);
            }
        }
    }

    #[test]
    fn norms_and_gates_come_back_from_their_own_export() {
        let mut net = Norms::new(21);
        stir(net.params_mut(), Norms::TENSORS);
        let path = temp("norms.onnx");
        net.export_onnx(&path).unwrap();
        let back = Norms::from_onnx(&path).unwrap();
        for t in Norms::TENSORS {
            assert_eq!(back.tensor(t.name), net.tensor(t.name), "{}", t.name);
        }
        let x = images(3, 5, 4, 3, 22);
        assert_eq!(
            back.predict(x.view()).unwrap(),
            net.predict(x.view()).unwrap()
        );
        let mut flat = Flat::new(23);
        stir(flat.params_mut(), Flat::TENSORS);
        flat.export_onnx(&path).unwrap();
        let back = Flat::from_onnx(&path).unwrap();
        assert_eq!(back.params(), flat.params());
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn pytorchs_export_reproduces_pytorch() {
        let net = Torch::from_onnx(fixture("model.onnx")).unwrap();
        let file = cnn::io::load(&fixture("grads.safetensors")).unwrap();
        let (shape, x) = file.tensor("x").unwrap();
        let x = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), x).unwrap();
        let predicted = net.predict(x.view()).unwrap();
        assert_matches(
            "predict",
            predicted.as_slice().unwrap(),
            &file.tensor("output").unwrap().1,
        );
    }

    #[test]
    fn a_norm_of_another_kind_is_an_error_naming_node_and_layer() {
        network! {
            struct LayerWhereGroup {
                input: [6, 5, 4],
                layers: [
                    conv1: Conv2d { filters: 8, kernel: 3, padding: 1 },
                    gn: LayerNorm,
                    Relu,
                    Flatten,
                    fc: Dense { units: 3 },
                ],
            }
        }
        let Err(e) = LayerWhereGroup::from_onnx(fixture("model.onnx")) else {
            panic!("a layer norm loaded from a group norm");
        };
        let text = e.to_string();
        assert!(
            text.contains("a InstanceNormalization where the declaration has gn, a layer norm"),
            "{text}"
        );
    }

    #[test]
    fn another_norm_epsilon_is_an_error() {
        network! {
            struct OtherEpsilon {
                input: [6, 5, 4],
                layers: [
                    conv1: Conv2d { filters: 8, kernel: 3, padding: 1 },
                    gn: GroupNorm { groups: 4 },
                    Relu,
                    se: Gate { body: [
                        AvgPool2d { size: [6, 5] },
                        fc1: Conv2d { filters: 2, kernel: 1 },
                        Relu,
                        fc2: Conv2d { filters: 8, kernel: 1 },
                        Sigmoid,
                    ] },
                    ln: LayerNorm,
                    Flatten,
                    fc: Dense { units: 3 },
                ],
            }
        }
        let Err(e) = OtherEpsilon::from_onnx(fixture("model.onnx")) else {
            panic!("a layer norm with another epsilon loaded");
        };
        let text = e.to_string();
        assert!(text.contains("epsilon 1e-6 where ln has 1e-5"), "{text}");
        assert!(text.contains("`epsilon: 0.000001`"), "{text}");
    }
}
