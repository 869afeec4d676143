//! Tables: inspection at publish, schema and preview endpoints, CSV → Parquet, hostile files.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, metadata, place_test_order, sha256_hex};
use crate::on_both_backends;

on_both_backends!(
    parquet_tables_are_profiled_and_previewed_by_row_range,
    csv_files_get_a_typed_parquet_copy,
    licensed_tables_show_schema_to_all_and_rows_to_buyers,
    hostile_files_are_kept_with_an_explanation,
    table_limits_are_configurable,
);

const DISTRICTS: [&str; 4] = ["朝阳区", "海淀区", "东城区", "西城区"];

/// A Parquet file of `rows` rows in row groups of `group_rows`, with one column of each common type.
pub fn typed_parquet(rows: usize, group_rows: usize) -> Vec<u8> {
    let ids: Vec<i64> = (0..rows as i64).collect();
    let mut tags = ListBuilder::new(StringBuilder::new());
    for i in 0..rows {
        if i % 3 == 0 {
            tags.append(false);
        } else {
            for n in 0..i % 3 {
                tags.values().append_value(format!("标签{n}"));
            }
            tags.append(true);
        }
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(ids.clone()))),
        (
            "district",
            Arc::new(StringArray::from_iter(
                (0..rows).map(|i| (i % 7 != 3).then_some(DISTRICTS[i % 4])),
            )),
        ),
        (
            "amount",
            Arc::new(
                Decimal128Array::from_iter_values(ids.iter().map(|&i| i128::from(i) * 101))
                    .with_precision_and_scale(12, 2)
                    .expect("decimal"),
            ),
        ),
        (
            "day",
            Arc::new(Date32Array::from_iter_values(
                (0..rows).map(|i| 19_723 + (i % 365) as i32),
            )),
        ),
        (
            "at",
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                ids.iter().map(|&i| 1_704_067_200_000_000 + i * 1_000_000),
            )),
        ),
        (
            "ratio",
            Arc::new(Float64Array::from_iter(
                (0..rows).map(|i| (i % 5 != 0).then_some(i as f64 / 4.0)),
            )),
        ),
        ("tags", Arc::new(tags.finish())),
        (
            "ok",
            Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 2 == 0)))),
        ),
        (
            "small",
            Arc::new(Int32Array::from_iter_values((0..rows).map(|i| (i % 100) as i32))),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(properties)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    out
}

/// Row `i` of [`typed_parquet`] as a preview shows it.
fn expected_row(i: usize) -> Value {
    let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date") + chrono::Days::new((i % 365) as u64);
    let at = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("time")
        + chrono::Duration::seconds(i as i64);
    let tags: Value = if i % 3 == 0 {
        Value::Null
    } else {
        (0..i % 3).map(|n| format!("标签{n}")).collect()
    };
    json!([
        i,
        (i % 7 != 3).then_some(DISTRICTS[i % 4]),
        format!("{}.{:02}", i * 101 / 100, i * 101 % 100),
        day.format("%Y-%m-%d").to_string(),
        at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        (i % 5 != 0).then_some(i as f64 / 4.0),
        tags,
        i % 2 == 0,
        i % 100,
    ])
}

const PARQUET: &str = "application/vnd.apache.parquet";

