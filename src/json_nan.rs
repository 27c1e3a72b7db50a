//! Serde helpers for floats that may be NaN: JSON has no NaN, so `serde_json` writes `null`;
//! these read `null` back as NaN (`#[serde(with = "crate::json_nan::one")]` or `::many`).

/// A single `f32`.
pub mod one {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the value (`null` when not finite, as `serde_json` does).
    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f32(*v)
    }

    /// Reads a number, or `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
    }
}

/// A `Vec<f32>`.
pub mod many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes the values (`null` where not finite).
    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads numbers, each `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        Ok(Vec::<Option<f32>>::deserialize(d)?
            .into_iter()
            .map(|v| v.unwrap_or(f32::NAN))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct T {
        #[serde(with = "super::one")]
        a: f32,
        #[serde(with = "super::many")]
        b: Vec<f32>,
    }

    #[test]
    fn nan_round_trips_through_null() {
        let s = serde_json::to_string(&T {
            a: f32::NAN,
            b: vec![1.0, f32::INFINITY],
        })
        .unwrap();
        assert_eq!(s, r#"{"a":null,"b":[1.0,null]}"#);
        let t: T = serde_json::from_str(&s).unwrap();
        assert!(t.a.is_nan() && t.b[0] == 1.0 && t.b[1].is_nan());
    }
}
