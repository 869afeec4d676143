//! Tables inside files: schema, statistics and row previews of Parquet, and CSV → Parquet.
//!
//! Files are untrusted input. Nothing here does I/O of its own: bytes come from
//! a [`RangeSource`], so a caller reads only the footer and the pages a preview
//! needs, and the fuzz target can feed bytes from memory. Every step is bounded
//! by [`TableLimits`] before anything is decoded, and callers run this code off
//! the async threads through [`contained`], which turns a panic inside
//! arrow/parquet into an ordinary error.

pub mod csv;
pub mod json;
pub mod spark;

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_ord::ord::make_comparator;
use arrow_schema::{DataType, Schema, SortOptions};
use bytes::Bytes;
use parquet::DecodeResult;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::parquet_to_arrow_schema;
use parquet::arrow::push_decoder::ParquetPushDecoderBuilder;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataPushDecoder};
use parquet::schema::types::Type;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::Sha256Digest;
use spark::SparkType;

/// Bounds on the work one inspection or preview may do; all configurable.
#[derive(Clone, Debug)]
pub struct TableLimits {
    /// Most columns (leaf columns for nested data) a table may have.
    pub max_columns: usize,
    /// Deepest nesting of lists and structs.
    pub max_nesting: usize,
    /// Most row groups a Parquet file may have.
    pub max_row_groups: usize,
    /// Most bytes read for a file's footer and page index.
    pub max_metadata_bytes: u64,
    /// Most bytes of pages one preview may read.
    pub max_preview_read_bytes: u64,
    /// Most rows one preview returns.
    pub max_preview_rows: usize,
    /// Most bytes of JSON one preview returns.
    pub max_preview_json_bytes: usize,
    /// Longest one inspection or preview may run.
    pub time_limit: Duration,
}

impl Default for TableLimits {
    fn default() -> Self {
        Self {
            max_columns: 1_000,
            max_nesting: 16,
            max_row_groups: 100_000,
            max_metadata_bytes: 16 << 20,
            max_preview_read_bytes: 64 << 20,
            max_preview_rows: 1_000,
            max_preview_json_bytes: 4 << 20,
            time_limit: Duration::from_secs(20),
        }
    }
}

/// Why a file could not be read as a table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The bytes are not a table this node can read (malformed, truncated, unsupported).
    #[error("{0}")]
    Unreadable(String),
    /// Reading it would exceed a limit.
    #[error("{0}")]
    OverLimit(String),
    /// A requested column does not exist.
    #[error("no column named {0:?}")]
    UnknownColumn(String),
    /// The bytes could not be fetched from storage.
    #[error("reading the file failed: {0}")]
    Fetch(String),
}

impl From<parquet::errors::ParquetError> for TableError {
    fn from(error: parquet::errors::ParquetError) -> Self {
        Self::Unreadable(format!("not a readable Parquet file: {error}"))
    }
}

impl From<arrow_schema::ArrowError> for TableError {
    fn from(error: arrow_schema::ArrowError) -> Self {
        Self::Unreadable(error.to_string())
    }
}

/// Random access to a file's bytes.
pub trait RangeSource {
    /// The file's length in bytes.
    fn byte_length(&self) -> u64;
    /// The bytes of each range, in order.
    fn fetch(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, TableError>;
}

/// A whole file in memory.
impl RangeSource for Bytes {
    fn byte_length(&self) -> u64 {
        Bytes::len(self) as u64
    }

    fn fetch(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, TableError> {
        ranges
            .iter()
            .map(|range| {
                let (start, end) = (usize::try_from(range.start), usize::try_from(range.end));
                match (start, end) {
                    (Ok(start), Ok(end)) if start <= end && end <= Bytes::len(self) => Ok(self.slice(start..end)),
                    _ => Err(TableError::Unreadable(format!("range {range:?} is outside the file"))),
                }
            })
            .collect()
    }
}

/// Runs `work`, turning a panic inside it into [`TableError::Unreadable`].
///
/// arrow and parquet still panic on some malformed files; a panic must cost one
/// request, never the node.
pub fn contained<T>(work: impl FnOnce() -> Result<T, TableError>) -> Result<T, TableError> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        Err(TableError::Unreadable(format!(
            "the file broke the Parquet reader: {reason}"
        )))
    })
}

