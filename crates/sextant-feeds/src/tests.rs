//! Tests of the feed readers over the hand-written fixtures in `tests/data/feeds/` (one per
//! format, plus malformed ones in `bad/`), the stream splitter, and random input.

use super::*;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/feeds")
}

fn fixture(name: &str) -> Vec<u8> {
    let p = fixture_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn read(name: &str) -> Vec<Feature> {
    read_with(name, &CsvColumns::default())
}

fn read_with(name: &str, cols: &CsvColumns) -> Vec<Feature> {
    let format = FeedFormat::from_path(Path::new(name)).expect("fixture format");
    parse(format, &fixture(name), cols).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn fails(name: &str) -> FeedError {
    let format = FeedFormat::from_path(Path::new(name)).expect("fixture format");
    match parse(format, &fixture(name), &CsvColumns::default()) {
        Ok(fs) => panic!("{name}: expected an error, got {} features", fs.len()),
        Err(e) => e,
    }
}

fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn feature(
    uid: Option<&str>,
    name: Option<&str>,
    geometry: Geometry,
    time: Option<&str>,
    properties: &[(&str, &str)],
) -> Feature {
    Feature {
        uid: uid.map(str::to_string),
        name: name.map(str::to_string),
        geometry,
        time: time.map(str::to_string),
        properties: props(properties),
    }
}

/// The error's text contains each of `parts`.
fn check_error(e: &FeedError, parts: &[&str]) {
    let text = e.to_string();
    for p in parts {
        assert!(text.contains(p), "error {text:?} does not contain {p:?}");
    }
}

#[test]
fn geojson_feature_collection() {
    let fs = read("points.geojson");
    let ring = |pts: &[[f64; 2]]| pts.to_vec();
    assert_eq!(
        fs,
        vec![
            feature(
                Some("site-1"),
                Some("Paris HQ"),
                Geometry::Point([2.3522, 48.8566]),
                Some("2024-03-01T12:30:00Z"),
                &[
                    ("status", "open"),
                    ("staff", "42"),
                    ("verified", "true"),
                    ("tags", r#"["a","b"]"#),
                    ("altitude", "35"),
                ],
            ),
            feature(
                Some("route-7"),
                Some("Supply route"),
                Geometry::LineString(vec![[2.35, 48.85], [2.29, 48.86], [2.2, 48.9]]),
                Some("2024-03-01T12:30:00Z"),
                &[("lanes", "2")],
            ),
            feature(
                Some("3"),
                Some("Compound"),
                Geometry::Polygon(vec![
                    ring(&[[0., 0.], [4., 0.], [4., 4.], [0., 4.], [0., 0.]]),
                    ring(&[[1., 1.], [2., 1.], [2., 2.], [1., 2.], [1., 1.]]),
                ]),
                None,
                &[("when", "sometime in 2023")],
            ),
            feature(
                None,
                Some("RAVEN 1"),
                Geometry::MultiPoint(vec![[10., 20.], [11., 21.], [12., 22.]]),
                None,
                &[],
            ),
            feature(
                None,
                None,
                Geometry::MultiPolygon(vec![vec![ring(&[
                    [-10., -10.],
                    [-9., -10.],
                    [-9., -9.],
                    [-10., -10.]
                ])]]),
                None,
                &[],
            ),
        ]
    );
    assert_eq!(
        fs[0].text(),
        "Paris HQ\nuid: site-1\ntime: 2024-03-01T12:30:00Z\nstatus: open\nstaff: 42\n\
         verified: true\ntags: [\"a\",\"b\"]\naltitude: 35"
    );
    assert_eq!(fs[4].text(), "MultiPolygon");
}

#[test]
fn geojson_single_feature_and_bare_geometry() {
    let one = br#"{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]},"properties":{"name":"two lines","id":"x"}}"#;
    let fs = parse(FeedFormat::GeoJson, one, &CsvColumns::default()).unwrap();
    assert_eq!(
        fs,
        vec![feature(
            Some("x"),
            Some("two lines"),
            Geometry::MultiLineString(vec![vec![[0., 0.], [1., 1.]], vec![[2., 2.], [3., 3.]]]),
            None,
            &[],
        )]
    );
    let bare = br#"  {"type":"Point","coordinates":[-77.0365, 38.8977, 17.5]}"#;
    let fs = parse(FeedFormat::GeoJson, bare, &CsvColumns::default()).unwrap();
    assert_eq!(
        fs,
        vec![feature(
            None,
            None,
            Geometry::Point([-77.0365, 38.8977]),
            None,
            &[("altitude", "17.5")]
        )]
    );
}

#[test]
fn geojson_newline_delimited() {
    let fs = read("tracks.ndjson");
    assert_eq!(fs.len(), 3);
    let want = [
        ([-0.4543, 51.47], "2021-10-07T12:00:00Z", "3000"),
        ([-0.5, 51.5], "2021-10-07T12:05:00Z", "8000"),
        ([-0.6, 51.6], "2021-10-07T12:10:00Z", "12000"),
    ];
    for (f, (p, t, alt)) in fs.iter().zip(want) {
        assert_eq!(
            *f,
            feature(
                Some("4ca7b5"),
                Some("RYR12AB"),
                Geometry::Point(p),
                Some(t),
                &[("altitude", alt)]
            )
        );
    }
    assert_eq!(
        fs[2].text(),
        "RYR12AB\nuid: 4ca7b5\ntime: 2021-10-07T12:10:00Z\naltitude: 12000"
    );
    // RFC 8142 text sequences read the same
    let mut seq = Vec::new();
    for line in fixture("tracks.ndjson").split(|b| *b == b'\n') {
        seq.push(0x1e);
        seq.extend_from_slice(line);
        seq.push(b'\n');
    }
    assert_eq!(
        parse(FeedFormat::GeoJson, &seq, &CsvColumns::default()).unwrap(),
        fs
    );
}

#[test]
fn kml_placemarks_folders_polygon_hole_extended_data() {
    let fs = read("places.kml");
    assert_eq!(
        fs,
        vec![
            feature(
                Some("pm-hq"),
                Some("Headquarters"),
                Geometry::Point([-122.0822, 37.4222]),
                Some("2024-03-01T08:00:00Z"),
                &[
                    ("description", "Main HQ building & car park. Gate 2"),
                    ("commander", "Col. Smith"),
                    ("capacity", "250"),
                    ("folder", "Exercise / Sites"),
                ],
            ),
            feature(
                Some("pm-zone"),
                Some("Exclusion zone"),
                Geometry::Polygon(vec![
                    vec![
                        [-122.1, 37.4],
                        [-122.0, 37.4],
                        [-122.0, 37.5],
                        [-122.1, 37.5],
                        [-122.1, 37.4]
                    ],
                    vec![
                        [-122.06, 37.44],
                        [-122.04, 37.44],
                        [-122.04, 37.46],
                        [-122.06, 37.44]
                    ],
                ]),
                None,
                &[("folder", "Exercise / Sites / Restricted")],
            ),
            feature(
                None,
                Some("Patrol route"),
                Geometry::LineString(vec![[-122.08, 37.42], [-122.07, 37.43], [-122.06, 37.44]]),
                Some("2024-03-01T20:00:00Z"),
                &[
                    ("description", "Night patrol"),
                    ("end", "2024-03-02T04:00:00Z"),
                    ("folder", "Exercise"),
                ],
            ),
            feature(
                Some("pm-obs"),
                Some("Observation posts"),
                Geometry::MultiPoint(vec![[-122.01, 37.41], [-122.02, 37.42]]),
                None,
                &[("folder", "Exercise")],
            ),
        ]
    );
    assert_eq!(
        fs[0].text(),
        "Headquarters\nuid: pm-hq\ntime: 2024-03-01T08:00:00Z\n\
         description: Main HQ building & car park. Gate 2\ncommander: Col. Smith\n\
         capacity: 250\nfolder: Exercise / Sites"
    );
}

#[test]
fn gpx_waypoints_track_route() {
    let fs = read("trip.gpx");
    assert_eq!(
        fs,
        vec![
            feature(
                None,
                Some("Kleine Scheidegg"),
                Geometry::Point([7.9904, 46.5763]),
                Some("2023-07-14T06:10:00Z"),
                &[
                    ("ele", "2061"),
                    ("desc", "Station & hotel"),
                    ("sym", "Flag")
                ],
            ),
            feature(
                None,
                Some("Jungfraujoch"),
                Geometry::Point([7.9854, 46.5475]),
                None,
                &[]
            ),
            feature(
                None,
                Some("Morning walk"),
                Geometry::LineString(vec![[7.9904, 46.5763], [7.995, 46.58], [8.0, 46.585]]),
                Some("2023-07-14T06:15:00Z"),
                &[("end", "2023-07-14T06:45:00Z"), ("points", "3")],
            ),
            feature(
                None,
                Some("Way down"),
                Geometry::LineString(vec![[7.9904, 46.5763], [7.96, 46.624]]),
                None,
                &[("points", "2")],
            ),
        ]
    );
    assert_eq!(
        fs[2].text(),
        "Morning walk\ntime: 2023-07-14T06:15:00Z\nend: 2023-07-14T06:45:00Z\npoints: 3"
    );
}

#[test]
fn csv_with_latitude_longitude_headers() {
    let fs = read("stations.csv");
    assert_eq!(
        fs,
        vec![
            feature(
                Some("ST-1"),
                Some("Alpha station"),
                Geometry::Point([-0.1278, 51.5074]),
                Some("2024-01-05T10:00:00Z"),
                &[("Elevation (m)", "11"), ("notes", "coastal, windy")],
            ),
            feature(
                Some("ST-2"),
                Some("Bravo"),
                Geometry::Point([2.3522, 48.8566]),
                Some("2024-01-05T11:00:00+01:00"),
                &[],
            ),
            feature(
                Some("ST-3"),
                Some("Charlie \"C\" post"),
                Geometry::Point([151.2093, -33.8688]),
                None,
                &[("Elevation (m)", "58"), ("notes", "harbour")],
            ),
        ]
    );
    assert_eq!(
        fs[0].text(),
        "Alpha station\nuid: ST-1\ntime: 2024-01-05T10:00:00Z\nElevation (m): 11\nnotes: coastal, windy"
    );
}

#[test]
fn tsv_with_named_columns() {
    let cols = CsvColumns {
        lat: Some("northing_deg".into()),
        lon: Some("EASTING_DEG".into()),
    };
    let fs = read_with("custom.tsv", &cols);
    assert_eq!(
        fs,
        vec![
            feature(
                None,
                Some("HAWK 11"),
                Geometry::Point([-118.2437, 34.0522]),
                None,
                &[("speed_kt", "420"), ("remarks", "climbing")],
            ),
            feature(
                None,
                Some("HAWK 12"),
                Geometry::Point([-118.3, 34.1]),
                None,
                &[("speed_kt", "415")],
            ),
        ]
    );
    // without the names the file is refused, and the message lists the columns
    let e = fails("custom.tsv");
    check_error(
        &e,
        &[
            "csv: line 1 (header)",
            "no latitude column",
            "\"northing_deg\"",
        ],
    );
    // a name that is not there
    let wrong = CsvColumns {
        lat: Some("northing".into()),
        lon: Some("nope".into()),
    };
    let e = parse(FeedFormat::Csv, &fixture("custom.tsv"), &wrong).unwrap_err();
    check_error(&e, &["the longitude column \"nope\" is not in the header"]);
}

#[test]
fn csv_header_detection() {
    // (header, expected lat column, expected lon column) by the value each column holds
    fn check(header: &str, lat: &str, lon: &str) {
        let n = header.split(',').count();
        let row: Vec<String> = header
            .split(',')
            .enumerate()
            .map(|(i, _)| format!("{}", i + 1))
            .collect();
        let csv = format!("{header}\n{}\n", row.join(","));
        let f = &parse(FeedFormat::Csv, csv.as_bytes(), &CsvColumns::default())
            .unwrap_or_else(|e| panic!("{header}: {e}"))[0];
        let idx = |name: &str| header.split(',').position(|h| h == name).unwrap() + 1;
        assert_eq!(
            f.geometry,
            Geometry::Point([idx(lon) as f64, idx(lat) as f64]),
            "{header} ({n} columns)"
        );
    }
    check("lat,lon", "lat", "lon");
    check("LONGITUDE,LATITUDE", "LATITUDE", "LONGITUDE");
    check("x,y", "y", "x");
    check(
        "Latitude (deg),Longitude (deg)",
        "Latitude (deg)",
        "Longitude (deg)",
    );
    check("lat_dd,lng_dd", "lat_dd", "lng_dd");
    check("name,Long,Lat", "Lat", "Long");
    check("y,x,latitude,longitude", "latitude", "longitude");
    check(
        "decimalLatitude,decimalLongitude",
        "decimalLatitude",
        "decimalLongitude",
    );
    // semicolons
    let fs = parse(
        FeedFormat::Csv,
        b"lat;lon;title\n1,5;2;x\n",
        &CsvColumns::default(),
    );
    check_error(
        &fs.unwrap_err(),
        &["row 1 (line 2) column \"lat\"", "\"1,5\" is not a number"],
    );
    let fs = parse(
        FeedFormat::Csv,
        b"lat;lon;title\n1.5;2;x\n",
        &CsvColumns::default(),
    )
    .unwrap();
    assert_eq!(fs[0].name.as_deref(), Some("x"));
}

#[test]
fn cot_events() {
    let fs = read("events.cot");
    assert_eq!(
        fs,
        vec![
            feature(
                Some("ANDROID-589520ccfcd20f01"),
                Some("BLUE 1"),
                Geometry::Point([-77.0353, 38.8895]),
                Some("2024-03-01T12:00:00.000Z"),
                &[
                    ("type", "a-f-G-U-C"),
                    ("affiliation", "friend"),
                    ("dimension", "ground"),
                    ("function", "combat unit"),
                    ("how", "h-e"),
                    ("start", "2024-03-01T12:00:00.000Z"),
                    ("stale", "2024-03-01T12:06:00.000Z"),
                    ("hae", "12.5"),
                    ("ce", "9.9"),
                    ("contact.endpoint", "*:-1:stcp"),
                    ("__group.name", "Cyan"),
                    ("__group.role", "Team Member"),
                    ("track.course", "90.0"),
                    ("track.speed", "1.5"),
                    ("remarks", "Checkpoint <alpha> secured"),
                ],
            ),
            feature(
                Some("hostile-7"),
                None,
                Geometry::Point([-77.05, 38.9]),
                Some("2024-03-01T12:01:30Z"),
                &[
                    ("type", "a-h-G"),
                    ("affiliation", "hostile"),
                    ("dimension", "ground"),
                    ("how", "m-g"),
                    ("start", "2024-03-01T12:01:30Z"),
                    ("stale", "2024-03-01T13:01:30Z"),
                    ("remarks.source", "BAO.F.ATAK.hostile-7"),
                    ("remarks", "Technical vehicle, 2 pax"),
                ],
            ),
            feature(
                Some("ICAO-3b7777"),
                Some("FAF4011"),
                Geometry::Point([4.8628, 43.5572]),
                Some("2024-03-01T12:02:00Z"),
                &[
                    ("type", "a-f-A-M-F"),
                    ("affiliation", "friend"),
                    ("dimension", "air"),
                    ("function", "military fixed wing"),
                    ("how", "m-g"),
                    ("start", "2024-03-01T12:02:00Z"),
                    ("stale", "2024-03-01T12:04:00Z"),
                    ("hae", "213.4"),
                    ("ce", "50"),
                    ("le", "50"),
                ],
            ),
        ]
    );
    assert_eq!(
        fs[1].text(),
        "hostile-7\ntime: 2024-03-01T12:01:30Z\ntype: a-h-G\naffiliation: hostile\n\
         dimension: ground\nhow: m-g\nstart: 2024-03-01T12:01:30Z\nstale: 2024-03-01T13:01:30Z\n\
         remarks.source: BAO.F.ATAK.hostile-7\nremarks: Technical vehicle, 2 pax"
    );
    // events wrapped in some other root element read the same
    let body = String::from_utf8(fixture("events.cot")).unwrap().replace(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>",
        "",
    );
    let wrapped = format!("<?xml version=\"1.0\"?><events>{body}</events>");
    assert_eq!(
        parse(FeedFormat::Cot, wrapped.as_bytes(), &CsvColumns::default()).unwrap(),
        fs
    );
}

#[test]
fn cot_type_gloss() {
    fn check(ty: &str, want: &[(&str, &str)]) {
        assert_eq!(cot::type_gloss(ty), props(want), "{ty}");
    }
    check(
        "a-n-A-C-F",
        &[
            ("affiliation", "neutral"),
            ("dimension", "air"),
            ("function", "civilian fixed wing"),
        ],
    );
    check(
        "a-u-S",
        &[("affiliation", "unknown"), ("dimension", "sea surface")],
    );
    check(
        "a-h-G-U-C-I",
        &[
            ("affiliation", "hostile"),
            ("dimension", "ground"),
            ("function", "infantry"),
        ],
    );
    check(
        "a-f-G-U-C-X-Y",
        &[
            ("affiliation", "friend"),
            ("dimension", "ground"),
            ("function", "combat unit"),
        ],
    );
    check(
        "a-f-A-M-F-Q-r",
        &[
            ("affiliation", "friend"),
            ("dimension", "air"),
            ("function", "unmanned aerial vehicle"),
        ],
    );
    check("b-m-p-s-m", &[("category", "bits (data, not a thing)")]);
    check("a", &[]);
    check("", &[]);
    check("zzz-q", &[]);
}

#[test]
fn malformed_fixtures_name_the_place() {
    check_error(
        &fails("bad/truncated.kml"),
        &["kml: line ", "truncated document", "never closed"],
    );
    check_error(
        &fails("bad/lat-range.geojson"),
        &[
            "geojson: feature 2 (\"too far north\")",
            "latitude 95.5 is out of range -90..90",
        ],
    );
    check_error(
        &fails("bad/unclosed-ring.geojson"),
        &[
            "feature 1 (id \"zone-9\")",
            "Polygon: the exterior ring is not closed",
        ],
    );
    check_error(
        &fails("bad/unclosed-ring.kml"),
        &[
            "kml: placemark 2 \"Leaky\" (line 3)",
            "the outer ring (line 5) is not closed",
        ],
    );
    check_error(
        &fails("bad/missing-column.csv"),
        &["no latitude column", "\"northing\""],
    );
    check_error(
        &fails("bad/non-numeric.csv"),
        &["csv: row 2 (line 3) column \"lat\": \"north\" is not a number"],
    );
    check_error(
        &fails("bad/non-numeric.gpx"),
        &[
            "gpx: waypoint 2 \"broken\" (line 3)",
            "lon \"east\" is not a number",
        ],
    );
    check_error(
        &fails("bad/truncated.cot"),
        &["cot: event 2 (line 4)", "truncated"],
    );
}

#[test]
fn malformed_inline() {
    fn check(format: FeedFormat, input: &str, parts: &[&str]) {
        match parse(format, input.as_bytes(), &CsvColumns::default()) {
            Ok(fs) => panic!("{input:?}: expected an error, got {fs:?}"),
            Err(e) => check_error(&e, parts),
        }
    }
    use FeedFormat::*;
    check(GeoJson, "", &["no JSON value"]);
    check(
        GeoJson,
        r#"{"type": "Feature","#,
        &["geojson: line 1 column", "not valid JSON"],
    );
    check(
        GeoJson,
        "{\"type\":\"Point\",\"coordinates\":[1,2]}\n{\"type\":\"Point\",\"coordinates\":[200,2]}",
        &["geojson: line 2: Point: position [200,2]: longitude 200 is out of range"],
    );
    check(
        GeoJson,
        r#"{"type":"Feature","geometry":null,"properties":{"name":"n"}}"#,
        &["feature 1 (\"n\")", "no geometry"],
    );
    check(
        GeoJson,
        r#"{"type":"Feature","geometry":{"type":"Point","coordinates":["a",2]}}"#,
        &["\"a\" is not a number"],
    );
    check(
        GeoJson,
        r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2]]}}"#,
        &["the line has 1 position(s)"],
    );
    check(
        GeoJson,
        r#"{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"LineString","coordinates":[[1,2],[3,4]]}]}}"#,
        &["mixes points and lines"],
    );
    check(
        GeoJson,
        r#"{"type":"Topology"}"#,
        &["unknown GeoJSON type \"Topology\""],
    );
    check(
        GeoJson,
        r#"{"type":"FeatureCollection","features":[{"type":"Point","coordinates":[1,2]}]}"#,
        &["feature 1", "expected a Feature"],
    );
    check(
        Kml,
        "<kml><Placemark><name>x</name></Placemark></kml>",
        &["placemark 1 \"x\" (line 1)", "no geometry"],
    );
    check(Kml, "<gpx/>", &["root element is <gpx>, expected <kml>"]);
    check(Kml, "", &["no root element"]);
    check(
        Kml,
        "<kml><Placemark><Point><coordinates>1,2 3,4</coordinates></Point></Placemark></kml>",
        &["Point (line 1) has 2 positions"],
    );
    check(
        Kml,
        "<kml><Placemark><Point><coordinates>1;2</coordinates></Point></Placemark></kml>",
        &["\"1;2\" is not lon,lat[,alt]"],
    );
    check(Kml, "<kml>\n<Placemark>\n<Point><coordinates>1,2</coordinates></Point>\n</Placemark>\n</Document>", &["kml: line 5", "malformed XML"]);
    check(
        Kml,
        "<kml><Placemark a='&bogus;'/></kml>",
        &["line 1", "Placemark"],
    );
    check(
        Gpx,
        "<gpx><wpt lat=\"91\" lon=\"0\"/></gpx>",
        &["waypoint 1 (line 1)", "latitude 91 is out of range"],
    );
    check(
        Gpx,
        "<gpx><trk><trkseg><trkpt lat=\"1\"/></trkseg></trk></gpx>",
        &["track 1 (line 1): <trkpt> at line 1", "no lon attribute"],
    );
    check(
        Csv,
        "lat,lon\n1,2\n3\n",
        &["row 2 (line 3)", "1 fields, the header has 2"],
    );
    check(
        Csv,
        "lat,lon\n1,2\n,4\n",
        &["row 2 (line 3) column \"lat\": empty"],
    );
    check(
        Csv,
        "lat,lon\n100,2\n",
        &["row 1 (line 2)", "latitude 100 is out of range"],
    );
    check(Csv, "lat,lon\n1,2\n\"3,4\n", &["row 2"]);
    check(Csv, "", &["header"]);
    check(
        Cot,
        "<event uid='a'><detail/></event>",
        &["event 1 (line 1) uid \"a\"", "no <point>"],
    );
    check(
        Cot,
        "<event uid='a'><point lat='x' lon='1'/></event>",
        &["<point> lat \"x\" is not a number"],
    );
    check(
        Cot,
        "<event uid='a'><point lat='1' lon='1'></event>",
        &["event 1, line 1", "malformed XML"],
    );
    check(
        Cot,
        "<event uid='a'><point lat='1' lon='1'/></event>junk",
        &["line 1", "unexpected text between events"],
    );
    check(
        Cot,
        "<event><point lat='1' lon='1'/>\n<event><point lat='1' lon='1'/></event>",
        &["event 1 (line 1)", "a new <event> begins"],
    );
    check(Cot, "", &["no <event> found"]);
    check(
        Cot,
        "<event uid='a'><point lat='1' lon='1'/></event><!-- never ends",
        &["truncated"],
    );
}

