//! The static files the pages use, compiled into the binary: no CDN, so
//! the pages work on a local network without internet.
//!
//! - `app.css`: the one style sheet (mobile first; print rules).
//! - `app.js`: small enhancements, and the members' offline queue
//!   (IndexedDB) that sends through `POST /v1/sync`.
//! - `sw.js`: the service worker that keeps the members' pages for
//!   offline use; served from `/app/sw.js` so that its scope is `/app/`.
//! - `icon.svg`: the icon.
//!
//! Each answer carries an `ETag` (a hash of the bytes) and `no-cache`, so
//! browsers revalidate cheaply and never run a stale script after an
//! upgrade.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::web::page::error_page;
use crate::web::session::lang_of;

/// One compiled-in file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/app.js"),
    },
    Asset {
        name: "sw.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/sw.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("assets/icon.svg"),
    },
];

/// A short version of the assets, for the service worker's cache name:
/// a new binary with other assets makes a new cache.
pub fn version() -> String {
    let mut hasher = Sha256::new();
    for asset in ASSETS {
        hasher.update(asset.bytes);
    }
    hex::encode(&hasher.finalize()[..6])
}

fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..12]))
}

fn serve_named(name: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return error_page(lang_of(headers), &crate::ApiError::not_found("file"));
    };
    let etag = etag_of(asset.bytes);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let out = response.headers_mut();
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /app/static/{name}`.
pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name == "sw.js" {
        return error_page(lang_of(&headers), &crate::ApiError::not_found("file"));
    }
    serve_named(&name, &headers)
}

/// `GET /app/sw.js`: the service worker, whose scope is `/app/`.
pub async fn service_worker(headers: HeaderMap) -> Response {
    serve_named("sw.js", &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_with_its_type_and_revalidates_by_etag() {
        for asset in ASSETS {
            let response = serve_named(asset.name, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            assert_eq!(response.headers()[header::CONTENT_TYPE], asset.content_type);
            let etag = response.headers()[header::ETAG].clone();
            let mut again = HeaderMap::new();
            again.insert(header::IF_NONE_MATCH, etag);
            assert_eq!(
                serve_named(asset.name, &again).status(),
                StatusCode::NOT_MODIFIED
            );
        }
        assert_eq!(
            serve_named("nothing.js", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_pages_load_nothing_from_another_site() {
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.bytes);
            for remote in ["http://", "https://", "//cdn"] {
                let hits: Vec<_> = text
                    .match_indices(remote)
                    .filter(|(at, _)| !text[..*at].ends_with("xmlns=\""))
                    .collect();
                assert!(hits.is_empty(), "{} loads {remote}", asset.name);
            }
        }
    }
}
