//! MLflow's JSON field rules (reference §2.2–2.3) as types, written once for every request
//! struct in [`super::requests`]:
//!
//! - [`Text`]: a string; a number is rendered (MLflow coerces numeric ids); `""` and `null`
//!   count as missing.
//! - [`Int`]: an int64 as a JSON integer or a numeric string (surrounding whitespace allowed).
//! - [`Float`]: a double as a number, a numeric string, or `"NaN"`, `"Infinity"`,
//!   `"-Infinity"` (any case, as Python's `float()` reads them), except exactly `"nan"`.
//! - [`List`]: a list; a single value counts as a one-element list (a query string key
//!   given once).
//! - [`Status`], [`View`] and [`ModelStatusField`]: enums by name or by number.
//! - [`Flag`]: a boolean, also as `"true"`/`"false"` text.
//!
//! Every field of a request struct is optional at this level (absent = default); which are
//! required is decided by the endpoint with [`Text::required`] and friends, so a missing one
//! gives MLflow's message.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, value, Deserializer, IntoDeserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::domain::{ModelStatus, RunStatus, ViewType};
use crate::error::{Result, TrackingError};

/// MLflow's message for a required field that is missing (or empty).
pub fn missing(name: &str) -> TrackingError {
    TrackingError::invalid(format!(
        "Missing value for required parameter '{name}'. See the API docs for more information about request parameters."
    ))
}