/// Inspects a whole file held in memory the way the node inspects a published
/// one, and previews its first rows: the entry point of the fuzz target.
pub fn inspect_in_memory(
    bytes: &[u8],
    format: TableFormat,
    limits: &TableLimits,
) -> Result<(TableProfile, Preview), TableError> {
    let parquet = match format {
        TableFormat::Parquet => Bytes::copy_from_slice(bytes),
        TableFormat::Csv => {
            let mut converted = Vec::new();
            csv::convert_to_parquet(csv::in_memory(bytes), &mut converted, limits)?;
            Bytes::from(converted)
        }
    };
    let footer = read_footer(&parquet, limits)?;
    let first_rows = PreviewRequest {
        offset: 0,
        limit: 10,
        columns: None,
    };
    let preview = footer.preview(&parquet, &first_rows, limits)?;
    Ok((footer.profile(), preview))
}

/// The file formats the node reads as tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated (or tab, semicolon, pipe) values with a header line.
    Csv,
}

impl TableFormat {
    /// The lowercase name used in the database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
        }
    }
}

/// What inspecting a table found: its shape and per-column statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableProfile {
    /// The file's format.
    pub format: TableFormat,
    /// Number of rows.
    pub rows: u64,
    /// The columns in order.
    pub columns: Vec<ColumnProfile>,
    /// The Spark struct schema (Delta Sharing `schemaString`); absent when a column has no Spark type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_schema: Option<String>,
    /// How a CSV file was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<csv::CsvDialect>,
    /// The Parquet copy derived from a CSV file, which previews read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub parquet_copy: Option<Sha256Digest>,
}

/// One column and its statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ColumnProfile {
    /// The column's name.
    pub name: String,
    /// Its type as Spark SQL names it (`long`, `decimal(10,2)`, `array<string>`), else Arrow's name.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether it may hold nulls.
    pub nullable: bool,
    /// Nulls in the whole table, when the file records them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_count: Option<u64>,
    /// Smallest value, when the file records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub min: Option<Value>,
    /// Largest value, when the file records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub max: Option<Value>,
    /// Distinct values, when the file records them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_count: Option<u64>,
}

/// A Parquet file's footer, decoded and checked against the limits.
#[derive(Clone, Debug)]
pub struct ParquetFooter {
    metadata: Arc<ParquetMetaData>,
    schema: Arc<Schema>,
}

/// When the work must stop.
struct Deadline(Instant);

impl Deadline {
    fn after(limit: Duration) -> Self {
        Self(Instant::now() + limit)
    }

    fn check(&self) -> Result<(), TableError> {
        if Instant::now() > self.0 {
            Err(TableError::OverLimit(
                "reading the table took longer than allowed".into(),
            ))
        } else {
            Ok(())
        }
    }
}

