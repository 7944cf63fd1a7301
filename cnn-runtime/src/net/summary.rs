//! The Keras-style table that a generated network's `summary()` prints: one
//! row per layer (name and kind, output shape, parameters, multiply-adds;
//! layers inside a block indented under it; the receptive field, for a
//! network on pictures), then the totals with thousands separators and the
//! activation memory of one example.

use std::fmt;

use super::ReceptiveField;

/// One row of the table: a layer, `depth` blocks deep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    /// How many blocks the layer is inside (0 at the top level).
    pub depth: usize,
    /// The full name: `conv1`, `layer1.0.conv1`.
    pub name: &'static str,
    /// The DSL kind: `Conv2d`.
    pub kind: &'static str,
    /// `28x28x6` or `120`.
    pub output: &'static str,
    /// Parameters of the layer (of a block: of everything in it).
    pub params: usize,
    /// Multiply-adds of one example.
    pub macs: u64,
}

/// A network's summary; `Display` prints the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The struct's name.
    pub name: &'static str,
    /// The input shape: `32x32x1`.
    pub input: &'static str,
    /// One row per layer, blocks before the layers inside them.
    pub rows: &'static [SummaryRow],
    /// Every parameter (`PARAMS`).
    pub params: usize,
    /// The parameters the optimizer updates (`TRAINABLE_PARAMS`).
    pub trainable: usize,
    /// Multiply-adds of one example (`MACS`).
    pub macs: u64,
    /// Bytes of every layer's output for one example (f32), not counting
    /// `Flatten`, which is a view.
    pub activation_bytes: usize,
    /// The layers' receptive fields (`RECEPTIVE_FIELDS`), one per row in
    /// the rows' order; empty for a network on flat vectors, which then
    /// shows no receptive-field column.
    pub fields: &'static [ReceptiveField],
}

impl Summary {
    /// Row `k`'s receptive field, `14x14` (`3x7x7` on a volume, `14` on a
    /// sequence), when `fields` has it.
    fn field(&self, k: usize) -> Option<String> {
        let f = self.fields.get(k).filter(|f| f.name == self.rows[k].name)?;
        Some(f.size_text())
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_fields = (0..self.rows.len()).any(|k| self.field(k).is_some());
        // Text columns are left-aligned, number columns right-aligned.
        let mut head = vec![("Layer (type)", false), ("Output shape", false)];
        if with_fields {
            head.push(("Receptive field", false));
        }
        head.extend([("Params", true), ("Multiply-adds", true)]);
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let mut row = vec![
                    format!("{}{} ({})", "  ".repeat(r.depth), r.name, r.kind),
                    r.output.to_string(),
                ];
                if with_fields {
                    row.push(self.field(k).unwrap_or_else(|| "?".into()));
                }
                row.extend([thousands(r.params as u64), thousands(r.macs)]);
                row
            })
            .collect();
        let mut width: Vec<usize> = head.iter().map(|(h, _)| h.len()).collect();
        for row in &cells {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let total: usize = width.iter().sum::<usize>() + (width.len() - 1) * GAP.len();
        let line =
            |f: &mut fmt::Formatter<'_>, c: char| writeln!(f, "{}", c.to_string().repeat(total));
        let right: Vec<bool> = head.iter().map(|&(_, r)| r).collect();
        writeln!(f, "Model: {} (input {})", self.name, self.input)?;
        line(f, '=')?;
        let titles: Vec<String> = head.iter().map(|(h, _)| h.to_string()).collect();
        write_row(f, &width, &right, &titles)?;
        line(f, '-')?;
        for row in &cells {
            write_row(f, &width, &right, row)?;
        }
        line(f, '=')?;
        writeln!(f, "Total params: {}", thousands(self.params as u64))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable as u64))?;
        writeln!(
            f,
            "Non-trainable params: {}",
            thousands((self.params - self.trainable) as u64)
        )?;
        writeln!(f, "Multiply-adds per example: {}", thousands(self.macs))?;
        write!(
            f,
            "Activation memory per example: {} ({} bytes)",
            human_bytes(self.activation_bytes as u64),
            thousands(self.activation_bytes as u64)
        )
    }
}

