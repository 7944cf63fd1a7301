//! The few things done with ONNX's protobuf messages, on both sides: making
//! nodes, attributes and float tensors for the export, and reading
//! attributes and tensors back for the import, where every field comes from
//! a file that may be anything and so is checked (types, lengths, sizes)
//! before it is used.

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::{DataLocation, DataType};
use onnx_protobuf::{AttributeProto, NodeProto, TensorProto};
use protobuf::Enum;

use super::dims;

/// A node `op` named `name` from `inputs` to `outputs`.
pub(super) fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attributes: Vec<AttributeProto>,
) -> NodeProto {
    let mut n = NodeProto::new();
    n.op_type = op.to_string();
    n.name = name.to_string();
    n.input = inputs.iter().map(|s| s.to_string()).collect();
    n.output = outputs.iter().map(|s| s.to_string()).collect();
    n.attribute = attributes;
    n
}

fn attribute(name: &str, kind: AttributeType) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = kind.into();
    a
}

/// An `INT` attribute.
pub(super) fn int(name: &str, value: i64) -> AttributeProto {
    let mut a = attribute(name, AttributeType::INT);
    a.i = value;
    a
}

/// An `INTS` attribute.
pub(super) fn ints(name: &str, values: &[usize]) -> AttributeProto {
    let mut a = attribute(name, AttributeType::INTS);
    a.ints = values.iter().map(|&v| v as i64).collect();
    a
}

/// A `STRING` attribute.
pub(super) fn string(name: &str, value: &str) -> AttributeProto {
    let mut a = attribute(name, AttributeType::STRING);
    a.s = value.as_bytes().to_vec();
    a
}

/// A `FLOAT` attribute.
pub(super) fn float(name: &str, value: f32) -> AttributeProto {
    let mut a = attribute(name, AttributeType::FLOAT);
    a.f = value;
    a
}

/// A float32 tensor `name` of shape `shape`, stored little-endian in
/// `raw_data` as exporters usually do.
pub(super) fn tensor(name: &str, shape: &[usize], values: &[f32]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.dims = shape.iter().map(|&d| d as i64).collect();
    t.data_type = DataType::FLOAT.value();
    t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t
}

/// An int64 tensor `name` of shape `[values.len()]` (a `Reshape`'s shape).
pub(super) fn int64s(name: &str, values: &[i64]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.dims = vec![values.len() as i64];
    t.data_type = DataType::INT64.value();
    t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t
}

/// An attribute of `node` read as an integer; `default` when absent.
pub(super) fn get_int(node: &NodeProto, name: &str, default: i64) -> Result<i64, String> {
    match find(node, name) {
        None => Ok(default),
        Some(a) if kind(a) == Some(AttributeType::INT) => Ok(a.i),
        Some(a) => Err(wrong_kind(a, "an integer")),
    }
}

/// An attribute of `node` read as a list of integers; `None` when absent.
pub(super) fn get_ints<'n>(node: &'n NodeProto, name: &str) -> Result<Option<&'n [i64]>, String> {
    match find(node, name) {
        None => Ok(None),
        Some(a) if kind(a) == Some(AttributeType::INTS) => Ok(Some(&a.ints)),
        Some(a) => Err(wrong_kind(a, "a list of integers")),
    }
}

/// An attribute of `node` read as a float; `default` when absent.
pub(super) fn get_float(node: &NodeProto, name: &str, default: f32) -> Result<f32, String> {
    match find(node, name) {
        None => Ok(default),
        Some(a) if kind(a) == Some(AttributeType::FLOAT) => Ok(a.f),
        Some(a) => Err(wrong_kind(a, "a float")),
    }
}

/// An attribute of `node` read as a string; `default` when absent.
pub(super) fn get_string(node: &NodeProto, name: &str, default: &str) -> Result<String, String> {
    match find(node, name) {
        None => Ok(default.to_string()),
        Some(a) if kind(a) == Some(AttributeType::STRING) => {
            Ok(String::from_utf8_lossy(&a.s).into_owned())
        }
        Some(a) => Err(wrong_kind(a, "a string")),
    }
}

