//! One conformance suite for every blob store backend, and garbage collection.

use bytes::Bytes;
use futures::TryStreamExt as _;
use reqwest::StatusCode;
use shulian::blobs::{BlobError, BlobStore};
use shulian::domain::Sha256Digest;
use shulian::service::gc;

use crate::helpers::{Backend, TestApp, sha256_hex};
use crate::on_both_backends;

on_both_backends!(gc_removes_only_unreferenced_blobs_and_is_idempotent);

fn chunks(bytes: &[u8]) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send + use<> {
    let parts: Vec<Result<Bytes, std::io::Error>> = bytes.chunks(1000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(parts)
}

fn digest_of(bytes: &[u8]) -> Sha256Digest {
    sha256_hex(bytes).parse().expect("digest")
}

async fn read_all(store: &BlobStore, digest: &Sha256Digest, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let stream = store.read(digest, range).await.expect("read");
    let parts: Vec<Bytes> = stream.try_collect().await.expect("stream");
    parts.concat()
}

async fn conformance(store: BlobStore) {
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let digest = digest_of(&bytes);
    assert!(!store.contains(&digest).await.expect("contains"));

    let stored = store
        .put_stream(chunks(&bytes), Some(digest), 1 << 20)
        .await
        .expect("put");
    assert_eq!((stored.digest, stored.size), (digest, bytes.len() as u64));
    assert!(store.contains(&digest).await.expect("contains"));
    assert_eq!(read_all(&store, &digest, None).await, bytes);
    assert_eq!(read_all(&store, &digest, Some(10..20)).await, &bytes[10..20]);
    let again = store.put_stream(chunks(&bytes), None, 1 << 20).await.expect("dedupe");
    assert_eq!(again.digest, digest);

    let wrong = digest_of(b"something else");
    assert!(matches!(
        store.put_stream(chunks(b"payload"), Some(wrong), 1 << 20).await,
        Err(BlobError::DigestMismatch { .. })
    ));
    assert!(matches!(
        store.put_stream(chunks(&bytes), None, 100).await,
        Err(BlobError::TooLarge { limit: 100 })
    ));
    let broken = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"start")),
        Err(std::io::Error::other("connection reset")),
    ]);
    assert!(matches!(
        store.put_stream(broken, None, 1 << 20).await,
        Err(BlobError::Interrupted(_))
    ));
    let listed = store.list().await.expect("list");
    assert_eq!(listed.len(), 1, "only the committed blob remains: {listed:?}");
    assert!(matches!(store.read(&wrong, None).await, Err(BlobError::NotFound)));

    let key = shulian::blobs::BlobKey::Content(digest);
    store.delete(&key).await.expect("delete");
    store.delete(&key).await.expect("deleting twice is fine");
    assert!(!store.contains(&digest).await.expect("contains"));
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn memory_store_conforms() {
    conformance(BlobStore::open("memory://").expect("memory")).await;
}

#[tokio::test]
async fn local_store_conforms_and_leaves_no_partial_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    conformance(BlobStore::local(dir.path()).expect("local")).await;
    let mut leftovers = Vec::new();
    let mut stack = vec![dir.path().to_owned()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).expect("dir").flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                leftovers.push(entry.path());
            }
        }
    }
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A fresh prefix in the S3 bucket named by `SHULIAN_TEST_S3_URL` (with the `AWS_*` settings); CI gives them.
fn s3_url() -> Option<String> {
    match std::env::var("SHULIAN_TEST_S3_URL") {
        Ok(url) => Some(format!(
            "{}/{}",
            url.trim_end_matches('/'),
            uuid::Uuid::new_v4().simple()
        )),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI must test the S3 backend: set SHULIAN_TEST_S3_URL")
        }
        Err(_) => {
            eprintln!("SHULIAN_TEST_S3_URL is not set: skipping an S3 blob store test");
            None
        }
    }
}

#[tokio::test]
async fn s3_store_conforms() {
    if let Some(url) = s3_url() {
        conformance(BlobStore::open(&url).expect("s3 store")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_s3_publishes_serves_ranges_and_collects() {
    let Some(url) = s3_url() else { return };
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| settings.blob_url = Some(url)).await;
    let token = app.publisher("p").await;
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 97) as u8).collect();
    assert_eq!(
        app.publish(&token, "on-s3", "open", &[("a.bin", &bytes)])
            .await
            .status(),
        StatusCode::CREATED
    );
    let file = app.api("/api/v1/datasets/on-s3/versions/1/files/a.bin");
    let body = app
        .http
        .get(&file)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(body.as_ref(), bytes.as_slice());
    let part = app
        .http
        .get(&file)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.expect("body").as_ref(), &bytes[1000..2000]);
    assert_eq!(app.upload(&token, b"orphan on s3").await.status(), StatusCode::CREATED);
    let report = gc::collect_garbage(app.ctx.store.as_ref(), &app.ctx.blobs, std::time::Duration::ZERO)
        .await
        .expect("gc");
    assert_eq!((report.removed_blobs, report.kept_blobs), (1, 1));
    app.stop().await;
}

async fn gc_removes_only_unreferenced_blobs_and_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    app.publish(&token, "kept", "open", &[("a.bin", b"referenced")]).await;
    assert_eq!(app.upload(&token, b"orphan").await.status(), StatusCode::CREATED);
    let grace = std::time::Duration::ZERO;

    let young = gc::collect_garbage(
        app.ctx.store.as_ref(),
        &app.ctx.blobs,
        std::time::Duration::from_secs(3600),
    )
    .await
    .expect("gc");
    assert_eq!(young.removed_blobs, 0, "a grace period protects fresh uploads");

    let first = gc::collect_garbage(app.ctx.store.as_ref(), &app.ctx.blobs, grace)
        .await
        .expect("gc");
    assert_eq!((first.removed_blobs, first.kept_blobs), (1, 1));
    let second = gc::collect_garbage(app.ctx.store.as_ref(), &app.ctx.blobs, grace)
        .await
        .expect("gc again");
    assert_eq!((second.removed_blobs, second.kept_blobs), (0, 1));

    let file = app
        .http
        .get(app.api("/api/v1/datasets/kept/versions/1/files/a.bin"))
        .send()
        .await
        .expect("get");
    assert_eq!(file.bytes().await.expect("body").as_ref(), b"referenced");
    let orphan = app
        .http
        .head(app.api(&format!("/api/v1/blobs/{}", sha256_hex(b"orphan"))))
        .bearer_auth(&token)
        .send()
        .await
        .expect("head");
    assert_eq!(orphan.status(), StatusCode::NOT_FOUND);
    // The orphan can be uploaded and published again after collection.
    assert_eq!(app.upload(&token, b"orphan").await.status(), StatusCode::CREATED);
    app.stop().await;
}
