//! A generated network's `predict` against the same composition of the
//! kernels' slow reference implementations, with the same weights: this
//! checks the fused code (convolution + folded batch norm + activation in
//! one call, dense + activation) layer by layer in meaning, plus the
//! boundary (non-contiguous views, batches split into chunks).

use crate::common::{images, labels, random, LeNet5};
use cnn::ndarray::{s, Array2, Array4, Axis};
use cnn::network;
use cnn::{Act, Conv2dGeom, Padding, PoolGeom};
use cnn_runtime::layers::conv2d::{self, Epilogue};
use cnn_runtime::layers::{activation, dense, pool};
use cnn_runtime::testing::assert_close;

network! {
    /// Strided, padded, `same`, non-square and rectangular-stride
    /// convolutions; batch norm after a convolution (folded into it) and
    /// after a dense layer; every activation; max and `same`-padded average
    /// pooling; dropout (off at inference).
    struct Mixed {
        input: [11, 10, 3],
        layers: [
            c1: Conv2d { filters: 4, kernel: 3, stride: 2, padding: 1 },
            bn1: BatchNorm,
            Relu,
            c2: Conv2d { filters: 5, kernel: [3, 2], padding: same },
            LeakyRelu { alpha: 0.2 },
            MaxPool2d { size: 2, stride: 1 },
            c3: Conv2d { filters: 4, kernel: 2, stride: [1, 2], bias: false },
            Tanh,
            AvgPool2d { size: 3, stride: 2, padding: same },
            Flatten,
            d1: Dense { units: 7 },
            bn2: BatchNorm { epsilon: 0.01 },
            Sigmoid,
            Dropout { rate: 0.5 },
            d2: Dense { units: 4 },
            Softmax,
        ],
    }
}

network! {
    /// Batch norm folded into a convolution with no activation after it,
    /// global pooling, and no final Softmax (predict returns the outputs).
    struct Global {
        input: [7, 7, 2],
        layers: [
            c: Conv2d { filters: 3, kernel: 3, padding: same },
            bn: BatchNorm,
            GlobalAvgPool,
            d: Dense { units: 3 },
            Relu,
        ],
    }
}

