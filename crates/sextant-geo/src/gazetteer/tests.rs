//! Gazetteer tests on the real data (`scripts/fetch-data.sh geo`), loaded once.

use super::*;
use std::sync::OnceLock;

fn geo_dir() -> PathBuf {
    let cache = std::env::var_os("SEXTANT_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/sextant")
    });
    cache.join("data/geo")
}

fn geo() -> &'static GeoData {
    static GEO: OnceLock<GeoData> = OnceLock::new();
    GEO.get_or_init(|| {
        let dir = geo_dir();
        GeoData::load(&dir).unwrap_or_else(|e| panic!("{e} (run scripts/fetch-data.sh geo)"))
    })
}

#[test]
fn explore() {
    let g = geo();
    for f in ["fr", "us", "mx", "uk", "rs", "ch"] {
        let p = std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(format!(".cache/sextant/data/demo/factbook/{f}.md"));
        let text = std::fs::read_to_string(p).unwrap();
        let places = g.tag(&text);
        eprintln!("== {f}: {}", places.len());
        for p in places.iter().filter(|p| p.kind != PlaceKind::Country) {
            eprintln!("  {:?} {:?} {:?} {} ({:.2},{:.2})", p.name, p.kind, p.country, p.population, p.lat, p.lon);
        }
    }
}

#[path = "devmeasure.rs"]
mod devmeasure;
