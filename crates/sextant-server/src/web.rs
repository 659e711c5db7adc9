//! The web app at `/`: static files from `deploy/web/dist/` (built by `npm ci && npm run build`
//! in `deploy/web`; Vite puts every script, stylesheet and image under `assets/`), and the
//! map's basemap, a GeoJSON FeatureCollection of country polygons held in memory, at
//! `/map/basemap.geojson`. `/map` (the map page of earlier releases) redirects to the app's map
//! view.
//!
//! No authentication here: these are public static assets, and every API call the app makes
//! carries the user's bearer token (or rides on the client certificate). What is served is
//! narrow on purpose: an allowlist of file extensions, path components of plain characters only
//! (no `..`, no absolute paths, no hidden files), and the canonical path must stay under the
//! assets directory, so a symlink cannot point out of it. Every response carries a strict
//! Content-Security-Policy: the app runs only its own scripts, so even a slip in how it renders
//! document text cannot run injected code.

use crate::error::{ApiError, ErrorCode};
use axum::body::{Body, Bytes};
use axum::extract::Path as UrlPath;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The policy sent with every response of the app. Leaflet and Preact set element styles
/// through the CSSOM (`el.style.transform = …`), which `style-src` does not govern; Leaflet's
/// marker images come from the bundled stylesheet (`img-src 'self'`; `data:` for inline icons,
/// `blob:` for exported reports the app hands to the browser as downloads).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// Where the app's built files live.
#[derive(Debug, Clone)]
pub struct WebAssets {
    /// Canonical path of the directory holding `index.html` (normally `deploy/web/dist`).
    dir: PathBuf,
}

/// The file that marks a built app.
const INDEX: &str = "index.html";

/// How to run the build step; shown when the app is missing.
const NOT_INSTALLED: &str = "The web app is not built on this server. From the Sextant source \
     tree run `npm ci --prefix deploy/web && npm run build --prefix deploy/web` (or `bash \
     scripts/setup-browser.sh`) and restart `sextant serve`, or set SEXTANT_WEB_DIR to a \
     directory holding the built app (index.html and assets/).\n";

