//! The topic taxonomy: what a concern is about.
//!
//! Topics are configurable (another body that tracks residents' concerns will
//! want its own list), so a topic is a stable snake_case code stored in events
//! plus labels in Vietnamese and English for the interface. The default list
//! is the one in the product brief.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// The longest topic code accepted, so that codes stay short identifiers.
pub const TOPIC_CODE_LEN_MAX: usize = 64;

/// A stable topic code: lowercase ASCII letters, digits and `_`, starting
/// with a letter (`livelihood_loans`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicCode(String);

impl TopicCode {
    /// Checks and wraps a code.
    pub fn new(code: impl Into<String>) -> Result<Self, DomainError> {
        let code = code.into();
        if is_snake_case_code(&code) {
            Ok(Self(code))
        } else {
            Err(DomainError::invalid(
                "topic",
                format!(
                    "`{code}` is not a snake_case code of at most {TOPIC_CODE_LEN_MAX} characters"
                ),
            ))
        }
    }

    /// The code as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_snake_case_code(code: &str) -> bool {
    let starts_with_letter = code.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    starts_with_letter
        && code.len() <= TOPIC_CODE_LEN_MAX
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl TryFrom<String> for TopicCode {
    type Error = DomainError;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::new(code)
    }
}

impl From<TopicCode> for String {
    fn from(code: TopicCode) -> Self {
        code.0
    }
}

impl fmt::Display for TopicCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One topic of the taxonomy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// The code stored in events; never changes once used.
    pub code: TopicCode,
    /// The label shown first (the interface speaks Vietnamese first).
    pub label_vi: String,
    /// The English label.
    pub label_en: String,
}

/// The list of topics a concern may be filed under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Topic>", into = "Vec<Topic>")]
pub struct Taxonomy {
    topics: Vec<Topic>,
}

/// The brief's default topics: code, Vietnamese label, English label.
const DEFAULT_TOPICS: [(&str, &str, &str); 11] = [
    (
        "social_security",
        "Chính sách an sinh xã hội",
        "Social-security policy",
    ),
    ("public_order", "An ninh, trật tự", "Public order"),
    (
        "crime_smuggling",
        "Tội phạm, buôn lậu",
        "Crime and smuggling",
    ),
    (
        "livelihood_loans",
        "Sinh kế, vay vốn",
        "Livelihood and loans",
    ),
    ("land", "Đất đai", "Land"),
    ("health", "Y tế", "Health"),
    ("education", "Giáo dục", "Education"),
    (
        "roads_infrastructure",
        "Giao thông, hạ tầng",
        "Roads and infrastructure",
    ),
    (
        "disasters_epidemics",
        "Thiên tai, dịch bệnh",
        "Disasters and epidemics",
    ),
    (
        "border_markers_crossings",
        "Mốc giới, lối mở biên giới",
        "Border markers and crossings",
    ),
    ("other", "Khác", "Other"),
];

impl Taxonomy {
    /// A taxonomy from a list of topics; codes must be unique and the list
    /// must not be empty.
    pub fn new(topics: Vec<Topic>) -> Result<Self, DomainError> {
        if topics.is_empty() {
            return Err(DomainError::invalid("taxonomy", "no topics"));
        }
        for (index, topic) in topics.iter().enumerate() {
            if topics[..index].iter().any(|t| t.code == topic.code) {
                return Err(DomainError::invalid(
                    "taxonomy",
                    format!("topic `{}` is listed twice", topic.code),
                ));
            }
        }
        Ok(Self { topics })
    }

    /// The topics, in display order.
    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// The topic with this code, if the taxonomy has it.
    pub fn get(&self, code: &TopicCode) -> Option<&Topic> {
        self.topics.iter().find(|t| &t.code == code)
    }

    /// Refuses a code the taxonomy does not have.
    pub fn check(&self, code: &TopicCode) -> Result<(), DomainError> {
        match self.get(code) {
            Some(_) => Ok(()),
            None => Err(DomainError::invalid(
                "topic",
                format!("`{code}` is not in the taxonomy"),
            )),
        }
    }
}

impl Default for Taxonomy {
    fn default() -> Self {
        let topics = DEFAULT_TOPICS
            .iter()
            .map(|(code, vi, en)| Topic {
                code: TopicCode((*code).to_owned()),
                label_vi: (*vi).to_owned(),
                label_en: (*en).to_owned(),
            })
            .collect();
        Self { topics }
    }
}

impl TryFrom<Vec<Topic>> for Taxonomy {
    type Error = DomainError;
    fn try_from(topics: Vec<Topic>) -> Result<Self, Self::Error> {
        Self::new(topics)
    }
}

impl From<Taxonomy> for Vec<Topic> {
    fn from(taxonomy: Taxonomy) -> Self {
        taxonomy.topics
    }
}