#[test]
fn time_normalisation() {
    fn check(input: &str, want: Option<&str>) {
        assert_eq!(normalize_time(input).as_deref(), want, "{input:?}");
    }
    check("2024-03-01T12:00:00Z", Some("2024-03-01T12:00:00Z"));
    check(" 2024-03-01t12:00:00z ", Some("2024-03-01T12:00:00Z"));
    check("2024-03-01 12:00:00", Some("2024-03-01T12:00:00Z"));
    check("2024-03-01T12:00Z", Some("2024-03-01T12:00:00Z"));
    check(
        "2024-03-01T12:00:00.123+0530",
        Some("2024-03-01T12:00:00.123+05:30"),
    );
    check("2024-03-01T12:00:00-03", Some("2024-03-01T12:00:00-03:00"));
    check("2024-02-29T00:00:00Z", Some("2024-02-29T00:00:00Z"));
    check("2023-02-29T00:00:00Z", None);
    check("2024-03-01T25:00:00Z", None);
    check("2024-03-01T12:00:00+2500", None);
    check("2024-03-01", None);
    check("2024", None);
    check("sometime", None);
    check("", None);
    check("1633608773", Some("2021-10-07T12:12:53Z"));
    check("1633608773000", Some("2021-10-07T12:12:53Z"));
    check("1633608773.5", Some("2021-10-07T12:12:53.500Z"));
    check("99999999999999999999", None);
    check("2024-03-01T12:00:00é", None);
}

