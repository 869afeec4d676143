//! Integration tests: a real node on a real port, on SQLite and on PostgreSQL.

mod access;
mod architecture;
mod bad_input;
mod blobstores;
mod browser;
mod catalog;
mod cli;
mod concurrency;
mod crash;
mod download;
mod fuzz_corpus;
mod helpers;
mod interop;
mod log;
mod openapi;
mod orders;
mod peers;
mod process;
mod replicas;
mod schemathesis;
mod search;
mod security;
mod sharing;
mod tables;
mod vectors;
mod web;
