//! Kinesis sequence numbers: decimal strings of up to 129 digits (AWS sends 56), far
//! beyond any integer type, so they are kept as text and compared as numbers.

use std::cmp::Ordering;
use std::fmt;

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
        let valid = !text.is_empty() && text.len() <= 129 && text.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(InvalidSequenceNumber(text.to_owned()));
        }
        // Canonical form: no leading zeros (but "0" stays "0"), so equal numbers are equal strings.
        Ok(SequenceNumber(if digits.is_empty() { "0".into() } else { digits.into() }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
    fn rejects_what_is_not_a_sequence_number() {
        for bad in ["", "-1", "12a", " 1", "1.0"] {
            assert!(SequenceNumber::parse(bad).is_err(), "{bad}");
        }
        assert!(SequenceNumber::parse(&"1".repeat(130)).is_err());
    }
}