#[test]
fn format_detection() {
    fn path(p: &str, want: Option<FeedFormat>) {
        assert_eq!(FeedFormat::from_path(Path::new(p)), want, "{p}");
    }
    use FeedFormat::*;
    path("a.geojson", Some(GeoJson));
    path("a.NDJSON", Some(GeoJson));
    path("dir.x/a.geojsonl", Some(GeoJson));
    path("a.kml", Some(Kml));
    path("a.gpx", Some(Gpx));
    path("a.csv", Some(Csv));
    path("a.tsv", Some(Csv));
    path("a.cot", Some(Cot));
    path("a.json", None);
    path("a.xml", None);
    path("kml", None);
    fn sniff(b: &str, want: Option<FeedFormat>) {
        assert_eq!(FeedFormat::sniff(b.as_bytes()), want, "{b}");
    }
    sniff(
        "\u{feff} {\"type\" : \"FeatureCollection\", \"features\": []}",
        Some(GeoJson),
    );
    sniff(
        "{\"properties\":{\"type\":\"x\"},\"type\":\"Feature\"}",
        Some(GeoJson),
    );
    sniff("{\"type\":\"Point\",\"coordinates\":[1,2]}", Some(GeoJson));
    sniff("{\"type\":\"Topology\"}", None);
    sniff("{\"name\":\"x\"}", None);
    sniff(
        "<?xml version=\"1.0\"?>\n<!-- hi -->\n<kml xmlns=\"x\">",
        Some(Kml),
    );
    sniff("<gpx version=\"1.1\">", Some(Gpx));
    sniff("<?xml version=\"1.0\"?><event version=\"2.0\">", Some(Cot));
    sniff("<html>", None);
    sniff("lat,lon\n1,2", None);
    sniff("", None);
    for (name, f) in [
        ("points.geojson", GeoJson),
        ("tracks.ndjson", GeoJson),
        ("places.kml", Kml),
        ("trip.gpx", Gpx),
        ("events.cot", Cot),
    ] {
        assert_eq!(FeedFormat::sniff(&fixture(name)), Some(f), "{name}");
        assert_eq!(
            FeedFormat::detect(Path::new("x.json"), &fixture(name)),
            Some(f)
        );
    }
    assert_eq!(FeedFormat::Kml.as_str(), "kml");
    assert_eq!(
        FeedFormat::ALL.map(FeedFormat::as_str),
        ["geojson", "kml", "gpx", "csv", "cot"]
    );
}

