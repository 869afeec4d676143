//! Deliveries of licensed files: read sessions, the download each one costs, and what a receipt covers.
//!
//! Every response that carries licensed bytes belongs to a read session of
//! one file under one order. A session's first response spends one of the
//! order's downloads of that file and is receipted before its first byte
//! leaves; later responses of the same session (resumes, ranges, re-reads)
//! spend nothing more, up to [`session_byte_limit`] bytes in all. A range
//! therefore never reads around the limit: without a session it opens one.

/// The `type` of a delivery receipt.
pub const RECEIPT_TYPE: &str = "ShulianDeliveryReceipt";

/// Bytes a session may carry beyond twice its file: footers and page
/// indexes that table readers fetch more than once.
pub const SESSION_SLACK_BYTES: u64 = 64 * 1024;

/// Most bytes one read session of a file of `size` bytes may carry in all.
///
/// Twice the file lets a reader resume and re-read what it needs without a
/// second download; past that, a new session (one more download) is needed.
pub fn session_byte_limit(size: u64) -> u64 {
    size.saturating_mul(2).saturating_add(SESSION_SLACK_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ReadSessionId;
    use proptest::prelude::*;

    #[test]
    fn session_names_are_plain_tokens() {
        for good in ["a", "one-session", "tiny_1", &"x".repeat(64)] {
            assert!(good.parse::<ReadSessionId>().is_ok(), "{good}");
        }
        for bad in ["", "../../etc", "a b", "名字", &"x".repeat(65), "a\u{202e}b"] {
            assert!(bad.parse::<ReadSessionId>().is_err(), "{bad:?}");
        }
        assert!(ReadSessionId::generate().as_str().parse::<ReadSessionId>().is_ok());
    }

    #[test]
    fn a_session_may_carry_its_file_twice() {
        assert_eq!(session_byte_limit(0), SESSION_SLACK_BYTES);
        assert_eq!(session_byte_limit(1000), 2000 + SESSION_SLACK_BYTES);
        assert_eq!(session_byte_limit(u64::MAX), u64::MAX);
    }

    proptest! {
        #[test]
        fn parsed_names_round_trip(text in "\\PC{0,70}") {
            if let Ok(id) = text.parse::<ReadSessionId>() {
                prop_assert_eq!(id.as_str(), text.as_str());
                prop_assert!(id.as_str().len() <= 64);
            }
        }
    }
}
