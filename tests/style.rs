//! `cnn::style` on a committed PyTorch fixture (scripts/make_style_fixture.py):
//! a small VGG-like network declared here with torchvision's `features.N`
//! names and loaded from its `state_dict`; the course's content and style
//! costs and their gradients with respect to the picture against
//! PyTorch's (float64) within 1e-4 relative, and against central
//! differences; then the transfer loop on it with Adam and with L-BFGS.

use std::path::{Path, PathBuf};

use cnn::prelude::*;
use cnn::style::{self, Extractor, Init, Method, Transfer};

network! {
    /// The fixture's network: PyTorch's `features` Sequential, 3x3
    /// convolutions with padding 1, ReLU, max pooling.
    struct Fixture {
        input: [64, 64, 3],
        layers: [
            features: Sequential { layers: [
                Conv2d { filters: 8, kernel: 3, padding: 1 }, Relu,
                Conv2d { filters: 8, kernel: 3, padding: 1 }, Relu,
                MaxPool2d { size: 2 },
                Conv2d { filters: 16, kernel: 3, padding: 1 }, Relu,
                Conv2d { filters: 16, kernel: 3, padding: 1 }, Relu,
                MaxPool2d { size: 2 },
                Conv2d { filters: 32, kernel: 3, padding: 1 }, Relu,
            ] },
        ],
        taps: [features.8, features.1, features.6, features.11],
    }
}
cnn::style_extractor!(Fixture);

const CONTENT: &str = "features.8";
const STYLE: [(&str, f32); 3] = [
    ("features.1", 0.5),
    ("features.6", 0.3),
    ("features.11", 0.2),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/style")
        .join(name)
}

fn net() -> Fixture {
    let mut net = Fixture::new(0);
    net.load_pytorch(fixture("net.safetensors"), |k| Some(k.to_string()))
        .unwrap();
    net
}

fn tensor(name: &str) -> Vec<f32> {
    let file = cnn::io::load(&fixture("costs.safetensors")).unwrap();
    file.tensor_f32(name).unwrap().1
}

/// `J_content`, `J_style` and their gradients with respect to the picture
/// `g`, through the extractor.
fn costs(net: &mut Fixture, content: &[f32], style_pic: &[f32], g: &[f32]) -> [(f32, Vec<f32>); 2] {
    let taps = [CONTENT, STYLE[0].0, STYLE[1].0, STYLE[2].0];
    let mut bufs = vec![Vec::new(); 4];
    let mut target_c = Vec::new();
    net.run(
        content,
        &taps,
        &mut bufs,
        &mut |a, _| {
            target_c = a[0].to_vec();
            Ok(0.0)
        },
        None,
    )
    .unwrap();
    let mut targets = style::StyleTargets::new();
    net.run(
        style_pic,
        &taps,
        &mut bufs,
        &mut |a, _| {
            for (k, (name, w)) in STYLE.iter().enumerate() {
                targets.add(name, *w, a[k + 1], net_shape(name))?;
            }
            Ok(0.0)
        },
        None,
    )
    .unwrap();
    let mut out = Vec::new();
    for which in 0..2 {
        let mut dx = vec![0.0; g.len()];
        let j = net
            .run(
                g,
                &taps,
                &mut bufs,
                &mut |a, grads| {
                    grads.iter_mut().for_each(|b| b.fill(0.0));
                    if which == 0 {
                        style::content_cost(&target_c, a[0], net_shape(CONTENT), &mut grads[0])
                    } else {
                        let (first, rest) = grads.split_at_mut(1);
                        let _ = first;
                        let mut views: Vec<&mut [f32]> =
                            rest.iter_mut().map(|v| v.as_mut_slice()).collect();
                        targets.cost(&a[1..], &mut views)
                    }
                },
                Some(&mut dx),
            )
            .unwrap();
        out.push((j, dx));
    }
    let s = out.pop().unwrap();
    let c = out.pop().unwrap();
    [c, s]
}

fn net_shape(name: &str) -> [usize; 3] {
    Fixture::new(0).tap_shape(name).unwrap()
}

/// `|got - want| <= rel * max |want|` element by element, and the scale
/// itself not zero.
fn assert_rel(what: &str, got: &[f32], want: &[f32], rel: f32) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "{what}: all zero");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= rel * scale,
        "{what}: worst difference {worst} against scale {scale}"
    );
}

#[test]
fn costs_and_picture_gradients_match_pytorch() {
    let mut net = net();
    let (c, s, g) = (tensor("content"), tensor("style"), tensor("generated"));
    let [(jc, dc), (js, ds)] = costs(&mut net, &c, &s, &g);
    let rel = |a: f32, b: f32| (a - b).abs() / b.abs();
    let (want_c, want_s) = (tensor("j_content")[0], tensor("j_style")[0]);
    assert!(rel(jc, want_c) < 1e-4, "J_content {jc} against {want_c}");
    assert!(rel(js, want_s) < 1e-4, "J_style {js} against {want_s}");
    let want_total = tensor("j_total")[0];
    assert!(rel(10.0 * jc + 40.0 * js, want_total) < 1e-4);
    assert_rel("dJ_content/dG", &dc, &tensor("grad_content"), 1e-4);
    assert_rel("dJ_style/dG", &ds, &tensor("grad_style"), 1e-4);
    let total: Vec<f32> = dc
        .iter()
        .zip(&ds)
        .map(|(a, b)| 10.0 * a + 40.0 * b)
        .collect();
    assert_rel("dJ/dG", &total, &tensor("grad_total"), 1e-4);
}

