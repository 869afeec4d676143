//! Arrow types as Spark SQL types: the `schemaString` of Delta Sharing and the
//! type names shown to people, from one mapping.

use std::fmt;

use arrow_schema::{DataType, Fields};
use serde_json::{Value, json};

/// A Spark SQL type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SparkType {
    /// `boolean`, `long`, `decimal(10,2)`, `string`, `timestamp` …
    Primitive(String),
    /// `array<element>`.
    Array {
        /// The element type.
        element: Box<SparkType>,
        /// Whether elements may be null.
        contains_null: bool,
    },
    /// `struct<name:type,…>`.
    Struct(Vec<SparkField>),
    /// `map<key,value>`.
    Map {
        /// The key type.
        key: Box<SparkType>,
        /// The value type.
        value: Box<SparkType>,
        /// Whether values may be null.
        value_contains_null: bool,
    },
}

/// A named field of a Spark struct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparkField {
    /// The field's name.
    pub name: String,
    /// Its type.
    pub data_type: SparkType,
    /// Whether it may be null.
    pub nullable: bool,
}

impl SparkType {
    /// The Spark type of an Arrow type; `None` for types Spark cannot read (times, intervals …).
    pub fn from_arrow(data_type: &DataType) -> Option<Self> {
        let primitive = |name: &str| Some(Self::Primitive(name.to_owned()));
        match data_type {
            DataType::Boolean => primitive("boolean"),
            DataType::Int8 => primitive("byte"),
            DataType::Int16 | DataType::UInt8 => primitive("short"),
            DataType::Int32 | DataType::UInt16 => primitive("integer"),
            DataType::Int64 | DataType::UInt32 => primitive("long"),
            DataType::UInt64 => primitive("decimal(20,0)"),
            DataType::Float16 | DataType::Float32 => primitive("float"),
            DataType::Float64 => primitive("double"),
            DataType::Decimal32(precision, scale)
            | DataType::Decimal64(precision, scale)
            | DataType::Decimal128(precision, scale)
                if *scale >= 0 =>
            {
                primitive(&format!("decimal({precision},{scale})"))
            }
            DataType::Decimal256(precision, scale) if *precision <= 38 && *scale >= 0 => {
                primitive(&format!("decimal({precision},{scale})"))
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => primitive("string"),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
                primitive("binary")
            }
            DataType::Date32 | DataType::Date64 => primitive("date"),
            // Naive timestamps too: `timestamp_ntz` breaks the Delta Sharing Python client.
            DataType::Timestamp(_, _) => primitive("timestamp"),
            DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _) => {
                Some(Self::Array {
                    element: Box::new(Self::from_arrow(field.data_type())?),
                    contains_null: field.is_nullable(),
                })
            }
            DataType::Struct(fields) => Self::from_fields(fields),
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(pair) if pair.len() == 2 => Some(Self::Map {
                    key: Box::new(Self::from_arrow(pair[0].data_type())?),
                    value: Box::new(Self::from_arrow(pair[1].data_type())?),
                    value_contains_null: pair[1].is_nullable(),
                }),
                _ => None,
            },
            DataType::Dictionary(_, values) => Self::from_arrow(values),
            _ => None,
        }
    }

    /// The struct of `fields`; `None` when any field has no Spark type.
    pub fn from_fields(fields: &Fields) -> Option<Self> {
        fields
            .iter()
            .map(|field| {
                Some(SparkField {
                    name: field.name().clone(),
                    data_type: Self::from_arrow(field.data_type())?,
                    nullable: field.is_nullable(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .map(Self::Struct)
    }

    /// The JSON form Delta Sharing's `schemaString` holds.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Primitive(name) => Value::String(name.clone()),
            Self::Array { element, contains_null } => {
                json!({"type": "array", "elementType": element.to_json(), "containsNull": contains_null})
            }
            Self::Struct(fields) => json!({
                "type": "struct",
                "fields": fields.iter().map(|field| json!({
                    "name": field.name,
                    "type": field.data_type.to_json(),
                    "nullable": field.nullable,
                    "metadata": {},
                })).collect::<Vec<_>>(),
            }),
            Self::Map {
                key,
                value,
                value_contains_null,
            } => json!({
                "type": "map",
                "keyType": key.to_json(),
                "valueType": value.to_json(),
                "valueContainsNull": value_contains_null,
            }),
        }
    }
}

/// The SQL-like simple string (`array<string>`, `decimal(10,2)`), as Spark prints it.
impl fmt::Display for SparkType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Primitive(name) => formatter.write_str(name),
            Self::Array { element, .. } => write!(formatter, "array<{element}>"),
            Self::Struct(fields) => {
                formatter.write_str("struct<")?;
                for (index, field) in fields.iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(",")?;
                    }
                    write!(formatter, "{}:{}", field.name, field.data_type)?;
                }
                formatter.write_str(">")
            }
            Self::Map { key, value, .. } => write!(formatter, "map<{key},{value}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{Field, TimeUnit};
    use std::sync::Arc;

    #[test]
    fn arrow_types_map_onto_spark_types() {
        let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        let fields = Fields::from(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("amount", DataType::Decimal128(10, 2), true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("tags", list, true),
        ]);
        let spark = SparkType::from_fields(&fields).expect("mappable");
        assert_eq!(
            spark.to_string(),
            "struct<id:long,amount:decimal(10,2),at:timestamp,tags:array<string>>"
        );
        let json = spark.to_json();
        assert_eq!(json["fields"][3]["type"]["elementType"], "string");
        assert_eq!(json["fields"][0]["nullable"], false);
        assert_eq!(SparkType::from_arrow(&DataType::Time32(TimeUnit::Second)), None);
    }
}