#[test]
fn html_descriptions_become_text() {
    fn check(html: &str, want: &str) {
        assert_eq!(html_to_text(html), want, "{html}");
    }
    check("<p>a <b>b</b></p><p>c</p>", "a b c");
    check("x &lt;y&gt; &amp; &#65;&#x42; &nbsp;z", "x <y> & AB z");
    check(
        "<style>p{}</style>text<script>alert(1)</script> after",
        "text after",
    );
    check("a < b and c > d", "a < b and c > d");
    check("5 &bogus; &", "5 &bogus; &");
    check("<!-- gone -->kept", "kept");
    check("<unterminated", "");
}

fn collect_stream(
    chunks: &[&[u8]],
    max: usize,
) -> (
    Vec<std::result::Result<Feature, FeedError>>,
    Option<FeedError>,
) {
    let mut s = CotStream::new(max);
    let mut out = Vec::new();
    for c in chunks {
        out.extend(s.push(c));
    }
    (out, s.finish())
}

#[test]
fn cot_stream_any_split_matches_one_shot() {
    let bytes = fixture("events.cot");
    let want: Vec<_> = read("events.cot").into_iter().map(Ok).collect();
    let (whole, end) = collect_stream(&[&bytes], 1 << 20);
    assert_eq!(whole, want);
    assert!(end.is_none());
    for i in 0..=bytes.len() {
        let (got, end) = collect_stream(&[&bytes[..i], &bytes[i..]], 1 << 20);
        assert_eq!(got, want, "split at {i}");
        assert!(end.is_none(), "split at {i}");
    }
    let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(collect_stream(&bytewise, 1 << 20).0, want);
    // three cuts at pseudo-random places
    let mut rng = Rng(7);
    for _ in 0..200 {
        let mut cuts = [
            rng.below(bytes.len() + 1),
            rng.below(bytes.len() + 1),
            rng.below(bytes.len() + 1),
        ];
        cuts.sort_unstable();
        let parts = [
            &bytes[..cuts[0]],
            &bytes[cuts[0]..cuts[1]],
            &bytes[cuts[1]..cuts[2]],
            &bytes[cuts[2]..],
        ];
        assert_eq!(collect_stream(&parts, 1 << 20).0, want, "cuts {cuts:?}");
    }
    // A stream holding only part of an event says so at its end.
    let (got, end) = collect_stream(&[&bytes[..700]], 1 << 20);
    assert_eq!(got, want[..1].to_vec());
    check_error(
        &end.expect("partial event"),
        &["event 2", "ended inside an event"],
    );
}

