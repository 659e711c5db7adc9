//! The offline map UI at `/map`: static files from `deploy/map/` (the page, its script and style,
//! and Leaflet from `deploy/map/node_modules/leaflet/dist/`, installed by `npm ci`) and the
//! basemap, a GeoJSON FeatureCollection of country polygons held in memory.
//!
//! No authentication here: these are public static assets, and every API call the page makes
//! carries the user's bearer token. What is served is narrow on purpose: an allowlist of file
//! extensions, path components of plain characters only (no `..`, no absolute paths, no hidden
//! files), and the canonical path must stay under the assets directory, so a symlink cannot
//! point out of it. Every response carries a strict Content-Security-Policy: the page runs only
//! its own scripts, so even a slip in how it renders document text cannot run injected code.

use crate::error::{ApiError, ErrorCode};
use axum::body::{Body, Bytes};
use axum::extract::Path as UrlPath;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The policy sent with every `/map` response. Leaflet needs nothing beyond `'self'`: it sets
/// element positions through the CSSOM (`el.style.transform = …`), which `style-src` does not
/// govern, and its marker images come from its own stylesheet (`img-src 'self'`; `data:` for
/// any inline icon).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// What the page's files are, where they live, and the basemap to draw under them.
#[derive(Debug, Clone)]
pub struct MapAssets {
    /// Canonical path of the directory holding `index.html` (normally `deploy/map`).
    dir: PathBuf,
    basemap: Option<Arc<String>>,
}

/// The file that marks an assets directory, and the one that shows `npm ci` has run in it.
const INDEX: &str = "index.html";
const LEAFLET_DIST: &str = "node_modules/leaflet/dist";

/// How to run the install step; shown when the assets are missing.
const NOT_INSTALLED: &str = "The map UI is not installed on this server. From the Sextant source \
     tree run `npm ci --prefix deploy/map` (or `bash scripts/setup-browser.sh`) and restart \
     `sextant serve`, or set SEXTANT_MAP_DIR to a directory holding index.html and \
     node_modules/leaflet.\n";

impl MapAssets {
    /// Finds the assets: `$SEXTANT_MAP_DIR` when set (and only there), else `./deploy/map`, else
    /// `deploy/map` in the directory of the running binary or any of its ancestors (the binary
    /// lives in `target/{debug,release}/` of the source tree). `None` when no directory with
    /// `index.html` and an installed Leaflet is found; the reason is logged.
    pub fn locate(basemap: Option<Arc<String>>) -> Option<MapAssets> {
        let env = std::env::var_os("SEXTANT_MAP_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let cwd = std::env::current_dir().ok();
        let exe = std::env::current_exe().ok();
        locate_in(env.as_deref(), cwd.as_deref(), exe.as_deref(), basemap)
    }

    /// Assets in `dir`, which must hold `index.html` and `node_modules/leaflet/dist/leaflet.js`.
    pub fn at(dir: &Path, basemap: Option<Arc<String>>) -> Option<MapAssets> {
        if !is_installed(dir) {
            return None;
        }
        let dir = dir.canonicalize().ok()?;
        Some(MapAssets { dir, basemap })
    }

    /// The directory the files are served from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a basemap is loaded.
    pub fn has_basemap(&self) -> bool {
        self.basemap.is_some()
    }
}

fn is_installed(dir: &Path) -> bool {
    dir.join(INDEX).is_file() && dir.join(LEAFLET_DIST).join("leaflet.js").is_file()
}

/// [`MapAssets::locate`] with its inputs given, so it can be tested without touching the
/// process environment.
fn locate_in(
    env: Option<&Path>,
    cwd: Option<&Path>,
    exe: Option<&Path>,
    basemap: Option<Arc<String>>,
) -> Option<MapAssets> {
    if let Some(dir) = env {
        // An explicit setting is not second-guessed: a wrong one is reported, not skipped.
        let found = MapAssets::at(dir, basemap);
        if found.is_none() {
            tracing::warn!(dir = %dir.display(), "SEXTANT_MAP_DIR has no index.html with an installed Leaflet; /map is off");
        }
        return found;
    }
    let mut candidates = Vec::new();
    if let Some(cwd) = cwd {
        candidates.push(cwd.join("deploy/map"));
    }
    if let Some(bin_dir) = exe.and_then(Path::parent) {
        candidates.extend(bin_dir.ancestors().map(|a| a.join("deploy/map")));
    }
    for dir in &candidates {
        if let Some(found) = MapAssets::at(dir, basemap.clone()) {
            return Some(found);
        }
    }
    match candidates.iter().find(|d| d.join(INDEX).is_file()) {
        Some(dir) => {
            tracing::warn!(dir = %dir.display(), "map UI found but Leaflet is not installed (npm ci --prefix deploy/map); /map is off")
        }
        None => tracing::info!("map UI assets (deploy/map) not found; /map is off"),
    }
    None
}

/// The `/map` routes. With `None` every one of them answers 503 saying how to install the UI.
pub fn routes<S: Clone + Send + Sync + 'static>(assets: Option<MapAssets>) -> Router<S> {
    let router = match assets {
        None => {
            let off = || async { (StatusCode::SERVICE_UNAVAILABLE, NOT_INSTALLED).into_response() };
            Router::new()
                .route("/map", get(off))
                .route("/map/", get(off))
                .route("/map/{*rest}", get(off))
        }
        Some(assets) => {
            let dir = Arc::new(assets.dir);
            let leaflet = Arc::new(dir.join(LEAFLET_DIST));
            // One copy at start; each response then shares the bytes.
            let basemap = assets.basemap.map(|b| Bytes::from(b.as_str().to_owned()));
            let index = {
                let dir = dir.clone();
                move || serve_file(dir.clone(), INDEX.to_string(), TOP_LEVEL)
            };
            let file = {
                let dir = dir.clone();
                move |UrlPath(name): UrlPath<String>| serve_file(dir.clone(), name, TOP_LEVEL)
            };
            let vendor =
                move |UrlPath(path): UrlPath<String>| serve_file(leaflet.clone(), path, VENDOR);
            let basemap = move || {
                let basemap = basemap.clone();
                async move {
                    match basemap {
                        Some(bytes) => file_response(bytes, "application/geo+json"),
                        None => ApiError::new(
                            ErrorCode::NotFound,
                            "no basemap: this server was started without the Natural Earth \
                             country polygons, so the map shows no countries",
                        )
                        .into_response(),
                    }
                }
            };
            Router::new()
                .route("/map", get(index.clone()))
                .route("/map/", get(index))
                .route("/map/basemap.geojson", get(basemap))
                .route("/map/vendor/leaflet/{*path}", get(vendor))
                .route("/map/{file}", get(file))
        }
    };
    router.layer(axum::middleware::map_response(security_headers))
}

