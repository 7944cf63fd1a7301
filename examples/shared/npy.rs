//! NumPy's `.npy` files for the ONNX examples (`onnx_export`, and
//! `detect_digits` with the `onnx` feature), which `scripts/onnx_check.py`
//! reads.

use std::path::Path;

/// A float32 array in NumPy's `.npy` format (version 1.0, C order): the
/// magic, a header length, a Python dict literal padded with spaces to a
/// multiple of 64 bytes, then the values little-endian.
pub fn write_npy(path: &Path, shape: &[usize], values: &[f32]) -> Result<(), cnn::Error> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    cnn::io::write_bytes_atomic(path, &bytes)
}
