//! RFC 8785 JSON Canonicalization Scheme (JCS) and strict JSON parsing.
//!
//! Signatures are computed over the bytes produced here and nowhere else, so
//! two parties that agree on a document's value agree on what was signed.
//! Parsing is strict: a signed document with a duplicate key could mean one
//! thing to the verifier and another to the application, so it is refused.

use std::fmt::Write as _;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a JSON text or value cannot be canonicalized.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    /// The text is not JSON, or repeats a key inside one object.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// The value holds a number JSON cannot carry (NaN or infinity).
    #[error("number {0} has no JSON form")]
    NonFiniteNumber(String),
}

/// Parses JSON text, rejecting duplicate object keys (RFC 8785 §3.1 and I-JSON).
pub fn parse_strict(text: &[u8]) -> Result<Value, CanonicalError> {
    serde_json::from_slice::<StrictValue>(text)
        .map(|strict| strict.0)
        .map_err(|error| CanonicalError::Syntax(error.to_string()))
}

/// Serializes `value` to its RFC 8785 canonical form.
pub fn canonicalize(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out)
}

/// Whether `value` contains any non-integer number; signed documents carry none.
pub fn contains_float(value: &Value) -> bool {
    match value {
        Value::Number(number) => number.is_f64(),
        Value::Array(items) => items.iter().any(contains_float),
        Value::Object(members) => members.values().any(contains_float),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
}

fn write_value(value: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => write_number(number, out)?,
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(members) => {
            // RFC 8785 §3.2.3: order by the UTF-16 code units of the keys.
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(&members[key], out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Largest integer an IEEE 754 double holds exactly; larger ones are written as doubles.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

fn write_number(number: &Number, out: &mut String) -> Result<(), CanonicalError> {
    if let Some(unsigned) = number.as_u64().filter(|n| *n <= MAX_EXACT_INTEGER) {
        let _ = write!(out, "{unsigned}");
        return Ok(());
    }
    if let Some(signed) = number.as_i64().filter(|n| n.unsigned_abs() <= MAX_EXACT_INTEGER) {
        let _ = write!(out, "{signed}");
        return Ok(());
    }
    let double = number
        .as_f64()
        .ok_or_else(|| CanonicalError::NonFiniteNumber(number.to_string()))?;
    write_double(double, out)
}

/// Writes a double the way ECMAScript's `Number.prototype.toString` does (RFC 8785 §3.2.2.3).
fn write_double(value: f64, out: &mut String) -> Result<(), CanonicalError> {
    if !value.is_finite() {
        return Err(CanonicalError::NonFiniteNumber(value.to_string()));
    }
    if value == 0.0 {
        out.push('0');
        return Ok(());
    }
    if value < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, as ECMAScript requires.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .ok_or_else(|| CanonicalError::NonFiniteNumber(scientific.clone()))?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent
        .parse()
        .map_err(|_| CanonicalError::NonFiniteNumber(scientific.clone()))?;
    let digit_count = digits.len() as i32;
    // ECMAScript's n: the value is 0.d1d2…dk × 10^n.
    let n = exponent + 1;
    if digit_count <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - digit_count) as usize));
    } else if 0 < n && n <= 21 {
        let (whole, fraction) = digits.split_at(n as usize);
        let _ = write!(out, "{whole}.{fraction}");
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            let _ = write!(out, ".{rest}");
        }
        let sign = if n > 0 { '+' } else { '-' };
        let _ = write!(out, "e{sign}{}", (n - 1).abs());
    }
    Ok(())
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// A JSON value deserialized with duplicate keys treated as an error.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(value)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<StrictValue, E> {
        Number::from_f64(value)
            .map(|number| StrictValue(Value::Number(number)))
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, value: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(value)))
    }

    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(StrictValue(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let StrictValue(value) = map.next_value()?;
            members.insert(key, value);
        }
        Ok(StrictValue(Value::Object(members)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical_text(text: &str) -> String {
        canonicalize(&parse_strict(text.as_bytes()).expect("valid JSON")).expect("canonical")
    }

    #[test]
    fn numbers_follow_ecmascript_forms() {
        let cases = [
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("-0.0", "0"),
            ("1.5e-10", "1.5e-10"),
            ("123.456", "123.456"),
            ("9007199254740993", "9007199254740992"),
            ("-12", "-12"),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical_text(input), expected, "input {input}");
        }
    }

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        assert!(parse_strict(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_strict(br#"{"x":[{"b":1,"b":1}]}"#).is_err());
        assert!(parse_strict(br#"{"a":1,"b":{"a":2}}"#).is_ok());
    }

    #[test]
    fn floats_are_detected_anywhere() {
        assert!(contains_float(&serde_json::json!({"a": [1, {"b": 0.5}]})));
        assert!(!contains_float(&serde_json::json!({"a": [1, {"b": -5}]})));
    }
}
