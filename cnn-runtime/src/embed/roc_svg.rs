//! The ROC curve as a self-contained SVG, drawn by hand as
//! `train/curves.rs` draws the training curves: a square panel with both
//! axes from 0 to 1 and their ticks, the chance diagonal, the curve as a
//! step line, and the best-accuracy threshold marked on it.

use std::fmt::Write as _;
use std::path::Path;

use super::verify::Roc;
use crate::error::Result;

const SIDE: f64 = 360.0;
const MARGIN: f64 = 60.0;
const CURVE_COLOUR: &str = "#1f77b4";
const MARK_COLOUR: &str = "#d62728";

impl Roc {
    /// The curve as SVG text, titled `title` (its area under the curve
    /// appended): false-accept rate across, true-accept rate up.
    pub fn svg(&self, title: &str) -> String {
        let mut s = String::new();
        let size = SIDE + 2.0 * MARGIN;
        let (x0, y0) = (MARGIN, MARGIN); // top-left corner of the panel
        let px = |far: f64| x0 + far * SIDE;
        let py = |tar: f64| y0 + (1.0 - tar) * SIDE;
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="30" text-anchor="middle" font-size="15">{} (AUC {:.4})</text>"#,
            size / 2.0,
            escape(title),
            self.auc()
        );
        // Axes: the panel's frame, ticks every 0.2 on both.
        let _ = writeln!(
            s,
            r#"<rect x="{x0}" y="{y0}" width="{SIDE}" height="{SIDE}" fill="none" stroke="black"/>"#
        );
        for k in 0..=5 {
            let v = k as f64 / 5.0;
            let (x, y) = (px(v), py(v));
            let bottom = y0 + SIDE;
            let _ = writeln!(
                s,
                r#"<line x1="{x}" y1="{bottom}" x2="{x}" y2="{}" stroke="black"/><text x="{x}" y="{}" text-anchor="middle">{v:.1}</text>"#,
                bottom + 5.0,
                bottom + 18.0
            );
            let _ = writeln!(
                s,
                r#"<line x1="{}" y1="{y}" x2="{x0}" y2="{y}" stroke="black"/><text x="{}" y="{}" text-anchor="end">{v:.1}</text>"#,
                x0 - 5.0,
                x0 - 8.0,
                y + 4.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">false accept rate</text>"#,
            x0 + SIDE / 2.0,
            y0 + SIDE + 40.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">true accept rate</text>"#,
            x0 - 40.0,
            y0 + SIDE / 2.0,
            x0 - 40.0,
            y0 + SIDE / 2.0
        );
        // Chance: a verifier that accepts at random.
        let _ = writeln!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="4 4"/>"##,
            px(0.0),
            py(0.0),
            px(1.0),
            py(1.0)
        );
        let points: Vec<String> = self
            .points()
            .map(|(far, tar)| format!("{:.2},{:.2}", px(far), py(tar)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{CURVE_COLOUR}" stroke-width="2"/>"#,
            points.join(" ")
        );
        let best = self.best_threshold();
        let _ = writeln!(
            s,
            r#"<circle cx="{:.2}" cy="{:.2}" r="4" fill="{MARK_COLOUR}"/><text x="{:.2}" y="{:.2}" fill="{MARK_COLOUR}">threshold {:.4}: accuracy {:.4}</text>"#,
            px(best.far),
            py(best.tar),
            px(best.far) + 8.0,
            py(best.tar) + 16.0,
            best.threshold,
            best.accuracy
        );
        s.push_str("</svg>\n");
        s
    }

    /// Writes [`Roc::svg`] to `path` atomically.
    pub fn write_svg(&self, title: &str, path: &Path) -> Result<()> {
        crate::io::write_bytes_atomic(path, self.svg(title).as_bytes())
    }
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