/// An int64 written as text, as MLflow's JSON parser reads it (surrounding whitespace
/// allowed).
pub fn int64_text(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// A double written as text, as MLflow's protobuf JSON parser reads it: like Python's
/// `float()` (surrounding whitespace; `NaN`, `inf`, `Infinity` in any case; `"1e999"` is
/// infinity), except that exactly `"nan"` is refused.
pub fn double_text(s: &str) -> Option<f64> {
    if s == "nan" {
        return None;
    }
    s.trim().parse().ok()
}

/// A string field; `None` when absent, `null` or `""`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text(pub Option<String>);

impl Text {
    /// The value, or MLflow's "missing" error naming `name`.
    pub fn required(self, name: &str) -> Result<String> {
        self.0.ok_or_else(|| missing(name))
    }

    /// The value, or `""`.
    pub fn or_default(self) -> String {
        self.0.unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Text, E> {
                Ok(Text((!v.is_empty()).then(|| v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Text, E> {
                Ok(Text((!v.is_empty()).then_some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<Text, E> {
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An int64 field; `None` when absent, `null` or `""`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Int(pub Option<i64>);

impl Int {
    /// The value, or MLflow's "missing" error naming `name`.
    pub fn required(self, name: &str) -> Result<i64> {
        self.0.ok_or_else(|| missing(name))
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a numeric string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Int, E> {
                Ok(Int(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Int, E> {
                i64::try_from(v)
                    .map(|v| Int(Some(v)))
                    .map_err(|_| E::custom(format!("{v} is out of the int64 range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Int, E> {
                if v.is_empty() {
                    return Ok(Int(None));
                }
                int64_text(v)
                    .map(|v| Int(Some(v)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Int, E> {
                Ok(Int(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<Int, E> {
                Ok(Int(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A double field; `None` when absent, `null` or `""`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Float(pub Option<f64>);

impl Float {
    /// The value, or MLflow's "missing" error naming `name`.
    pub fn required(self, name: &str) -> Result<f64> {
        self.0.ok_or_else(|| missing(name))
    }
}

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Float;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number (or \"NaN\", \"Infinity\", \"-Infinity\")")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Float, E> {
                Ok(Float(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Float, E> {
                Ok(Float(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Float, E> {
                Ok(Float(Some(v as f64)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Float, E> {
                if v.is_empty() {
                    return Ok(Float(None));
                }
                if v == "nan" {
                    return Err(E::custom("use \"NaN\" for a NaN value"));
                }
                double_text(v)
                    .map(|v| Float(Some(v)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Float, E> {
                Ok(Float(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<Float, E> {
                Ok(Float(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list field; empty when absent, `null` or `""`; a single scalar is a one-element list.
#[derive(Debug, Clone, PartialEq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> V<T> {
            fn one<E: de::Error>(
                item: impl IntoDeserializer<'de, E>,
            ) -> std::result::Result<List<T>, E> {
                T::deserialize(item.into_deserializer()).map(|v| List(vec![v]))
            }
        }
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<List<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List(items))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<List<T>, E> {
                if v.is_empty() {
                    return Ok(List::default());
                }
                Self::one(value::StrDeserializer::<E>::new(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<List<T>, E> {
                Self::one(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<List<T>, E> {
                Self::one(v)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<List<T>, E> {
                Self::one(v)
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<List<T>, E> {
                Ok(List::default())
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<List<T>, E> {
                Ok(List::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl List<Text> {
    /// The non-empty strings of the list.
    pub fn strings(self) -> Vec<String> {
        self.0.into_iter().filter_map(|t| t.0).collect()
    }
}

/// A run status by name (`"FINISHED"`) or number (`3`); `None` when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Status(pub Option<RunStatus>);

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Status;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a run status (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Status, E> {
                if v.is_empty() {
                    return Ok(Status(None));
                }
                RunStatus::from_name(v)
                    .or_else(|| v.parse::<i64>().ok().and_then(RunStatus::from_number))
                    .map(|s| Status(Some(s)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Status, E> {
                RunStatus::from_number(v)
                    .map(|s| Status(Some(s)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Status, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Status, E> {
                Ok(Status(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<Status, E> {
                Ok(Status(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A view type by name (`"ALL"`, any case) or number (`3`); ACTIVE_ONLY when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct View(pub ViewType);

impl<'de> Deserialize<'de> for View {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = View;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a view type (ACTIVE_ONLY, DELETED_ONLY, ALL)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<View, E> {
                if v.is_empty() {
                    return Ok(View::default());
                }
                ViewType::from_name(v)
                    .or_else(|| {
                        v.parse::<i32>()
                            .ok()
                            .and_then(|n| ViewType::from_i32(n).ok())
                    })
                    .map(View)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<View, E> {
                i32::try_from(v)
                    .ok()
                    .and_then(|n| ViewType::from_i32(n).ok())
                    .map(View)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<View, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<View, E> {
                Ok(View::default())
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<View, E> {
                Ok(View::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean flag: `true`/`false` as JSON or as text (query strings); absent = false.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Flag, E> {
                match v.to_ascii_lowercase().as_str() {
                    "" | "false" | "0" => Ok(Flag(false)),
                    "true" | "1" => Ok(Flag(true)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<Flag, E> {
                Ok(Flag(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// A logged model's status by name (`LOGGED_MODEL_READY`, `READY`) or number; `None` when
/// absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelStatusField(pub Option<ModelStatus>);

impl<'de> Deserialize<'de> for ModelStatusField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ModelStatusField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a logged model status (LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<ModelStatusField, E> {
                if v.is_empty() || v.eq_ignore_ascii_case("LOGGED_MODEL_STATUS_UNSPECIFIED") {
                    return Ok(ModelStatusField(None));
                }
                ModelStatus::from_name(v)
                    .map(|s| ModelStatusField(Some(s)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<ModelStatusField, E> {
                if v == 0 {
                    return Ok(ModelStatusField(None));
                }
                ModelStatus::from_number(v)
                    .map(|s| ModelStatusField(Some(s)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<ModelStatusField, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<ModelStatusField, E> {
                Ok(ModelStatusField(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<ModelStatusField, E> {
                Ok(ModelStatusField(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `{key, value}` pair (tags, params): the key is required, the value may be empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    /// The key.
    pub key: Text,
    /// The value.
    pub value: Text,
}

impl KeyValue {
    /// `(key, value)`, with MLflow's rule for a missing key.
    pub fn pair(self) -> Result<(String, String)> {
        Ok((self.key.required("key")?, self.value.or_default()))
    }
}

/// The pairs of a `[{key, value}]` list.
pub fn pairs(list: List<KeyValue>) -> Result<Vec<(String, String)>> {
    list.0.into_iter().map(KeyValue::pair).collect()
}