/// Adds the page's security headers to every `/map` response, errors included.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Revalidate each time: after an upgrade the page and its script must not mix versions.
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    resp
}

/// Which files a route may serve, by extension, and how deep.
struct Allow {
    extensions: &'static [&'static str],
    /// Whether `a/b` (subdirectories) is allowed, or only a bare file name.
    nested: bool,
}

const TOP_LEVEL: Allow = Allow {
    extensions: &["html", "js", "css", "png", "svg"],
    nested: false,
};

/// Leaflet's `dist/`: the script, its stylesheet, marker images and the source map.
const VENDOR: Allow = Allow {
    extensions: &["js", "css", "png", "svg", "map"],
    nested: true,
};

fn content_type(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "map" | "json" => "application/json",
        "geojson" => "application/geo+json",
        _ => return None,
    })
}

/// Serves `rel` from under `base`, or 404 for anything not allowed (without saying why, so a
/// probe learns nothing about the file system).
async fn serve_file(base: Arc<PathBuf>, rel: String, allow: Allow) -> Response {
    let Some(ext) = checked_extension(&rel, &allow) else {
        return not_found();
    };
    let Some(mime) = content_type(ext) else {
        return not_found();
    };
    let read = tokio::task::spawn_blocking(move || read_under(&base, &rel)).await;
    match read {
        Ok(Some(bytes)) => file_response(Bytes::from(bytes), mime),
        Ok(None) => not_found(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// The extension of `rel` when `rel` is a plain relative path the route allows: components of
/// ASCII letters, digits, `-`, `_` and `.`, none empty, none starting with a dot (so no `..`, no
/// hidden files), no leading `/`, and an allowed extension.
fn checked_extension<'a>(rel: &'a str, allow: &Allow) -> Option<&'a str> {
    if rel.is_empty() || rel.len() > 200 {
        return None;
    }
    let mut parts = 0;
    for part in rel.split('/') {
        parts += 1;
        let plain = part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if part.is_empty() || part.starts_with('.') || !plain {
            return None;
        }
    }
    if parts > 1 && !allow.nested {
        return None;
    }
    let (_, ext) = rel.rsplit_once('.')?;
    allow.extensions.contains(&ext).then_some(ext)
}

/// Reads `base/rel` if, after resolving symlinks, it is a regular file inside `base`.
fn read_under(base: &Path, rel: &str) -> Option<Vec<u8>> {
    const MAX_FILE: u64 = 16 << 20;
    let base = base.canonicalize().ok()?;
    let path = base.join(rel).canonicalize().ok()?;
    if !path.starts_with(&base) {
        tracing::warn!(
            path = rel,
            "map asset resolves outside its directory; refused"
        );
        return None;
    }
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    std::fs::read(&path).ok()
}

fn file_response(bytes: Bytes, mime: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(mime))],
        Body::from(bytes),
    )
        .into_response()
}