impl WebAssets {
    /// Finds the app: `$SEXTANT_WEB_DIR` when set (and only there), else `./deploy/web/dist`,
    /// else, walking up from the running binary, `web/` beside its `bin/` (an installed bundle)
    /// or `deploy/web/dist` (the binary in `target/{debug,release}/` of the source tree).
    /// `None` when no directory with `index.html` is found; the reason is logged.
    pub fn locate() -> Option<WebAssets> {
        let env = std::env::var_os("SEXTANT_WEB_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let cwd = std::env::current_dir().ok();
        let exe = std::env::current_exe().ok();
        locate_in(env.as_deref(), cwd.as_deref(), exe.as_deref())
    }

    /// The app in `dir`, which must hold `index.html`.
    pub fn at(dir: &Path) -> Option<WebAssets> {
        if !dir.join(INDEX).is_file() {
            return None;
        }
        let dir = dir.canonicalize().ok()?;
        Some(WebAssets { dir })
    }

    /// The directory the files are served from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// [`WebAssets::locate`] with its inputs given, so it can be tested without touching the
/// process environment.
fn locate_in(env: Option<&Path>, cwd: Option<&Path>, exe: Option<&Path>) -> Option<WebAssets> {
    if let Some(dir) = env {
        // An explicit setting is not second-guessed: a wrong one is reported, not skipped.
        let found = WebAssets::at(dir);
        if found.is_none() {
            tracing::warn!(dir = %dir.display(), "SEXTANT_WEB_DIR holds no index.html; the web app is off");
        }
        return found;
    }
    let mut candidates = Vec::new();
    if let Some(cwd) = cwd {
        candidates.push(cwd.join("deploy/web/dist"));
    }
    if let Some(bin_dir) = exe.and_then(Path::parent) {
        for a in bin_dir.ancestors() {
            candidates.push(a.join("web"));
            candidates.push(a.join("deploy/web/dist"));
        }
    }
    for dir in &candidates {
        if let Some(found) = WebAssets::at(dir) {
            return Some(found);
        }
    }
    tracing::info!("web app (deploy/web/dist) not found; / answers how to build it");
    None
}

/// Redirects the map page of earlier releases to the app's map view.
async fn to_map_view() -> Redirect {
    Redirect::to("/#/map")
}

/// The app's routes. With `None` the app's pages answer 503 saying how to build it.
pub fn routes<S: Clone + Send + Sync + 'static>(
    assets: Option<WebAssets>,
    basemap: Option<Arc<String>>,
) -> Router<S> {
    // One copy at start; each response then shares the bytes.
    let basemap = basemap.map(|b| Bytes::from(b.as_str().to_owned()));
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
    let router = Router::new()
        .route("/map", get(to_map_view))
        .route("/map/", get(to_map_view))
        .route("/map/basemap.geojson", get(basemap));
    let router = match assets {
        None => {
            let off = || async { (StatusCode::SERVICE_UNAVAILABLE, NOT_INSTALLED).into_response() };
            router
                .route("/", get(off))
                .route("/index.html", get(off))
                .route("/assets/{*rest}", get(off))
        }
        Some(assets) => {
            let dir = Arc::new(assets.dir);
            let index = {
                let dir = dir.clone();
                move || serve_file(dir.clone(), INDEX.to_string(), TOP_LEVEL)
            };
            let file = move |UrlPath(path): UrlPath<String>| {
                serve_file(dir.clone(), format!("assets/{path}"), ASSETS)
            };
            router
                .route("/", get(index.clone()))
                .route("/index.html", get(index))
                .route("/assets/{*path}", get(file))
        }
    };
    router.layer(axum::middleware::map_response(security_headers))
}

/// Whether `path` is one of the app's public routes (static files; no data).
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/index.html" | "/map" | "/map/" | "/map/basemap.geojson"
    ) || path.starts_with("/assets/")
}

/// Adds the app's security headers to every response, errors included.
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
    extensions: &["html"],
    nested: false,
};

/// What Vite writes under `assets/`: scripts, stylesheets, images, fonts, source maps.
const ASSETS: Allow = Allow {
    extensions: &["js", "css", "png", "svg", "woff2", "map", "json"],
    nested: true,
};

