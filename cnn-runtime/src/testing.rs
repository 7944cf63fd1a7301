//! Test helpers shared by every kernel's tests (and, with the `testing`
//! feature, by the facade's integration tests): seeded random tensors,
//! NaN-filled outputs so that a skipped element shows, a relative closeness
//! check, and a central-difference gradient check.

use crate::rng::Rng;

/// `len` values uniform in [-1, 1), fixed by `seed`.
pub fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..len).map(|_| r.uniform_in(-1.0, 1.0)).collect()
}

/// An output buffer full of NaN: any element a kernel forgets to write
/// stays NaN and fails [`assert_close`].
pub fn nan_filled(len: usize) -> Vec<f32> {
    vec![f32::NAN; len]
}

/// Asserts `|got - want| <= abs + rel * |want|` element by element, and that
/// the lengths agree; the message names the first element that is off.
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= abs + rel * w.abs();
        assert!(ok, "element {i}: got {g}, want {w} (rel {rel}, abs {abs})");
    }
}

/// Central-difference gradient check of `analytic` (the gradient a backward
/// pass computed) against `loss` evaluated at `x ± step` for each element
/// of `x` in `indices` (all of them when `None`). `loss` reads `x`.
/// Panics with the first element whose error exceeds `tol` in
/// `|a - n| / max(1, |a|, |n|)`.
#[track_caller]
pub fn gradcheck(
    x: &mut [f32],
    analytic: &[f32],
    step: f32,
    tol: f32,
    indices: Option<&[usize]>,
    mut loss: impl FnMut(&[f32]) -> f64,
) {
    assert_eq!(
        x.len(),
        analytic.len(),
        "gradient length differs from the input's"
    );
    let all: Vec<usize>;
    let idx = match indices {
        Some(i) => i,
        None => {
            all = (0..x.len()).collect();
            &all
        }
    };
    for &i in idx {
        let orig = x[i];
        x[i] = orig + step;
        let up = loss(x);
        x[i] = orig - step;
        let down = loss(x);
        x[i] = orig;
        let numeric = ((up - down) / (2.0 * step as f64)) as f32;
        let a = analytic[i];
        let err = (a - numeric).abs() / 1f32.max(a.abs()).max(numeric.abs());
        assert!(
            err <= tol,
            "gradient element {i}: analytic {a}, numeric {numeric} (error {err} > {tol})"
        );
    }
}

/// `sum(y * r)` in f64: the scalar loss whose gradient with respect to `y`
/// is `r`, used to drive backward passes in gradient checks.
pub fn dot(y: &[f32], r: &[f32]) -> f64 {
    y.iter().zip(r).map(|(&a, &b)| a as f64 * b as f64).sum()
}

/// Runs this test binary again under every other instruction set the CPU
/// runs (`CNN_ISA=avx2`, `CNN_ISA=portable`, ...), with libtest's
/// arguments `args` (test-name filters), and panics with the output of a
/// run that fails. Called from one `#[test]` per binary, so that every
/// kernel test and gradient check in it runs on every path. Does nothing
/// inside such a run.
pub fn rerun_under_other_isas(args: &[&str]) {
    use crate::isa::{self, Isa};
    for other in Isa::supported_here()
        .into_iter()
        .filter(|&i| i != isa::current())
    {
        rerun_with(&[("CNN_ISA", other.name())], args);
    }
}

/// Runs this test binary again with the environment variables `env` set
/// and libtest's arguments `args`; panics with the output if a test fails
/// or none ran. Does nothing inside such a run (no nesting).
pub fn rerun_with(env: &[(&str, &str)], args: &[&str]) {
    const INSIDE: &str = "CNN_TEST_RERUN";
    if std::env::var_os(INSIDE).is_some() {
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let what = env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new(&exe)
        .args(args)
        .args(["--test-threads", "2"])
        .envs(env.iter().copied())
        .env(INSIDE, "1")
        .output()
        .expect("cannot run the test binary again");
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .rfind(|l| l.starts_with("test result:"))
        .unwrap_or("no summary");
    assert!(
        out.status.success(),
        "the tests failed under {what}:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed: usize = summary
        .split("ok. ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed > 0, "no test ran under {what}: {summary}");
    println!("{what}: {summary}");
}

/// [`gradcheck`] of a layer with an input, a weight and a bias: the
/// analytic `dx`, `dw` and `db` against `loss(x, w, b)`, step 1e-3, at up
/// to 40 places of `x` and of `w` drawn with `seed` (every element of
/// `b`), each within `tol`.
#[track_caller]
pub fn gradcheck_xwb(
    [x, w, b]: [&mut [f32]; 3],
    [dx, dw, db]: [&[f32]; 3],
    tol: f32,
    seed: u64,
    loss: impl Fn(&[f32], &[f32], &[f32]) -> f64,
) {
    let pick = |len: usize, s: u64| -> Vec<usize> {
        let mut rng = crate::rng::Rng::new(s);
        (0..len.min(40)).map(|_| rng.below(len)).collect()
    };
    let (wc, bc) = (w.to_vec(), b.to_vec());
    gradcheck(x, dx, 1e-3, tol, Some(&pick(dx.len(), seed)), |x| {
        loss(x, &wc, &bc)
    });
    let xc = x.to_vec();
    gradcheck(w, dw, 1e-3, tol, Some(&pick(dw.len(), seed + 1)), |w| {
        loss(&xc, w, &bc)
    });
    let wc = w.to_vec();
    gradcheck(b, db, 1e-3, tol, None, |b| loss(&xc, &wc, b));
}
