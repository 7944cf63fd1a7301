//! Networks and data shared by the integration tests.

#![allow(dead_code)] // each test file uses some of these

use std::path::{Path, PathBuf};

use cnn::ndarray::{Array2, Array4};
use cnn::network;

network! {
    /// LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, as in docs/design.md.
    pub struct LeNet5 {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5 },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            conv2: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            Flatten,
            fc3: Dense { units: 120 },
            Relu,
            fc4: Dense { units: 84 },
            Relu,
            fc5: Dense { units: 10 },
            Softmax,
        ],
    }
}

/// Values uniform in [-1, 1), fixed by `seed`.
pub fn random(len: usize, seed: u64) -> Vec<f32> {
    cnn_runtime::testing::random(len, seed)
}

/// A batch `[n, h, w, c]` of random values.
pub fn images(n: usize, h: usize, w: usize, c: usize, seed: u64) -> Array4<f32> {
    Array4::from_shape_vec((n, h, w, c), random(n * h * w * c, seed)).unwrap()
}

/// A batch `[n, k]` of random values.
pub fn vectors(n: usize, k: usize, seed: u64) -> Array2<f32> {
    Array2::from_shape_vec((n, k), random(n * k, seed)).unwrap()
}

/// Labels `0..classes` in turn.
pub fn labels(n: usize, classes: usize) -> Vec<usize> {
    (0..n).map(|i| (i * 7 + 3) % classes).collect()
}

/// A separable 10-class problem for LeNet-5: class k is a bright 6x6
/// square at one of ten places on a dark, noisy 32x32 image.
pub fn squares(n: usize, seed: u64) -> (Array4<f32>, Vec<usize>) {
    let noise = random(n * 32 * 32, seed);
    let labels: Vec<usize> = (0..n).map(|i| (i * 3 + seed as usize) % 10).collect();
    let x = Array4::from_shape_fn((n, 32, 32, 1), |(b, h, w, _)| {
        let k = labels[b];
        let (top, left) = (2 + (k / 5) * 16, 1 + (k % 5) * 6);
        let inside = (top..top + 6).contains(&h) && (left..left + 6).contains(&w);
        0.1 * noise[(b * 32 + h) * 32 + w] + if inside { 1.0 } else { 0.0 }
    });
    (x, labels)
}

/// A directory of the test's own, `cnn-<name>-<process id>` under the
/// system's temporary directory: empty when made, and removed with all it
/// holds when dropped, so that a test leaves nothing in /tmp, also when it
/// fails. Tests that run at the same time need different names.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("cnn-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Nothing to do about a directory that cannot be removed.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `tests/fixtures/<dir>/<name>`: a committed fixture (each folder's
/// script is named in its test file).
pub fn fixture(dir: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name)
}

/// `|ours - theirs| <= tol * (1 + |theirs|)`, element by element; the
/// message names the first element that is not, and both values.
pub fn assert_close(what: &str, ours: &[f32], theirs: &[f32], tol: f32) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{what}[{i}]: ours {a}, pytorch {b}"
        );
    }
}

/// A held training pass against a PyTorch fixture: the pass's `output`,
/// then the mean squared error against `target` (`loss`) and the input's
/// gradient (`dx`), each within `tol` (see [`assert_close`]).
pub fn assert_mse_pass<N: cnn::pass::Held>(
    mut pass: cnn::pass::Pass<'_, N>,
    fixture: &cnn::io::Checkpoint,
    tol: f32,
) {
    let get = |name: &str| fixture.tensor(name).unwrap().1;
    let output = pass.output().as_slice().unwrap().to_vec();
    assert_close("output", &output, &get("output"), tol);
    let target = get("target");
    let loss = pass
        .backward_loss_with(&cnn::loss::Mse, cnn::loss::Target::Values(&target), true)
        .unwrap();
    assert_close("loss", &[loss], &get("loss"), tol);
    let dx = pass.input_grad().unwrap();
    assert_close("dx", dx.as_slice().unwrap(), &get("dx"), tol);
}