fn content_type(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "woff2" => "font/woff2",
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
            "web asset resolves outside its directory; refused"
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

    /// A built app like `deploy/web/dist`, inside a parent holding a secret.
    struct Fixture {
        root: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("deploy/web/dist");
            std::fs::create_dir_all(dir.join("assets/images")).unwrap();
            std::fs::write(root.path().join("secret.txt"), "secret").unwrap();
            std::fs::write(root.path().join("secret.js"), "secret").unwrap();
            std::fs::write(dir.join("index.html"), "<!doctype html><title>app</title>").unwrap();
            std::fs::write(dir.join("assets/index-1a2b.js"), "// app").unwrap();
            std::fs::write(dir.join("assets/index-1a2b.css"), "body{}").unwrap();
            std::fs::write(dir.join("assets/.env.js"), "hidden").unwrap();
            std::fs::write(dir.join("assets/package.toml"), "hidden").unwrap();
            std::fs::write(dir.join("assets/images/marker-icon.png"), b"\x89PNG").unwrap();
            #[cfg(unix)]
            std::os::unix::fs::symlink(root.path().join("secret.js"), dir.join("assets/out.js"))
                .unwrap();
            Fixture { root }
        }

        fn dir(&self) -> PathBuf {
            self.root.path().join("deploy/web/dist")
        }

        fn app(&self, basemap: Option<&str>) -> Router {
            let basemap = basemap.map(|b| Arc::new(b.to_string()));
            let assets = WebAssets::at(&self.dir()).expect("fixture is built");
            routes(Some(assets), basemap)
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
        check(&app, "/", html, "<title>app</title>").await;
        check(&app, "/index.html", html, "<title>app</title>").await;
        let js = "text/javascript; charset=utf-8";
        check(&app, "/assets/index-1a2b.js", js, "// app").await;
        let css = "text/css; charset=utf-8";
        check(&app, "/assets/index-1a2b.css", css, "body{}").await;
        check(&app, "/assets/images/marker-icon.png", "image/png", "PNG").await;
        let geo = "application/geo+json";
        check(&app, "/map/basemap.geojson", geo, "FeatureCollection").await;
        // The old map page is the app's map view now.
        let (status, resp) = get(&app, "/map").await;
        assert!(status.is_redirection(), "{status}");
        assert_eq!(header(&resp, header::LOCATION), "/#/map");
    }

    #[tokio::test]
    async fn rejects_traversal_hidden_files_symlinks_and_other_types() {
        let fx = Fixture::new();
        let app = fx.app(None);
        for uri in [
            "/assets/../../secret.txt",
            "/assets/../../../secret.js",
            "/assets/%2e%2e/%2e%2e/%2e%2e/secret.js",
            "/assets/..%2f..%2f..%2f..%2fsecret.js",
            "/assets/images/..%2f..%2findex-1a2b.js",
            "/assets/%2Fetc%2Fpasswd",
            "/assets//etc/passwd.js",
            "/assets/%2Fetc%2Fhosts.js",
            "/assets/..%5c..%5csecret.js",
            "/assets/index-1a2b.js%00.png",
            "/assets/out.js",
            "/assets/.env.js",
            "/assets/package.toml",
            "/assets/missing.js",
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
    async fn not_built_answers_503_with_the_build_command() {
        let app: Router = routes(None, None);
        for uri in ["/", "/index.html", "/assets/index-1a2b.js"] {
            let (status, resp) = get(&app, uri).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
            assert!(header(&resp, header::CONTENT_TYPE).starts_with("text/plain"));
            assert_eq!(
                header(&resp, header::CONTENT_SECURITY_POLICY),
                CONTENT_SECURITY_POLICY
            );
            assert!(
                body(resp)
                    .await
                    .contains("npm run build --prefix deploy/web"),
                "{uri}"
            );
        }
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers() {
        let fx = Fixture::new();
        let app = fx.app(None);
        for uri in [
            "/",
            "/assets/index-1a2b.js",
            "/assets/nope.js",
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
        let web = fx.dir().canonicalize().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let exe = fx.root.path().join("target/release/sextant");
        let found = |env: Option<&Path>, cwd: Option<&Path>, exe: Option<&Path>| {
            locate_in(env, cwd, exe).map(|a| a.dir().to_path_buf())
        };
        // The explicit setting wins, and a wrong one is not silently replaced.
        assert_eq!(
            found(Some(&fx.dir()), Some(elsewhere.path()), None),
            Some(web.clone())
        );
        assert_eq!(
            found(Some(elsewhere.path()), Some(fx.root.path()), None),
            None
        );
        // ./deploy/web/dist, then the binary's target/release/ walking up to the source tree.
        assert_eq!(found(None, Some(fx.root.path()), None), Some(web.clone()));
        assert_eq!(found(None, Some(elsewhere.path()), Some(&exe)), Some(web));
        assert_eq!(found(None, Some(elsewhere.path()), None), None);
        // An installed bundle: PREFIX/bin/sextant beside PREFIX/web.
        let prefix = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(prefix.path().join("web")).unwrap();
        std::fs::write(prefix.path().join("web/index.html"), "x").unwrap();
        let installed = prefix.path().join("bin/sextant");
        assert_eq!(
            found(None, Some(elsewhere.path()), Some(&installed)),
            Some(prefix.path().join("web").canonicalize().unwrap())
        );
    }
}