#[test]
fn cot_stream_resynchronises() {
    let small = |uid: &str| {
        format!("<event uid=\"{uid}\" type=\"a-f-G\" time=\"2024-03-01T12:00:00Z\"><point lat=\"1\" lon=\"2\"/></event>")
    };
    let big = format!(
        "<?xml version=\"1.0\"?>\n<event uid=\"big\"><point lat=\"1\" lon=\"2\"/><detail><remarks>{}</remarks></detail></event>\n",
        "x".repeat(5000)
    );
    let stream = format!(
        "{}\r\n  garbage here\n{}{}\n<event uid=\"cut\"><point lat=\"1\" lon=\"2\"/>\n{}<!-- c --><?xml version='1.0'?>{}",
        small("a"),
        small("b"),
        big,
        small("c"),
        small("d")
    );
    let uids = |rs: &[std::result::Result<Feature, FeedError>]| -> Vec<String> {
        rs.iter()
            .map(|r| match r {
                Ok(f) => f.uid.clone().unwrap_or_default(),
                Err(FeedError::TooLarge { .. }) => "TOO LARGE".into(),
                Err(e) => format!("ERR {}", e.at().split(" at ").next().unwrap_or("")),
            })
            .collect()
    };
    let garbage_at = format!("ERR stream byte {}", small("a").len() + 4);
    let want = ["a", &garbage_at, "b", "TOO LARGE", "ERR event 4", "c", "d"];
    check_error(
        &parse(FeedFormat::Cot, stream.as_bytes(), &CsvColumns::default()).unwrap_err(),
        &["cot: line 2: unexpected text between events"],
    );
    // the same whatever the chunking
    let b = stream.as_bytes();
    for step in [usize::MAX, 1, 2, 3, 7, 64, 1000] {
        let chunks: Vec<&[u8]> = b.chunks(step.min(b.len())).collect();
        let (got, end) = collect_stream(&chunks, 1024);
        assert_eq!(uids(&got), want, "chunks of {step}: {got:?}");
        assert!(end.is_none());
        check_error(
            got[1].as_ref().unwrap_err(),
            &["unexpected text between events; skipped to the next event"],
        );
        check_error(got[3].as_ref().unwrap_err(), &["larger than 1024 bytes"]);
    }
    // a stream that is all garbage never holds more than a few bytes
    let mut s = CotStream::new(1024);
    for _ in 0..1000 {
        s.push(b"not xml at all, just words ");
    }
    assert!(s.pending() <= 6, "{}", s.pending());
    // an endless comment is cut at the limit too
    let mut s = CotStream::new(1024);
    let mut errors = 0;
    errors += s.push(b"<!--").len();
    for _ in 0..100 {
        errors += s.push(&[b'x'; 100]).len();
    }
    assert_eq!(errors, 1);
    assert!(s.pending() <= 1100);
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Every geometry that a reader returns is valid: in range, lines of 2+, rings closed.
fn assert_valid(g: &Geometry) {
    let pos = |p: &[f64; 2]| {
        assert!(
            (-180.0..=180.0).contains(&p[0]) && (-90.0..=90.0).contains(&p[1]),
            "{p:?}"
        )
    };
    let line = |l: &Vec<[f64; 2]>| {
        assert!(l.len() >= 2);
        l.iter().for_each(pos);
    };
    let poly = |p: &Vec<Vec<[f64; 2]>>| {
        assert!(!p.is_empty());
        for r in p {
            assert!(r.len() >= 4 && r[0] == r[r.len() - 1], "{r:?}");
            r.iter().for_each(pos);
        }
    };
    match g {
        Geometry::Point(p) => pos(p),
        Geometry::MultiPoint(ps) => {
            assert!(!ps.is_empty());
            ps.iter().for_each(pos)
        }
        Geometry::LineString(l) => line(l),
        Geometry::MultiLineString(ls) => ls.iter().for_each(line),
        Geometry::Polygon(p) => poly(p),
        Geometry::MultiPolygon(ps) => ps.iter().for_each(poly),
    }
}

fn try_all(bytes: &[u8], rng: &mut Rng) {
    let cols = CsvColumns::default();
    for f in FeedFormat::ALL {
        if let Ok(fs) = parse(f, bytes, &cols) {
            for feat in &fs {
                assert_valid(&feat.geometry);
                let _ = feat.text();
            }
        }
    }
    let _ = FeedFormat::sniff(bytes);
    let mut s = CotStream::new(64 + rng.below(512));
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len());
        for r in s.push(&rest[..n]).into_iter().flatten() {
            assert_valid(&r.geometry);
        }
        rest = &rest[n..];
    }
    let _ = s.finish();
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    const ALPHABET: &[u8] = b"<>/=\"' \n\t{}[],:;|-.0123456789eEaklmgpxvntoi?!&#;_ZT";
    for _ in 0..3000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(8) == 0 {
                    rng.next() as u8
                } else {
                    ALPHABET[rng.below(ALPHABET.len())]
                }
            })
            .collect();
        try_all(&bytes, &mut rng);
    }
    let fixtures = [
        "points.geojson",
        "tracks.ndjson",
        "places.kml",
        "trip.gpx",
        "stations.csv",
        "custom.tsv",
        "events.cot",
    ];
    for name in fixtures {
        let original = fixture(name);
        for i in 0..=original.len() {
            try_all(&original[..i], &mut rng);
        }
        for _ in 0..400 {
            let mut b = original.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(b.len());
                match rng.below(4) {
                    0 => b[at] = rng.next() as u8,
                    1 => b[at] = ALPHABET[rng.below(ALPHABET.len())],
                    2 => {
                        b.remove(at);
                    }
                    _ => b.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                }
                if b.is_empty() {
                    break;
                }
            }
            try_all(&b, &mut rng);
        }
    }
    // deep nesting stays within bounds
    let deep = "<kml>".to_string() + &"<Folder>".repeat(100_000);
    assert!(parse(FeedFormat::Kml, deep.as_bytes(), &CsvColumns::default()).is_err());
    let deep = "[".repeat(100_000);
    assert!(parse(FeedFormat::GeoJson, deep.as_bytes(), &CsvColumns::default()).is_err());
}

