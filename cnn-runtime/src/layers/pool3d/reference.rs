//! 3-D pooling written straight from the definition, for tests: every
//! output visits every position of its window in padded coordinates and
//! skips those outside the input. Sums in f64.

use super::NO_WINNER;
use crate::geom3d::Pool3dGeom;

/// The flat offsets (channel 0) of output `o`'s real input cells, in
/// window order.
fn cells(g: &Pool3dGeom, o: [usize; 3]) -> Vec<usize> {
    let mut out = Vec::new();
    for i in 0..g.fd {
        for j in 0..g.fh {
            for k in 0..g.fw {
                let p = [o[0] * g.sd + i, o[1] * g.sh + j, o[2] * g.sw + k];
                let pads = [g.pad_front, g.pad_top, g.pad_left];
                let ns = [g.in_d, g.in_h, g.in_w];
                if (0..3).all(|a| p[a] >= pads[a] && p[a] - pads[a] < ns[a]) {
                    let [z, y, x] = [0, 1, 2].map(|a| p[a] - pads[a]);
                    out.push(((z * g.in_h + y) * g.in_w + x) * g.c);
                }
            }
        }
    }
    out
}

fn outputs(g: &Pool3dGeom) -> impl Iterator<Item = [usize; 3]> + '_ {
    (0..g.out_d)
        .flat_map(move |z| (0..g.out_h).flat_map(move |y| (0..g.out_w).map(move |x| [z, y, x])))
}

/// Max pooling: `(y, argmax)`, argmax as in `max_forward`.
pub fn max_forward(g: &Pool3dGeom, batch: usize, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let mut y = vec![0.0; batch * out_len];
    let mut argmax = vec![NO_WINNER; batch * out_len];
    for b in 0..batch {
        for (k0, o) in outputs(g).enumerate() {
            for ch in 0..g.c {
                let k = b * out_len + k0 * g.c + ch;
                let mut best: Option<(f32, usize)> = None;
                for cell in cells(g, o) {
                    let v = x[b * in_len + cell + ch];
                    if best.is_none_or(|(m, _)| v > m) {
                        best = Some((v, cell + ch));
                    }
                }
                if let Some((m, i)) = best {
                    y[k] = m;
                    argmax[k] = i as u32;
                }
            }
        }
    }
    (y, argmax)
}

/// Average pooling over the real cells.
pub fn avg_forward(g: &Pool3dGeom, batch: usize, x: &[f32]) -> Vec<f32> {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let mut y = vec![0.0; batch * out_len];
    for b in 0..batch {
        for (k0, o) in outputs(g).enumerate() {
            let cells = cells(g, o);
            for ch in 0..g.c {
                let sum: f64 = cells.iter().map(|&i| x[b * in_len + i + ch] as f64).sum();
                let n = cells.len().max(1) as f64;
                y[b * out_len + k0 * g.c + ch] = (sum / n) as f32;
            }
        }
    }
    y
}