#[test]
fn the_style_gram_matrix_matches_pytorch() {
    let mut net = net();
    let s = tensor("style");
    let mut gram = Vec::new();
    let mut bufs = vec![Vec::new()];
    net.run(
        &s,
        &["features.1"],
        &mut bufs,
        &mut |a, _| {
            gram = vec![0.0; 64];
            style::gram(a[0], [64, 64, 8], &mut gram)?;
            Ok(0.0)
        },
        None,
    )
    .unwrap();
    assert_rel(
        "G(S) at features.1",
        &gram,
        &tensor("gram_style_features.1"),
        1e-5,
    );
}

#[test]
fn picture_gradients_match_central_differences() {
    let mut net = net();
    let (c, s, mut g) = (tensor("content"), tensor("style"), tensor("generated"));
    let [(_, dc), (_, ds)] = costs(&mut net, &c, &s, &g);
    // Steps of 1e-2 in f32 pictures: the costs move by ~1e-6 of their
    // size, well above float32 rounding of the sums (done in f64); a step
    // may cross a ReLU's or a max pool's kink, so the tolerance is 2%.
    let step = 1e-2f32;
    for (which, analytic) in [(0, &dc), (1, &ds)] {
        let scale = analytic.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let mut checked = 0;
        for i in (0..g.len()).step_by(997) {
            let orig = g[i];
            g[i] = orig + step;
            let up = costs(&mut net, &c, &s, &g)[which].0 as f64;
            g[i] = orig - step;
            let down = costs(&mut net, &c, &s, &g)[which].0 as f64;
            g[i] = orig;
            let numeric = ((up - down) / (2.0 * step as f64)) as f32;
            let err = (numeric - analytic[i]).abs();
            assert!(
                err <= 2e-2 * scale,
                "cost {which}, pixel {i}: analytic {}, numeric {numeric}",
                analytic[i]
            );
            checked += 1;
        }
        assert!(checked >= 12);
    }
}

fn transfer(method: Method) -> style::Outcome {
    let mut net = net();
    let (c, s) = (tensor("content"), tensor("style"));
    let mut settings = Transfer::course(CONTENT, &["features.1", "features.6", "features.11"]);
    settings.method = method;
    settings.init = Init::ContentPlusNoise(0.25);
    settings.alpha = 10.0;
    settings.beta = 4e4;
    settings.steps = 40;
    settings.report_every = 10;
    let mut snaps = Vec::new();
    let out = settings
        .run(&mut net, Some(&c), &s, &mut |step, _| {
            snaps.push(step);
            Ok(())
        })
        .unwrap();
    assert_eq!(snaps, [0, 40]);
    assert!(out.picture.iter().all(|v| (0.0..=1.0).contains(v)));
    // Start, every 10 steps, end.
    assert_eq!(
        out.history.iter().map(|c| c.step).collect::<Vec<_>>(),
        [0, 10, 20, 30, 40]
    );
    out
}

#[test]
fn transfer_with_adam_lowers_the_style_cost_tenfold() {
    let out = transfer(Method::Adam { lr: 0.02 });
    let (first, last) = (out.first(), out.last());
    assert!(last.style * 10.0 < first.style, "{first:?} -> {last:?}");
    assert!(last.total < first.total);
    assert_eq!(out.evals, 41);
}

#[test]
fn transfer_with_lbfgs_lowers_the_style_cost_tenfold() {
    let out = transfer(Method::Lbfgs { history: 10 });
    let (first, last) = (out.first(), out.last());
    assert!(last.style * 10.0 < first.style, "{first:?} -> {last:?}");
    assert!(
        out.history.windows(2).all(|w| w[1].total <= w[0].total),
        "{:?}",
        out.history
    );
}

#[test]
fn a_style_layer_that_is_no_tap_is_an_error() {
    let mut net = net();
    let (c, s) = (tensor("content"), tensor("style"));
    let settings = Transfer::course(CONTENT, &["features.3"]);
    let err = settings
        .run(&mut net, Some(&c), &s, &mut |_, _| Ok(()))
        .unwrap_err();
    assert!(err.to_string().contains("no tap `features.3`"), "{err}");
    let err = Transfer::course(CONTENT, &["features.1"])
        .run(&mut net, None, &s, &mut |_, _| Ok(()))
        .unwrap_err();
    assert!(err.to_string().contains("content picture"), "{err}");
}