/// Reads the footer (and page index, when present) of a Parquet file.
pub fn read_footer(source: &dyn RangeSource, limits: &TableLimits) -> Result<ParquetFooter, TableError> {
    let deadline = Deadline::after(limits.time_limit);
    let length = source.byte_length();
    if length < 12 {
        return Err(TableError::Unreadable("too short to be a Parquet file".into()));
    }
    let ends = source.fetch(&[0..4, length - 4..length])?;
    if ends.iter().any(|magic| magic.as_ref() != b"PAR1") {
        return Err(TableError::Unreadable(
            "not a Parquet file: PAR1 is missing at its start or end (encrypted files are not read)".into(),
        ));
    }
    let mut decoder = ParquetMetaDataPushDecoder::try_new(length)?
        .with_column_index_policy(PageIndexPolicy::Skip)
        .with_offset_index_policy(PageIndexPolicy::Optional);
    let mut read = 0u64;
    let metadata = loop {
        deadline.check()?;
        match decoder.try_decode()? {
            DecodeResult::NeedsData(ranges) => {
                read += ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum::<u64>();
                if read > limits.max_metadata_bytes {
                    return Err(TableError::OverLimit(format!(
                        "the footer needs more than {} bytes of metadata",
                        limits.max_metadata_bytes
                    )));
                }
                let data = source.fetch(&ranges)?;
                decoder.push_ranges(ranges, data)?;
            }
            DecodeResult::Data(metadata) => break metadata,
            DecodeResult::Finished => return Err(TableError::Unreadable("the footer holds no metadata".into())),
        }
    };
    check_shape(&metadata, limits)?;
    let file = metadata.file_metadata();
    let schema = parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())?;
    Ok(ParquetFooter {
        metadata: Arc::new(metadata),
        schema: Arc::new(schema),
    })
}

/// Refuses metadata whose size claims exceed the limits, before any page is decoded.
fn check_shape(metadata: &ParquetMetaData, limits: &TableLimits) -> Result<(), TableError> {
    let schema = metadata.file_metadata().schema_descr();
    if schema.num_columns() > limits.max_columns {
        return Err(TableError::OverLimit(format!(
            "{} columns; at most {} are read",
            schema.num_columns(),
            limits.max_columns
        )));
    }
    let depth = nesting(schema.root_schema());
    if depth > limits.max_nesting {
        return Err(TableError::OverLimit(format!(
            "nested {depth} levels deep; at most {} are read",
            limits.max_nesting
        )));
    }
    if metadata.num_row_groups() > limits.max_row_groups {
        return Err(TableError::OverLimit(format!(
            "{} row groups; at most {} are read",
            metadata.num_row_groups(),
            limits.max_row_groups
        )));
    }
    let mut total: u64 = 0;
    for group in metadata.row_groups() {
        let rows = u64::try_from(group.num_rows())
            .map_err(|_| TableError::Unreadable("a row group claims a negative row count".into()))?;
        total = total
            .checked_add(rows)
            .ok_or_else(|| TableError::Unreadable("the row counts overflow".into()))?;
    }
    if u64::try_from(metadata.file_metadata().num_rows()).ok() != Some(total) {
        return Err(TableError::Unreadable(
            "the file's row count disagrees with its row groups".into(),
        ));
    }
    Ok(())
}

/// How deeply a Parquet schema nests, iteratively so a hostile schema cannot overflow the stack.
fn nesting(root: &Type) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(root, 0usize)];
    while let Some((node, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        if let Type::GroupType { fields, .. } = node {
            pending.extend(fields.iter().map(|field| (field.as_ref(), depth + 1)));
        }
    }
    deepest
}

impl ParquetFooter {
    /// Rows in the file.
    pub fn rows(&self) -> u64 {
        self.metadata.file_metadata().num_rows().max(0).unsigned_abs()
    }

    /// The table's profile, from the footer's statistics alone: no page is read.
    pub fn profile(&self) -> TableProfile {
        let row_groups = self.metadata.row_groups();
        let columns = self
            .schema
            .fields()
            .iter()
            .map(|field| {
                let mut column = ColumnProfile {
                    name: field.name().clone(),
                    data_type: type_name(field.data_type()),
                    nullable: field.is_nullable(),
                    null_count: None,
                    min: None,
                    max: None,
                    distinct_count: None,
                };
                let converter = StatisticsConverter::try_new(
                    field.name(),
                    &self.schema,
                    self.metadata.file_metadata().schema_descr(),
                )
                .ok()
                .filter(|converter| converter.parquet_column_index().is_some());
                if let Some(converter) = converter {
                    column.null_count = converter
                        .row_group_null_counts(row_groups.iter())
                        .ok()
                        .and_then(|counts| complete_sum(&counts));
                    column.min = converter
                        .row_group_mins(row_groups.iter())
                        .ok()
                        .and_then(|mins| extreme(&mins, std::cmp::Ordering::Less));
                    column.max = converter
                        .row_group_maxes(row_groups.iter())
                        .ok()
                        .and_then(|maxes| extreme(&maxes, std::cmp::Ordering::Greater));
                    // Distinct counts of several row groups do not add up; only one group's is exact.
                    if row_groups.len() == 1 {
                        column.distinct_count = converter
                            .row_group_distinct_counts(row_groups.iter())
                            .ok()
                            .and_then(|counts| complete_sum(&counts));
                    }
                }
                column
            })
            .collect();
        TableProfile {
            format: TableFormat::Parquet,
            rows: self.rows(),
            columns,
            spark_schema: self.spark_schema(),
            csv: None,
            parquet_copy: None,
        }
    }