/// The tensor a `Constant` node holds in its `value` attribute, if that is
/// how it holds it (the other forms are scalars and lists, never weights).
pub(super) fn constant_value(node: &NodeProto) -> Option<&TensorProto> {
    let a = find(node, "value")?;
    if kind(a) == Some(AttributeType::TENSOR) {
        a.t.as_ref()
    } else {
        None
    }
}

fn find<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn kind(a: &AttributeProto) -> Option<AttributeType> {
    a.type_.enum_value().ok()
}

fn wrong_kind(a: &AttributeProto, wanted: &str) -> String {
    let has = match kind(a) {
        Some(k) => format!("{k:?}").to_lowercase(),
        None => format!("type {}", a.type_.value()),
    };
    format!("attribute `{}` is {has} where {wanted} belongs", a.name)
}

/// A stored tensor read as `f32`: its shape and its values. `FLOAT` is read
/// as it is, `DOUBLE`, `FLOAT16` and `BFLOAT16` are converted, from
/// `raw_data` or from the typed field the format allows for that type.
/// Every length is checked against the shape; data kept in an external
/// file is refused (models under 2 GB keep it inside).
pub(super) fn read_floats(t: &TensorProto) -> Result<(Vec<usize>, Vec<f32>), String> {
    if t.data_location.enum_value() == Ok(DataLocation::EXTERNAL) || !t.external_data.is_empty() {
        return Err(format!(
            "tensor `{}` keeps its data in an external file, which the import does not read; \
             save the model with its weights inside (onnx.save(model, path, save_as_external_data=False))",
            t.name
        ));
    }
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        let d = usize::try_from(d)
            .map_err(|_| format!("tensor `{}` has a negative dimension {d}", t.name))?;
        shape.push(d);
    }
    let n = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("tensor `{}`: shape {} overflows", t.name, dims(&shape)))?;
    let dtype = DataType::from_i32(t.data_type);
    let width = match dtype {
        Some(DataType::FLOAT) => 4,
        Some(DataType::DOUBLE) => 8,
        Some(DataType::FLOAT16 | DataType::BFLOAT16) => 2,
        _ => {
            let name = dtype.map_or(format!("data type {}", t.data_type), |d| format!("{d:?}"));
            return Err(format!(
                "tensor `{}` is {name}, not a floating-point type, so it cannot be a weight",
                t.name
            ));
        }
    };
    let len_error = |got: usize, field: &str| {
        format!(
            "tensor `{}`: shape {} needs {n} values, but {field} holds {got}",
            t.name,
            dims(&shape)
        )
    };
    let values: Vec<f32> = if !t.raw_data.is_empty() {
        if Some(t.raw_data.len()) != n.checked_mul(width) {
            return Err(len_error(t.raw_data.len() / width, "raw_data"));
        }
        let chunks = t.raw_data.chunks_exact(width);
        match dtype {
            Some(DataType::FLOAT) => chunks
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Some(DataType::DOUBLE) => chunks
                .map(|b| {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
                })
                .collect(),
            Some(DataType::FLOAT16) => chunks
                .map(|b| crate::io::f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            _ => chunks
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                .collect(),
        }
    } else {
        match dtype {
            Some(DataType::FLOAT) => {
                if t.float_data.len() != n {
                    return Err(len_error(t.float_data.len(), "float_data"));
                }
                t.float_data.clone()
            }
            Some(DataType::DOUBLE) => {
                if t.double_data.len() != n {
                    return Err(len_error(t.double_data.len(), "double_data"));
                }
                t.double_data.iter().map(|&v| v as f32).collect()
            }
            // Half precision without raw_data sits in int32_data, one
            // 16-bit pattern per value.
            _ => {
                if t.int32_data.len() != n {
                    return Err(len_error(t.int32_data.len(), "int32_data"));
                }
                let half = dtype == Some(DataType::FLOAT16);
                t.int32_data
                    .iter()
                    .map(|&v| {
                        let bits = v as u16;
                        if half {
                            crate::io::f16_to_f32(bits)
                        } else {
                            f32::from_bits(u32::from(bits) << 16)
                        }
                    })
                    .collect()
            }
        }
    };
    Ok((shape, values))
}
