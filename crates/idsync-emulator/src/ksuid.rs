//! KSUIDs, the ids Svix gives messages (`msg_...`) and Clerk gives users
//! (`user_...`): 20 bytes = 4-byte big-endian seconds since 2014-05-13
//! (unix 1 400 000 000) + 16 random bytes, written as 27 base62 characters.

use rand::Rng;

/// Unix time of a KSUID's zero.
const EPOCH: i64 = 1_400_000_000;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 62^27 > 2^160, so every 20-byte value fits in 27 characters.
const LEN: usize = 27;

/// A new KSUID (without prefix) for the given unix time, which is clamped to
/// the range a KSUID can hold.
pub fn generate(unix_secs: i64, rng: &mut impl Rng) -> String {
    let secs = (unix_secs - EPOCH).clamp(0, i64::from(u32::MAX));
    let mut bytes = [0u8; 20];
    bytes[..4].copy_from_slice(&(secs as u32).to_be_bytes());
    rng.fill(&mut bytes[4..]);
    encode(&bytes)
}

/// The unix time (seconds) a KSUID was made at. Accepts a prefixed id such
/// as `msg_...` (everything up to the last `_` is ignored).
pub fn timestamp(id: &str) -> Option<i64> {
    let raw = id.rsplit('_').next().unwrap_or(id);
    let bytes = decode(raw)?;
    let secs = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    Some(EPOCH + i64::from(secs))
}

fn encode(bytes: &[u8; 20]) -> String {
    // Long division of the big-endian number by 62, least significant digit first.
    let mut number = bytes.to_vec();
    let mut out = [ALPHABET[0]; LEN];
    for slot in out.iter_mut().rev() {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            remainder = acc % 62;
        }
        *slot = ALPHABET[remainder as usize];
    }
    out.iter().map(|&b| char::from(b)).collect()
}

fn decode(text: &str) -> Option<[u8; 20]> {
    if text.len() != LEN {
        return None;
    }
    let mut number = [0u8; 20];
    for c in text.bytes() {
        let digit = ALPHABET.iter().position(|&a| a == c)? as u32;
        // number = number * 62 + digit, overflow past 20 bytes = invalid.
        let mut carry = digit;
        for byte in number.iter_mut().rev() {
            let acc = u32::from(*byte) * 62 + carry;
            *byte = (acc & 0xff) as u8;
            carry = acc >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn decodes_the_svix_test_vector() {
        assert_eq!(
            timestamp("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
            Some(1_649_367_553)
        );
    }

    #[test]
    fn round_trips() {
        let mut rng = StdRng::seed_from_u64(7);
        for secs in [EPOCH, 1_700_000_000, EPOCH + i64::from(u32::MAX)] {
            let id = generate(secs, &mut rng);
            assert_eq!(id.len(), LEN);
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(timestamp(&format!("user_{id}")), Some(secs));
        }
        assert_eq!(encode(&[0xff; 20]), "aWgEPTl1tmebfsQzFP4bxwgy80V");
        assert_eq!(decode("aWgEPTl1tmebfsQzFP4bxwgy80W"), None);
        assert_eq!(timestamp("msg_short"), None);
    }
}
