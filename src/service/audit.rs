//! `shulian audit`: check that what the database holds is what the node signed and logged.
//!
//! Every log entry must hash to its stored leaf, parse as strict JSON and
//! carry a valid signature (the node's, or the buyer's for an order); every
//! copy of a logged document kept in another table must equal the log's
//! text; receipts must name their own log index; the stored tree must hold
//! exactly the subtrees the entries' leaves make. An entry, copy or tree
//! hash altered in the database fails at least one of these.

use serde::Serialize;

use crate::crypto::{Did, canonical, proof};
use crate::ledger::merkle;
use crate::ledger::stored::{Subtree, TreeBuilder};
use crate::service::transparency::MAX_ENTRIES_PER_PAGE;
use crate::store::Store;

/// What an audit found.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// Log entries checked.
    pub entries_checked: u64,
    /// Copies of logged documents checked against the log.
    pub copies_checked: u64,
    /// One line per inconsistency; empty when all is well.
    pub problems: Vec<String>,
}

/// Audits the store against the node's identity.
pub async fn audit(store: &dyn Store, node: &Did) -> anyhow::Result<AuditReport> {
    let mut report = AuditReport::default();
    let size = store.log_size().await?;
    let mut texts = Vec::with_capacity(usize::try_from(size).unwrap_or_default());
    let mut start = 0;
    let mut tree = TreeBuilder::default();
    while start < size {
        let end = (start + MAX_ENTRIES_PER_PAGE).min(size);
        let mut expected_tree = Vec::new();
        for entry in store.log_entries(start, end, u64::MAX).await? {
            expected_tree.extend(tree.push(entry.leaf));
            if entry.index != report.entries_checked {
                report
                    .problems
                    .push(format!("log entry {} is missing", report.entries_checked));
            }
            if let Err(problem) = check_entry(entry.index, &entry.kind, &entry.entry, &entry.leaf, node) {
                report.problems.push(problem);
            }
            texts.push(entry.entry);
            report.entries_checked = entry.index + 1;
        }
        check_tree(store, &expected_tree, &mut report).await?;
        start = end;
    }
    for copy in store.logged_copies().await? {
        report.copies_checked += 1;
        let logged = usize::try_from(copy.log_index).ok().and_then(|index| texts.get(index));
        if logged != Some(&copy.text) {
            report.problems.push(format!(
                "the {} copy of log entry {} differs from the log",
                copy.table, copy.log_index
            ));
        }
    }
    Ok(report)
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

fn check_entry(index: u64, kind: &str, text: &str, leaf: &[u8; 32], node: &Did) -> Result<(), String> {
    let problem = |what: String| format!("log entry {index} ({kind}): {what}");
    if merkle::leaf_hash(text.as_bytes()) != *leaf {
        return Err(problem("its text does not match its leaf hash".into()));
    }
    let document = canonical::parse_strict(text.as_bytes()).map_err(|e| problem(e.to_string()))?;
    if canonical::canonicalize(&document).map_err(|e| problem(e.to_string()))? != text {
        return Err(problem("its text is not canonical JSON".into()));
    }
    let signer = proof::verify_document(&document).map_err(|e| problem(format!("signature: {e}")))?;
    let expected = match kind {
        "order" => document["buyer"].as_str().unwrap_or_default().to_owned(),
        "acknowledgement" => document["recipient"].as_str().unwrap_or_default().to_owned(),
        _ => node.to_string(),
    };
    if signer.as_str() != expected {
        return Err(problem(format!("signed by {signer}, not {expected}")));
    }
    if kind == "receipt" && document["logIndex"].as_u64() != Some(index) {
        return Err(problem("the receipt names another log index".into()));
    }
    Ok(())
}
