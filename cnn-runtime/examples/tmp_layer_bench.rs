use cnn_runtime::geom::{Act, Padding, PoolGeom};
use cnn_runtime::layers::{activation, batch_norm, dense, dropout, loss, pool};
use cnn_runtime::parallel;
use std::time::Instant;

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}
extern "C" {
    fn clock_gettime(clk: i32, ts: *mut Timespec) -> i32;
}
fn cpu_now() -> f64 {
    let mut t = Timespec { sec: 0, nsec: 0 };
    unsafe { clock_gettime(3, &mut t) };
    t.sec as f64 + t.nsec as f64 * 1e-9
}
fn time(name: &str, iters: usize, mut f: impl FnMut()) {
    if let Ok(filter) = std::env::var("ONLY") {
        if !name.contains(&filter) {
            return;
        }
    }
    for _ in 0..iters / 10 + 1 {
        f();
    }
    let mut best = f64::MAX;
    let cpu = parallel::threads() == 1;
    for _ in 0..7 {
        let t = Instant::now();
        let c = cpu_now();
        for _ in 0..iters {
            f();
        }
        let dt = if cpu {
            cpu_now() - c
        } else {
            t.elapsed().as_secs_f64()
        };
        best = best.min(dt / iters as f64);
    }
    println!("{name:50} {:9.2} us", best * 1e6);
}

fn main() {
    for threads in std::env::var("THREADS")
        .map(|v| vec![v.parse().unwrap()])
        .unwrap_or(vec![1, 2])
    {
        parallel::set_threads(threads);
        println!("--- threads {threads}");
        for batch in [1usize, 64] {
            let v = |n: usize| {
                (0..n)
                    .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
                    .collect::<Vec<f32>>()
            };
            for &(ni, no) in &[(400, 120), (120, 84), (84, 10)] {
                let (x, w, b) = (v(batch * ni), v(ni * no), v(no));
                let mut y = vec![0.0; batch * no];
                time(&format!("dense fwd b{batch} {ni}->{no}"), 200, || {
                    dense::forward(batch, ni, no, &x, &w, Some(&b), Act::Relu, &mut y).unwrap()
                });
                let (mut dx, mut dw, mut db) =
                    (vec![0.0; batch * ni], vec![0.0; ni * no], vec![0.0; no]);
                time(&format!("dense bwd b{batch} {ni}->{no}"), 200, || {
                    dense::backward(
                        batch,
                        ni,
                        no,
                        &x,
                        &w,
                        &y,
                        Some(&mut dx),
                        &mut dw,
                        Some(&mut db),
                    )
                    .unwrap()
                });
            }
            for (h, c) in [(28, 6), (10, 16)] {
                let g = PoolGeom::new([h, h, c], [2, 2], [2, 2], Padding::Valid).unwrap();
                let x = v(batch * g.in_len());
                let (mut y, mut a) = (
                    vec![0.0; batch * g.out_len()],
                    vec![0u32; batch * g.out_len()],
                );
                time(&format!("maxpool fwd b{batch} {h}x{h}x{c}"), 200, || {
                    pool::max_forward(&g, batch, &x, &mut y, &mut a).unwrap()
                });
                let mut dx = vec![0.0; x.len()];
                time(&format!("maxpool bwd b{batch} {h}x{h}x{c}"), 200, || {
                    pool::max_backward(&g, batch, &a, &y, &mut dx).unwrap()
                });
                let mut r = x.clone();
                time(&format!("relu inplace b{batch} {h}x{h}x{c}"), 200, || {
                    activation::forward_inplace(Act::Relu, &mut r)
                });
                time(&format!("relu bwd b{batch} {h}x{h}x{c}"), 200, || {
                    activation::backward_inplace(Act::Relu, &x, &mut dx).unwrap()
                });
                let m = batch * h * h;
                let (gm, bt) = (v(c), v(c));
                let (mut sm, mut si, mut rm, mut rv) =
                    (vec![0.0; c], vec![0.0; c], vec![0.0; c], vec![1.0; c]);
                let mut yb = vec![0.0; x.len()];
                time(&format!("bn train b{batch} {h}x{h}x{c}"), 100, || {
                    batch_norm::forward_train(
                        m, c, &x, &gm, &bt, 1e-3, 0.99, &mut yb, &mut sm, &mut si, &mut rm, &mut rv,
                    )
                    .unwrap()
                });
                let (mut dg, mut dbb) = (vec![0.0; c], vec![0.0; c]);
                time(&format!("bn bwd b{batch} {h}x{h}x{c}"), 100, || {
                    batch_norm::backward(m, c, &x, &gm, &sm, &si, &x, &mut dx, &mut dg, &mut dbb)
                        .unwrap()
                });
                let mut mask = vec![0.0; x.len()];
                time(&format!("dropout fwd b{batch} {h}x{h}x{c}"), 100, || {
                    dropout::forward_train(0.5, 3, &x, &mut yb, &mut mask).unwrap()
                });
            }
            let z = v(batch * 10);
            let labels: Vec<usize> = (0..batch).map(|i| i % 10).collect();
            let mut d = vec![0.0; z.len()];
            time(&format!("softmax xent b{batch}"), 1000, || {
                loss::softmax_cross_entropy(batch, 10, &z, &labels, 1.0, &mut d).unwrap();
            });
        }
    }
}
