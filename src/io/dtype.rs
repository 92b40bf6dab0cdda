//! The element types a safetensors file may declare (the 22 of the reference implementation),
//! their sizes in bits, and how each loads (API.md sections 5 and 7.B): floating types as F32,
//! integer types as I64, BOOL as BOOL. Types with no exact F32/I64 reading here (F4, F6, E8M0, the FNUZ
//! float8 variants, complex) are recognised, so such files open, but loading them is
//! RT_ERR_UNSUPPORTED.

use crate::error::{bail, Result};
use crate::storage::{try_with_capacity, DType};
use half::{bf16, f16};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileDtype {
    Bool,
    F4,
    F6E2M3,
    F6E3M2,
    U8,
    I8,
    F8E5M2,
    F8E4M3,
    F8E8M0,
    F8E4M3Fnuz,
    F8E5M2Fnuz,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    C64,
    F64,
    I64,
    U64,
}

/// Name in the header, element size in bits.
const TABLE: [(FileDtype, &str, usize); 22] = [
    (FileDtype::Bool, "BOOL", 8),
    (FileDtype::F4, "F4", 4),
    (FileDtype::F6E2M3, "F6_E2M3", 6),
    (FileDtype::F6E3M2, "F6_E3M2", 6),
    (FileDtype::U8, "U8", 8),
    (FileDtype::I8, "I8", 8),
    (FileDtype::F8E5M2, "F8_E5M2", 8),
    (FileDtype::F8E4M3, "F8_E4M3", 8),
    (FileDtype::F8E8M0, "F8_E8M0", 8),
    (FileDtype::F8E4M3Fnuz, "F8_E4M3FNUZ", 8),
    (FileDtype::F8E5M2Fnuz, "F8_E5M2FNUZ", 8),
    (FileDtype::I16, "I16", 16),
    (FileDtype::U16, "U16", 16),
    (FileDtype::F16, "F16", 16),
    (FileDtype::BF16, "BF16", 16),
    (FileDtype::I32, "I32", 32),
    (FileDtype::U32, "U32", 32),
    (FileDtype::F32, "F32", 32),
    (FileDtype::C64, "C64", 64),
    (FileDtype::F64, "F64", 64),
    (FileDtype::I64, "I64", 64),
    (FileDtype::U64, "U64", 64),
];

impl FileDtype {
    pub fn from_name(name: &str) -> Option<FileDtype> {
        TABLE.iter().find(|(_, n, _)| *n == name).map(|(d, _, _)| *d)
    }

    pub fn name(self) -> &'static str {
        TABLE.iter().find(|(d, _, _)| *d == self).map(|(_, n, _)| *n).expect("every dtype is in TABLE")
    }

    pub fn bits(self) -> usize {
        TABLE.iter().find(|(d, _, _)| *d == self).map(|(_, _, b)| *b).expect("every dtype is in TABLE")
    }

    /// Every name, for error messages.
    pub fn all_names() -> String {
        TABLE.iter().map(|(_, n, _)| *n).collect::<Vec<_>>().join(", ")
    }

    /// The tensor dtype this file dtype loads as, or RT_ERR_UNSUPPORTED.
    pub fn loads_as(self) -> Result<DType> {
        use FileDtype::*;
        match self {
            F32 | F64 | F16 | BF16 | F8E5M2 | F8E4M3 => Ok(DType::F32),
            I64 | I32 | I16 | I8 | U64 | U32 | U16 | U8 => Ok(DType::I64),
            Bool => Ok(DType::Bool),
            F4 | F6E2M3 | F6E3M2 | F8E8M0 | F8E4M3Fnuz | F8E5M2Fnuz | C64 => {
                bail!(Unsupported, "dtype {} cannot be loaded by this build; floating types load as F32 from F32, F64, F16, BF16, F8_E4M3 and F8_E5M2, integer types as I64", self.name())
            }
        }
    }
}

/// Reads little-endian elements of a floating `dtype` from `bytes` (whose length the header
/// validation already matched to the element count) as F32 values.
pub fn to_f32(dtype: FileDtype, bytes: &[u8]) -> Result<Vec<f32>> {
    let mut v = try_with_capacity(bytes.len() * 8 / dtype.bits())?;
    match dtype {
        FileDtype::F32 => v.extend(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()))),
        // Rounds to nearest even; out-of-range magnitudes become infinities, as PyTorch's .float().
        FileDtype::F64 => v.extend(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)),
        FileDtype::F16 => v.extend(bytes.chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())),
        FileDtype::BF16 => v.extend(bytes.chunks_exact(2).map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())),
        // E5M2 is exactly the upper byte of an IEEE half (same exponent bias, infinities and NaN).
        FileDtype::F8E5M2 => v.extend(bytes.iter().map(|&b| f16::from_bits((b as u16) << 8).to_f32())),
        FileDtype::F8E4M3 => v.extend(bytes.iter().map(|&b| f8_e4m3fn(b))),
        other => bail!(Dtype, "dtype {} is not a floating type this build reads as F32", other.name()),
    }
    Ok(v)
}

