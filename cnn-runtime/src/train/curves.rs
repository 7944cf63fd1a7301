//! Training curves as a self-contained SVG: loss on the left, accuracy on
//! the right, training and validation lines in each. Written by hand (a
//! hundred lines of text) rather than pulling in a plotting crate.

use std::fmt::Write as _;
use std::path::Path;

use super::history::History;
use crate::error::Result;

const PANEL_W: f64 = 420.0;
const PANEL_H: f64 = 300.0;
const MARGIN: f64 = 50.0;
const TRAIN_COLOUR: &str = "#1f77b4";
const VAL_COLOUR: &str = "#ff7f0e";

/// The curves of `history` as SVG text, titled `title`.
pub fn svg(history: &History, title: &str) -> String {
    let mut s = String::new();
    let width = 2.0 * (PANEL_W + MARGIN) + MARGIN;
    let height = PANEL_H + 2.0 * MARGIN + 20.0;
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="15">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    let epochs: Vec<f64> = history.epochs.iter().map(|e| e.epoch as f64).collect();
    let pick = |f: &dyn Fn(&super::EpochLog) -> Option<f32>| -> Vec<Option<f64>> {
        history.epochs.iter().map(|e| f(e).map(f64::from)).collect()
    };
    let panels = [
        ("loss", pick(&|e| Some(e.loss)), pick(&|e| e.val_loss)),
        (
            history.metric.name(),
            pick(&|e| Some(e.accuracy)),
            pick(&|e| e.val_accuracy),
        ),
    ];
    for (k, (name, train, val)) in panels.iter().enumerate() {
        let x0 = MARGIN + k as f64 * (PANEL_W + MARGIN);
        panel(&mut s, x0, MARGIN + 10.0, name, &epochs, train, val);
    }
    s.push_str("</svg>\n");
    s
}

/// Writes [`svg`] to `path` atomically.
pub fn write_svg(history: &History, title: &str, path: &Path) -> Result<()> {
    crate::io::write_bytes_atomic(path, svg(history, title).as_bytes())
}

fn panel(
    s: &mut String,
    x0: f64,
    y0: f64,
    name: &str,
    xs: &[f64],
    train: &[Option<f64>],
    val: &[Option<f64>],
) {
    let values = train
        .iter()
        .chain(val)
        .flatten()
        .copied()
        .filter(|v| v.is_finite());
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    let pad = 0.05 * (hi - lo);
    // Losses and accuracies are never negative: keep the axis at 0 or above.
    let (lo, hi) = (
        if lo >= 0.0 {
            (lo - pad).max(0.0)
        } else {
            lo - pad
        },
        hi + pad,
    );
    let (xmin, xmax) = (1.0, xs.last().copied().unwrap_or(1.0).max(2.0));
    let px = |x: f64| x0 + (x - xmin) / (xmax - xmin) * PANEL_W;
    let py = |y: f64| y0 + PANEL_H - (y - lo) / (hi - lo) * PANEL_H;
    let _ = writeln!(
        s,
        r##"<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#444"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{name}</text>"#,
        x0 + PANEL_W / 2.0,
        y0 - 6.0
    );
    for t in 0..=4 {
        let v = lo + (hi - lo) * t as f64 / 4.0;
        let y = py(v);
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 + PANEL_W,
            x0 - 4.0,
            y + 4.0,
            tick(v)
        );
    }
    let step = ((xmax - xmin) / 8.0).ceil().max(1.0);
    let mut e = xmin;
    while e <= xmax + 1e-9 {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{e}</text>"#,
            px(e),
            y0 + PANEL_H + 16.0
        );
        e += step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#,
        x0 + PANEL_W / 2.0,
        y0 + PANEL_H + 32.0
    );
    for (series, colour, label, row) in [
        (train, TRAIN_COLOUR, "training", 0.0),
        (val, VAL_COLOUR, "validation", 1.0),
    ] {
        let pts: Vec<String> = xs
            .iter()
            .zip(series.iter())
            .filter_map(|(&x, y)| {
                y.filter(|v| v.is_finite())
                    .map(|y| format!("{:.1},{:.1}", px(x), py(y)))
            })
            .collect();
        if pts.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            pts.join(" ")
        );
        for p in &pts {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="2.5" fill="{colour}"/>"#);
        }
        // The legend goes where the curves are not: top right for a loss,
        // which falls, bottom right for an accuracy (or IoU), which rises.
        let rises = crate::train::Metric::from_name(name).is_some_and(|m| m.higher_is_better());
        let top = if rises {
            y0 + PANEL_H - 36.0
        } else {
            y0 + 14.0
        };
        let ly = top + 16.0 * row;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{label}</text>"#,
            x0 + PANEL_W - 110.0,
            x0 + PANEL_W - 90.0,
            x0 + PANEL_W - 85.0,
            ly + 4.0
        );
    }
}

fn tick(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::EpochLog;

    #[test]
    fn svg_has_both_panels_and_series() {
        let epochs = (1..=3)
            .map(|e| EpochLog {
                epoch: e,
                loss: 1.0 / e as f32,
                accuracy: 0.9 + 0.01 * e as f32,
                val_loss: Some(1.1 / e as f32),
                val_accuracy: Some(0.89 + 0.01 * e as f32),
                learning_rate: 0.01,
                seconds: 1.0,
                images_per_second: 1.0,
            })
            .collect();
        let s = svg(
            &History {
                epochs,
                ..History::default()
            },
            "LeNet-5 <MNIST>",
        );
        assert!(s.starts_with("<svg"));
        assert_eq!(s.matches("<polyline").count(), 4);
        assert!(s.contains("LeNet-5 &lt;MNIST&gt;"));
        // An empty history still renders (no NaN coordinates).
        assert!(!svg(&History::default(), "x").contains("NaN"));
    }
}
