//! Kinesis sequence numbers: decimal strings of up to 129 digits (AWS sends 56), far
//! beyond any integer type, so they are kept as text and compared as numbers.

use std::cmp::Ordering;
use std::fmt;

/// When a stream was created (ms since the epoch): a stream deleted and created again
/// under the same name is a new incarnation whose sequence numbers start afresh.
/// `Incarnation::UNKNOWN` when the writer was not told (no Kinesis API to ask, or it
/// did not answer): a mark or a writer in an unknown incarnation compares by sequence
/// number alone, as if in the other side's incarnation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Incarnation(pub i64);

impl Incarnation {
    pub const UNKNOWN: Incarnation = Incarnation(0);
    /// A reader's: a mark's incarnation is reported as stored (`marks::KinesisShard::reader`).
    #[cfg_attr(not(feature = "delta"), allow(dead_code))]
    pub(crate) const AS_STORED: Incarnation = Incarnation(i64::MIN);
}

/// A Kinesis sequence number, ordered numerically.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SequenceNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Kinesis sequence number: {0:?} (expected 1 to 129 decimal digits)")]
pub struct InvalidSequenceNumber(pub String);

impl SequenceNumber {
    pub fn parse(text: &str) -> Result<Self, InvalidSequenceNumber> {
        let digits = text.trim_start_matches('0');
        let valid = !text.is_empty() && digits.len() <= 129 && text.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(InvalidSequenceNumber(text.to_owned()));
        }
        // Canonical form: no leading zeros (but "0" stays "0"), so equal numbers are equal strings.
        Ok(SequenceNumber(if digits.is_empty() { "0".into() } else { digits.into() }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as [`LIMBS`] base-10¹⁸ digits, most significant first: what a Delta
    /// `txn` version (an i64) can carry, so a writer's mark lives in the table's
    /// checkpointed state (see [`crate::lake::marks`]).
    pub fn to_limbs(&self) -> [i64; LIMBS] {
        let padded = format!("{:0>width$}", self.0, width = LIMBS * LIMB_DIGITS);
        let mut limbs = [0; LIMBS];
        for (limb, digits) in limbs.iter_mut().zip(padded.as_bytes().chunks(LIMB_DIGITS)) {
            *limb = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        }
        limbs
    }

    /// The inverse of [`SequenceNumber::to_limbs`].
    pub fn from_limbs(limbs: [i64; LIMBS]) -> Result<Self, InvalidSequenceNumber> {
        let mut text = String::with_capacity(LIMBS * LIMB_DIGITS);
        for limb in limbs {
            if !(0..10i64.pow(LIMB_DIGITS as u32)).contains(&limb) {
                return Err(InvalidSequenceNumber(format!("{limbs:?}")));
            }
            text.push_str(&format!("{limb:0width$}", width = LIMB_DIGITS));
        }
        SequenceNumber::parse(&text)
    }
}

/// Base-10¹⁸ limbs of a sequence number: 8 × 18 digits hold the longest (129 digits).
pub const LIMBS: usize = 8;
const LIMB_DIGITS: usize = 18;

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SequenceNumber {
    type Error = InvalidSequenceNumber;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        SequenceNumber::parse(&text)
    }
}

impl From<SequenceNumber> for String {
    fn from(s: SequenceNumber) -> String {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(s: &str) -> SequenceNumber {
        SequenceNumber::parse(s).unwrap()
    }

    #[test]
    fn real_56_digit_numbers_compare_as_numbers() {
        // Real shapes from AWS: same shard, consecutive puts.
        let a = seq("49546986683135544286507457936321625675700192471156785154");
        let b = seq("49546986683135544286507457936321625675700192471156785155");
        let c = seq("49546986683135544286507457940242399874003891238913163266");
        assert!(a < b && b < c);
        // Longer is larger whatever the leading digits; moto's tiny ones sort below.
        assert!(seq("9") < seq("10"));
        assert!(seq("99999999999999999999") < a);
        assert_eq!(seq("007"), seq("7"));
        assert_eq!(seq("0"), seq("000"));
        let max = "9".repeat(129);
        assert!(seq(&max) > c);
    }

    #[test]
    fn limbs_round_trip_every_length() {
        for text in ["0", "1", "999999999999999999", "1000000000000000000", &"9".repeat(129)] {
            let n = seq(text);
            assert_eq!(SequenceNumber::from_limbs(n.to_limbs()).unwrap(), n, "{text}");
        }
        let real = seq("49546986683135544286507457936321625675700192471156785154");
        assert_eq!(real.to_limbs()[..4], [0, 0, 0, 0]);
        assert_eq!(real.to_limbs()[7], 700192471156785154);
        assert_eq!(SequenceNumber::from_limbs(real.to_limbs()).unwrap(), real);
        // Limbs compare as the numbers do, limb by limb.
        let next = seq("49546986683135544286507457940242399874003891238913163266");
        assert!(real.to_limbs() < next.to_limbs());
        assert!(SequenceNumber::from_limbs([0, 0, 0, 0, 0, 0, 0, -1]).is_err());
        assert!(SequenceNumber::from_limbs([0, 0, 0, 0, 0, 0, 0, 1_000_000_000_000_000_000]).is_err());
    }

    #[test]
    fn rejects_what_is_not_a_sequence_number() {
        for bad in ["", "-1", "12a", " 1", "1.0"] {
            assert!(SequenceNumber::parse(bad).is_err(), "{bad}");
        }
        assert!(SequenceNumber::parse(&"1".repeat(130)).is_err());
    }
}