/// The `type` of each column a schema response lists.
fn column_types(schema: &Value) -> Vec<&str> {
    schema["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["type"].as_str().expect("type"))
        .collect()
}

async fn parquet_tables_are_profiled_and_previewed_by_row_range(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("city").await;
    let file = typed_parquet(2_500, 1_000);
    app.publish_files(
        &token,
        "trips",
        metadata("trips", "open"),
        &[("data/trips.parquet", PARQUET, &file)],
    )
    .await;
    let base = "/api/v1/datasets/trips/versions/1/files/data/trips.parquet";

    let (status, schema) = app.get_json(&format!("{base}/schema")).await;
    assert_eq!(status, StatusCode::OK, "{schema}");
    assert_eq!(schema["format"], "parquet");
    assert_eq!(schema["rows"], 2_500);
    let types = column_types(&schema);
    assert_eq!(
        types,
        [
            "long",
            "string",
            "decimal(12,2)",
            "date",
            "timestamp",
            "double",
            "array<string>",
            "boolean",
            "integer"
        ]
    );
    let column = |name: &str| {
        schema["columns"]
            .as_array()
            .and_then(|columns| columns.iter().find(|c| c["name"] == name))
            .cloned()
            .expect("column")
    };
    assert_eq!(
        (column("id")["min"].clone(), column("id")["max"].clone()),
        (json!(0), json!(2_499))
    );
    assert_eq!(column("id")["nullCount"], 0);
    assert_eq!(
        column("district")["nullCount"],
        (0..2_500).filter(|i| i % 7 == 3).count()
    );
    assert_eq!(column("district")["min"], "东城区");
    assert_eq!(column("amount")["max"], "2523.99");
    assert_eq!(column("day")["min"], "2024-01-01");
    assert_eq!(column("ratio")["nullCount"], 500);

    // A window across the boundary of the first two row groups.
    let (status, preview) = app.get_json(&format!("{base}/preview?offset=998&limit=4")).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview["rows"],
        json!((998..1_002).map(expected_row).collect::<Vec<_>>())
    );
    assert_eq!(preview["totalRows"], 2_500);
    assert_eq!(
        preview["columns"][2],
        json!({"name": "amount", "type": "decimal(12,2)"})
    );

    let (_, chosen) = app
        .get_json(&format!("{base}/preview?limit=2&offset=2499&columns=small,district"))
        .await;
    assert_eq!(chosen["rows"], json!([[99, "西城区"]]));
    let (_, past_end) = app.get_json(&format!("{base}/preview?offset=9999")).await;
    assert_eq!(past_end["rows"], json!([]));
    let (_, default_rows) = app.get_json(&format!("{base}/preview")).await;
    assert_eq!(default_rows["rows"].as_array().map(Vec::len), Some(100));
    let (_, capped) = app.get_json(&format!("{base}/preview?limit=100000")).await;
    assert_eq!(
        capped["rows"].as_array().map(Vec::len),
        Some(1_000),
        "the node's row cap applies"
    );

    let unknown = app.get(&format!("{base}/preview?columns=nope")).await;
    assert_problem(unknown, StatusCode::BAD_REQUEST, "invalid-request").await;
    let bad_limit = app.get(&format!("{base}/preview?limit=-1")).await;
    assert_problem(bad_limit, StatusCode::BAD_REQUEST, "invalid-request").await;
    // The file itself still downloads byte for byte.
    let bytes = app.get(base).await.bytes().await.expect("body");
    assert_eq!(bytes.as_ref(), file.as_slice());
    app.stop().await;
}

