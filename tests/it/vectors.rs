//! Published test vectors: RFC 8785 canonicalization and the W3C eddsa-jcs-2022 example.

use std::path::PathBuf;

use shulian::crypto::{KeyPair, canonical, proof};

/// The published vectors the suite carries (`tests/fixtures`).
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn rfc8785_vectors_canonicalize_byte_for_byte() {
    let dir = fixtures().join("jcs");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.join("input")).expect("inputs") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name");
        let input = std::fs::read(&path).expect("input");
        let expected = std::fs::read(dir.join("output").join(name)).expect("output");
        let value = canonical::parse_strict(&input).expect("vector parses");
        let canonical = canonical::canonicalize(&value).expect("canonicalizes");
        assert_eq!(canonical.as_bytes(), expected.as_slice(), "vector {name:?}");
        checked += 1;
    }
    assert!(checked >= 6, "all vectors were found");
}

#[test]
fn w3c_eddsa_jcs_2022_example_verifies_and_tampering_fails() {
    let dir = fixtures().join("eddsa-jcs-2022");
    let key = KeyPair::load(&dir.join("keyPair.json")).expect("the Multikey pair loads");
    let signed = canonical::parse_strict(&std::fs::read(dir.join("signedJCS.json")).expect("vector")).expect("json");
    proof::verify_document_with_key(&signed, &key.public()).expect("the specification's example verifies");

    let mut altered = signed.clone();
    altered["credentialSubject"]["alumniOf"] = "Another School".into();
    assert!(proof::verify_document_with_key(&altered, &key.public()).is_err());
    let mut moved_context = signed.clone();
    moved_context["proof"]["@context"] = serde_json::json!(["https://example.org"]);
    assert!(proof::verify_document_with_key(&moved_context, &key.public()).is_err());
    let other = KeyPair::generate();
    assert!(proof::verify_document_with_key(&signed, &other.public()).is_err());
}

#[test]
fn migration_folders_hold_the_same_file_names() {
    let names = |backend: &str| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert!(!names("sqlite").is_empty());
    assert_eq!(names("sqlite"), names("postgres"));
}

/// Runs every transparency-dev RFC 9162 vector in one folder tree through `check`.
fn merkle_vectors(kind: &str, check: impl Fn(&serde_json::Value) -> bool) -> usize {
    let mut stack = vec![fixtures().join("merkle").join(kind)];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("vectors").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let vector: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).expect("vector")).expect("json");
            let want_error = vector["wantErr"].as_bool().expect("wantErr");
            assert_eq!(check(&vector), !want_error, "{}: {}", path.display(), vector["desc"]);
            checked += 1;
        }
    }
    checked
}

fn b64(value: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap_or_default())
        .expect("base64")
}

#[test]
fn rfc9162_inclusion_vectors() {
    use shulian::ledger::merkle::verify_inclusion;
    let checked = merkle_vectors("inclusion", |v| {
        let proof: Vec<Vec<u8>> = v["proof"]
            .as_array()
            .map(|p| p.iter().map(b64).collect())
            .unwrap_or_default();
        let index = v["leafIdx"].as_u64().expect("index");
        let size = v["treeSize"].as_u64().expect("size");
        verify_inclusion(index, size, &b64(&v["leafHash"]), &proof, &b64(&v["root"])).is_ok()
    });
    assert!(checked > 50, "{checked} vectors");
}

#[test]
fn rfc9162_consistency_vectors() {
    use shulian::ledger::merkle::verify_consistency;
    let checked = merkle_vectors("consistency", |v| {
        let proof: Vec<Vec<u8>> = v["proof"]
            .as_array()
            .map(|p| p.iter().map(b64).collect())
            .unwrap_or_default();
        let (old, new) = (v["size1"].as_u64().expect("size1"), v["size2"].as_u64().expect("size2"));
        verify_consistency(old, new, &b64(&v["root1"]), &b64(&v["root2"]), &proof).is_ok()
    });
    assert!(checked > 50, "{checked} vectors");
}
