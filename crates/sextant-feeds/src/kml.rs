//! KML 2.2: Placemarks at any depth of Documents and Folders, with Point, LineString,
//! LinearRing (read as a line), Polygon (outer and inner boundaries), MultiGeometry,
//! gx:Track and gx:MultiTrack. Name, description (HTML stripped to text), ExtendedData
//! (`Data/value` and `SchemaData/SimpleData`), TimeStamp/when or TimeSpan/begin+end, and the
//! folder path. Overlays, network links and models are not features and are passed over.

use super::xml::{self, El};
use super::{
    check_line, check_ring, html_to_text, merge_geometries, normalize_time, number_text, position,
    Feature, FeedError, FeedFormat, Geometry, Result,
};

pub(super) fn parse(bytes: &[u8]) -> Result<Vec<Result<Feature>>> {
    let root = xml::parse(bytes, FeedFormat::Kml, 1)?;
    if root.name != "kml" {
        return Err(FeedError::Invalid {
            format: FeedFormat::Kml,
            at: format!("line {}", root.line),
            message: format!("the root element is <{}>, expected <kml>", root.name),
        });
    }
    let mut out = Vec::new();
    let mut folders = Vec::new();
    walk(&root, &mut folders, &mut out);
    Ok(out)
}

fn walk(el: &El, folders: &mut Vec<String>, out: &mut Vec<Result<Feature>>) {
    for c in &el.children {
        match c.name.as_str() {
            "Document" | "Folder" => {
                let named = c.child_text("name");
                if let Some(n) = &named {
                    folders.push(n.clone());
                }
                walk(c, folders, out);
                if named.is_some() {
                    folders.pop();
                }
            }
            "Placemark" => {
                let n = out.len() + 1;
                out.push(placemark(c, n, folders));
            }
            _ => {}
        }
    }
}