async fn csv_files_get_a_typed_parquet_copy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("city").await;
    let csv = "站点,日期,时间,流量,均速,备注\n\
               朝阳门,2024-03-01,2024-03-01 08:00:00,1200,35.5,早高峰\n\
               东直门,2024-03-01,2024-03-01 09:30:00,,40.25,\n\
               西直门,2024-03-02,2024-03-02T18:15:00,980,22,\"含,逗号\"\n";
    app.publish_files(
        &token,
        "flows",
        metadata("flows", "open"),
        &[("flows.csv", "text/csv", csv.as_bytes())],
    )
    .await;

    let (_, version) = app.get_json("/api/v1/datasets/flows/versions/1").await;
    let copy = version["files"][1].clone();
    assert_eq!(copy["name"], "flows.parquet");
    assert_eq!(copy["derivedFrom"], "flows.csv");

    let (status, schema) = app
        .get_json("/api/v1/datasets/flows/versions/1/files/flows.csv/schema")
        .await;
    assert_eq!(status, StatusCode::OK, "{schema}");
    assert_eq!(schema["format"], "csv");
    assert_eq!(schema["csv"], json!({"delimiter": ",", "rows": 3}));
    assert_eq!(schema["parquetCopy"], copy["sha256"]);
    let types = column_types(&schema);
    assert_eq!(types, ["string", "date", "timestamp", "long", "double", "string"]);
    assert_eq!(schema["columns"][3]["nullCount"], 1);

    let (_, preview) = app
        .get_json("/api/v1/datasets/flows/versions/1/files/flows.csv/preview?offset=2")
        .await;
    assert_eq!(
        preview["rows"],
        json!([["西直门", "2024-03-02", "2024-03-02T18:15:00", 980, 22.0, "含,逗号"]])
    );

    // The copy is an ordinary, downloadable Parquet file holding the same rows.
    let bytes = app
        .get("/api/v1/datasets/flows/versions/1/files/flows.parquet")
        .await
        .bytes()
        .await
        .expect("body");
    assert_eq!(sha256_hex(&bytes), copy["sha256"].as_str().expect("sha"));
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .expect("parquet")
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);

    // Re-publishing the same CSV derives the same copy: nothing changes.
    let again = app
        .post_version(
            &token,
            "flows",
            json!({"metadata": metadata("flows", "open"), "files": [
                {"name": "flows.csv", "mediaType": "text/csv", "size": csv.len(), "sha256": sha256_hex(csv.as_bytes())}
            ]}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    // A publisher cannot claim a file is a derived copy.
    let forged = app
        .post_version(
            &token,
            "flows",
            json!({"metadata": metadata("flows", "open"), "files": [
                {"name": "x.parquet", "mediaType": PARQUET, "size": csv.len(), "sha256": sha256_hex(csv.as_bytes()), "derivedFrom": "flows.csv"}
            ]}),
        )
        .await;
    assert_problem(forged, StatusCode::BAD_REQUEST, "invalid-request").await;
    app.stop().await;
}

async fn licensed_tables_show_schema_to_all_and_rows_to_buyers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("hospital").await;
    let mut licensed = metadata("visits", "licensed");
    licensed["offer"]["sampleRows"] = json!(2);
    let file = typed_parquet(50, 50);
    app.publish_files(&token, "visits", licensed, &[("visits.parquet", PARQUET, &file)])
        .await;
    let base = "/api/v1/datasets/visits/versions/1/files/visits.parquet";

    let (status, schema) = app.get_json(&format!("{base}/schema")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schema["rows"], 50);
    let (status, sample) = app.get_json(&format!("{base}/preview?limit=10")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sample["rows"],
        json!([expected_row(0), expected_row(1)]),
        "only the free sample"
    );
    let beyond = app.get(&format!("{base}/preview?offset=2")).await;
    assert_problem(beyond, StatusCode::FORBIDDEN, "licensed-data").await;

    let placed = place_test_order(&app, "visits").await;
    let order_token = placed["accessToken"].as_str().expect("token");
    let bought = app
        .http
        .get(app.api(&format!("{base}/preview?offset=40&limit=5")))
        .bearer_auth(order_token)
        .send()
        .await
        .expect("get");
    assert_eq!(bought.status(), StatusCode::OK);
    let bought: Value = bought.json().await.expect("json");
    assert_eq!(bought["rows"], json!((40..45).map(expected_row).collect::<Vec<_>>()));
    let forged = app
        .http
        .get(app.api(&format!("{base}/preview?offset=40")))
        .bearer_auth("sho_nope_nope")
        .send()
        .await
        .expect("get");
    assert_problem(forged, StatusCode::UNAUTHORIZED, "unauthorized").await;
    app.stop().await;
}

/// Files that claim to be tables but are not, each answered cleanly.
pub fn hostile_files() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let valid = typed_parquet(100, 100);
    let mut truncated = valid[..valid.len() / 2].to_vec();
    truncated.extend_from_slice(b"PAR1");
    let mut huge_footer = valid.clone();
    let at = huge_footer.len() - 8;
    huge_footer[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut flipped = valid.clone();
    let middle = flipped.len() - 200;
    for byte in &mut flipped[middle..middle + 64] {
        *byte ^= 0x5a;
    }
    let mut pages = valid.clone();
    for byte in &mut pages[4..200] {
        *byte = 0xff;
    }
    vec![
        ("empty.parquet", PARQUET, Vec::new()),
        (
            "garbage.parquet",
            PARQUET,
            b"PAR1 this is not parquet at all PAR1".to_vec(),
        ),
        ("truncated.parquet", PARQUET, truncated),
        ("huge-footer.parquet", PARQUET, huge_footer),
        ("flipped-footer.parquet", PARQUET, flipped),
        (
            "gbk.csv",
            "text/csv",
            b"\xd5\xbe\xb5\xe3,x\n\xb3\xaf\xd1\xf4,1\n".to_vec(),
        ),
        ("ragged.csv", "text/csv", b"a,b\n1,2\n3\n".to_vec()),
        ("binary.csv", "text/csv", vec![0, 159, 146, 150, 255, 0, 1]),
    ]
    .into_iter()
    .chain([
        ("bad-pages.parquet", PARQUET, pages),
        ("deep.parquet", PARQUET, deeply_nested(24)),
    ])
    .collect()
}

