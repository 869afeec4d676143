//! Untrusted bytes through Parquet inspection and preview, as a published file takes them.
//!
//! The node contains panics at run time (`tabular::contained`); the fuzzer
//! still reports them so they are fixed or reported upstream. What it must
//! never find is a hang or a memory blow-up: run with `-timeout` and `-rss_limit_mb`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shulian::tabular::{TableFormat, TableLimits, inspect_in_memory};

fuzz_target!(|bytes: &[u8]| {
    let _ = inspect_in_memory(bytes, TableFormat::Parquet, &TableLimits::default());
});
