//! Floats in sweep files, non-finite ones included.
//!
//! JSON has no NaN or infinity, and serde_json writes them as `null`, which it then
//! refuses to read back as a number. A mean-field run that blows up is a result, not an
//! error, so its NaN and infinite statistics must survive a round trip through a sweep
//! file: finite numbers are written as numbers (shortest round-trip form, read back bit
//! for bit), the others as the strings `"NaN"`, `"inf"` and `"-inf"`.
//!
//! Use with `#[serde(with = "…::floats::scalar")]` on an `f64` field, `vector` on a
//! `Vec<f64>`, `matrix` on a `Vec<Vec<f64>>` and `matrix32` on a `Vec<Vec<f32>>`.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The text of a non-finite float, `None` for a finite one.
fn non_finite_text(x: f64) -> Option<&'static str> {
    if x.is_nan() {
        Some("NaN")
    } else if x == f64::INFINITY {
        Some("inf")
    } else if x == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

/// An f64 that serializes non-finite values as text.
#[derive(Clone, Copy, Debug, PartialEq)]
struct F64(f64);

/// An f32 that serializes non-finite values as text (and finite ones in f32's own
/// shortest form, so a coordinate costs about half the characters of an f64).
#[derive(Clone, Copy, Debug, PartialEq)]
struct F32(f32);

impl Serialize for F64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match non_finite_text(self.0) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_f64(self.0),
        }
    }
}

impl Serialize for F32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match non_finite_text(f64::from(self.0)) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_f32(self.0),
        }
    }
}

/// Reads a number, or one of the three texts.
struct FloatVisitor;

impl Visitor<'_> for FloatVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or one of \"NaN\", \"inf\", \"-inf\"")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "NaN" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
}

impl<'de> Deserialize<'de> for F64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FloatVisitor).map(F64)
    }
}

impl<'de> Deserialize<'de> for F32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The f32 was written in its shortest form; the nearest f64 to that decimal
        // rounds back to the same f32.
        d.deserialize_any(FloatVisitor).map(|x| F32(x as f32))
    }
}

/// `#[serde(with)]` for an `f64`.
pub mod scalar {
    use super::*;

    /// Writes the float.
    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        F64(*x).serialize(s)
    }

    /// Reads the float.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        F64::deserialize(d).map(|x| x.0)
    }
}

/// `#[serde(with)]` for a `Vec<f64>`.
pub mod vector {
    use super::*;

    /// Writes the floats.
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&x| F64(x)))
    }

    /// Reads the floats.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Vec::<F64>::deserialize(d).map(|v| v.into_iter().map(|x| x.0).collect())
    }
}

/// `#[serde(with)]` for a `Vec<Vec<f64>>`.
pub mod matrix {
    use super::*;

    /// Writes the rows.
    pub fn serialize<S: Serializer>(m: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            m.iter()
                .map(|row| row.iter().map(|&x| F64(x)).collect::<Vec<_>>()),
        )
    }

    /// Reads the rows.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
        Vec::<Vec<F64>>::deserialize(d).map(|m| {
            m.into_iter()
                .map(|r| r.into_iter().map(|x| x.0).collect())
                .collect()
        })
    }
}

/// `#[serde(with)]` for a `Vec<Vec<f32>>`.
pub mod matrix32 {
    use super::*;

    /// Writes the rows.
    pub fn serialize<S: Serializer>(m: &[Vec<f32>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            m.iter()
                .map(|row| row.iter().map(|&x| F32(x)).collect::<Vec<_>>()),
        )
    }

    /// Reads the rows.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f32>>, D::Error> {
        Vec::<Vec<F32>>::deserialize(d).map(|m| {
            m.into_iter()
                .map(|r| r.into_iter().map(|x| x.0).collect())
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug)]
    struct Holder {
        #[serde(with = "super::scalar")]
        x: f64,
        #[serde(with = "super::vector")]
        v: Vec<f64>,
        #[serde(with = "super::matrix")]
        m: Vec<Vec<f64>>,
        #[serde(with = "super::matrix32")]
        c: Vec<Vec<f32>>,
    }

    fn bits64(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn non_finite_and_awkward_values_survive_a_round_trip_bit_for_bit() {
        let awkward = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.1 + 0.2,
            -0.0,
            f64::MIN_POSITIVE / 3.0,
            1e300,
            2.0,
        ];
        let awkward32: Vec<f32> = vec![
            f32::NAN,
            f32::INFINITY,
            0.1,
            1.0 / 3.0,
            -0.0,
            f32::MIN_POSITIVE / 7.0,
            16_777_217.0,
            3.4e38,
        ];
        let h = Holder {
            x: f64::NEG_INFINITY,
            v: awkward.to_vec(),
            m: vec![awkward.to_vec(), vec![]],
            c: vec![awkward32.clone()],
        };
        let text = serde_json::to_string(&h).unwrap();
        assert!(text.contains("\"NaN\"") && text.contains("\"-inf\""));
        let back: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(back.x, f64::NEG_INFINITY);
        assert_eq!(bits64(&back.v), bits64(&awkward));
        assert_eq!(bits64(&back.m[0]), bits64(&awkward));
        assert!(back.m[1].is_empty());
        let b32: Vec<u32> = back.c[0].iter().map(|x| x.to_bits()).collect();
        let a32: Vec<u32> = awkward32.iter().map(|x| x.to_bits()).collect();
        assert_eq!(b32, a32);
        // And the text is stable: writing what was read gives the same text.
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }

    #[test]
    fn other_text_is_refused() {
        let bad = r#"{"x":"nan","v":[],"m":[],"c":[]}"#;
        assert!(serde_json::from_str::<Holder>(bad).is_err());
        let null = r#"{"x":null,"v":[],"m":[],"c":[]}"#;
        assert!(serde_json::from_str::<Holder>(null).is_err());
    }
}