/// The rendered ADS-B sample feeds (`scripts/fetch-data.sh adsb`, which `scripts/test.sh`
/// runs): missing data fails the test, it never skips.
#[test]
fn real_adsb_renders() {
    let cache = std::env::var_os("SEXTANT_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sextant")));
    let dir = cache
        .map(|c| c.join("data/adsb"))
        .expect("SEXTANT_CACHE or HOME must be set (scripts/test.sh sets it)");
    let (gj, cot) = (dir.join("adsb.geojson"), dir.join("adsb.cot"));
    assert!(
        gj.exists() && cot.exists(),
        "{} not rendered: run scripts/fetch-data.sh adsb (scripts/test.sh does)",
        dir.display()
    );
    let bytes = std::fs::read(&gj).unwrap();
    let t = std::time::Instant::now();
    let fs = parse(FeedFormat::GeoJson, &bytes, &CsvColumns::default()).unwrap();
    let took = t.elapsed();
    assert!(fs.len() > 500 && fs.len() <= 5000, "{} features", fs.len());
    let mut last: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for f in &fs {
        let uid = f.uid.as_deref().expect("uid");
        let time = f.time.as_deref().expect("time");
        assert!(f.name.is_some(), "callsign as name");
        assert!(matches!(f.geometry, Geometry::Point(_)));
        if let Some(prev) = last.insert(uid, time) {
            assert!(prev <= time, "{uid}: {prev} then {time}");
        }
    }
    let repeated = fs.len() - last.len();
    eprintln!(
        "adsb.geojson: {} features, {} aircraft, {repeated} repeat sightings; parsed {:.1} MB in {:?}",
        fs.len(),
        last.len(),
        bytes.len() as f64 / 1e6,
        took
    );
    assert!(
        repeated > fs.len() / 2,
        "tracks have several positions each"
    );

    let bytes = std::fs::read(&cot).unwrap();
    let events = parse(FeedFormat::Cot, &bytes, &CsvColumns::default()).unwrap();
    assert!(
        (12..=100).contains(&events.len()),
        "{} events",
        events.len()
    );
    for e in &events {
        assert!(e.uid.is_some() && e.name.is_some() && e.time.is_some());
        assert_eq!(e.property("dimension"), Some("air"));
    }
    let chunks: Vec<&[u8]> = bytes.chunks(1400).collect();
    let (streamed, end) = collect_stream(&chunks, 1 << 20);
    assert_eq!(streamed, events.iter().cloned().map(Ok).collect::<Vec<_>>());
    assert!(end.is_none());
    eprintln!("adsb.cot: {} events", events.len());
}

