//! L-BFGS on a quadratic (exact minimum known), on Rosenbrock's valley,
//! with bounds, and its line search on a step that must be shortened.

use super::*;

/// `f = 1/2 x^T A x - b.x` with `A` tridiagonal (4 on the diagonal, -1
/// beside it: symmetric positive definite).
fn quadratic(x: &[f32], g: &mut [f32], b: &[f32]) -> f32 {
    let n = x.len();
    let mut f = 0.0f64;
    for i in 0..n {
        let mut ax = 4.0 * x[i];
        if i > 0 {
            ax -= x[i - 1];
        }
        if i + 1 < n {
            ax -= x[i + 1];
        }
        g[i] = ax - b[i];
        f += 0.5 * (x[i] * ax) as f64 - (b[i] * x[i]) as f64;
    }
    f as f32
}

#[test]
fn minimises_a_quadratic_to_its_solution() {
    let n = 20;
    let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).sin()).collect();
    let mut x = vec![0.0f32; n];
    let mut opt = Lbfgs::new(5);
    let mut f = |x: &[f32], g: &mut [f32]| Ok(quadratic(x, g, &b));
    for _ in 0..60 {
        opt.step(&mut x, &mut f).unwrap();
    }
    // The solution satisfies A x = b: the gradient vanishes, down to
    // where f32 stops resolving f (|f| ~ 1, so a decrease below ~1e-7
    // cannot be told from rounding: |g| ~ sqrt(2 lambda_min 1e-7) ~ 1e-3
    // with lambda_min ~ 2).
    let mut g = vec![0.0; n];
    quadratic(&x, &mut g, &b);
    let worst = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(worst < 1e-3, "gradient {worst}");
}

/// Rosenbrock's function in `n` dimensions: `sum 100 (x[i+1] - x[i]^2)^2
/// + (1 - x[i])^2`, minimum 0 at all ones.
fn rosenbrock(x: &[f32], g: &mut [f32]) -> f32 {
    g.fill(0.0);
    let mut f = 0.0f64;
    for i in 0..x.len() - 1 {
        let (a, b) = (x[i] as f64, x[i + 1] as f64);
        let t = b - a * a;
        f += 100.0 * t * t + (1.0 - a) * (1.0 - a);
        g[i] += (-400.0 * t * a - 2.0 * (1.0 - a)) as f32;
        g[i + 1] += (200.0 * t) as f32;
    }
    f as f32
}

#[test]
fn follows_rosenbrocks_valley_to_its_minimum() {
    for n in [2, 6] {
        // The classic start (-1.2, 1) (More, Garbow and Hillstrom 1981).
        let mut x: Vec<f32> = (0..n)
            .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
            .collect();
        let mut opt = Lbfgs::new(10);
        let mut f = |x: &[f32], g: &mut [f32]| Ok(rosenbrock(x, g));
        let mut value = f32::INFINITY;
        for _ in 0..300 {
            value = opt.step(&mut x, &mut f).unwrap().value;
        }
        assert!(value < 1e-6, "n = {n}: f = {value}");
        for v in &x {
            assert!((v - 1.0).abs() < 1e-2, "n = {n}: x = {x:?}");
        }
    }
}

#[test]
fn every_accepted_step_decreases_enough() {
    let mut x = vec![-1.2f32, 1.0];
    let mut opt = Lbfgs::new(3);
    let mut f = |x: &[f32], g: &mut [f32]| Ok(rosenbrock(x, g));
    let mut g = vec![0.0; 2];
    let mut before = rosenbrock(&x, &mut g);
    for _ in 0..50 {
        let step = opt.step(&mut x, &mut f).unwrap();
        assert!(step.value <= before, "{} > {before}", step.value);
        before = step.value;
    }
}

#[test]
fn the_line_search_shortens_a_step_that_overshoots() {
    // f = x^4 from x = 1 (g = 4) with a first step of length 10: the
    // trials land at -9, -4, -1.5 (f = 6561, 256, 5.06, all above f = 1)
    // and -0.25 (f = 0.0039 <= 1 - 1e-4 * 4 * 1.25), so t = 1/8 is taken
    // after four trials and the first evaluation.
    let mut x = vec![1.0f32];
    let mut opt = Lbfgs::new(3).first_step(10.0);
    let mut f = |x: &[f32], g: &mut [f32]| {
        g[0] = 4.0 * x[0].powi(3);
        Ok(x[0].powi(4))
    };
    let step = opt.step(&mut x, &mut f).unwrap();
    assert_eq!(step.step, 0.125);
    assert!((x[0] + 0.25).abs() < 1e-6, "{}", x[0]);
    assert_eq!(step.evals, 1 + 4);
    assert!(!step.stalled);
}

#[test]
fn bounds_hold_and_the_minimum_on_the_box_is_found() {
    // (x0 - 2)^2 + (x1 + 3)^2 on [0, 1]^2: the minimum is at the corner (1, 0).
    let mut x = vec![0.5f32, 0.5];
    let mut opt = Lbfgs::new(4).bounds(0.0, 1.0);
    let mut f = |x: &[f32], g: &mut [f32]| {
        g[0] = 2.0 * (x[0] - 2.0);
        g[1] = 2.0 * (x[1] + 3.0);
        Ok((x[0] - 2.0).powi(2) + (x[1] + 3.0).powi(2))
    };
    for _ in 0..20 {
        opt.step(&mut x, &mut f).unwrap();
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)), "{x:?}");
    }
    assert_eq!(x, vec![1.0, 0.0]);
}

#[test]
fn a_cost_that_is_not_finite_at_the_start_is_an_error() {
    let mut x = vec![1.0f32];
    let mut f = |_: &[f32], _: &mut [f32]| Ok(f32::NAN);
    assert!(Lbfgs::new(2).step(&mut x, &mut f).is_err());
}
