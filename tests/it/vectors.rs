//! Published test vectors: RFC 8785 canonicalization and the W3C eddsa-jcs-2022 example.

use std::path::PathBuf;

use shulian::crypto::{KeyPair, canonical, proof};

fn fixtures() -> PathBuf {
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
