//! Reading a publishable folder: a Frictionless `datapackage.json` and its files.
//!
//! Standard fields map onto shulian metadata; a `shulian` object carries what
//! the standard has no field for:
//!
//! ```json
//! "shulian": {
//!   "access": "open",                              // or "licensed" (required)
//!   "title": {"zh": "…", "en": "…"},               // optional, overrides "title"
//!   "description": {"zh": "…", "en": "…"},        // optional, overrides "description"
//!   "offer": {                                     // required for licensed data, refused for open data
//!     "priceFen": 50000, "purposes": ["research"], "maxValidityDays": 365,
//!     "maxDownloads": 5, "licenseText": "…", "autoAccept": true
//!   }
//! }
//! ```
//!
//! A plain `title`/`description` string counts as Chinese when it contains
//! Han characters, English otherwise. Resource paths must be relative files
//! inside the folder; URLs, `..` and links leading outside are refused.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::domain::{
    AccessClass, DatasetId, DatasetMetadata, FileEntry, FileName, License, LocalizedText, MediaType, ResourceName,
    Sha256Digest,
};

/// The descriptor's file name inside a package folder.
pub const DESCRIPTOR: &str = "datapackage.json";

/// The descriptor is missing, malformed or names files that cannot be published.
#[derive(Debug, thiserror::Error)]
#[error("{DESCRIPTOR}: {0}")]
pub struct PackageError(String);

/// A package ready to publish.
#[derive(Debug)]
pub struct Package {
    /// The dataset id (the package `name`).
    pub dataset: DatasetId,
    /// The version metadata.
    pub metadata: DatasetMetadata,
    /// The files, in descriptor order.
    pub resources: Vec<LocalResource>,
}

/// One file of a package on local disk.
#[derive(Debug)]
pub struct LocalResource {
    /// Its name in the version (the resource `path`).
    pub name: FileName,
    /// Its media type (`mediatype`, else guessed from the extension).
    pub media_type: MediaType,
    /// Where it is on disk.
    pub path: PathBuf,
    /// A SHA-256 the descriptor declares (`hash: "sha256:…"`), to be checked.
    pub declared_sha256: Option<Sha256Digest>,
    /// The resource's `name` in the descriptor.
    pub resource: Option<ResourceName>,
}

