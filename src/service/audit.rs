//! `shulian audit`: check that what the database holds is what the node signed and logged.
//!
//! Every log entry must hash to its stored leaf, parse as strict JSON and
//! carry a valid signature (the node's, or the buyer's for an order); every
//! copy of a logged document kept in another table must equal the log's
//! text, and every receipted delivery must be the one the receipt at its log
//! index records; receipts must name their own log index; the stored tree must hold
//! exactly the subtrees the entries' leaves make; every checkpoint kept (each
//! one was served) must carry the node's signature and the root of the tree
//! at its size. An entry, copy, tree hash or checkpoint altered in the
//! database fails at least one of these.

use std::collections::HashMap;

use serde::Serialize;

use crate::crypto::{Did, canonical, proof};
use crate::domain::EntryKind;
use crate::domain::delivery::RECEIPT_TYPE;
use crate::ledger::stored::{self, Subtree, TreeBuilder};
use crate::ledger::{Checkpoint, merkle, origin_for};
use crate::service::transparency::MAX_ENTRIES_PER_PAGE;
use crate::store::{ReceiptedDelivery, Store};

/// What an audit found.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// Log entries checked.
    pub entries_checked: u64,
    /// Copies of logged documents, and receipted deliveries, checked against the log.
    pub copies_checked: u64,
    /// Kept checkpoints checked against the tree.
    pub checkpoints_checked: u64,
    /// One line per inconsistency; empty when all is well.
    pub problems: Vec<String>,
}

/// Audits the store against the node's identity.
pub async fn audit(store: &dyn Store, node: &Did) -> anyhow::Result<AuditReport> {
    let mut report = AuditReport::default();
    let size = store.log_size().await?;
    let mut start = 0;
    let mut tree = TreeBuilder::default();
    // Page by page, so memory stays bounded whatever the log's size.
    while start < size {
        let end = (start + MAX_ENTRIES_PER_PAGE).min(size);
        let mut expected_tree = Vec::new();
        let mut page = LoggedPage::default();
        for entry in store.log_entries(start, end, u64::MAX).await? {
            expected_tree.extend(tree.push(entry.leaf));
            if entry.index != report.entries_checked {
                report
                    .problems
                    .push(format!("log entry {} is missing", report.entries_checked));
            }
            let document = canonical::parse_strict(entry.entry.as_bytes());
            if let Err(problem) = check_entry(
                entry.index,
                &entry.kind,
                &entry.entry,
                &entry.leaf,
                document.as_ref(),
                node,
            ) {
                report.problems.push(problem);
            }
            report.entries_checked = entry.index + 1;
            match document {
                Ok(receipt) if entry.kind == EntryKind::Receipt.as_str() => {
                    page.receipts.insert(entry.index, receipt);
                }
                _ => {
                    page.texts.insert(entry.index, entry.entry);
                }
            }
        }
        check_tree(store, &expected_tree, &mut report).await?;
        check_copies(store, start..end, &page, &mut report).await?;
        start = end;
    }
    // Copies that claim an index the log does not have.
    check_copies(store, size..i64::MAX as u64, &LoggedPage::default(), &mut report).await?;
    check_checkpoints(store, node, size, &mut report).await?;
    Ok(report)
}

/// A page of the log as the copies elsewhere are checked against it: each receipt as the
/// document it parsed to (what a delivery row is compared with), every other entry as its text.
#[derive(Default)]
struct LoggedPage {
    receipts: HashMap<u64, serde_json::Value>,
    texts: HashMap<u64, String>,
}

/// Compares the copies that claim indices in `range` with the log's texts there, and the
/// receipted deliveries with the receipts they claim.
async fn check_copies(
    store: &dyn Store,
    range: std::ops::Range<u64>,
    page: &LoggedPage,
    report: &mut AuditReport,
) -> anyhow::Result<()> {
    for copy in store.logged_copies(range.start, range.end).await? {
        report.copies_checked += 1;
        if page.texts.get(&copy.log_index) != Some(&copy.text) {
            report.problems.push(format!(
                "the versions copy of log entry {} differs from the log",
                copy.log_index
            ));
        }
    }
    for delivery in store.receipted_deliveries(range.start, range.end).await? {
        report.copies_checked += 1;
        let receipt = page.receipts.get(&delivery.log_index);
        if !receipt.is_some_and(|receipt| receipt_records(receipt, &delivery)) {
            report.problems.push(format!(
                "the deliveries row of log entry {} differs from the receipt there",
                delivery.log_index
            ));
        }
    }
    Ok(())
}

/// Whether a logged receipt is the one of this delivery: its order, file, download and session.
fn receipt_records(receipt: &serde_json::Value, delivery: &ReceiptedDelivery) -> bool {
    let session = match receipt.get("covers") {
        Some(covers) => covers["session"].as_str().map(str::to_owned),
        // Receipts from before read sessions name none; migration 0011 named their rows so.
        None => Some(format!("before-sessions-{}", delivery.sequence)),
    };
    receipt["type"] == RECEIPT_TYPE
        && receipt["order"] == delivery.order_id.as_str()
        && receipt["file"] == delivery.file.as_str()
        && receipt["delivery"].as_i64() == Some(delivery.sequence)
        && session.as_deref() == delivery.session.as_deref()
}

/// Checkpoints checked per step.
const CHECKPOINT_PAGE: u32 = 500;