/// float8 E4M3 "fn" (PyTorch's float8_e4m3fn): bias 7, no infinities, S.1111.111 is NaN,
/// exponent 0 holds subnormals m * 2^-9.
fn f8_e4m3fn(b: u8) -> f32 {
    let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let e = ((b >> 3) & 0xF) as i32;
    let m = (b & 7) as f32;
    if e == 15 && b & 7 == 7 {
        return f32::NAN;
    }
    let magnitude = if e == 0 { m * (-9f32).exp2() } else { (1.0 + m / 8.0) * ((e - 7) as f32).exp2() };
    sign * magnitude
}

/// Reads little-endian elements of an integer `dtype` from `bytes` as I64 values. U64 values beyond the int64 range are RT_ERR_UNSUPPORTED.
pub fn to_i64(dtype: FileDtype, bytes: &[u8], tensor: &str) -> Result<Vec<i64>> {
    let mut v = try_with_capacity(bytes.len() * 8 / dtype.bits())?;
    match dtype {
        FileDtype::I64 => v.extend(bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()))),
        FileDtype::I32 => v.extend(bytes.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)),
        FileDtype::I16 => v.extend(bytes.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)),
        FileDtype::I8 => v.extend(bytes.iter().map(|&b| b as i8 as i64)),
        FileDtype::U32 => v.extend(bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap()) as i64)),
        FileDtype::U16 => v.extend(bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as i64)),
        FileDtype::U8 => v.extend(bytes.iter().map(|&b| b as i64)),
        FileDtype::U64 => {
            for (i, c) in bytes.chunks_exact(8).enumerate() {
                let x = u64::from_le_bytes(c.try_into().unwrap());
                match i64::try_from(x) {
                    Ok(x) => v.push(x),
                    Err(_) => {
                        bail!(Unsupported, "tensor \"{tensor}\" is U64 and element {i} is {x}, beyond the I64 range it would load as")
                    }
                }
            }
        }
        other => bail!(Dtype, "dtype {} is not an integer type this build reads as I64", other.name()),
    }
    Ok(v)
}

/// BOOL elements as bytes, 0 or 1: a file's nonzero byte is true (as PyTorch reads it).
pub fn to_bool(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut v = try_with_capacity(bytes.len())?;
    v.extend(bytes.iter().map(|&b| (b != 0) as u8));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sizes() {
        for (d, n, b) in TABLE {
            assert_eq!(FileDtype::from_name(n), Some(d));
            assert_eq!(d.name(), n);
            assert_eq!(d.bits(), b);
        }
        assert_eq!(FileDtype::from_name("f32"), None);
    }

    #[test]
    fn half_precision_specials() {
        // 1.0, smallest subnormal 2^-24, -inf, NaN.
        let bytes = [0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc, 0x00, 0x7e];
        let v = to_f32(FileDtype::F16, &bytes).unwrap();
        assert_eq!(&v[..3], &[1.0, (-24f32).exp2(), f32::NEG_INFINITY]);
        assert!(v[3].is_nan());
        // bf16: -2.0, smallest subnormal 2^-133.
        let v = to_f32(FileDtype::BF16, &[0x00, 0xc0, 0x01, 0x00]).unwrap();
        assert_eq!(v, vec![-2.0, (-133f32).exp2()]);
    }

    #[test]
    fn float8() {
        // E4M3fn: 448 (max), -2^-9 (smallest subnormal), 1.0, NaN.
        let v = to_f32(FileDtype::F8E4M3, &[0x7e, 0x81, 0x38, 0x7f]).unwrap();
        assert_eq!(&v[..3], &[448.0, -(-9f32).exp2(), 1.0]);
        assert!(v[3].is_nan());
        // E5M2: 57344 (max), 2^-16 (smallest subnormal), +inf.
        let v = to_f32(FileDtype::F8E5M2, &[0x7b, 0x01, 0x7c]).unwrap();
        assert_eq!(v, vec![57344.0, (-16f32).exp2(), f32::INFINITY]);
    }

    #[test]
    fn integers_widen_and_u64_range_is_checked() {
        assert_eq!(to_i64(FileDtype::I8, &[0xff, 0x7f], "t").unwrap(), vec![-1, 127]);
        assert_eq!(to_i64(FileDtype::U16, &[0xff, 0xff], "t").unwrap(), vec![65535]);
        let e = to_i64(FileDtype::U64, &u64::MAX.to_le_bytes(), "t").unwrap_err();
        assert_eq!(e.code, crate::Code::Unsupported);
    }

    #[test]
    fn bool_bytes_normalise() {
        assert_eq!(FileDtype::Bool.loads_as().unwrap(), DType::Bool);
        assert_eq!(to_bool(&[0, 1, 2]).unwrap(), vec![0, 1, 1]);
    }

    #[test]
    fn unsupported_types_are_named() {
        let e = FileDtype::C64.loads_as().unwrap_err();
        assert_eq!(e.code, crate::Code::Unsupported);
        assert!(e.message.contains("C64"));
    }
}
