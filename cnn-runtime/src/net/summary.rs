//! The Keras-style table that a generated network's `summary()` prints: one
//! row per layer (name and kind, output shape, parameters, multiply-adds;
//! layers inside a block indented under it), then the totals with thousands
//! separators and the activation memory of one example.

use std::fmt;

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
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEAD: [&str; 4] = ["Layer (type)", "Output shape", "Params", "Multiply-adds"];
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    format!("{}{} ({})", "  ".repeat(r.depth), r.name, r.kind),
                    r.output.to_string(),
                    thousands(r.params as u64),
                    thousands(r.macs),
                ]
            })
            .collect();
        let mut width = HEAD.map(str::len);
        for row in &cells {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let total: usize = width.iter().sum::<usize>() + 3 * GAP.len();
        let line =
            |f: &mut fmt::Formatter<'_>, c: char| writeln!(f, "{}", c.to_string().repeat(total));
        writeln!(f, "Model: {} (input {})", self.name, self.input)?;
        line(f, '=')?;
        write_row(f, &width, &HEAD.map(String::from))?;
        line(f, '-')?;
        for row in &cells {
            write_row(f, &width, row)?;
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

/// Text columns left-aligned, number columns right-aligned.
fn write_row(f: &mut fmt::Formatter<'_>, width: &[usize; 4], cells: &[String; 4]) -> fmt::Result {
    let line = format!(
        "{:<w0$}{GAP}{:<w1$}{GAP}{:>w2$}{GAP}{:>w3$}",
        cells[0],
        cells[1],
        cells[2],
        cells[3],
        w0 = width[0],
        w1 = width[1],
        w2 = width[2],
        w3 = width[3],
    );
    writeln!(f, "{}", line.trim_end())
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
}
