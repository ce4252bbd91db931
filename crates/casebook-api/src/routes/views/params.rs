//! Query parameters of the view routes, read one by one so that every
//! error names its parameter.
//!
//! The views take lists (`status=reported,acknowledged` or
//! `status=reported&status=acknowledged`) and typed values (UUIDs, enums,
//! dates, bounded numbers) that a derived `Deserialize` on a struct would
//! reject with one message for the whole query string. Here each
//! parameter is taken by name and parsed with its own message; whatever is
//! left at the end is an unknown parameter. `min_position` is read by
//! [`crate::fresh::MinPosition`] and skipped here.

use std::str::FromStr;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;
use crate::fresh::MIN_POSITION_PARAM;

/// Longest value of one parameter, in bytes: a search sentence or a cursor
/// fits; more is a paste error or an attack.
pub const PARAM_BYTES_MAX: usize = 1_024;

/// Most values one list parameter may hold: there are eight statuses and a
/// dozen topics, so more is a mistake.
pub const LIST_VALUES_MAX: usize = 32;

/// The query parameters of a request, not yet taken.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Query(pairs) =
            Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|rejection| {
                ApiError::BadRequest {
                    detail: rejection.body_text(),
                    field: Some("query".to_owned()),
                }
            })?;
        Params::new(pairs)
    }
}

impl Params {
    /// The parameters of a query string, already decoded.
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        if let Some((name, _)) = pairs.iter().find(|(_, v)| v.len() > PARAM_BYTES_MAX) {
            return Err(ApiError::bad_request(
                name.as_str(),
                format!("`{name}` is longer than {PARAM_BYTES_MAX} bytes"),
            ));
        }
        let pairs = pairs
            .into_iter()
            .filter(|(name, _)| name != MIN_POSITION_PARAM)
            .collect();
        Ok(Self { pairs })
    }

    /// Takes a parameter that may be given at most once.
    pub fn one(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut values = self.take(name);
        if values.len() > 1 {
            return Err(bad(name, format!("`{name}` is given more than once")));
        }
        match values.pop() {
            Some(value) if value.trim().is_empty() => Err(bad(name, format!("`{name}` is empty"))),
            other => Ok(other),
        }
    }

    /// Takes a list parameter: repeated, comma-separated, or both.
    pub fn list(&mut self, name: &str) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        for value in self.take(name) {
            for item in value.split(',') {
                let item = item.trim();
                if item.is_empty() {
                    return Err(bad(name, format!("`{name}` holds an empty value")));
                }
                out.push(item.to_owned());
            }
        }
        if out.len() > LIST_VALUES_MAX {
            return Err(bad(
                name,
                format!("`{name}` holds more than {LIST_VALUES_MAX} values"),
            ));
        }
        Ok(out)
    }

    /// Takes a UUID.
    pub fn uuid(&mut self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.one(name)?
            .map(|text| {
                Uuid::parse_str(text.trim())
                    .map_err(|e| bad(name, format!("`{name}` is not a UUID: {e}")))
            })
            .transpose()
    }

    /// Takes one value of a snake_case enum.
    pub fn choice<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, ApiError> {
        self.one(name)?
            .map(|text| parse_choice(name, text.trim()))
            .transpose()
    }

    /// Takes a list of values of a snake_case enum.
    pub fn choices<T: DeserializeOwned>(&mut self, name: &str) -> Result<Vec<T>, ApiError> {
        self.list(name)?
            .iter()
            .map(|text| parse_choice(name, text))
            .collect()
    }

    /// Takes a calendar date (`2024-03-31`).
    pub fn date(&mut self, name: &str) -> Result<Option<NaiveDate>, ApiError> {
        self.one(name)?
            .map(|text| {
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map_err(|e| bad(name, format!("`{name}` is not a date like 2024-03-31: {e}")))
            })
            .transpose()
    }

    /// Takes a moment (RFC 3339, `2024-03-31T08:00:00+07:00`).
    pub fn time(&mut self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.one(name)?
            .map(|text| {
                DateTime::parse_from_rfc3339(text.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| bad(name, format!("`{name}` is not an RFC 3339 time: {e}")))
            })
            .transpose()
    }

    /// Takes a whole number in `min..=max`.
    pub fn number<T>(&mut self, name: &str, min: T, max: T) -> Result<Option<T>, ApiError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        let Some(text) = self.one(name)? else {
            return Ok(None);
        };
        let out_of_range = || bad(name, format!("`{name}` must be between {min} and {max}"));
        let text = text.trim();
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(out_of_range());
        }
        let value: T = text.parse().map_err(|_| out_of_range())?;
        if value < min || value > max {
            return Err(out_of_range());
        }
        Ok(Some(value))
    }

    /// Refuses whatever was not taken: an unknown parameter.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.pairs.into_iter().next() {
            None => Ok(()),
            Some((name, _)) => Err(bad(&name, format!("unknown parameter `{name}`"))),
        }
    }

    fn take(&mut self, name: &str) -> Vec<String> {
        let (taken, kept) = std::mem::take(&mut self.pairs)
            .into_iter()
            .partition(|(n, _)| n == name);
        self.pairs = kept;
        taken.into_iter().map(|(_, v)| v).collect()
    }
}