fn placemark(pm: &El, n: usize, folders: &[String]) -> Result<Feature> {
    let name = pm.child_text("name");
    let at = match &name {
        Some(name) => format!("placemark {n} {name:?} (line {})", pm.line),
        None => format!("placemark {n} (line {})", pm.line),
    };
    let invalid = |message: String| FeedError::Invalid {
        format: FeedFormat::Kml,
        at: at.clone(),
        message,
    };
    let mut properties = Vec::new();
    let mut time = None;
    if let Some(d) = pm.child("description") {
        let text = html_to_text(&d.deep_text());
        if !text.is_empty() {
            properties.push(("description".to_string(), text));
        }
    }
    for key in ["address", "phoneNumber", "Snippet", "snippet"] {
        if let Some(v) = pm.child_text(key) {
            properties.push((key.to_ascii_lowercase(), v));
        }
    }
    if let Some(ext) = pm.child("ExtendedData") {
        for item in &ext.children {
            match item.name.as_str() {
                "Data" => {
                    let key = item
                        .attr("name")
                        .map(str::to_string)
                        .or_else(|| item.child_text("displayName"))
                        .unwrap_or_else(|| "data".into());
                    let value = item.child_text("value").unwrap_or_default();
                    if !value.is_empty() {
                        properties.push((key, value));
                    }
                }
                "SchemaData" => {
                    for sd in item.children_named("SimpleData") {
                        let value = sd.text.trim();
                        if !value.is_empty() {
                            properties.push((
                                sd.attr("name").unwrap_or("data").to_string(),
                                value.to_string(),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(ts) = pm.child("TimeStamp") {
        if let Some(when) = ts.child_text("when") {
            match normalize_time(&when) {
                Some(t) => time = Some(t),
                None => properties.push(("when".into(), when)),
            }
        }
    } else if let Some(span) = pm.child("TimeSpan") {
        if let Some(begin) = span.child_text("begin") {
            match normalize_time(&begin) {
                Some(t) => time = Some(t),
                None => properties.push(("begin".into(), begin)),
            }
        }
        if let Some(end) = span.child_text("end") {
            properties.push(("end".into(), normalize_time(&end).unwrap_or(end)));
        }
    }

    let mut geometries = Vec::new();
    let mut point_altitude = None;
    for c in &pm.children {
        if let Some(g) = geometry(c, &mut point_altitude).map_err(&invalid)? {
            geometries.push(g);
        }
    }
    if geometries.is_empty() {
        return Err(invalid(
            "no geometry (Point, LineString, Polygon, MultiGeometry or gx:Track)".into(),
        ));
    }
    let geometry =
        merge_geometries(geometries).map_err(|m| invalid(format!("MultiGeometry: {m}")))?;
    if let (Geometry::Point(_), Some(alt)) = (&geometry, point_altitude) {
        properties.push(("altitude".into(), number_text(alt)));
    }
    if !folders.is_empty() {
        properties.push(("folder".into(), folders.join(" / ")));
    }
    Ok(Feature {
        uid: pm.attr("id").map(str::to_string).filter(|s| !s.is_empty()),
        name,
        geometry,
        time,
        properties,
    })
}

/// The geometry an element stands for, `None` when it is not a geometry element. A Point's
/// non-zero altitude is passed back so that it can become a property.
fn geometry(
    el: &El,
    point_altitude: &mut Option<f64>,
) -> std::result::Result<Option<Geometry>, String> {
    let g = match el.name.as_str() {
        "Point" => {
            let (coords, alts) = coordinates(el)?;
            match coords.as_slice() {
                [p] => {
                    *point_altitude = alts[0].filter(|a| *a != 0.0);
                    Geometry::Point(*p)
                }
                _ => {
                    return Err(format!(
                        "Point (line {}) has {} positions, expected 1",
                        el.line,
                        coords.len()
                    ))
                }
            }
        }
        "LineString" | "LinearRing" => {
            let (l, _) = coordinates(el)?;
            check_line(&l, &format!("{} (line {})", el.name, el.line))?;
            Geometry::LineString(l)
        }
        "Polygon" => {
            let mut rings = Vec::new();
            let outer = el
                .child("outerBoundaryIs")
                .and_then(|o| o.child("LinearRing"))
                .ok_or_else(|| {
                    format!(
                        "Polygon (line {}) has no outerBoundaryIs/LinearRing",
                        el.line
                    )
                })?;
            let (ring, _) = coordinates(outer)?;
            check_ring(&ring, &format!("the outer ring (line {})", outer.line))?;
            rings.push(ring);
            for inner in el.children_named("innerBoundaryIs") {
                for lr in inner.children_named("LinearRing") {
                    let (ring, _) = coordinates(lr)?;
                    check_ring(&ring, &format!("the inner ring (line {})", lr.line))?;
                    rings.push(ring);
                }
            }
            Geometry::Polygon(rings)
        }
        "MultiGeometry" | "MultiTrack" => {
            let mut parts = Vec::new();
            let mut ignored = None;
            for c in &el.children {
                if let Some(g) = geometry(c, &mut ignored)? {
                    parts.push(g);
                }
            }
            merge_geometries(parts).map_err(|m| format!("{} (line {}): {m}", el.name, el.line))?
        }
        "Track" => {
            // gx:Track: <when> and <gx:coord>lon lat alt</gx:coord> pairs.
            let mut line = Vec::new();
            for c in el.children_named("coord") {
                let nums: Vec<&str> = c.text.split_whitespace().collect();
                let p = match nums.as_slice() {
                    [lon, lat] | [lon, lat, _] => {
                        position(number(lon, c.line)?, number(lat, c.line)?)
                            .map_err(|m| format!("gx:coord (line {}): {m}", c.line))?
                    }
                    _ => {
                        return Err(format!(
                            "gx:coord (line {}): expected \"lon lat [alt]\", found {:?}",
                            c.line,
                            c.text.trim()
                        ))
                    }
                };
                line.push(p);
            }
            if line.len() == 1 {
                line.push(line[0]);
            }
            check_line(&line, &format!("gx:Track (line {})", el.line))?;
            Geometry::LineString(line)
        }
        _ => return Ok(None),
    };
    Ok(Some(g))
}

fn number(s: &str, line: usize) -> std::result::Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("coordinates (line {line}): {s:?} is not a number"))
}

/// Positions and, beside each, its altitude when written.
type Coordinates = (Vec<[f64; 2]>, Vec<Option<f64>>);

/// `lon,lat[,alt]` tuples separated by whitespace (a space after a comma is tolerated).
fn coordinates(el: &El) -> std::result::Result<Coordinates, String> {
    let c = el
        .child("coordinates")
        .ok_or_else(|| format!("{} (line {}) has no <coordinates>", el.name, el.line))?;
    // Re-join tuples that a stray space after a comma split.
    let mut tuples: Vec<String> = Vec::new();
    for token in c.text.split_whitespace() {
        match tuples.last_mut() {
            Some(last) if last.ends_with(',') || token.starts_with(',') => last.push_str(token),
            _ => tuples.push(token.to_string()),
        }
    }
    let mut coords = Vec::with_capacity(tuples.len());
    let mut alts = Vec::with_capacity(tuples.len());
    for t in &tuples {
        let parts: Vec<&str> = t.split(',').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(format!(
                "coordinates (line {}): {t:?} is not lon,lat[,alt]",
                c.line
            ));
        }
        let lon = number(parts[0], c.line)?;
        let lat = number(parts[1], c.line)?;
        let alt = match parts.get(2) {
            Some(a) => Some(number(a, c.line)?),
            None => None,
        };
        coords.push(position(lon, lat).map_err(|m| format!("coordinates (line {}): {m}", c.line))?);
        alts.push(alt);
    }
    if coords.is_empty() {
        return Err(format!(
            "{} (line {}) has empty <coordinates>",
            el.name, el.line
        ));
    }
    Ok((coords, alts))
}
