//! Replays the fuzz seed corpus, and deterministic mutations of it, through
//! the inspection the node runs on published files: every input must come
//! back as a profile or an error, never as an escaped panic.
//!
//! `SHULIAN_UPDATE_SNAPSHOTS=1 cargo test --test it fuzz_corpus` rewrites the seeds.

use std::path::{Path, PathBuf};

use shulian::tabular::{TableError, TableFormat, TableLimits, contained, inspect_in_memory};

use crate::tables::{hostile_files, typed_parquet};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}

/// The seeds: valid tables of every tested type, and the hostile files of the table tests.
fn seeds() -> Vec<(String, TableFormat, Vec<u8>)> {
    let mut seeds = vec![
        ("typed-small.parquet".to_owned(), TableFormat::Parquet, typed_parquet(30, 10)),
        ("typed-one-group.parquet".to_owned(), TableFormat::Parquet, typed_parquet(5, 5)),
        (
            "traffic.csv".to_owned(),
            TableFormat::Csv,
            "站点,日期,时间,流量,均速,备注\n朝阳门,2024-03-01,2024-03-01 08:00:00,1200,35.5,早高峰\n东直门,2024-03-01,2024-03-01T09:30:00,,40.25,\"含,逗号\"\n"
                .as_bytes()
                .to_vec(),
        ),
        ("semicolons.csv".to_owned(), TableFormat::Csv, b"a;b;;c\n1;2;3;x\n".to_vec()),
    ];
    for (name, media_type, bytes) in hostile_files() {
        let format = if media_type == "text/csv" {
            TableFormat::Csv
        } else {
            TableFormat::Parquet
        };
        seeds.push((name.to_owned(), format, bytes));
    }
    seeds
}

fn target_of(format: TableFormat) -> &'static str {
    match format {
        TableFormat::Parquet => "inspect_parquet",
        TableFormat::Csv => "inspect_csv",
    }
}

#[test]
fn seed_corpus_is_current() {
    let update = std::env::var("SHULIAN_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    for (name, format, bytes) in seeds() {
        let path = corpus(target_of(format)).join(&name);
        if update {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("corpus dir");
            std::fs::write(&path, &bytes).expect("seed written");
        }
        let stored =
            std::fs::read(&path).unwrap_or_else(|_| panic!("seed {} is missing: regenerate it", path.display()));
        assert_eq!(stored, bytes, "seed {name} is stale: regenerate it");
    }
}

/// A small deterministic generator, so every run replays the same mutations.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % bound.max(1) as u64).unwrap_or_default()
    }
}

#[test]
fn corpus_mutations_never_escape_the_reader() {
    let limits = TableLimits::default();
    let mut random = Lcg(0x5eed);
    let (mut readable, mut refused) = (0, 0);
    for target in ["inspect_parquet", "inspect_csv"] {
        let format = if target == "inspect_csv" {
            TableFormat::Csv
        } else {
            TableFormat::Parquet
        };
        let mut seeds: Vec<PathBuf> = std::fs::read_dir(corpus(target))
            .expect("corpus")
            .map(|entry| entry.expect("entry").path())
            .collect();
        seeds.sort();
        for seed in seeds {
            let original = std::fs::read(&seed).expect("seed");
            let mut inputs = vec![original.clone()];
            for _ in 0..600 {
                let mut mutated = original.clone();
                match random.next(4) {
                    0 if !mutated.is_empty() => mutated.truncate(random.next(mutated.len())),
                    1 if !mutated.is_empty() => {
                        let at = random.next(mutated.len());
                        mutated[at] ^= 1 << random.next(8);
                    }
                    2 if mutated.len() > 8 => {
                        // Rewrite the footer's metadata length, the field hostile files lie in.
                        let at = mutated.len() - 8;
                        let claim = u32::try_from(random.next(1 << 31)).unwrap_or(u32::MAX);
                        mutated[at..at + 4].copy_from_slice(&claim.to_le_bytes());
                    }
                    _ if !mutated.is_empty() => {
                        let at = random.next(mutated.len());
                        let value = u8::try_from(random.next(256)).unwrap_or(0xff);
                        mutated[at..].iter_mut().take(16).for_each(|byte| *byte = value);
                    }
                    _ => {}
                }
                inputs.push(mutated);
            }
            for input in inputs {
                match contained(|| inspect_in_memory(&input, format, &limits)) {
                    Ok(_) => readable += 1,
                    Err(TableError::Unreadable(_) | TableError::OverLimit(_)) => refused += 1,
                    Err(other) => panic!("{}: unexpected {other:?}", seed.display()),
                }
            }
        }
    }
    assert!(readable > 0 && refused > 0, "{readable} readable, {refused} refused");
}