/// Checks every kept checkpoint: the node's signature, a size within the log, and the root
/// of the (already checked) stored tree at that size.
async fn check_checkpoints(store: &dyn Store, node: &Did, size: u64, report: &mut AuditReport) -> anyhow::Result<()> {
    let key = node.public_key();
    let origin = origin_for(&key);
    let mut after = 0;
    loop {
        let notes = store.checkpoint_notes(after, CHECKPOINT_PAGE).await?;
        let Some((last, _)) = notes.last() else {
            return Ok(());
        };
        after = *last;
        let mut signed = Vec::with_capacity(notes.len());
        for (kept_size, note) in notes {
            report.checkpoints_checked += 1;
            match Checkpoint::verify(&note, &origin, &key) {
                Ok(checkpoint) if checkpoint.size == kept_size && kept_size <= size => signed.push(checkpoint),
                Ok(_) => report.problems.push(format!(
                    "the checkpoint kept for size {kept_size} is for another size or beyond the log"
                )),
                Err(error) => report.problems.push(format!(
                    "the checkpoint kept for size {kept_size} does not verify: {error}"
                )),
            }
        }
        let ranges: Vec<_> = signed.iter().filter(|c| c.size > 0).map(|c| 0..c.size).collect();
        let found = store.subtree_hashes(&stored::parts_of(&ranges)).await?;
        for checkpoint in &signed {
            let root = match checkpoint.size {
                0 => Some(merkle::empty_root()),
                size => stored::range_hash(0..size, &found),
            };
            if root != Some(checkpoint.root) {
                report.problems.push(format!(
                    "the checkpoint kept for size {} has another root than the log",
                    checkpoint.size
                ));
            }
        }
    }
}

/// Compares the stored subtrees with those the entries' leaves make.
async fn check_tree(
    store: &dyn Store,
    expected: &[(Subtree, merkle::Hash)],
    report: &mut AuditReport,
) -> anyhow::Result<()> {
    let keys: Vec<Subtree> = expected.iter().map(|(subtree, _)| *subtree).collect();
    let stored = store.subtree_hashes(&keys).await?;
    for (subtree, hash) in expected {
        if stored.get(subtree) != Some(hash) {
            report.problems.push(format!(
                "the stored log tree's subtree at level {} index {} differs from the entries' hashes",
                subtree.level, subtree.index
            ));
        }
    }
    Ok(())
}

/// Checks one log entry, given `document`, what its text parsed to: the text hashes to the
/// leaf and is canonical JSON, the signer is the one its kind requires, and a receipt names
/// its own log index.
fn check_entry(
    index: u64,
    kind: &str,
    text: &str,
    leaf: &[u8; 32],
    document: Result<&serde_json::Value, &canonical::CanonicalError>,
    node: &Did,
) -> Result<(), String> {
    let problem = |what: String| format!("log entry {index} ({kind}): {what}");
    if merkle::leaf_hash(text.as_bytes()) != *leaf {
        return Err(problem("its text does not match its leaf hash".into()));
    }
    let document = document.map_err(|e| problem(e.to_string()))?;
    if canonical::canonicalize(document).map_err(|e| problem(e.to_string()))? != text {
        return Err(problem("its text is not canonical JSON".into()));
    }
    let signer = proof::verify_document(document).map_err(|e| problem(format!("signature: {e}")))?;
    let kind_named = EntryKind::named(kind);
    let expected = match kind_named {
        Some(EntryKind::Order) => document["buyer"].as_str().unwrap_or_default().to_owned(),
        Some(EntryKind::Acknowledgement) => document["recipient"].as_str().unwrap_or_default().to_owned(),
        _ => node.to_string(),
    };
    if signer.as_str() != expected {
        return Err(problem(format!("signed by {signer}, not {expected}")));
    }
    if kind_named == Some(EntryKind::Receipt) && document["logIndex"].as_u64() != Some(index) {
        return Err(problem("the receipt names another log index".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn delivery(sequence: i64, session: &str) -> ReceiptedDelivery {
        ReceiptedDelivery {
            log_index: 7,
            order_id: "o".into(),
            file: "f.csv".into(),
            sequence,
            session: Some(session.into()),
        }
    }

    #[test]
    fn a_delivery_row_matches_only_the_receipt_of_its_order_file_download_and_session() {
        let receipt =
            json!({"type": RECEIPT_TYPE, "order": "o", "file": "f.csv", "delivery": 2, "covers": {"session": "s"}});
        assert!(receipt_records(&receipt, &delivery(2, "s")));
        assert!(!receipt_records(&receipt, &delivery(3, "s")), "another download");
        assert!(!receipt_records(&receipt, &delivery(2, "t")), "another session");
        let mut elsewhere = delivery(2, "s");
        elsewhere.file = "g.csv".into();
        assert!(!receipt_records(&receipt, &elsewhere), "another file");
        let mut agreement = receipt.clone();
        agreement["type"] = json!("ShulianAgreement");
        assert!(!receipt_records(&agreement, &delivery(2, "s")), "not a receipt");
        // A receipt from before read sessions names none; its row was named by migration 0011.
        let older = json!({"type": RECEIPT_TYPE, "order": "o", "file": "f.csv", "delivery": 4});
        assert!(receipt_records(&older, &delivery(4, "before-sessions-4")));
        assert!(!receipt_records(&older, &delivery(4, "s")));
    }
}
