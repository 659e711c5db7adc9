//! Gazetteer tests on the real data (`scripts/fetch-data.sh geo`), loaded once.

use super::*;
use std::sync::OnceLock;

fn geo() -> &'static GeoData {
    static GEO: OnceLock<GeoData> = OnceLock::new();
    GEO.get_or_init(|| {
        let cache = std::env::var_os("SEXTANT_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/sextant")
            });
        let dir = cache.join("data/geo");
        let t = std::time::Instant::now();
        let geo = GeoData::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("gazetteer loaded in {:.2} s", t.elapsed().as_secs_f64());
        geo
    })
}

/// `code_or_name` finds the country `iso2` (or none).
fn check_country(code_or_name: &str, iso2: Option<&str>) {
    let got = geo().country(code_or_name).map(|c| c.iso2.as_str());
    assert_eq!(got, iso2, "{code_or_name:?}");
}

#[test]
fn country_by_every_kind_of_code_and_name() {
    for (q, want) in [
        ("FR", "FR"),
        ("fr", "FR"),
        ("FRA", "FR"),
        ("250", "FR"),
        ("France", "FR"),
        ("  france ", "FR"),
        ("004", "AF"),
        ("4", "AF"),
        ("AFG", "AF"),
        ("840", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("USA", "US"),
        ("U.S.", "US"),
        ("US", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("GBR", "GB"),
        ("826", "GB"),
        ("Korea, South", "KR"),
        ("South Korea", "KR"),
        ("Korea, North", "KP"),
        ("Gambia, The", "GM"),
        ("The Gambia", "GM"),
        ("Bahamas, The", "BS"),
        ("Congo, Democratic Republic of the", "CD"),
        ("Congo, Republic of the", "CG"),
        ("Dem. Rep. Congo", "CD"),
        ("Burma", "MM"),
        ("Myanmar", "MM"),
        ("Cote d'Ivoire", "CI"),
        ("Côte d'Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Czechia", "CZ"),
        ("Czech Republic", "CZ"),
        ("Holy See (Vatican City)", "VA"),
        ("Micronesia, Federated States of", "FM"),
        ("Netherlands", "NL"),
        ("The Netherlands", "NL"),
        ("Bosnia and Herz.", "BA"),
        ("Bosnia & Herzegovina", "BA"),
        ("Falkland Islands (Islas Malvinas)", "FK"),
        ("Kosovo", "XK"),
        ("XK", "XK"),
        ("Timor-Leste", "TL"),
        ("Russia", "RU"),
        ("Russian Federation", "RU"),
        ("eSwatini", "SZ"),
        ("Swaziland", "SZ"),
    ] {
        check_country(q, Some(want));
    }
    for q in [
        "",
        "XX",
        "999",
        "0",
        "Atlantis",
        "Europe",
        "Serbia and Montenegro",
        "CS",
    ] {
        check_country(q, None);
    }
    let fr = geo().country("FR").unwrap();
    assert_eq!(
        (
            fr.iso3.as_str(),
            fr.numeric,
            fr.name.as_str(),
            fr.capital.as_str()
        ),
        ("FRA", 250, "France", "Paris")
    );
    assert!(!fr.shape.0.is_empty());
}

#[test]
fn countries_without_their_own_polygon() {
    // Natural Earth draws these inside another country or not at all: found, shape empty.
    for iso2 in ["GF", "RE", "GI", "TV", "BV"] {
        let c = geo().country(iso2).unwrap_or_else(|| panic!("{iso2}"));
        assert!(c.shape.0.is_empty(), "{iso2}");
    }
    // Features without an id are placed by name.
    for (iso2, lon, lat) in [
        ("XK", 21.17, 42.67),     // Pristina
        ("SO", 44.06, 9.56),      // Hargeisa, Somaliland
        ("CY", 33.32, 35.34),     // Kyrenia, N. Cyprus
        ("CX", 105.653, -10.503), // Christmas Island
        ("CC", 96.835, -12.165),  // West Island, Cocos
    ] {
        let got = geo().country_at(lon, lat).map(|c| c.iso2.as_str());
        assert_eq!(got, Some(iso2), "({lon}, {lat})");
    }
    assert_eq!(geo().countries().len(), 250);
    assert!(geo().countries().windows(2).all(|w| w[0].iso2 < w[1].iso2));
}

#[test]
fn country_at_points() {
    for (lon, lat, want) in [
        (2.3522, 48.8566, Some("FR")),   // Paris
        (-52.33, 4.94, Some("FR")),      // Cayenne: French Guiana is in France's polygon
        (172.0, 66.0, Some("RU")),       // Chukotka, east of 180°... west of the antimeridian
        (-174.0, 65.5, Some("RU")),      // Chukotka, east of the antimeridian
        (53.0, 67.64, Some("RU")),       // Naryan-Mar
        (37.62, 55.75, Some("RU")),      // Moscow
        (178.0, -17.8, Some("FJ")),      // Viti Levu
        (-179.96, -16.48, Some("FJ")),   // an island astride 180°, its eastern half
        (-179.925, -16.818, Some("FJ")), // Taveuni's east end, past 180°
        (-149.9, 61.22, Some("US")),     // Anchorage
        (-77.04, 38.9, Some("US")),      // Washington
        (139.69, 35.69, Some("JP")),     // Tokyo
        (-58.38, -34.6, Some("AR")),     // Buenos Aires
        (151.21, -33.87, Some("AU")),    // Sydney
        (0.0, -85.0, Some("AQ")),        // Antarctica, round the pole
        (-30.0, 30.0, None),             // mid-Atlantic
        (-150.0, 0.0, None),             // mid-Pacific
        (0.0, 0.0, None),                // Null Island
    ] {
        let got = geo().country_at(lon, lat).map(|c| c.iso2.as_str());
        assert_eq!(got, want, "({lon}, {lat})");
    }
    let ru = geo().country("RU").unwrap();
    assert_eq!(ru.distance_km(176.0, 65.0), Some(0.0));
    let d = ru.distance_km(-168.0, 65.7).unwrap(); // in the Bering Strait, off Uelen
    assert!(d > 0.0 && d < 100.0, "{d}");
    assert!(ru.shape.0.iter().all(|p| p
        .exterior()
        .coords()
        .all(|c| (-180.0..=180.0).contains(&c.x))));
}

#[test]
fn representative_points() {
    let point = |iso2: &str| {
        geo()
            .country(iso2)
            .and_then(|c| c.point)
            .map(|p| (p.x(), p.y()))
    };
    let near = |a: Option<(f64, f64)>, b: (f64, f64)| {
        a.is_some_and(|a| (a.0 - b.0).abs() < 0.1 && (a.1 - b.1).abs() < 0.1)
    };
    assert!(near(point("FR"), (2.35, 48.85)), "{:?}", point("FR"));
    assert!(near(point("US"), (-77.04, 38.90)), "{:?}", point("US"));
    assert!(near(point("MD"), (28.86, 47.0)), "{:?}", point("MD"));
    // No city listed: a point inside the polygon.
    let aq = geo().country("AQ").unwrap();
    assert!(aq.point.is_some_and(|p| geo()
        .country_at(p.x(), p.y())
        .is_some_and(|c| c.iso2 == "AQ")));
    let tx = geo().states().iter().find(|s| s.code == "TX").unwrap();
    let p = tx.point.unwrap();
    assert_eq!(
        geo().country_at(p.x(), p.y()).map(|c| c.iso2.as_str()),
        Some("US")
    );
}

/// Tags `text` and compares (name, kind, country) of every place but coordinates.
fn check_tags(text: &str, want: &[(&str, PlaceKind, &str)]) {
    let got: Vec<(String, PlaceKind, String)> = geo()
        .tag(text)
        .into_iter()
        .map(|p| (p.name, p.kind, p.country.unwrap_or_default()))
        .collect();
    let want: Vec<(String, PlaceKind, String)> = want
        .iter()
        .map(|(n, k, c)| (n.to_string(), *k, c.to_string()))
        .collect();
    assert_eq!(got, want, "{text:?}");
}

#[test]
fn disambiguation_by_context() {
    use PlaceKind::*;
    check_tags(
        "Paris is the capital of France and its largest city.",
        &[("Paris", City, "FR"), ("France", Country, "FR")],
    );
    check_tags(
        "The Lamar County seat, Paris, Texas, lies north-east of Dallas.",
        &[
            ("Paris", City, "US"),
            ("Texas", Admin, "US"),
            ("Dallas", City, "US"),
        ],
    );
    check_tags(
        "He moved to Paris, TX in 1990.",
        &[("Paris", City, "US"), ("TX", Admin, "US")],
    );
    check_tags(
        "Alexandria, Egypt, was founded by Alexander; the library of Alexandria was famous.",
        &[
            ("Alexandria", City, "EG"),
            ("Egypt", Country, "EG"),
            ("Alexandria", City, "EG"),
        ],
    );
    check_tags(
        "Alexandria, Virginia, is across the river from Washington, D.C.",
        &[
            ("Alexandria", City, "US"),
            ("Virginia", Admin, "US"),
            ("Washington", City, "US"),
            ("D.C.", Admin, "US"),
        ],
    );
    check_tags(
        "Ships sailed from Alexandria to Cairo and Port Said along the Nile.",
        &[
            ("Alexandria", City, "EG"),
            ("Cairo", City, "EG"),
            ("Port Said", City, "EG"),
        ],
    );
    // A country named in the text decides.
    check_tags(
        "In Australia the flood reached Victoria and Perth.",
        &[("Australia", Country, "AU"), ("Perth", City, "AU")],
    );
    check_tags(
        "Victoria is the capital of the Seychelles.",
        &[("Victoria", City, "SC"), ("Seychelles", Country, "SC")],
    );
    check_tags(
        "Georgia borders Russia, Armenia and Azerbaijan; Tbilisi is its capital.",
        &[
            ("Georgia", Country, "GE"),
            ("Russia", Country, "RU"),
            ("Armenia", Country, "AM"),
            ("Azerbaijan", Country, "AZ"),
            ("Tbilisi", City, "GE"),
        ],
    );
    check_tags(
        "Hurricanes hit Florida, Georgia and South Carolina.",
        &[
            ("Florida", Admin, "US"),
            ("Georgia", Admin, "US"),
            ("South Carolina", Admin, "US"),
        ],
    );
    // Lists of cities of one country.
    check_tags(
        "Consulates: Atlanta, Boston, Chicago, Houston, Miami.",
        &[
            ("Atlanta", City, "US"),
            ("Boston", City, "US"),
            ("Chicago", City, "US"),
            ("Houston", City, "US"),
            ("Miami", City, "US"),
        ],
    );
    check_tags(
        "Mexico City is the capital of Mexico.",
        &[("Mexico City", City, "MX"), ("Mexico", Country, "MX")],
    );
}

#[test]
fn common_words_and_longer_names_are_not_places() {
    use PlaceKind::*;
    for text in [
        "Reading is good for you, and so is a Nice day in March.",
        "Mobile phones are common. Independence Day is a holiday.",
        "George Washington crossed the Delaware.",
        "The Washington Post and the New York Times reported it.",
        "They signed the Kyoto Protocol and the Paris Agreement.",
        "The Treaty of Versailles ended the war.",
        "He studied at the University of Chicago.",
        "The Congo River and Lake Victoria are in Africa's Great Lakes region.",
        "TELL US WHAT YOU THINK",
        "Mr. Lincoln spoke; Gen. Jackson listened.",
        "KwaZulu-Natal and Quintana Roo are provinces.",
        "Of the union, the most important part of time.",
    ] {
        let got: Vec<_> = geo()
            .tag(text)
            .into_iter()
            .filter(|p| p.kind == City)
            .map(|p| p.name)
            .collect();
        assert!(got.is_empty(), "{text:?}: {got:?}");
    }
    // Regions mask the names inside them.
    check_tags(
        "Trade between South America, the Middle East and Latin America grew.",
        &[],
    );
    check_tags(
        "Exports to America and Britain rose.",
        &[("America", Country, "US"), ("Britain", Country, "GB")],
    );
}

#[test]
fn spans_are_char_offsets_and_coordinates_are_places() {
    let text = "Café in Bogotá, then São Paulo; grid 4QFJ1234567890 and 48°51′24″N 2°21′03″E.";
    let places = geo().tag(text);
    let chars: Vec<char> = text.chars().collect();
    let names: Vec<String> = places
        .iter()
        .map(|p| chars[p.start..p.end].iter().collect())
        .collect();
    assert_eq!(
        names,
        [
            "Bogotá",
            "São Paulo",
            "4QFJ1234567890",
            "48°51′24″N 2°21′03″E"
        ],
        "{places:?}"
    );
    for p in &places {
        assert_eq!(chars[p.start..p.end].iter().collect::<String>(), p.name);
    }
    assert_eq!(places[0].country.as_deref(), Some("CO"));
    assert_eq!(places[1].country.as_deref(), Some("BR"));
    assert_eq!(places[2].kind, PlaceKind::Coordinates);
    assert_eq!(places[2].country.as_deref(), Some("US"));
    assert!((places[2].lat - 21.4098).abs() < 1e-3 && (places[2].lon + 157.916).abs() < 1e-3);
    assert_eq!(places[3].country.as_deref(), Some("FR"));
    // Folded spellings match too, and a geotag keeps the span.
    let p = &geo().tag("Flights from Bogota to Sao Paulo.")[0];
    assert_eq!((p.name.as_str(), p.start, p.end), ("Bogota", 13, 19));
    let tag = p.geotag();
    assert_eq!((tag.start, tag.end, tag.name.as_str()), (13, 19, "Bogota"));
    assert_eq!(tag.source, sextant_types::GeoSource::Gazetteer);
}

#[test]
fn basemap_is_geojson_with_names_and_codes() {
    let v: serde_json::Value = serde_json::from_str(&geo().basemap_geojson()).unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    let features = v["features"].as_array().unwrap();
    assert!(features.len() >= 170, "{}", features.len());
    let fr = features
        .iter()
        .find(|f| f["properties"]["iso2"] == "FR")
        .expect("France");
    assert_eq!(fr["properties"]["name"], "France");
    assert_eq!(fr["geometry"]["type"], "MultiPolygon");
    assert!(features
        .iter()
        .any(|f| f["properties"]["iso2"] == "XK" && f["properties"]["name"] == "Kosovo"));
    // Cut at the antimeridian: every longitude within [-180, 180].
    for f in features {
        for poly in f["geometry"]["coordinates"].as_array().unwrap() {
            for ring in poly.as_array().unwrap() {
                for pos in ring.as_array().unwrap() {
                    let x = pos[0].as_f64().unwrap();
                    assert!((-180.0..=180.0).contains(&x), "{}", f["properties"]);
                }
            }
        }
    }
}

#[test]
fn missing_files_name_the_file() {
    let dir = std::env::temp_dir().join(format!("sextant-geo-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = GeoData::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("countries.json") && err.contains("fetch-data.sh geo"),
        "{err}"
    );
    std::fs::write(dir.join("countries.json"), "{\"FR\": 1}").unwrap();
    let err = GeoData::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("invalid JSON") && err.contains("countries.json"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
