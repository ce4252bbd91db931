//! The message catalogues: every word the pages show, in Vietnamese (the
//! default) and English.
//!
//! A catalogue is a TOML file compiled into the binary (`i18n/vi.toml`,
//! `i18n/en.toml`); its sections make dotted keys (`[nav] cases = "…"` is
//! `nav.cases`). Values may hold `{name}` placeholders, filled by
//! [`Catalog::fill`]. The tests check that both catalogues hold exactly the
//! same keys, that every key a template or handler asks for exists, and
//! that the placeholders of a key are the same in both languages.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// A language the pages speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// Vietnamese, the default.
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 tag (`lang` attribute, cookie value).
    pub fn tag(self) -> &'static str {
        match self {
            Self::Vi => "vi",
            Self::En => "en",
        }
    }

    /// The language of a tag; Vietnamese for anything unknown.
    pub fn from_tag(tag: &str) -> Self {
        match tag.trim() {
            "en" => Self::En,
            _ => Self::Vi,
        }
    }

    /// The other language (the switch offers it).
    pub fn other(self) -> Self {
        match self {
            Self::Vi => Self::En,
            Self::En => Self::Vi,
        }
    }

    /// Its catalogue.
    pub fn catalog(self) -> &'static Catalog {
        match self {
            Self::Vi => &VI,
            Self::En => &EN,
        }
    }
}

/// One language's messages, by dotted key.
#[derive(Debug, Default)]
pub struct Catalog {
    messages: BTreeMap<String, String>,
}

static VI: LazyLock<Catalog> = LazyLock::new(|| Catalog::parse("vi", VI_SOURCE));
static EN: LazyLock<Catalog> = LazyLock::new(|| Catalog::parse("en", EN_SOURCE));

const VI_SOURCE: &str = include_str!("i18n/vi.toml");
const EN_SOURCE: &str = include_str!("i18n/en.toml");

impl Catalog {
    /// Parses a catalogue; a broken one is logged and empty (the tests
    /// make sure the shipped ones parse).
    fn parse(lang: &str, source: &str) -> Self {
        match source.parse::<toml::Table>() {
            Ok(table) => {
                let mut messages = BTreeMap::new();
                flatten("", &table, &mut messages);
                Self { messages }
            }
            Err(error) => {
                tracing::error!(lang, %error, "the message catalogue does not parse");
                Self::default()
            }
        }
    }

    /// The message of `key`; the key itself if the catalogue lacks it
    /// (visible, and caught by the tests).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        match self.messages.get(key) {
            Some(message) => message,
            None => {
                tracing::warn!(key, "no message for this key");
                key
            }
        }
    }

    /// Whether the catalogue holds `key`.
    pub fn has(&self, key: &str) -> bool {
        self.messages.contains_key(key)
    }

    /// The message of `key` with its `{name}` placeholders filled.
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut message = self.get(key).to_owned();
        for (name, value) in values {
            message = message.replace(&format!("{{{name}}}"), value);
        }
        message
    }

    /// Every key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.messages.keys().map(String::as_str)
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            toml::Value::String(text) => {
                out.insert(key, text.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeSet;

    use super::*;

    fn placeholders(message: &str) -> BTreeSet<String> {
        message
            .split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
            .collect()
    }

    #[test]
    fn both_catalogues_parse_and_hold_the_same_keys_and_placeholders() {
        for (lang, source) in [("vi", VI_SOURCE), ("en", EN_SOURCE)] {
            source
                .parse::<toml::Table>()
                .unwrap_or_else(|e| panic!("{lang}: {e}"));
        }
        let vi: BTreeSet<&str> = Lang::Vi.catalog().keys().collect();
        let en: BTreeSet<&str> = Lang::En.catalog().keys().collect();
        assert!(vi.len() > 100, "{} keys", vi.len());
        assert_eq!(
            vi.difference(&en).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "in vi, not in en"
        );
        assert_eq!(
            en.difference(&vi).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "in en, not in vi"
        );
        for key in vi {
            assert_eq!(
                placeholders(Lang::Vi.catalog().get(key)),
                placeholders(Lang::En.catalog().get(key)),
                "placeholders of {key}"
            );
        }
    }

    /// Every `t("…")`, `get("…")`, `fill("…"` and `msg('…')` in the
    /// templates, the web handlers and the scripts names a key that exists
    /// (keys made at run time are checked in `web::tests`).
    #[test]
    fn every_key_the_pages_ask_for_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in ["templates", "src/web", "src/web/assets"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    sources.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        let mut asked = 0;
        for (path, text) in &sources {
            for (opener, close) in [
                ("t(\"", '"'),
                ("get(\"", '"'),
                ("fill(\"", '"'),
                ("has(\"", '"'),
                ("msg('", '\''),
            ] {
                for part in text.split(opener).skip(1) {
                    let Some((key, _)) = part.split_once(close) else {
                        continue;
                    };
                    let keyish = key.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'
                    });
                    if !keyish || !key.contains('.') || key.ends_with('.') {
                        continue;
                    }
                    asked += 1;
                    assert!(
                        Lang::Vi.catalog().has(key),
                        "{}: no message {key}",
                        path.display()
                    );
                }
            }
        }
        assert!(asked > 100, "only {asked} keys found: is the scan broken?");
    }

    #[test]
    fn fill_replaces_every_placeholder_and_an_unknown_key_shows_itself() {
        let catalog = Catalog::parse("test", "[a]\nb = \"{n} of {m}, {n}\"\n");
        let (key, missing) = ("a.b", "a.missing");
        assert_eq!(catalog.fill(key, &[("n", "3"), ("m", "5")]), "3 of 5, 3");
        assert_eq!(catalog.get(missing), missing);
        assert_eq!(Lang::from_tag("en"), Lang::En);
        assert_eq!(Lang::from_tag("fr"), Lang::Vi);
    }
}