fn parse_choice<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| bad(name, format!("`{name}`: {e}")))
}

/// A 400 naming the parameter.
pub fn bad(name: &str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(name, detail)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use casebook_domain::Status;

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
        .unwrap()
    }

    fn field(error: ApiError) -> String {
        error.problem().field.unwrap()
    }

    #[test]
    fn lists_are_repeated_or_comma_separated_and_enums_are_checked() {
        let mut p = params(&[("status", "reported,acknowledged"), ("status", "closed")]);
        let statuses: Vec<Status> = p.choices("status").unwrap();
        assert_eq!(
            statuses,
            [Status::Reported, Status::Acknowledged, Status::Closed]
        );
        p.finish().unwrap();
        let mut p = params(&[("status", "reported,nonsense")]);
        let error = p.choices::<Status>("status").unwrap_err();
        assert!(error.to_string().contains("nonsense"), "{error}");
        assert_eq!(field(error), "status");
        let mut p = params(&[("status", "reported,,closed")]);
        assert_eq!(field(p.choices::<Status>("status").unwrap_err()), "status");
    }

    #[test]
    fn every_bad_value_names_its_parameter() {
        let mut p = params(&[("unit", "not-a-uuid")]);
        assert_eq!(field(p.uuid("unit").unwrap_err()), "unit");
        let mut p = params(&[("from", "2024-13-01")]);
        assert_eq!(field(p.date("from").unwrap_err()), "from");
        let mut p = params(&[("updated_since", "yesterday")]);
        assert_eq!(field(p.time("updated_since").unwrap_err()), "updated_since");
        let mut p = params(&[("limit", "0")]);
        assert_eq!(field(p.number("limit", 1usize, 200).unwrap_err()), "limit");
        let mut p = params(&[("limit", "201")]);
        assert_eq!(field(p.number("limit", 1usize, 200).unwrap_err()), "limit");
        let mut p = params(&[("limit", "-3")]);
        assert_eq!(field(p.number("limit", 1usize, 200).unwrap_err()), "limit");
        let mut p = params(&[("limit", "1"), ("limit", "2")]);
        assert_eq!(field(p.number("limit", 1usize, 200).unwrap_err()), "limit");
        let mut p = params(&[("q", "  ")]);
        assert_eq!(field(p.one("q").unwrap_err()), "q");
        let p = params(&[("colour", "red")]);
        assert_eq!(field(p.finish().unwrap_err()), "colour");
        let long = "x".repeat(PARAM_BYTES_MAX + 1);
        let error = Params::new(vec![("q".to_owned(), long)]).unwrap_err();
        assert_eq!(field(error), "q");
    }

    #[test]
    fn good_values_parse_and_min_position_is_left_to_its_extractor() {
        let mut p = params(&[
            ("limit", "20"),
            ("from", "2024-03-01"),
            ("updated_since", "2024-03-01T08:00:00+07:00"),
            ("min_position", "12"),
        ]);
        assert_eq!(p.number("limit", 1usize, 200).unwrap(), Some(20));
        assert_eq!(p.date("from").unwrap(), NaiveDate::from_ymd_opt(2024, 3, 1));
        assert_eq!(
            p.time("updated_since").unwrap().unwrap().to_rfc3339(),
            "2024-03-01T01:00:00+00:00"
        );
        p.finish().unwrap();
    }
}
