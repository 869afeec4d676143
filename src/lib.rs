//! shulian (数联): a node of the Internet of Data — catalog, open downloads and licensed data circulation.

/// Assembling the node from its configuration and serving it.
pub mod app;
/// Content-addressed blob storage over `object_store`.
pub mod blobs;
/// Command-line interface: server, admin and client commands.
pub mod cli;
/// Command-line clients of a node's HTTP API (publish, get).
pub mod client;
/// Configuration: defaults, file, environment and flags.
pub mod config;
/// Canonical JSON, keys and signatures; the only user of ed25519.
pub mod crypto;
/// Frictionless Data Package folders as publishable packages.
pub mod datapackage;
/// The native DOIP v2.0 listener (TLS, DOIP segments) in front of the DOIP service.
pub mod doip;
/// Pure domain types and rules.
pub mod domain;
/// The HTTP error type and its problem+json rendering.
pub mod error;
/// HTTP routes, extractors and middleware.
pub mod http;
/// The tamper-evident log: Merkle tree, proofs, checkpoints.
pub mod ledger;
/// Text analysis for catalog search: jieba words, Chinese character pairs, English stems.
pub mod search;
/// Use cases.
pub mod service;
/// Metadata persistence on SQLite or PostgreSQL.
pub mod store;
/// Tables inside files: Parquet footers, statistics, previews and CSV → Parquet, bounded for untrusted input.
pub mod tabular;