/// A network declared in PyTorch's names reproduces a PyTorch fixture
/// (`tests/fixtures/<dir>/<stem>_state_dict.safetensors` and
/// `<stem>_grads.safetensors`, made by the folder's script): its weights
/// through `load_pytorch`, the held pass's output, MSE loss and input
/// gradient ([`assert_mse_pass`]), every trainable tensor's gradient,
/// `predict`'s output and, with `graph: true`, the `GRAPH` executor's,
/// each within 1e-5. `$dim` is the input's ndarray dimension (`Ix3` for
/// sequences, `Ix4` for images). Evaluates to the number of gradient
/// tensors compared.
#[macro_export]
macro_rules! assert_reproduces_pytorch {
    ($net:ty, $dir:expr, $stem:expr, $dim:ty, graph: $graph:expr) => {{
        use $crate::common::{assert_close, assert_mse_pass, fixture};
        let mut net = <$net>::new(1);
        let weights = fixture($dir, &format!("{}_state_dict.safetensors", $stem));
        let report = net.load_pytorch(weights, |k| Some(k.to_string())).unwrap();
        assert!(report.is_complete(), "{report}");
        let file = cnn::io::load(&fixture($dir, &format!("{}_grads.safetensors", $stem))).unwrap();
        let get = |name: &str| file.tensor(name).unwrap();
        let (shape, x) = get("x");
        let x = cnn::ndarray::ArrayD::from_shape_vec(shape.clone(), x)
            .unwrap()
            .into_dimensionality::<$dim>()
            .unwrap();
        assert_mse_pass(
            net.forward(x.view(), cnn::pass::Mode::Train).unwrap(),
            &file,
            1e-5,
        );
        let mut checked = 0;
        for t in <$net>::TENSORS.iter().filter(|t| t.trainable) {
            assert_close(t.name, &net.grads()[t.range()], &get(t.name).1, 1e-5);
            checked += 1;
        }
        // predict's inference program, and the GRAPH executor, give the same.
        let want = get("output").1;
        let predicted = net.predict(x.view()).unwrap();
        assert_close("predict", predicted.as_slice().unwrap(), &want, 1e-5);
        if $graph {
            let run = <$net>::GRAPH
                .run(
                    <$net>::TENSORS,
                    net.params(),
                    shape[0],
                    x.as_slice().unwrap(),
                )
                .unwrap();
            assert_close("GRAPH", &run, &want, 1e-5);
        }
        checked
    }};
}

/// Central differences in f32 (steps of 1e-3) against
/// `loss_and_grads_with_seed`, on up to six elements of every trainable
/// tensor of `$net` (of type `$ty`), the tensors of the layers named in
/// `$frozen` excepted: `|a - n| <= 1e-3 + 2e-2 max(|a|, |n|)`. `$x` is the
/// input array (any rank), `$y` the labels, `$seed` dropout's seed.
/// Prints the worst error as a share of the tolerance and evaluates to the
/// number of elements checked.
#[macro_export]
macro_rules! assert_param_grads {
    ($net:ident: $ty:ty, $x:expr, $y:expr, $seed:expr, $frozen:expr) => {{
        const STEP: f32 = 1e-3;
        const ABS: f32 = 1e-3;
        const REL: f32 = 2e-2;
        let (x, y, seed) = (&$x, &$y, $seed);
        let (_, grads) = $net.loss_and_grads_with_seed(x.view(), y, seed).unwrap();
        let mut analytic = grads.to_vec();
        analytic.resize(<$ty>::PARAMS, 0.0);
        let frozen: &[&str] = $frozen;
        let mut params = $net.params().to_vec();
        let (mut checked, mut worst) = (0usize, 0.0f32);
        for t in <$ty>::TENSORS
            .iter()
            .filter(|t| t.trainable && !frozen.contains(&t.layer))
        {
            let step = (t.len / 5).max(1);
            for i in (0..t.len).step_by(step).take(6).map(|i| t.offset + i) {
                let orig = params[i];
                let mut loss_at = |v: f32| {
                    params[i] = v;
                    $net.params_mut().copy_from_slice(&params);
                    $net.loss_and_grads_with_seed(x.view(), y, seed).unwrap().0 as f64
                };
                let numeric =
                    ((loss_at(orig + STEP) - loss_at(orig - STEP)) / (2.0 * STEP as f64)) as f32;
                loss_at(orig);
                let a = analytic[i];
                let err = (a - numeric).abs() / (ABS + REL * a.abs().max(numeric.abs()));
                worst = worst.max(err);
                assert!(
                    err <= 1.0,
                    "{}[{}]: analytic {a}, numeric {numeric}",
                    t.name,
                    i - t.offset
                );
                checked += 1;
            }
        }
        println!(
            "{}: worst error {worst:.3} of the tolerance",
            stringify!($ty)
        );
        checked
    }};
}