    /// Reads the rows a preview asks for: only the row groups and pages that hold them.
    pub fn preview(
        &self,
        source: &dyn RangeSource,
        request: &PreviewRequest,
        limits: &TableLimits,
    ) -> Result<Preview, TableError> {
        let deadline = Deadline::after(limits.time_limit);
        let limit = request.limit.min(limits.max_preview_rows);
        let fields = self.selected_fields(request.columns.as_deref())?;
        let mut preview = Preview {
            columns: fields
                .iter()
                .map(|&index| {
                    let field = self.schema.field(index);
                    PreviewColumn {
                        name: field.name().clone(),
                        data_type: type_name(field.data_type()),
                    }
                })
                .collect(),
            rows: Vec::new(),
            offset: request.offset,
            total_rows: self.rows(),
            truncated: false,
        };
        let (row_groups, skip) = self.row_groups_from(request.offset);
        if limit == 0 || row_groups.is_empty() {
            return Ok(preview);
        }
        let mut sorted = fields.clone();
        sorted.sort_unstable();
        let in_file_order: Vec<usize> = fields
            .iter()
            .map(|index| sorted.binary_search(index).unwrap_or_default())
            .collect();
        let projection = ProjectionMask::roots(self.metadata.file_metadata().schema_descr(), fields.iter().copied());
        let mut decoder = ParquetPushDecoderBuilder::try_new_decoder(Arc::clone(&self.metadata))?
            .with_row_groups(row_groups)
            .with_projection(projection)
            .with_offset(skip)
            .with_limit(limit)
            .with_batch_size(limit.min(1024))
            .build()?;
        let mut read = 0u64;
        let mut json_bytes = 0usize;
        loop {
            deadline.check()?;
            match decoder.try_decode()? {
                DecodeResult::NeedsData(ranges) => {
                    read += ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum::<u64>();
                    if read > limits.max_preview_read_bytes {
                        return Err(TableError::OverLimit(format!(
                            "these rows need more than {} bytes of the file; ask for fewer rows or columns",
                            limits.max_preview_read_bytes
                        )));
                    }
                    let data = source.fetch(&ranges)?;
                    decoder.push_ranges(ranges, data)?;
                }
                DecodeResult::Data(batch) => {
                    // The decoder yields projected columns in file order; show them in the order asked for.
                    let batch = batch.project(&in_file_order)?;
                    if !append_rows(
                        &mut preview,
                        &batch,
                        limit,
                        &mut json_bytes,
                        limits.max_preview_json_bytes,
                    ) {
                        preview.truncated = true;
                        break;
                    }
                }
                DecodeResult::Finished => break,
            }
        }
        Ok(preview)
    }

    /// The Spark schema string, when every column has a Spark type.
    pub fn spark_schema(&self) -> Option<String> {
        SparkType::from_fields(self.schema.fields()).map(|spark| spark.to_json().to_string())
    }

