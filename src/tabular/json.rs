//! Arrow values as JSON: what previews and statistics show.
//!
//! Numbers that JSON carries exactly stay numbers; decimals, dates, times and
//! binary become strings so nothing is rounded or reinterpreted on the way.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use serde_json::{Map, Number, Value};

/// Every value of `array`, nulls as `null`.
pub fn column_values(array: &dyn Array) -> Vec<Value> {
    match array.data_type() {
        DataType::Boolean => {
            let booleans = array.as_boolean();
            (0..array.len())
                .map(|row| present(array, row, || Value::Bool(booleans.value(row))))
                .collect()
        }
        DataType::Int8 => integers::<Int8Type>(array),
        DataType::Int16 => integers::<Int16Type>(array),
        DataType::Int32 => integers::<Int32Type>(array),
        DataType::Int64 => integers::<Int64Type>(array),
        DataType::UInt8 => integers::<UInt8Type>(array),
        DataType::UInt16 => integers::<UInt16Type>(array),
        DataType::UInt32 => integers::<UInt32Type>(array),
        DataType::UInt64 => integers::<UInt64Type>(array),
        DataType::Float16 => floats::<Float16Type>(array),
        DataType::Float32 => floats::<Float32Type>(array),
        DataType::Float64 => floats::<Float64Type>(array),
        DataType::Utf8 => strings(array, |row| array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => strings(array, |row| array.as_string::<i64>().value(row)),
        DataType::Utf8View => strings(array, |row| array.as_string_view().value(row)),
        DataType::List(_) => {
            let lists = array.as_list::<i32>();
            (0..array.len())
                .map(|row| present(array, row, || Value::Array(column_values(lists.value(row).as_ref()))))
                .collect()
        }
        DataType::LargeList(_) => {
            let lists = array.as_list::<i64>();
            (0..array.len())
                .map(|row| present(array, row, || Value::Array(column_values(lists.value(row).as_ref()))))
                .collect()
        }
        DataType::FixedSizeList(_, _) => {
            let lists = array.as_fixed_size_list();
            (0..array.len())
                .map(|row| present(array, row, || Value::Array(column_values(lists.value(row).as_ref()))))
                .collect()
        }
        DataType::Struct(fields) => {
            let structs = array.as_struct();
            let columns: Vec<Vec<Value>> = structs.columns().iter().map(|c| column_values(c.as_ref())).collect();
            (0..array.len())
                .map(|row| {
                    present(array, row, || {
                        let object: Map<String, Value> = fields
                            .iter()
                            .zip(&columns)
                            .map(|(field, values)| (field.name().clone(), values[row].clone()))
                            .collect();
                        Value::Object(object)
                    })
                })
                .collect()
        }
        DataType::Dictionary(_, values) => match arrow_cast::cast(array, values) {
            Ok(plain) => column_values(plain.as_ref()),
            Err(_) => displayed(array),
        },
        _ => displayed(array),
    }
}

/// The value at `row`, or null.
fn present(array: &dyn Array, row: usize, value: impl FnOnce() -> Value) -> Value {
    if array.is_null(row) { Value::Null } else { value() }
}

fn integers<T>(array: &dyn Array) -> Vec<Value>
where
    T: ArrowPrimitiveType,
    T::Native: Into<Number>,
{
    let values = array.as_primitive::<T>();
    (0..array.len())
        .map(|row| present(array, row, || Value::Number(values.value(row).into())))
        .collect()
}

fn floats<T>(array: &dyn Array) -> Vec<Value>
where
    T: ArrowPrimitiveType,
    T::Native: Into<f64>,
{
    let values = array.as_primitive::<T>();
    (0..array.len())
        .map(|row| {
            present(array, row, || {
                let value: f64 = values.value(row).into();
                // JSON has no NaN or infinity; say them in words rather than drop them.
                Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number)
            })
        })
        .collect()
}

fn strings<'a>(array: &'a dyn Array, value: impl Fn(usize) -> &'a str) -> Vec<Value> {
    (0..array.len())
        .map(|row| present(array, row, || Value::String(value(row).to_owned())))
        .collect()
}

/// Arrow's own rendering: ISO dates and timestamps, exact decimals, hex binary.
fn displayed(array: &dyn Array) -> Vec<Value> {
    let options = FormatOptions::default();
    match ArrayFormatter::try_new(array, &options) {
        Ok(formatter) => (0..array.len())
            .map(|row| present(array, row, || Value::String(formatter.value(row).to_string())))
            .collect(),
        Err(_) => vec![Value::Null; array.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray};
    use serde_json::json;

    #[test]
    fn values_keep_their_meaning() {
        let ints = Int64Array::from(vec![Some(1), None, Some(i64::MAX)]);
        assert_eq!(column_values(&ints), vec![json!(1), Value::Null, json!(i64::MAX)]);
        let floats = Float64Array::from(vec![1.5, f64::NAN]);
        assert_eq!(column_values(&floats), vec![json!(1.5), json!("NaN")]);
        let decimals = Decimal128Array::from(vec![12345])
            .with_precision_and_scale(10, 2)
            .expect("decimal");
        assert_eq!(column_values(&decimals), vec![json!("123.45")]);
        let dates = Date32Array::from(vec![19_723]);
        assert_eq!(column_values(&dates), vec![json!("2024-01-01")]);
        let text = StringArray::from(vec!["朝阳区"]);
        assert_eq!(column_values(&text), vec![json!("朝阳区")]);
        let mut lists = ListBuilder::new(StringBuilder::new());
        lists.values().append_value("a");
        lists.append(true);
        lists.append(false);
        assert_eq!(column_values(&lists.finish()), vec![json!(["a"]), Value::Null]);
    }
}
