//! What the transparency log records: the kinds of document its entries hold.

/// The kind of document a log entry holds, as stored beside the entry and served with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A version's manifest, logged when it is published.
    Manifest,
    /// A buyer's signed order.
    Order,
    /// The node's countersignature agreeing to an order.
    Agreement,
    /// A publisher's refusal of a requested order.
    Rejection,
    /// The revocation of an agreed order.
    Revocation,
    /// The signed receipt of a delivery.
    Receipt,
    /// A buyer's acknowledgement of a receipt.
    Acknowledgement,
    /// A demand posted on the board.
    Demand,
    /// A provider's answer to a demand.
    Answer,
    /// A poster's acceptance of an answer.
    Acceptance,
    /// A poster's withdrawal of a demand.
    Withdrawal,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [Self; 11] = [
        Self::Manifest,
        Self::Order,
        Self::Agreement,
        Self::Rejection,
        Self::Revocation,
        Self::Receipt,
        Self::Acknowledgement,
        Self::Demand,
        Self::Answer,
        Self::Acceptance,
        Self::Withdrawal,
    ];

    /// The kind stored under `name`, if any.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The name stored and served.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Manifest => "manifest",
            Self::Order => "order",
            Self::Agreement => "agreement",
            Self::Rejection => "rejection",
            Self::Revocation => "revocation",
            Self::Receipt => "receipt",
            Self::Acknowledgement => "acknowledgement",
            Self::Demand => "demand",
            Self::Answer => "answer",
            Self::Acceptance => "acceptance",
            Self::Withdrawal => "withdrawal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_found_by_its_name_and_no_other() {
        for kind in EntryKind::ALL {
            assert_eq!(EntryKind::named(kind.as_str()), Some(kind));
        }
        assert_eq!(EntryKind::named("Receipt"), None);
    }
}
