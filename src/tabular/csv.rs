//! CSV files: dialect sniffing, schema inference over the whole file, and a
//! derived Parquet copy (zstd) that statistics, previews and Delta Sharing read.

use std::collections::HashSet;
use std::io::{Cursor, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use arrow_csv::reader::{Format, ReaderBuilder};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use super::{TableError, TableLimits};

/// How a CSV file was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CsvDialect {
    /// The field separator.
    pub delimiter: String,
    /// Data rows read (the header line excluded).
    pub rows: u64,
}

/// Separators tried, in order of preference when a header line holds several.
const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

/// Bytes of the file's start that the header line must fit in.
const SNIFF_BYTES: u64 = 64 << 10;

/// Rows per Arrow batch while converting.
const BATCH_ROWS: usize = 8_192;

/// Reads the CSV that `open` yields (twice: once to infer types over every row,
/// once to convert) and writes it to `output` as Parquet.
pub fn convert_to_parquet<R, W>(
    open: impl Fn() -> std::io::Result<R>,
    output: W,
    limits: &TableLimits,
) -> Result<CsvDialect, TableError>
where
    R: Read,
    W: Write + Send,
{
    let started = Instant::now();
    let io = |error: std::io::Error| TableError::Fetch(error.to_string());
    let mut head = Vec::new();
    open()
        .map_err(io)?
        .take(SNIFF_BYTES)
        .read_to_end(&mut head)
        .map_err(io)?;
    let delimiter = sniff_delimiter(&head)?;
    let format = Format::default().with_header(true).with_delimiter(delimiter);
    let (inferred, _) = format.infer_schema(open().map_err(io)?, None).map_err(unreadable)?;
    let schema = Arc::new(storable_schema(&inferred, limits)?);
    if started.elapsed() > limits.time_limit {
        return Err(TableError::OverLimit(
            "reading the CSV file took longer than allowed".into(),
        ));
    }
    let reader = ReaderBuilder::new(Arc::clone(&schema))
        .with_format(format)
        .with_batch_size(BATCH_ROWS)
        .build(open().map_err(io)?)
        .map_err(unreadable)?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer = ArrowWriter::try_new(output, schema, Some(properties))?;
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch.map_err(unreadable)?;
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
        if started.elapsed() > limits.time_limit {
            return Err(TableError::OverLimit(
                "converting the CSV file took longer than allowed".into(),
            ));
        }
    }
    writer.close()?;
    Ok(CsvDialect {
        delimiter: char::from(delimiter).to_string(),
        rows,
    })
}

fn unreadable(error: arrow_schema::ArrowError) -> TableError {
    TableError::Unreadable(format!("not a readable CSV file: {error}"))
}

/// The separator that splits the header line into the most fields.
fn sniff_delimiter(head: &[u8]) -> Result<u8, TableError> {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let header = &head[..line_end];
    if header.is_empty() {
        return Err(TableError::Unreadable("the CSV file has no header line".into()));
    }
    if std::str::from_utf8(header).is_err() && line_end < head.len() {
        return Err(TableError::Unreadable(
            "the CSV header is not UTF-8 (convert GBK files to UTF-8 before publishing)".into(),
        ));
    }
    let count = |delimiter: u8| header.iter().filter(|&&b| b == delimiter).count();
    Ok(DELIMITERS
        .iter()
        .copied()
        .max_by_key(|&delimiter| (count(delimiter), std::cmp::Reverse(delimiter == b',')))
        .filter(|&delimiter| count(delimiter) > 0)
        .unwrap_or(b','))
}

/// The inferred schema made fit for Parquet and its readers: unique non-empty
/// names, all-empty columns as strings, timestamps in microseconds.
fn storable_schema(inferred: &Schema, limits: &TableLimits) -> Result<Schema, TableError> {
    if inferred.fields().len() > limits.max_columns {
        return Err(TableError::OverLimit(format!(
            "{} columns; at most {} are read",
            inferred.fields().len(),
            limits.max_columns
        )));
    }
    let mut taken = HashSet::new();
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let base = match field.name().trim() {
                "" => format!("column_{}", index + 1),
                name => name.to_owned(),
            };
            let mut name = base.clone();
            let mut suffix = 2;
            while !taken.insert(name.clone()) {
                name = format!("{base}_{suffix}");
                suffix += 1;
            }
            let data_type = match field.data_type() {
                DataType::Null => DataType::Utf8,
                DataType::Timestamp(TimeUnit::Second | TimeUnit::Millisecond, zone) => {
                    DataType::Timestamp(TimeUnit::Microsecond, zone.clone())
                }
                other => other.clone(),
            };
            Field::new(name, data_type, true)
        })
        .collect();
    Ok(Schema::new(fields))
}

/// A reader over bytes already in memory, for tests and the fuzz target.
pub fn in_memory<'a>(bytes: &'a [u8]) -> impl Fn() -> std::io::Result<Cursor<&'a [u8]>> + 'a {
    move || Ok(Cursor::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::{PreviewRequest, read_footer};
    use bytes::Bytes;
    use serde_json::json;

    fn convert(text: &str) -> Result<(CsvDialect, Bytes), TableError> {
        let mut parquet = Vec::new();
        let dialect = convert_to_parquet(in_memory(text.as_bytes()), &mut parquet, &TableLimits::default())?;
        Ok((dialect, Bytes::from(parquet)))
    }

    #[test]
    fn csv_becomes_typed_parquet() {
        let text = "站点,日期,时间,流量,均速,备注\n朝阳,2024-01-01,2024-01-01 08:00:00,120,35.5,\n海淀,2024-01-02,2024-01-02T09:30:00,,40.25,晴\n";
        let (dialect, parquet) = convert(text).expect("converts");
        assert_eq!(
            dialect,
            CsvDialect {
                delimiter: ",".into(),
                rows: 2
            }
        );
        let footer = read_footer(&parquet, &TableLimits::default()).expect("footer");
        let profile = footer.profile();
        let types: Vec<&str> = profile.columns.iter().map(|c| c.data_type.as_str()).collect();
        assert_eq!(types, ["string", "date", "timestamp", "long", "double", "string"]);
        assert_eq!(profile.columns[3].null_count, Some(1));
        assert_eq!(profile.columns[3].min, Some(json!(120)));
        assert_eq!(profile.columns[0].max, Some(json!("海淀")));
        let request = PreviewRequest {
            offset: 1,
            limit: 10,
            columns: Some(vec!["站点".into(), "流量".into()]),
        };
        let preview = footer
            .preview(&parquet, &request, &TableLimits::default())
            .expect("preview");
        assert_eq!(preview.rows, vec![vec![json!("海淀"), json!(null)]]);
    }

    #[test]
    fn dialects_and_headers_are_sniffed() {
        let (dialect, parquet) = convert("a;b;a;\n1;2;3;4\n").expect("converts");
        assert_eq!(dialect.delimiter, ";");
        let names: Vec<String> = read_footer(&parquet, &TableLimits::default())
            .expect("footer")
            .profile()
            .columns
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["a", "b", "a_2", "column_4"]);
    }

    #[test]
    fn broken_csv_is_explained() {
        assert!(matches!(convert(""), Err(TableError::Unreadable(_))));
        assert!(matches!(convert("a,b\n1,2\n3\n"), Err(TableError::Unreadable(_))));
        let gbk = b"\xd5\xbe\xb5\xe3,x\n1,2\n";
        let mut sink = Vec::new();
        let result = convert_to_parquet(in_memory(gbk), &mut sink, &TableLimits::default());
        assert!(matches!(result, Err(TableError::Unreadable(message)) if message.contains("UTF-8")));
    }
}