/// One column nested `depth` structs deep.
fn deeply_nested(depth: usize) -> Vec<u8> {
    let mut column: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
    for level in 0..depth {
        let field = Arc::new(arrow_schema::Field::new(
            format!("l{level}"),
            column.data_type().clone(),
            true,
        ));
        column = Arc::new(arrow_array::StructArray::from(vec![(field, column)]));
    }
    let batch = RecordBatch::try_from_iter([("deep", column)]).expect("batch");
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    out
}

async fn hostile_files_are_kept_with_an_explanation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    let files = hostile_files();
    let listed: Vec<(&str, &str, &[u8])> = files.iter().map(|(n, m, b)| (*n, *m, b.as_slice())).collect();
    app.publish_files(&token, "hostile", metadata("hostile", "open"), &listed)
        .await;

    for (name, _, bytes) in &files {
        let base = format!("/api/v1/datasets/hostile/versions/1/files/{name}");
        let schema = app.get(&format!("{base}/schema")).await;
        let preview = app.get(&format!("{base}/preview")).await;
        if *name == "bad-pages.parquet" {
            // Its footer is intact: the profile reads, the rows do not.
            assert_eq!(schema.status(), StatusCode::OK, "{name}");
        } else {
            let problem = assert_problem(schema, StatusCode::UNPROCESSABLE_ENTITY, "not-tabular").await;
            assert!(
                problem["detail"].as_str().is_some_and(|d| d.contains(name)),
                "{problem}"
            );
        }
        assert_problem(preview, StatusCode::UNPROCESSABLE_ENTITY, "not-tabular").await;
        let stored = app.get(&base).await.bytes().await.expect("body");
        assert_eq!(stored.as_ref(), bytes.as_slice(), "{name} is kept as it was sent");
    }
    let (_, version) = app.get_json("/api/v1/datasets/hostile/versions/1").await;
    assert_eq!(
        version["files"].as_array().map(Vec::len),
        Some(files.len()),
        "no copy of a broken CSV"
    );
    let not_table = app
        .get("/api/v1/datasets/hostile/versions/1/files/gbk.csv/schema")
        .await;
    let problem = assert_problem(not_table, StatusCode::UNPROCESSABLE_ENTITY, "not-tabular").await;
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.contains("UTF-8")),
        "{problem}"
    );
    let (status, _) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::OK, "the node is unharmed");
    app.stop().await;
}

async fn table_limits_are_configurable(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.table_max_columns = Some(4);
        settings.preview_max_rows = Some(3);
        settings.preview_max_read_bytes = Some(64);
        settings.csv_to_parquet = Some(false);
    })
    .await;
    let token = app.publisher("p").await;
    let wide = typed_parquet(10, 10);
    let narrow = {
        let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from_iter_values(0..10_000)) as ArrayRef)])
            .expect("batch");
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        out
    };
    let csv = b"a,b\n1,2\n".to_vec();
    app.publish_files(
        &token,
        "limits",
        metadata("limits", "open"),
        &[
            ("wide.parquet", PARQUET, &wide),
            ("narrow.parquet", PARQUET, &narrow),
            ("t.csv", "text/csv", &csv),
        ],
    )
    .await;
    let base = "/api/v1/datasets/limits/versions/1/files";
    let wide = app.get(&format!("{base}/wide.parquet/schema")).await;
    let problem = assert_problem(wide, StatusCode::UNPROCESSABLE_ENTITY, "not-tabular").await;
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.contains("columns")),
        "{problem}"
    );
    let (status, _) = app.get_json(&format!("{base}/narrow.parquet/schema")).await;
    assert_eq!(status, StatusCode::OK);
    let too_much = app.get(&format!("{base}/narrow.parquet/preview?limit=3")).await;
    let problem = assert_problem(too_much, StatusCode::UNPROCESSABLE_ENTITY, "not-tabular").await;
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.contains("bytes")),
        "{problem}"
    );
    // Copies are off: the CSV is profiled but lists no Parquet copy and has no preview.
    let (_, version) = app.get_json("/api/v1/datasets/limits/versions/1").await;
    assert_eq!(version["files"].as_array().map(Vec::len), Some(3));
    let (status, schema) = app.get_json(&format!("{base}/t.csv/schema")).await;
    assert_eq!((status, schema["rows"].clone()), (StatusCode::OK, json!(1)));
    let preview = app.get(&format!("{base}/t.csv/preview")).await;
    assert_problem(preview, StatusCode::UNPROCESSABLE_ENTITY, "not-tabular").await;
    app.stop().await;
}
