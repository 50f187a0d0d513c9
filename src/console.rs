//! The web console (docs/console.md): plain HTML, CSS and JavaScript modules under `console/`,
//! embedded in the binary and served on the admin port — the page at `/`, its files under
//! `/console/` — and `/console/config.json`, which tells the page where the API port is and
//! whether it must ask for a key. The browser calls the API itself (CORS, signed with SigV4).

use std::sync::OnceLock;

/// An embedded file: its path under `/console/`, its content type and its bytes.
type Asset = (&'static str, &'static str, &'static [u8]);

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($name:literal, $type:expr) => {
        ($name, $type, include_bytes!(concat!("../console/", $name)))
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("favicon.svg", SVG),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("charts.js", JS),
    asset!("config.js", JS),
    asset!("consumers.js", JS),
    asset!("credentials.js", JS),
    asset!("dialog.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("kpl.js", JS),
    asset!("lease-tables.js", JS),
    asset!("leases.js", JS),
    asset!("md5.js", JS),
    asset!("metrics.js", JS),
    asset!("prometheus.js", JS),
    asset!("protobuf.js", JS),
    asset!("records.js", JS),
    asset!("shardmap.js", JS),
    asset!("sigv4.js", JS),
    asset!("stream.js", JS),
    asset!("streams.js", JS),
];

/// Scripts, styles and images from the admin port only; API calls to any http(s) origin (the
/// API port is another origin).
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; connect-src 'self' http: https:; img-src 'self' data:; base-uri 'none'";

/// The embedded file for a request path, with its content type: `/` is the page itself.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    let name = match path {
        "/" => "index.html",
        _ => path.strip_prefix("/console/")?,
    };
    ASSETS.iter().find(|(asset, _, _)| *asset == name).map(|(_, content_type, bytes)| (*content_type, *bytes))
}

/// What `/console/config.json` tells the page: known once the API port is bound.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleConfig {
    /// The API port; the page reaches it on the host name it was loaded from.
    pub api_port: u16,
    pub account: String,
    pub region: String,
    /// `--credentials` is set: the page asks for an access key and secret.
    pub credentials_required: bool,
}

/// Set by `serve` once the API listener is bound; until then `config.json` answers 503.
pub type ConsoleConfigCell = OnceLock<ConsoleConfig>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        for (name, _, bytes) in ASSETS {
            let text = std::str::from_utf8(bytes).unwrap();
            for imported in text.split("from './").skip(1) {
                let module = &imported[..imported.find('\'').unwrap()];
                assert!(
                    asset(&format!("/console/{module}")).is_some(),
                    "{name} imports {module}, not embedded"
                );
            }
        }
    }

    #[test]
    fn paths() {
        assert_eq!(asset("/").unwrap().0, HTML);
        assert_eq!(asset("/console/app.js").unwrap().0, JS);
        assert!(asset("/console/").is_none());
        assert!(asset("/console/../Cargo.toml").is_none());
        assert!(asset("/app.js").is_none());
    }
}