network! {
    /// Blocks at inference: an identity residual whose body starts with an
    /// activation (which must leave the shortcut's input alone), a
    /// projection residual, an auxiliary head (skipped), a concatenation.
    struct BlockNet {
        input: [5, 5, 2],
        layers: [
            c0: Conv2d { filters: 3, kernel: 3, padding: same },
            res: Residual { body: [Tanh, b1: Conv2d { filters: 3, kernel: 3, padding: same }, bn: BatchNorm] },
            Relu,
            proj: Residual {
                body: [p1: Conv2d { filters: 4, kernel: 3, stride: 2, padding: 1 }, Tanh],
                shortcut: [ps: Conv2d { filters: 4, kernel: 1, stride: 2 }],
            },
            aux: AuxHead { weight: 0.3, layers: [Flatten, ad: Dense { units: 3 }, Softmax] },
            inc: Concat {
                branches: [
                    [i1: Conv2d { filters: 2, kernel: 1 }, Sigmoid],
                    [MaxPool2d { size: 3, stride: 1, padding: same }],
                ],
            },
            GlobalAvgPool,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

network! {
    /// A flat network with an auxiliary head.
    struct WithAux {
        input: [4],
        layers: [
            d1: Dense { units: 5 },
            Relu,
            aux: AuxHead { weight: 0.5, layers: [ad: Dense { units: 3 }, Softmax] },
            d2: Dense { units: 3 },
            Softmax,
        ],
    }
}

network! {
    /// A transposed convolution with a batch norm folded into it and a
    /// fused activation, bilinear and nearest upsampling, a grouped
    /// transposed convolution without bias.
    struct Grow {
        input: [5, 4, 3],
        layers: [
            t1: ConvTranspose2d { filters: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1 },
            bn: BatchNorm,
            Relu,
            Upsample { scale: 2, mode: bilinear },
            Upsample { scale: [1, 2] },
            t2: ConvTranspose2d { filters: 2, kernel: 2, stride: 2, groups: 2, bias: false },
        ],
    }
}

/// Gives every batch norm random gamma, beta and moving statistics.
fn perturb_batch_norms(params: &mut [f32], tensors: &[cnn::net::TensorInfo]) {
    for (k, t) in tensors.iter().enumerate() {
        let r = random(t.len, 100 + k as u64);
        let v = &mut params[t.range()];
        match t.name.rsplit('.').next().unwrap() {
            "gamma" => v.iter_mut().zip(&r).for_each(|(v, r)| *v = 1.0 + 0.5 * r),
            "beta" | "moving_mean" => v.iter_mut().zip(&r).for_each(|(v, r)| *v = 0.3 * r),
            "moving_variance" => v.iter_mut().zip(&r).for_each(|(v, r)| *v = 0.5 + 0.4 * r),
            _ => {}
        }
    }
}

fn conv(
    g: &Conv2dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    act: Act,
) -> Vec<f32> {
    let mut y = vec![f32::NAN; batch * g.out_len()];
    let ep = Epilogue {
        bias: b,
        affine: None,
        act,
    };
    conv2d::reference::forward(g, 1, batch, x, w, &ep, &mut y);
    y
}

/// Inference batch norm by its definition, over the last axis.
fn batch_norm(x: &[f32], c: usize, t: impl Fn(&str) -> Vec<f32>, eps: f32) -> Vec<f32> {
    let (g, b, m, v) = (
        t("gamma"),
        t("beta"),
        t("moving_mean"),
        t("moving_variance"),
    );
    x.iter()
        .enumerate()
        .map(|(i, &x)| {
            let k = i % c;
            (g[k] as f64 * (x as f64 - m[k] as f64) / (v[k] as f64 + eps as f64).sqrt()
                + b[k] as f64) as f32
        })
        .collect()
}

fn act(a: Act, x: Vec<f32>) -> Vec<f32> {
    x.into_iter()
        .map(|v| activation::reference::apply(a, v))
        .collect()
}

#[test]
fn mixed_network_matches_the_reference_composition() {
    let mut net = Mixed::new(3);
    perturb_batch_norms(net.params_mut(), Mixed::TENSORS);
    let n = 3;
    let x = images(n, 11, 10, 3, 4);
    let got = net.predict(x.view()).unwrap();

    let t = |name: &str| net.tensor(name).unwrap().to_vec();
    let g1 = Conv2dGeom::new([11, 10, 3], 4, [3, 3], [2, 2], Padding::Explicit(1)).unwrap();
    let h = conv(
        &g1,
        n,
        x.as_slice().unwrap(),
        &t("c1.weight"),
        Some(&t("c1.bias")),
        Act::Identity,
    );
    let h = act(
        Act::Relu,
        batch_norm(&h, 4, |k| t(&format!("bn1.{k}")), 1e-3),
    );
    let g2 = Conv2dGeom::new([6, 5, 4], 5, [3, 2], [1, 1], Padding::Same).unwrap();
    let h = conv(
        &g2,
        n,
        &h,
        &t("c2.weight"),
        Some(&t("c2.bias")),
        Act::LeakyRelu(0.2),
    );
    let p1 = PoolGeom::new([6, 5, 5], [2, 2], [1, 1], Padding::Valid).unwrap();
    let (h, _) = pool::reference::max_forward(&p1, n, &h);
    let g3 = Conv2dGeom::new([5, 4, 5], 4, [2, 2], [1, 2], Padding::Valid).unwrap();
    let h = conv(&g3, n, &h, &t("c3.weight"), None, Act::Tanh);
    let p2 = PoolGeom::new([g3.out_h, g3.out_w, 4], [3, 3], [2, 2], Padding::Same).unwrap();
    let h = pool::reference::avg_forward(&p2, n, &h);
    let flat = p2.out_len();
    let h = dense::reference::forward(
        n,
        flat,
        7,
        &h,
        &t("d1.weight"),
        Some(&t("d1.bias")),
        Act::Identity,
    );
    let h = act(
        Act::Sigmoid,
        batch_norm(&h, 7, |k| t(&format!("bn2.{k}")), 0.01),
    );
    let h = dense::reference::forward(
        n,
        7,
        4,
        &h,
        &t("d2.weight"),
        Some(&t("d2.bias")),
        Act::Identity,
    );
    let want = activation::reference::softmax(n, 4, &h);

    assert_eq!(got.shape(), [n, 4]);
    assert_close(got.as_slice().unwrap(), &want, 1e-4, 1e-6);
}

#[test]
fn folded_batch_norm_without_activation_and_raw_outputs() {
    let mut net = Global::new(5);
    perturb_batch_norms(net.params_mut(), Global::TENSORS);
    let n = 4;
    let x = images(n, 7, 7, 2, 6);
    let got = net.predict(x.view()).unwrap();

    let t = |name: &str| net.tensor(name).unwrap().to_vec();
    let g = Conv2dGeom::new([7, 7, 2], 3, [3, 3], [1, 1], Padding::Same).unwrap();
    let h = conv(
        &g,
        n,
        x.as_slice().unwrap(),
        &t("c.weight"),
        Some(&t("c.bias")),
        Act::Identity,
    );
    let h = batch_norm(&h, 3, |k| t(&format!("bn.{k}")), 1e-3);
    let h = pool::reference::global_avg_forward(n, 49, 3, &h);
    let want =
        dense::reference::forward(n, 3, 3, &h, &t("d.weight"), Some(&t("d.bias")), Act::Relu);
    assert_close(got.as_slice().unwrap(), &want, 1e-4, 1e-6);
}

#[test]
fn transposed_convolutions_and_upsampling_match_the_reference_composition() {
    use cnn::{ConvTranspose2dGeom, Interpolation, UpsampleGeom};
    use cnn_runtime::layers::{conv_transpose, upsample};
    let mut net = Grow::new(8);
    perturb_batch_norms(net.params_mut(), Grow::TENSORS);
    let n = 3;
    let x = images(n, 5, 4, 3, 9);
    let got = net.predict(x.view()).unwrap();

    let t = |name: &str| net.tensor(name).unwrap().to_vec();
    // (5 - 1)*2 - 2 + 2 + 1 + 1 = 10 rows, 8 columns.
    let g1 =
        ConvTranspose2dGeom::new([5, 4, 3], 4, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1]).unwrap();
    let bias = t("t1.bias");
    let ep = Epilogue::new(Some(&bias), Act::Identity);
    let mut h = vec![f32::NAN; n * g1.out_len()];
    conv_transpose::reference::forward(
        &g1,
        1,
        n,
        x.as_slice().unwrap(),
        &t("t1.weight"),
        &ep,
        &mut h,
    );
    let h = act(
        Act::Relu,
        batch_norm(&h, 4, |k| t(&format!("bn.{k}")), 1e-3),
    );
    let up = |h: &[f32], in_h, in_w, sh, sw, mode| {
        let g = UpsampleGeom {
            in_h,
            in_w,
            c: 4,
            sh,
            sw,
            mode,
        };
        let mut y = vec![f32::NAN; n * g.out_len()];
        upsample::reference::forward(&g, n, h, &mut y);
        y
    };
    let h = up(&h, 10, 8, 2, 2, Interpolation::Bilinear);
    let h = up(&h, 20, 16, 1, 2, Interpolation::Nearest);
    let g2 =
        ConvTranspose2dGeom::new([20, 32, 4], 2, [2, 2], [2, 2], [0, 0], [0, 0], [1, 1]).unwrap();
    let mut want = vec![f32::NAN; n * g2.out_len()];
    conv_transpose::reference::forward(&g2, 2, n, &h, &t("t2.weight"), &Epilogue::NONE, &mut want);
    assert_eq!(Grow::OUTPUT_SIZE, 40 * 64 * 2);
    assert_close(got.as_slice().unwrap(), &want, 1e-4, 1e-5);
}

#[test]
fn blocks_match_the_reference_composition() {
    let mut net = BlockNet::new(21);
    perturb_batch_norms(net.params_mut(), BlockNet::TENSORS);
    let n = 3;
    let x = images(n, 5, 5, 2, 22);
    let got = net.predict(x.view()).unwrap();

    let t = |name: &str| net.tensor(name).unwrap().to_vec();
    let same3 =
        |c_in, c_out| Conv2dGeom::new([5, 5, c_in], c_out, [3, 3], [1, 1], Padding::Same).unwrap();
    let h0 = conv(
        &same3(2, 3),
        n,
        x.as_slice().unwrap(),
        &t("c0.weight"),
        Some(&t("c0.bias")),
        Act::Identity,
    );
    let u = conv(
        &same3(3, 3),
        n,
        &act(Act::Tanh, h0.clone()),
        &t("res.b1.weight"),
        Some(&t("res.b1.bias")),
        Act::Identity,
    );
    let v = batch_norm(&u, 3, |k| t(&format!("res.bn.{k}")), 1e-3);
    let r = act(Act::Relu, v.iter().zip(&h0).map(|(a, b)| a + b).collect());
    let g1 = Conv2dGeom::new([5, 5, 3], 4, [3, 3], [2, 2], Padding::Explicit(1)).unwrap();
    let p = conv(
        &g1,
        n,
        &r,
        &t("proj.p1.weight"),
        Some(&t("proj.p1.bias")),
        Act::Tanh,
    );
    let gs = Conv2dGeom::new([5, 5, 3], 4, [1, 1], [2, 2], Padding::Valid).unwrap();
    let q_short = conv(
        &gs,
        n,
        &r,
        &t("proj.ps.weight"),
        Some(&t("proj.ps.bias")),
        Act::Identity,
    );
    let q: Vec<f32> = p.iter().zip(&q_short).map(|(a, b)| a + b).collect();
    let gi = Conv2dGeom::new([3, 3, 4], 2, [1, 1], [1, 1], Padding::Valid).unwrap();
    let i1 = conv(
        &gi,
        n,
        &q,
        &t("inc.i1.weight"),
        Some(&t("inc.i1.bias")),
        Act::Sigmoid,
    );
    let pm = PoolGeom::new([3, 3, 4], [3, 3], [1, 1], Padding::Same).unwrap();
    let (m, _) = pool::reference::max_forward(&pm, n, &q);
    let cat = cnn_runtime::layers::merge::reference::concat(n * 9, &[(&i1, 2), (&m, 4)]);
    let g = pool::reference::global_avg_forward(n, 9, 6, &cat);
    let h = dense::reference::forward(
        n,
        6,
        3,
        &g,
        &t("d.weight"),
        Some(&t("d.bias")),
        Act::Identity,
    );
    let want = activation::reference::softmax(n, 3, &h);
    assert_close(got.as_slice().unwrap(), &want, 1e-4, 1e-6);
}

#[test]
fn lenet5_matches_the_reference_composition() {
    let net = LeNet5::new(8);
    let n = 2;
    let x = images(n, 32, 32, 1, 9);
    let t = |name: &str| net.tensor(name).unwrap().to_vec();
    let g1 = Conv2dGeom::new([32, 32, 1], 6, [5, 5], [1, 1], Padding::Valid).unwrap();
    let h = conv(
        &g1,
        n,
        x.as_slice().unwrap(),
        &t("conv1.weight"),
        Some(&t("conv1.bias")),
        Act::Relu,
    );
    let (h, _) = pool::reference::max_forward(
        &PoolGeom::new([28, 28, 6], [2, 2], [2, 2], Padding::Valid).unwrap(),
        n,
        &h,
    );
    let g2 = Conv2dGeom::new([14, 14, 6], 16, [5, 5], [1, 1], Padding::Valid).unwrap();
    let h = conv(
        &g2,
        n,
        &h,
        &t("conv2.weight"),
        Some(&t("conv2.bias")),
        Act::Relu,
    );
    let (h, _) = pool::reference::max_forward(
        &PoolGeom::new([10, 10, 16], [2, 2], [2, 2], Padding::Valid).unwrap(),
        n,
        &h,
    );
    let h = dense::reference::forward(
        n,
        400,
        120,
        &h,
        &t("fc3.weight"),
        Some(&t("fc3.bias")),
        Act::Relu,
    );
    let h = dense::reference::forward(
        n,
        120,
        84,
        &h,
        &t("fc4.weight"),
        Some(&t("fc4.bias")),
        Act::Relu,
    );
    let h = dense::reference::forward(
        n,
        84,
        10,
        &h,
        &t("fc5.weight"),
        Some(&t("fc5.bias")),
        Act::Identity,
    );
    let want = activation::reference::softmax(n, 10, &h);
    let got = net.predict(x.view()).unwrap();
    assert_close(got.as_slice().unwrap(), &want, 1e-4, 1e-6);
}

#[test]
fn training_loss_is_the_cross_entropy_of_the_predictions() {
    // LeNet-5 has no batch norm or dropout: training and inference agree.
    let mut net = LeNet5::new(10);
    let n = 6;
    let x = images(n, 32, 32, 1, 11);
    let y = labels(n, 10);
    let p = net.predict(x.view()).unwrap();
    let want = (0..n).map(|i| -(p[[i, y[i]]] as f64).ln()).sum::<f64>() / n as f64;
    let (loss, _) = net.loss_and_grads(x.view(), &y).unwrap();
    assert!(
        (loss as f64 - want).abs() < 1e-5 * want.max(1.0),
        "{loss} vs {want}"
    );
}

#[test]
fn non_contiguous_views_and_chunked_batches() {
    let net = Global::new(12);
    // 600 examples: more than one inference chunk (256).
    let x = images(600, 7, 7, 2, 13);
    let all = net.predict(x.view()).unwrap();
    let each: Vec<f32> = (0..600)
        .flat_map(|i| {
            net.predict(x.slice(s![i..i + 1, .., .., ..]))
                .unwrap()
                .into_raw_vec_and_offset()
                .0
        })
        .collect();
    // (Batches of one take the dense layer's matrix-vector path: same sums
    // in another order.)
    assert_close(all.as_slice().unwrap(), &each, 1e-5, 1e-6);
    // Every other example, in reverse order: a strided view.
    let view = x.slice(s![..;-2, .., .., ..]);
    let owned: Array4<f32> = view.to_owned();
    assert_eq!(
        net.predict(view).unwrap(),
        net.predict(owned.view()).unwrap()
    );
    // Channels-first data permuted to NHWC: no axis is contiguous.
    let nchw = Array4::from_shape_fn((3, 2, 7, 7), |(b, c, h, w)| x[[b, h, w, c]]);
    let nhwc = nchw.view().permuted_axes([0, 2, 3, 1]);
    let want: Array2<f32> = net.predict(x.slice(s![..3, .., .., ..])).unwrap();
    assert_eq!(net.predict(nhwc).unwrap(), want);
    assert_eq!(want.len_of(Axis(0)), 3);
}

#[test]
fn predict_from_many_threads() {
    let net = LeNet5::new(14);
    let x = images(5, 32, 32, 1, 15);
    let want = net.predict(x.view()).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert_eq!(net.predict(x.view()).unwrap(), want));
        }
    });
}

#[test]
fn auxiliary_losses_are_added_with_their_weight() {
    let mut net = WithAux::new(30);
    // A head that outputs zeros has loss ln 3 on every example.
    net.tensor_mut("aux.ad.weight").unwrap().fill(0.0);
    let x = crate::common::vectors(5, 4, 31);
    let y = labels(5, 3);
    let p = net.predict(x.view()).unwrap();
    assert_eq!(p.shape(), [5, 3], "the head is skipped at inference");
    let main = (0..5).map(|i| -(p[[i, y[i]]] as f64).ln()).sum::<f64>() / 5.0;
    let want = main + 0.5 * 3f64.ln();
    let (loss, _) = net.loss_and_grads(x.view(), &y).unwrap();
    assert!((loss as f64 - want).abs() < 1e-5, "{loss} vs {want}");
}