impl LocalResource {
    /// The version's entry for this file, once its bytes are stored as `sha256`.
    pub fn entry(&self, size: u64, sha256: Sha256Digest) -> FileEntry {
        FileEntry {
            name: self.name.clone(),
            media_type: self.media_type.clone(),
            size,
            sha256,
            derived_from: None,
            resource: self.resource.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Descriptor {
    name: Option<String>,
    title: Option<String>,
    description: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    licenses: Vec<LicenseEntry>,
    #[serde(default)]
    resources: Vec<ResourceEntry>,
    shulian: Option<Extension>,
}

#[derive(Deserialize)]
struct LicenseEntry {
    name: Option<String>,
    title: Option<String>,
    path: Option<String>,
}

#[derive(Deserialize)]
struct ResourceEntry {
    name: Option<String>,
    path: Value,
    mediatype: Option<String>,
    hash: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Extension {
    access: AccessClass,
    title: Option<LocalizedText>,
    description: Option<LocalizedText>,
    offer: Option<serde_json::Value>,
}

/// Reads and checks the package in `dir`.
pub fn read_package(dir: &Path) -> Result<Package, PackageError> {
    let fail = |message: String| PackageError(message);
    let descriptor_path = dir.join(DESCRIPTOR);
    let text = std::fs::read(&descriptor_path)
        .map_err(|error| fail(format!("cannot read {}: {error}", descriptor_path.display())))?;
    let descriptor: Descriptor = serde_json::from_slice(&text).map_err(|error| fail(error.to_string()))?;
    let name = descriptor
        .name
        .ok_or_else(|| fail("\"name\" is required: it becomes the dataset id".into()))?;
    let dataset: DatasetId = name.parse().map_err(|error| fail(format!("name: {error}")))?;
    let extension = descriptor
        .shulian
        .ok_or_else(|| fail("the \"shulian\" object with \"access\": \"open\" or \"licensed\" is required".into()))?;
    let license = descriptor
        .licenses
        .into_iter()
        .next()
        .and_then(|entry| {
            Some(License {
                id: entry.name.or_else(|| entry.title.clone())?,
                title: entry.title,
                url: entry.path,
            })
        })
        .ok_or_else(|| fail("\"licenses\" needs at least one entry with a name".into()))?;
    let metadata_input = serde_json::json!({
        "title": extension.title.unwrap_or_else(|| by_script(descriptor.title)),
        "description": extension.description.unwrap_or_else(|| by_script(descriptor.description)),
        "keywords": descriptor.keywords,
        "license": license,
        "access": extension.access,
        "offer": extension.offer,
    });
    let metadata: DatasetMetadata = serde_json::from_value(metadata_input).map_err(|error| fail(error.to_string()))?;
    if descriptor.resources.is_empty() {
        return Err(fail("\"resources\" lists no files".into()));
    }
    let root = dir
        .canonicalize()
        .map_err(|error| fail(format!("{}: {error}", dir.display())))?;
    let resources = descriptor
        .resources
        .into_iter()
        .enumerate()
        .map(|(index, resource)| {
            local_resource(&root, resource).map_err(|message| fail(format!("resources[{index}]: {message}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Package {
        dataset,
        metadata,
        resources,
    })
}

fn local_resource(root: &Path, resource: ResourceEntry) -> Result<LocalResource, String> {
    let Value::String(path_text) = resource.path else {
        return Err("path must be one relative file path (multi-part resources are not supported)".into());
    };
    let name: FileName = path_text.parse().map_err(|error| format!("path: {error}"))?;
    let path = name
        .segments()
        .fold(root.to_path_buf(), |dir, segment| dir.join(segment));
    let resolved = path.canonicalize().map_err(|error| format!("{path_text}: {error}"))?;
    if !resolved.starts_with(root) || !resolved.is_file() {
        return Err(format!("{path_text} is not a file inside the package folder"));
    }
    let media_type = match resource.mediatype {
        Some(text) => text.parse().map_err(|error| format!("mediatype: {error}"))?,
        None => MediaType::guess(&name),
    };
    let declared_sha256 = match resource.hash.as_deref() {
        Some(hash) if hash.starts_with("sha256:") => Some(hash.parse().map_err(|error| format!("hash: {error}"))?),
        _ => None,
    };
    let resource = resource
        .name
        .map(|name| name.parse().map_err(|error| format!("name: {error}")))
        .transpose()?;
    Ok(LocalResource {
        name,
        media_type,
        path: resolved,
        declared_sha256,
        resource,
    })
}

/// Places a plain string by its script: Han characters mean Chinese.
fn by_script(text: Option<String>) -> LocalizedText {
    match text {
        Some(text) if text.chars().any(is_han) => LocalizedText {
            zh: Some(text),
            en: None,
        },
        Some(text) => LocalizedText {
            zh: None,
            en: Some(text),
        },
        None => LocalizedText::default(),
    }
}

fn is_han(character: char) -> bool {
    matches!(u32::from(character), 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package_dir(descriptor: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(DESCRIPTOR), descriptor).expect("write");
        std::fs::write(dir.path().join("a.csv"), "x\n1\n").expect("write");
        dir
    }

    #[test]
    fn standard_fields_and_extension_map_onto_metadata() {
        let dir = package_dir(
            r#"{"name":"traffic","title":"交通流量","description":"Hourly counts","keywords":["交通"],
                "licenses":[{"name":"CC-BY-4.0"}],"resources":[{"path":"a.csv"}],
                "shulian":{"access":"open"}}"#,
        );
        let package = read_package(dir.path()).expect("valid package");
        assert_eq!(package.dataset.as_str(), "traffic");
        assert_eq!(package.metadata.title.zh.as_deref(), Some("交通流量"));
        assert_eq!(package.metadata.description.en.as_deref(), Some("Hourly counts"));
        assert_eq!(package.resources[0].media_type.as_str(), "text/csv");
    }

    #[test]
    fn escaping_paths_and_missing_fields_are_refused() {
        let base = r#""name":"t","title":"t","licenses":[{"name":"x"}],"shulian":{"access":"open"}"#;
        for resources in [
            r#"[{"path":"../a.csv"}]"#,
            r#"[{"path":"/etc/passwd"}]"#,
            r#"[{"path":"https://x/a.csv"}]"#,
            r#"[{"path":["a.csv"]}]"#,
            "[]",
        ] {
            let dir = package_dir(&format!("{{{base},\"resources\":{resources}}}"));
            assert!(read_package(dir.path()).is_err(), "{resources} must be refused");
        }
        let no_access =
            package_dir(r#"{"name":"t","title":"t","licenses":[{"name":"x"}],"resources":[{"path":"a.csv"}]}"#);
        assert!(read_package(no_access.path()).is_err());
        let broken = package_dir("{\"name\": ");
        assert!(read_package(broken.path()).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_folder_are_refused() {
        let dir = package_dir(
            r#"{"name":"t","title":"t","licenses":[{"name":"x"}],"resources":[{"path":"link.csv"}],"shulian":{"access":"open"}}"#,
        );
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link.csv")).expect("symlink");
        assert!(read_package(dir.path()).is_err());
    }
}