fn not_found() -> Response {
    ApiError::new(ErrorCode::NotFound, "no such file").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use tower::ServiceExt;

    /// A map directory like `deploy/map` after `npm ci`, inside a parent holding a secret.
    struct Fixture {
        root: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("deploy/map");
            let dist = dir.join(LEAFLET_DIST);
            std::fs::create_dir_all(dist.join("images")).unwrap();
            std::fs::write(root.path().join("secret.txt"), "secret").unwrap();
            std::fs::write(root.path().join("secret.js"), "secret").unwrap();
            std::fs::write(dir.join("index.html"), "<!doctype html><title>map</title>").unwrap();
            std::fs::write(dir.join("map.js"), "// map").unwrap();
            std::fs::write(dir.join("map.css"), "body{}").unwrap();
            std::fs::write(dir.join("package.json"), "{}").unwrap();
            std::fs::write(dir.join(".env.js"), "hidden").unwrap();
            std::fs::write(dist.join("leaflet.js"), "// leaflet").unwrap();
            std::fs::write(dist.join("leaflet.css"), ".leaflet{}").unwrap();
            std::fs::write(dist.join("images/marker-icon.png"), b"\x89PNG").unwrap();
            #[cfg(unix)]
            {
                std::os::unix::fs::symlink(root.path().join("secret.js"), dist.join("out.js"))
                    .unwrap();
                std::os::unix::fs::symlink(root.path().join("secret.js"), dir.join("out.js"))
                    .unwrap();
            }
            Fixture { root }
        }

        fn dir(&self) -> PathBuf {
            self.root.path().join("deploy/map")
        }

        fn app(&self, basemap: Option<&str>) -> Router {
            let basemap = basemap.map(|b| Arc::new(b.to_string()));
            routes(Some(
                MapAssets::at(&self.dir(), basemap).expect("fixture is installed"),
            ))
        }
    }

    async fn get(app: &Router, uri: &str) -> (StatusCode, Response) {
        let req = Request::get(uri).body(Body::empty()).unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        (resp.status(), resp)
    }

    fn header(resp: &Response, name: header::HeaderName) -> &str {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    async fn body(resp: Response) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn serves_each_file_with_its_content_type() {
        let fx = Fixture::new();
        let app = fx.app(Some(r#"{"type":"FeatureCollection","features":[]}"#));
        async fn check(app: &Router, uri: &str, mime: &str, text: &str) {
            let (status, resp) = get(app, uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(header(&resp, header::CONTENT_TYPE), mime, "{uri}");
            assert_eq!(
                header(&resp, header::X_CONTENT_TYPE_OPTIONS),
                "nosniff",
                "{uri}"
            );
            assert!(body(resp).await.contains(text), "{uri}");
        }
        let html = "text/html; charset=utf-8";
        check(&app, "/map", html, "<title>map</title>").await;
        check(&app, "/map/", html, "<title>map</title>").await;
        check(&app, "/map/index.html", html, "<title>map</title>").await;
        check(
            &app,
            "/map/map.js",
            "text/javascript; charset=utf-8",
            "// map",
        )
        .await;
        check(&app, "/map/map.css", "text/css; charset=utf-8", "body{}").await;
        let js = "text/javascript; charset=utf-8";
        check(&app, "/map/vendor/leaflet/leaflet.js", js, "// leaflet").await;
        let css = "text/css; charset=utf-8";
        check(&app, "/map/vendor/leaflet/leaflet.css", css, ".leaflet{}").await;
        let png = "image/png";
        check(
            &app,
            "/map/vendor/leaflet/images/marker-icon.png",
            png,
            "PNG",
        )
        .await;
        let geo = "application/geo+json";
        check(&app, "/map/basemap.geojson", geo, "FeatureCollection").await;
    }

    #[tokio::test]
    async fn rejects_traversal_hidden_files_symlinks_and_other_types() {
        let fx = Fixture::new();
        let app = fx.app(None);
        for uri in [
            "/map/../secret.txt",
            "/map/vendor/leaflet/../../../../secret.js",
            "/map/vendor/leaflet/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.js",
            "/map/vendor/leaflet/..%2f..%2f..%2f..%2fsecret.js",
            "/map/vendor/leaflet/images/..%2f..%2fleaflet.js",
            "/map/%2e%2e%2fsecret.js",
            "/map/%2Fetc%2Fpasswd",
            "/map/vendor/leaflet//etc/passwd.js",
            "/map/vendor/leaflet/%2Fetc%2Fhosts.js",
            "/map/vendor/leaflet/..%5c..%5csecret.js",
            "/map/vendor/leaflet/leaflet.js%00.png",
            "/map/vendor/leaflet/out.js",
            "/map/out.js",
            "/map/.env.js",
            "/map/package.json",
            "/map/vendor/leaflet/../../package.json",
            "/map/node_modules/leaflet/dist/leaflet.js",
            "/map/missing.js",
            "/map/basemap.geojson",
        ] {
            let (status, resp) = get(&app, uri).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            let text = body(resp).await;
            assert!(
                !text.contains("secret") && !text.contains("hidden"),
                "{uri}: {text}"
            );
        }
    }

    #[tokio::test]
    async fn missing_basemap_is_a_clear_json_404() {
        let fx = Fixture::new();
        let (status, resp) = get(&fx.app(None), "/map/basemap.geojson").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(header(&resp, header::CONTENT_TYPE), "application/json");
        let v: serde_json::Value = serde_json::from_str(&body(resp).await).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert!(v["error"]["message"].as_str().unwrap().contains("basemap"));
    }

    #[tokio::test]
    async fn not_installed_answers_503_with_the_install_command() {
        let app: Router = routes(None);
        for uri in [
            "/map",
            "/map/",
            "/map/map.js",
            "/map/vendor/leaflet/leaflet.js",
        ] {
            let (status, resp) = get(&app, uri).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
            assert!(header(&resp, header::CONTENT_TYPE).starts_with("text/plain"));
            assert_eq!(
                header(&resp, header::CONTENT_SECURITY_POLICY),
                CONTENT_SECURITY_POLICY
            );
            assert!(
                body(resp).await.contains("npm ci --prefix deploy/map"),
                "{uri}"
            );
        }
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers() {
        let fx = Fixture::new();
        let app = fx.app(None);
        for uri in [
            "/map",
            "/map/map.js",
            "/map/nope.js",
            "/map/basemap.geojson",
        ] {
            let (_, resp) = get(&app, uri).await;
            let csp = header(&resp, header::CONTENT_SECURITY_POLICY);
            assert_eq!(csp, CONTENT_SECURITY_POLICY, "{uri}");
            for directive in [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                "connect-src 'self'",
                "object-src 'none'",
                "frame-ancestors 'none'",
            ] {
                assert!(csp.contains(directive), "{uri}: {directive}");
            }
            assert!(!csp.contains("unsafe"), "{uri}");
            assert_eq!(header(&resp, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        }
    }

    #[test]
    fn locates_env_then_cwd_then_the_binarys_ancestors() {
        let fx = Fixture::new();
        let map = fx.dir().canonicalize().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let exe = fx.root.path().join("target/release/sextant");
        let found = |env: Option<&Path>, cwd: Option<&Path>, exe: Option<&Path>| {
            locate_in(env, cwd, exe, None).map(|a| a.dir().to_path_buf())
        };
        // The explicit setting wins, and a wrong one is not silently replaced.
        assert_eq!(
            found(Some(&fx.dir()), Some(elsewhere.path()), None),
            Some(map.clone())
        );
        assert_eq!(
            found(Some(elsewhere.path()), Some(fx.root.path()), None),
            None
        );
        // ./deploy/map, then the binary's target/release/ walking up to the source tree.
        assert_eq!(found(None, Some(fx.root.path()), None), Some(map.clone()));
        assert_eq!(found(None, Some(elsewhere.path()), Some(&exe)), Some(map));
        assert_eq!(found(None, Some(elsewhere.path()), None), None);
        // index.html without `npm ci` is not installed.
        std::fs::remove_file(fx.dir().join(LEAFLET_DIST).join("leaflet.js")).unwrap();
        assert_eq!(found(None, Some(fx.root.path()), Some(&exe)), None);
    }
}
