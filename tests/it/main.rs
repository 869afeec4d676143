//! Integration tests: a real node on a real port, on SQLite and on PostgreSQL.

mod bad_input;
mod blobstores;
mod catalog;
mod cli;
mod download;
mod helpers;
mod openapi;
mod vectors;
