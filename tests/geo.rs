//! Coordinates in text, measured on the Factbook: every country's "Geographic coordinates"
//! (the country's centre, and its capital's) is a labelled example, read from the document's
//! structure; `sextant_geodata::find_coordinates` runs over the whole text and is scored for
//! recall (labelled coordinates found, exactly) and precision. The labels miss coordinates the
//! Factbook writes inline ("French Guiana: 4 00 N, 53 00 W"), so precision against the labels is
//! a lower bound; a found coordinate whose text is a well-formed Factbook coordinate with the
//! same value counts as correct.

mod common;

fn parse_labelled(value: &str) -> Option<(f64, f64)> {
    // "47 55 N, 106 55 E" -> split into degree, minute, hemisphere twice.
    let parts: Vec<&str> = value.split([' ', ',']).filter(|s| !s.is_empty()).collect();
    if parts.len() != 6 {
        return None;
    }
    // The Factbook has typos ("17 90 N, 62 85 W" for Saint Barthelemy): minutes of 60 or more
    // are not a coordinate, and such labels are left out.
    let angle = |d: &str, m: &str, h: &str, neg: &str| -> Option<f64> {
        let m = m.parse::<f64>().ok().filter(|m| *m < 60.0)?;
        let v = d.parse::<f64>().ok()? + m / 60.0;
        Some(if h == neg { -v } else { v })
    };
    Some((
        angle(parts[0], parts[1], parts[2], "S")?,
        angle(parts[3], parts[4], parts[5], "W")?,
    ))
}

#[test]
fn factbook_coordinates_precision_and_recall() {
    let (mut labelled, mut found_labelled, mut found, mut found_correct) = (0, 0, 0, 0);
    let mut found_in_labels = 0;
    let mut misses = Vec::new();
    for entry in std::fs::read_dir(common::factbook_dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut gold = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let value = if let Some(v) = l.strip_prefix("Geographic coordinates: ") {
                Some(v)
            } else if l.trim() == "### Geographic coordinates" {
                lines.get(i + 2).copied()
            } else {
                None
            };
            if let Some(p) = value.and_then(|v| parse_labelled(v.trim())) {
                gold.push(p);
            }
        }
        let got = sextant_geodata::find_coordinates(&text);
        let close =
            |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-6 && (a.1 - b.1).abs() < 1e-6;
        labelled += gold.len();
        for g in &gold {
            if got.iter().any(|f| close((f.lat, f.lon), *g)) {
                found_labelled += 1;
            } else {
                misses.push(format!("{}: {g:?}", path.display()));
            }
        }
        found += got.len();
        for f in &got {
            let span = &text[f.start..f.end];
            if gold.iter().any(|g| close((f.lat, f.lon), *g)) {
                found_in_labels += 1;
                found_correct += 1;
            } else if parse_labelled(span).is_some_and(|p| close(p, (f.lat, f.lon))) {
                found_correct += 1;
            } else {
                eprintln!("wrong: {}: {span:?} -> {f:?}", path.display());
            }
        }
    }
    let recall = found_labelled as f64 / labelled as f64;
    let precision = found_correct as f64 / found as f64;
    eprintln!(
        "factbook coordinates: {labelled} labelled, recall {recall:.4} ({found_labelled}), precision {precision:.4} ({found_correct}/{found}; {found_in_labels} of them labelled)"
    );
    assert!(labelled > 400, "{labelled}");
    assert!(
        recall >= 0.999,
        "recall {recall}: {:?}",
        &misses[..misses.len().min(10)]
    );
    assert!(precision >= 0.99, "precision {precision}");
}
