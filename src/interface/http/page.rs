//! The dashboard: one page and its two files, built into the binary (no CDN, no network). They
//! hold code, not data: the page asks for a token once per browser session and reads every figure
//! through `/v1` (the live stream included, with the token in a header), so it shows what the
//! API answers and nothing else.
//!
//! Invariant: the page loads nothing from outside the service (checked below); its charts are
//! inline SVG drawn by its own script.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const APP_CSS: &str = include_str!("page/app.css");

/// The page's own files, by path, with their content types.
const FILES: [(&str, &str, &str); 3] = [
    ("/", "text/html; charset=utf-8", INDEX),
    ("/assets/app.js", "text/javascript; charset=utf-8", APP_JS),
    ("/assets/app.css", "text/css; charset=utf-8", APP_CSS),
];

pub(super) fn routes() -> Router {
    FILES.iter().fold(Router::new(), |router, &(path, content_type, body)| {
        // A new binary's page replaces the old one at the next load: the browser asks each time.
        router.route(
            path,
            get(move || async move {
                ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing outside the service: no absolute URL but the SVG namespace, no import, and every
    /// path the page names is one of its files or the API.
    #[test]
    fn the_page_loads_nothing_from_outside_the_service() {
        for (path, _, body) in FILES {
            let rest = body.replace("http://www.w3.org/2000/svg", "");
            for outside in ["http://", "https://", "//cdn", "@import", "import(", "url("] {
                assert!(!rest.contains(outside), "{path} contains {outside:?}");
            }
        }
        for asset in ["/assets/app.js", "/assets/app.css"] {
            assert!(INDEX.contains(asset), "the page loads {asset}");
        }
        // Every string in the script that is a path is the API's.
        for quote in ["\"/", "`/"] {
            for (at, _) in APP_JS.match_indices(quote) {
                let path = &APP_JS[at + 1..];
                assert!(
                    path.starts_with("/v1/"),
                    "the script asks only the API, not {:?}",
                    path.chars().take(20).collect::<String>()
                );
            }
        }
    }
}
