//! Base58 in the Bitcoin alphabet, the `z` multibase of `did:key` and of Data
//! Integrity `proofValue`s.
//!
//! Decoding is bounded by the length the caller expects: base58 costs time
//! quadratic in its length, and both the keys and the signatures it carries
//! have a fixed size, so a longer text is refused before any arithmetic (a
//! 60,000-digit `proofValue` in a signed order cost the node 0.8 s of CPU
//! with the `bs58` crate). Numbers are carried in limbs rather than byte by byte: every
//! receipt the node signs encodes a signature here, on the log's one thread.

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Base58 digits per limb when encoding: 58⁹ × 256 still fits in a `u64`.
const DIGITS_PER_LIMB: usize = 9;
const LIMB: u64 = 58u64.pow(DIGITS_PER_LIMB as u32);

/// Why a text is not the base58 of what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Base58Error {
    /// A character outside the alphabet.
    #[error("not a base58 character")]
    Character,
    /// Longer than any encoding of the expected number of bytes.
    #[error("longer than the base58 of {0} bytes")]
    TooLong(usize),
}

/// The base58 of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|&&byte| byte == 0).count();
    // Little-endian limbs of base 58⁹, the big-endian input folded in byte by byte.
    let mut limbs: Vec<u64> = Vec::with_capacity(bytes.len() / 6 + 1);
    for &byte in &bytes[zeros..] {
        let mut carry = u64::from(byte);
        for limb in &mut limbs {
            let value = *limb * 256 + carry;
            *limb = value % LIMB;
            carry = value / LIMB;
        }
        while carry > 0 {
            limbs.push(carry % LIMB);
            carry /= LIMB;
        }
    }
    let mut digits = Vec::with_capacity(zeros + limbs.len() * DIGITS_PER_LIMB);
    for (position, &limb) in limbs.iter().enumerate() {
        let mut limb = limb;
        let last = position + 1 == limbs.len();
        for _ in 0..DIGITS_PER_LIMB {
            if last && limb == 0 {
                break;
            }
            digits.push(ALPHABET[(limb % 58) as usize]);
            limb /= 58;
        }
    }
    digits.extend(std::iter::repeat_n(b'1', zeros));
    digits.reverse();
    String::from_utf8(digits).expect("the alphabet is ASCII")
}

/// Decodes a base58 text of at most `max_bytes` bytes.
pub fn decode(text: &str, max_bytes: usize) -> Result<Vec<u8>, Base58Error> {
    if text.len() > max_encoded_len(max_bytes) {
        return Err(Base58Error::TooLong(max_bytes));
    }
    let zeros = text.bytes().take_while(|&character| character == b'1').count();
    // Little-endian limbs of base 2³², the digits folded in one by one.
    let mut limbs: Vec<u64> = Vec::with_capacity(text.len() / 5 + 1);
    for character in text.bytes().skip(zeros) {
        let mut carry = ALPHABET
            .iter()
            .position(|&digit| digit == character)
            .ok_or(Base58Error::Character)? as u64;
        for limb in &mut limbs {
            let value = *limb * 58 + carry;
            *limb = value & 0xffff_ffff;
            carry = value >> 32;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    let mut bytes = Vec::with_capacity(zeros + limbs.len() * 4);
    for &limb in limbs.iter().rev() {
        bytes.extend_from_slice(&(limb as u32).to_be_bytes());
    }
    let significant = bytes.iter().take_while(|&&byte| byte == 0).count();
    let mut decoded = vec![0; zeros];
    decoded.extend_from_slice(&bytes[significant..]);
    if decoded.len() > max_bytes {
        return Err(Base58Error::TooLong(max_bytes));
    }
    Ok(decoded)
}

/// The longest base58 of `bytes` bytes: one digit per leading zero byte, and
/// log(256)/log(58) < 1.3658 digits per byte of the number.
fn max_encoded_len(bytes: usize) -> usize {
    bytes * 13_658 / 10_000 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of draft-msporny-base58-03, §5.
    #[test]
    fn encodes_and_decodes_the_draft_examples() {
        let examples: [(&[u8], &str); 3] = [
            (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
            (
                b"The quick brown fox jumps over the lazy dog.",
                "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
            ),
            (&[0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd], "11233QC4"),
        ];
        for (bytes, text) in examples {
            assert_eq!(encode(bytes), text);
            assert_eq!(decode(text, bytes.len()), Ok(bytes.to_vec()));
        }
    }

    #[test]
    fn agrees_with_the_bs58_crate_on_every_length_and_on_zeros() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for length in 0..=100 {
            for zeros in [0, 1, 3] {
                let mut bytes = vec![0u8; zeros.min(length)];
                while bytes.len() < length {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    bytes.push(state as u8);
                }
                let text = bs58::encode(&bytes).into_string();
                assert_eq!(encode(&bytes), text, "{bytes:?}");
                assert_eq!(decode(&text, length), Ok(bytes.clone()), "{text}");
            }
        }
        assert_eq!(encode(&[0xff; 64]), bs58::encode([0xff; 64]).into_string());
    }

    #[test]
    fn refuses_texts_longer_than_the_expected_bytes_before_decoding_them() {
        let long = "z".repeat(65_536);
        assert_eq!(decode(&long, 64), Err(Base58Error::TooLong(64)));
        // The longest encodings of 64 and 34 bytes fit their bounds; one byte more does not.
        assert!(decode(&encode(&[0xff; 64]), 64).is_ok());
        assert!(decode(&encode(&[0xff; 34]), 34).is_ok());
        assert_eq!(decode(&encode(&[0xff; 65]), 64), Err(Base58Error::TooLong(64)));
        assert_eq!(decode(&"1".repeat(65), 64), Err(Base58Error::TooLong(64)));
        assert_eq!(decode("2NEpo7TZRRrLZSi2U0", 64), Err(Base58Error::Character));
        assert_eq!(decode("", 64), Ok(Vec::new()));
    }
}