const GAP: &str = "  ";

/// One line of the table: each cell padded to its column's width, on the
/// right where `right` says so.
fn write_row(
    f: &mut fmt::Formatter<'_>,
    width: &[usize],
    right: &[bool],
    cells: &[String],
) -> fmt::Result {
    let parts: Vec<String> = cells
        .iter()
        .zip(width.iter().zip(right))
        .map(|(cell, (&w, &r))| {
            if r {
                format!("{cell:>w$}")
            } else {
                format!("{cell:<w$}")
            }
        })
        .collect();
    writeln!(f, "{}", parts.join(GAP).trim_end())
}

/// `61706` -> `61,706`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `58448` -> `57.1 KiB` (binary units, one decimal; bytes below 1 KiB).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(61_706), "61,706");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn human_readable_bytes() {
        assert_eq!(human_bytes(812), "812 B");
        assert_eq!(human_bytes(58_448), "57.1 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn table_aligns_columns_and_indents_blocks() {
        const ROWS: &[SummaryRow] = &[
            SummaryRow {
                depth: 0,
                name: "conv1",
                kind: "Conv2d",
                output: "28x28x6",
                params: 156,
                macs: 117_600,
            },
            SummaryRow {
                depth: 0,
                name: "res",
                kind: "Residual",
                output: "28x28x6",
                params: 0,
                macs: 0,
            },
            SummaryRow {
                depth: 1,
                name: "res.relu_1",
                kind: "Relu",
                output: "28x28x6",
                params: 0,
                macs: 0,
            },
        ];
        let s = Summary {
            name: "Tiny",
            input: "32x32x1",
            rows: ROWS,
            params: 160,
            trainable: 156,
            macs: 117_600,
            activation_bytes: 2048,
            fields: &[],
        };
        let text = s.to_string();
        let want = "\
Model: Tiny (input 32x32x1)
========================================================
Layer (type)         Output shape  Params  Multiply-adds
--------------------------------------------------------
conv1 (Conv2d)       28x28x6          156        117,600
res (Residual)       28x28x6            0              0
  res.relu_1 (Relu)  28x28x6            0              0
========================================================
Total params: 160
Trainable params: 156
Non-trainable params: 4
Multiply-adds per example: 117,600
Activation memory per example: 2.0 KiB (2,048 bytes)";
        assert_eq!(text, want, "\n{text}");
    }

    #[test]
    fn receptive_fields_get_a_column_when_there_are_some() {
        const ROWS: &[SummaryRow] = &[
            SummaryRow {
                depth: 0,
                name: "conv1",
                kind: "Conv2d",
                output: "28x28x6",
                params: 156,
                macs: 117_600,
            },
            SummaryRow {
                depth: 0,
                name: "fc",
                kind: "Dense",
                output: "10",
                params: 0,
                macs: 0,
            },
        ];
        const FIELDS: &[ReceptiveField] = &[
            ReceptiveField::new("conv1", [5, 5], [1, 1], [0, 0]),
            ReceptiveField::new("fc", [32, 32], [32, 32], [0, 0]),
        ];
        let s = Summary {
            name: "Tiny",
            input: "32x32x1",
            rows: ROWS,
            params: 156,
            trainable: 156,
            macs: 117_600,
            activation_bytes: 2048,
            fields: FIELDS,
        };
        let text = s.to_string();
        let head = text.lines().nth(2).unwrap();
        assert_eq!(
            head,
            "Layer (type)    Output shape  Receptive field  Params  Multiply-adds"
        );
        assert_eq!(
            text.lines().nth(4).unwrap(),
            "conv1 (Conv2d)  28x28x6       5x5                 156        117,600"
        );
        assert!(text.lines().nth(5).unwrap().contains(" 32x32 "), "{text}");
    }
}