/// `read` keeps every feature in its place: one that cannot be read is an error there (saying
/// where), and its neighbours stand; `parse` fails on it.
#[test]
fn read_reports_bad_features_in_place() {
    let csv = b"name,lat,lon\nA,48.8,2.3\nB,95.0,2.3\nC,x,2.3\nD,1,2,3\nE,40.4,-3.7\n";
    let items = super::read(FeedFormat::Csv, csv, &CsvColumns::default()).unwrap();
    let shape: Vec<bool> = items.iter().map(|r| r.is_ok()).collect();
    assert_eq!(shape, [true, false, false, false, true]);
    check_error(items[1].as_ref().unwrap_err(), &["row 2", "latitude"]);
    check_error(items[2].as_ref().unwrap_err(), &["row 3", "not a number"]);
    check_error(items[3].as_ref().unwrap_err(), &["row 4", "fields"]);
    assert!(parse(FeedFormat::Csv, csv, &CsvColumns::default()).is_err());

    let kml = br#"<kml><Document>
      <Placemark><name>ok</name><Point><coordinates>2.3,48.8</coordinates></Point></Placemark>
      <Placemark><name>bad</name><Point><coordinates>2.3,148.8</coordinates></Point></Placemark>
      <Placemark><name>ok too</name><Point><coordinates>2.4,48.7</coordinates></Point></Placemark>
    </Document></kml>"#;
    let items = super::read(FeedFormat::Kml, kml, &CsvColumns::default()).unwrap();
    let shape: Vec<bool> = items.iter().map(|r| r.is_ok()).collect();
    assert_eq!(shape, [true, false, true]);

    let cot = br#"<event version="2.0" uid="a" type="a-f-G" time="2024-01-01T00:00:00Z" start="2024-01-01T00:00:00Z" stale="2024-01-01T01:00:00Z"><point lat="48.8" lon="2.3" hae="0" ce="1" le="1"/></event>
<event version="2.0" uid="b" type="a-f-G" time="2024-01-01T00:00:00Z" start="2024-01-01T00:00:00Z" stale="2024-01-01T01:00:00Z"><point lat="98.8" lon="2.3" hae="0" ce="1" le="1"/></event>
<event version="2.0" uid="c" type="a-f-G" time="2024-01-01T00:00:00Z" start="2024-01-01T00:00:00Z" stale="2024-01-01T01:00:00Z"><point lat="48.7" lon="2.4" hae="0" ce="1" le="1"/></event>"#;
    let items = super::read(FeedFormat::Cot, cot, &CsvColumns::default()).unwrap();
    let shape: Vec<bool> = items.iter().map(|r| r.is_ok()).collect();
    assert_eq!(shape, [true, false, true]);
    check_error(items[1].as_ref().unwrap_err(), &["event 2"]);

    // Broken syntax cannot be numbered: the whole read fails.
    assert!(super::read(FeedFormat::GeoJson, b"{\"type\":", &CsvColumns::default()).is_err());
}
