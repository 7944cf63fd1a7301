//! Pooling written straight from the definition, for tests: every output
//! visits every position of its window in padded coordinates and skips the
//! ones outside the input. Sums in f64.

use super::NO_WINNER;
use crate::geom::PoolGeom;

/// The real input cells `(ih, iw)` of output `(oh, ow)`'s window, in
/// row-major window order.
fn cells(g: &PoolGeom, oh: usize, ow: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for i in 0..g.fh {
        for j in 0..g.fw {
            let (ph, pw) = (oh * g.sh + i, ow * g.sw + j);
            if ph >= g.pad_top
                && ph - g.pad_top < g.in_h
                && pw >= g.pad_left
                && pw - g.pad_left < g.in_w
            {
                out.push((ph - g.pad_top, pw - g.pad_left));
            }
        }
    }
    out
}

fn at(g: &PoolGeom, ih: usize, iw: usize, ch: usize) -> usize {
    (ih * g.in_w + iw) * g.c + ch
}

/// Max pooling: `(y, argmax)`, argmax as in `max_forward`.
pub fn max_forward(g: &PoolGeom, batch: usize, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let mut y = vec![0.0; batch * out_len];
    let mut argmax = vec![NO_WINNER; batch * out_len];
    for b in 0..batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                for ch in 0..g.c {
                    let k = b * out_len + (oh * g.out_w + ow) * g.c + ch;
                    let mut best: Option<(f32, usize)> = None;
                    for (ih, iw) in cells(g, oh, ow) {
                        let i = at(g, ih, iw, ch);
                        let v = x[b * in_len + i];
                        if best.is_none_or(|(m, _)| v > m) {
                            best = Some((v, i));
                        }
                    }
                    if let Some((m, i)) = best {
                        y[k] = m;
                        argmax[k] = i as u32;
                    }
                }
            }
        }
    }
    (y, argmax)
}

/// Average pooling over the real cells.
pub fn avg_forward(g: &PoolGeom, batch: usize, x: &[f32]) -> Vec<f32> {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let mut y = vec![0.0; batch * out_len];
    for b in 0..batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let cells = cells(g, oh, ow);
                for ch in 0..g.c {
                    let sum: f64 = cells
                        .iter()
                        .map(|&(ih, iw)| x[b * in_len + at(g, ih, iw, ch)] as f64)
                        .sum();
                    let mean = if cells.is_empty() {
                        0.0
                    } else {
                        sum / cells.len() as f64
                    };
                    y[b * out_len + (oh * g.out_w + ow) * g.c + ch] = mean as f32;
                }
            }
        }
    }
    y
}

/// Average pooling backward, as the transpose of `avg_forward`: each input
/// cell gathers `dy / count` from every window that holds it.
pub fn avg_backward(g: &PoolGeom, batch: usize, dy: &[f32]) -> Vec<f32> {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let mut dx = vec![0f64; batch * in_len];
    for b in 0..batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let cells = cells(g, oh, ow);
                for ch in 0..g.c {
                    let d = dy[b * out_len + (oh * g.out_w + ow) * g.c + ch] as f64;
                    for &(ih, iw) in &cells {
                        dx[b * in_len + at(g, ih, iw, ch)] += d / cells.len() as f64;
                    }
                }
            }
        }
    }
    dx.into_iter().map(|v| v as f32).collect()
}

/// Global average pooling: `[batch, hw, c] -> [batch, c]`.
pub fn global_avg_forward(batch: usize, hw: usize, c: usize, x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; batch * c];
    for b in 0..batch {
        for ch in 0..c {
            let sum: f64 = (0..hw).map(|p| x[(b * hw + p) * c + ch] as f64).sum();
            y[b * c + ch] = (sum / hw as f64) as f32;
        }
    }
    y
}
