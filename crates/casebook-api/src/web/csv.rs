//! CSV downloads (RFC 4180) of the figures and the case list.
//!
//! The file starts with a UTF-8 byte order mark so that spreadsheet
//! programs read Vietnamese correctly; fields holding a comma, a quote or
//! a line break are quoted; and a field that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
//! is prefixed with `'`, since case texts are typed by people.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Rows of a CSV file being written.
#[derive(Debug, Default)]
pub struct Csv {
    text: String,
}

fn field(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

impl Csv {
    /// An empty file (the byte order mark comes with [`Csv::into_response`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a row.
    pub fn row<S: AsRef<str>>(&mut self, values: &[S]) {
        let line: Vec<String> = values.iter().map(|v| field(v.as_ref())).collect();
        self.text.push_str(&line.join(","));
        self.text.push_str("\r\n");
    }

    /// The file's text, with the byte order mark.
    pub fn finish(self) -> String {
        format!("\u{feff}{}", self.text)
    }

    /// The file as a download named `filename`.
    pub fn into_download(self, filename: &str) -> Response {
        let mut response = self.finish().into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let mut csv = Csv::new();
        csv.row(&["a", "b,c", "say \"hi\"", "two\nlines"]);
        csv.row(&["=SUM(A1)", "-1", "tâm tư nguyện vọng"]);
        assert_eq!(
            csv.finish(),
            "\u{feff}a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n'=SUM(A1),'-1,tâm tư nguyện vọng\r\n"
        );
    }
}
