//! The dirty-value catalogue: every raw value known to mean "no data", measured on
//! the original project's real records (`shared/data/DIRTY_VALUES.md`). This is
//! the one place such literals live; cleaning and the generator both read it.
//! It grows as data shows more: add a row here, and a test on the sample that shows it.

/// A raw text value that stands for "no data" and is cleaned to null.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placeholder {
    /// The exact value, after trimming surrounding white space.
    pub value: &'static str,
    /// Where it was measured. Cleaning nulls it in *every* string column (SPEC §2);
    /// this says where the generator plants it.
    pub columns: &'static [&'static str],
    /// Share of real rows measured, as a fraction (0 where "rare").
    pub share: f64,
}

pub const NO_TITLE: &str = "No Title Data Available";
pub const NO_DESCRIPTION_STORY: &str = "No description available Story format";
pub const NO_DESCRIPTION: &str = "No description available";
pub const NO_TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";
pub const IMAGE_SRC_ERROR: &str = "Image src error.";
pub const USER_INFO_ERROR: &str = "User Info Error";
pub const UNTITLED: &str = "Untitled";

/// Every placeholder (SPEC §2 and DIRTY_VALUES.md). The empty string is a
/// placeholder too; it is handled by [`is_placeholder`] directly.
pub const PLACEHOLDERS: &[Placeholder] = &[
    Placeholder { value: NO_TITLE, columns: &["title"], share: 0.008 },
    Placeholder { value: NO_DESCRIPTION_STORY, columns: &["description"], share: 0.073 },
    Placeholder { value: NO_DESCRIPTION, columns: &["description"], share: 0.017 },
    Placeholder { value: NO_TAGS, columns: &["tag_list"], share: 0.015 },
    Placeholder { value: IMAGE_SRC_ERROR, columns: &["image_src"], share: 0.024 },
    Placeholder { value: USER_INFO_ERROR, columns: &["poster_name", "follower_count"], share: 0.008 },
    Placeholder { value: UNTITLED, columns: &["title", "description"], share: 0.0 },
];

/// True when a value, already trimmed, means "no data".
pub fn is_placeholder(trimmed: &str) -> bool {
    trimmed.is_empty() || PLACEHOLDERS.iter().any(|p| p.value == trimmed)
}

/// Multipliers of abbreviated follower counts ("7k", "1.2M"); `B` is not seen in
/// real data but accepted.
pub const COUNT_SUFFIXES: &[(char, i64)] =
    &[('k', 1_000), ('K', 1_000), ('m', 1_000_000), ('M', 1_000_000), ('b', 1_000_000_000), ('B', 1_000_000_000)];

/// The prefix the source puts before every `save_location` path.
pub const SAVE_LOCATION_PREFIX: &str = "Local save in ";

/// The 13 categories of the real data.
pub const CATEGORIES: &[&str] = &[
    "art",
    "beauty",
    "christmas",
    "diy-and-crafts",
    "education",
    "event-planning",
    "finance",
    "home-decor",
    "mens-fashion",
    "quotes",
    "tattoos",
    "travel",
    "vehicles",
];

/// The three real `is_image_or_video` values and their measured shares.
pub const MEDIA_TYPES: &[(&str, f64)] = &[("image", 0.90), ("video", 0.03), ("multi-video(story page format)", 0.07)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_matched_whole_and_exactly() {
        for p in PLACEHOLDERS {
            assert!(is_placeholder(p.value), "{}", p.value);
        }
        assert!(is_placeholder(""));
        assert!(!is_placeholder("Untitled: Photo"));
        assert!(!is_placeholder("no title data available"));
        assert!(!is_placeholder("No description available Story"));
    }
}