    /// Indexes of the requested top-level columns in the requested order (each once), all when none are named.
    fn selected_fields(&self, names: Option<&[String]>) -> Result<Vec<usize>, TableError> {
        let Some(names) = names else {
            return Ok((0..self.schema.fields().len()).collect());
        };
        let mut selected = Vec::with_capacity(names.len());
        for name in names {
            let index = self
                .schema
                .index_of(name)
                .map_err(|_| TableError::UnknownColumn(name.clone()))?;
            if !selected.contains(&index) {
                selected.push(index);
            }
        }
        Ok(selected)
    }

    /// The row groups from the one holding row `offset` on, and the rows to skip inside them.
    fn row_groups_from(&self, offset: u64) -> (Vec<usize>, usize) {
        let mut first_row = 0u64;
        for (index, group) in self.metadata.row_groups().iter().enumerate() {
            let rows = group.num_rows().max(0).unsigned_abs();
            if offset < first_row + rows {
                let skip = usize::try_from(offset - first_row).unwrap_or(usize::MAX);
                return ((index..self.metadata.num_row_groups()).collect(), skip);
            }
            first_row += rows;
        }
        (Vec::new(), 0)
    }
}

/// Appends a batch's rows; false once the row or byte budget is spent.
fn append_rows(preview: &mut Preview, batch: &RecordBatch, limit: usize, json_bytes: &mut usize, cap: usize) -> bool {
    let columns: Vec<Vec<Value>> = batch
        .columns()
        .iter()
        .map(|c| json::column_values(c.as_ref()))
        .collect();
    for row in 0..batch.num_rows() {
        if preview.rows.len() >= limit {
            return false;
        }
        let values: Vec<Value> = columns.iter().map(|column| column[row].clone()).collect();
        *json_bytes += serde_json::to_string(&values).map(|text| text.len()).unwrap_or(0);
        if *json_bytes > cap {
            return false;
        }
        preview.rows.push(values);
    }
    true
}

/// The sum of per-row-group counts, or `None` when any group lacks one.
fn complete_sum(counts: &arrow_array::UInt64Array) -> Option<u64> {
    if counts.null_count() > 0 || counts.is_empty() {
        return None;
    }
    counts
        .values()
        .iter()
        .try_fold(0u64, |sum, count| sum.checked_add(*count))
}

/// The smallest (`Less`) or largest (`Greater`) non-null value of per-row-group statistics.
fn extreme(values: &ArrayRef, wanted: std::cmp::Ordering) -> Option<Value> {
    let compare = make_comparator(values.as_ref(), values.as_ref(), SortOptions::default()).ok()?;
    let best = (0..values.len())
        .filter(|&row| values.is_valid(row))
        .reduce(|best, row| if compare(row, best) == wanted { row } else { best })?;
    json::column_values(values.slice(best, 1).as_ref()).pop()
}

/// A type's name as people read it: Spark SQL's where there is one, else Arrow's.
pub fn type_name(data_type: &DataType) -> String {
    SparkType::from_arrow(data_type).map_or_else(|| data_type.to_string(), |spark| spark.to_string())
}

/// Which rows and columns a preview shows.
#[derive(Clone, Debug, Default)]
pub struct PreviewRequest {
    /// Rows to skip.
    pub offset: u64,
    /// Rows to show (capped by the limits).
    pub limit: usize,
    /// Top-level columns to show, all when `None`.
    pub columns: Option<Vec<String>>,
}

/// Rows of a table as JSON.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// The columns shown, in the order of each row's values.
    pub columns: Vec<PreviewColumn>,
    /// The rows, each an array of values in column order.
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub rows: Vec<Vec<Value>>,
    /// Rows skipped before the first one shown.
    pub offset: u64,
    /// Rows in the whole table.
    pub total_rows: u64,
    /// True when fewer rows are shown than asked for because the response grew too large.
    pub truncated: bool,
}

/// A column of a preview.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewColumn {
    /// The column's name.
    pub name: String,
    /// Its type (see [`ColumnProfile::data_type`]).
    #[serde(rename = "type")]
    pub data_type: String,
}
