//! GPX 1.0/1.1: waypoints (`wpt`, points), tracks (`trk`: a line per track, a multi-line when
//! it has several segments; the time of its first point, `end` = the time of its last) and
//! routes (`rte`, lines). A track or segment with a single point is written as a line that
//! repeats it (a line needs two positions). Per-point elevations of tracks and routes are not
//! kept (a [`Geometry`] is 2-D); a waypoint's `ele` is a property.

use super::xml::{self, El};
use super::{normalize_time, position, Feature, FeedError, FeedFormat, Geometry, Result};

pub(super) fn parse(bytes: &[u8]) -> Result<Vec<Result<Feature>>> {
    let root = xml::parse(bytes, FeedFormat::Gpx, 1)?;
    if root.name != "gpx" {
        return Err(FeedError::Invalid {
            format: FeedFormat::Gpx,
            at: format!("line {}", root.line),
            message: format!("the root element is <{}>, expected <gpx>", root.name),
        });
    }
    let mut out = Vec::new();
    let (mut wpts, mut trks, mut rtes) = (0, 0, 0);
    for c in &root.children {
        match c.name.as_str() {
            "wpt" => {
                wpts += 1;
                let at = label("waypoint", wpts, c);
                out.push(point(c, &at).map(|p| {
                    let mut f = record(c, Geometry::Point(p), &["name", "time"]);
                    f.time = c
                        .child_text("time")
                        .and_then(|t| time_or_keep(&t, &mut f.properties));
                    f
                }));
            }
            "trk" => {
                trks += 1;
                let at = label("track", trks, c);
                let mut segments = Vec::new();
                let mut times = Vec::new();
                let mut count = 0;
                let read = c.children_named("trkseg").try_for_each(|seg| {
                    let mut line = Vec::new();
                    for pt in seg.children_named("trkpt") {
                        line.push(point(pt, &at)?);
                        if let Some(t) = pt.child_text("time") {
                            times.push(t);
                        }
                    }
                    count += line.len();
                    if line.len() == 1 {
                        line.push(line[0]);
                    }
                    if !line.is_empty() {
                        segments.push(line);
                    }
                    Ok(())
                });
                if let Err(e) = read {
                    out.push(Err(e));
                    continue;
                }
                if segments.is_empty() {
                    continue; // an empty track holds nothing to lose
                }
                let geometry = if segments.len() == 1 {
                    Geometry::LineString(segments.pop().unwrap_or_default())
                } else {
                    Geometry::MultiLineString(segments)
                };
                out.push(Ok(line_feature(c, geometry, count, &times)));
            }
            "rte" => {
                rtes += 1;
                let at = label("route", rtes, c);
                let mut line = Vec::new();
                let mut times = Vec::new();
                let read = c.children_named("rtept").try_for_each(|pt| {
                    line.push(point(pt, &at)?);
                    if let Some(t) = pt.child_text("time") {
                        times.push(t);
                    }
                    Ok(())
                });
                if let Err(e) = read {
                    out.push(Err(e));
                    continue;
                }
                let count = line.len();
                if line.is_empty() {
                    continue;
                }
                if line.len() == 1 {
                    line.push(line[0]);
                }
                out.push(Ok(line_feature(
                    c,
                    Geometry::LineString(line),
                    count,
                    &times,
                )));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn label(kind: &str, n: usize, el: &El) -> String {
    match el.child_text("name") {
        Some(name) => format!("{kind} {n} {name:?} (line {})", el.line),
        None => format!("{kind} {n} (line {})", el.line),
    }
}

/// The checked `lat`/`lon` attributes of a wpt, trkpt or rtept.
fn point(el: &El, at: &str) -> Result<[f64; 2]> {
    let invalid = |message: String| FeedError::Invalid {
        format: FeedFormat::Gpx,
        at: if el.name == "wpt" {
            at.to_string()
        } else {
            format!("{at}: <{}> at line {}", el.name, el.line)
        },
        message,
    };
    let coord = |name: &str| -> Result<f64> {
        let raw = el
            .attr(name)
            .ok_or_else(|| invalid(format!("no {name} attribute")))?;
        raw.trim()
            .parse::<f64>()
            .map_err(|_| invalid(format!("{name} {raw:?} is not a number")))
    };
    let (lat, lon) = (coord("lat")?, coord("lon")?);
    position(lon, lat).map_err(invalid)
}

/// A feature with the element's name and its other simple children as properties (`link`
/// elements give their `href`), skipping `skip`.
fn record(el: &El, geometry: Geometry, skip: &[&str]) -> Feature {
    let mut properties = Vec::new();
    for c in &el.children {
        if skip.contains(&c.name.as_str())
            || matches!(c.name.as_str(), "trkseg" | "trkpt" | "rtept" | "extensions")
        {
            continue;
        }
        if c.name == "link" {
            if let Some(href) = c.attr("href") {
                properties.push(("link".to_string(), href.to_string()));
            }
            continue;
        }
        let text = c.text.trim();
        if !text.is_empty() && c.children.is_empty() {
            properties.push((c.name.clone(), text.to_string()));
        }
    }
    Feature {
        uid: None,
        name: el.child_text("name"),
        geometry,
        time: None,
        properties,
    }
}

/// A readable time, or `None` with the raw text kept as a `time` property.
fn time_or_keep(raw: &str, properties: &mut Vec<(String, String)>) -> Option<String> {
    let t = normalize_time(raw);
    if t.is_none() {
        properties.push(("time".into(), raw.to_string()));
    }
    t
}

fn line_feature(el: &El, geometry: Geometry, count: usize, times: &[String]) -> Feature {
    let mut f = record(el, geometry, &["name"]);
    if let Some(first) = times.first() {
        f.time = time_or_keep(first, &mut f.properties);
    }
    if times.len() > 1 {
        if let Some(last) = times.last() {
            f.properties.push((
                "end".into(),
                normalize_time(last).unwrap_or_else(|| last.clone()),
            ));
        }
    }
    f.properties.push(("points".into(), count.to_string()));
    f
}
