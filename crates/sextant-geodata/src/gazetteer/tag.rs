//! Geotagging: place names found in text with one Aho-Corasick automaton over every name of the
//! gazetteer (GeoNames city names, ASCII-folded too, plus English-looking alternate names of
//! cities over 100,000 people; country names and aliases; US states and their postal codes),
//! then resolved with the text's context.
//!
//! The rules, in order:
//! 1. Coordinates (`coords::find_coordinates`: decimal, DMS, Factbook, MGRS) are places of
//!    their own; no name is read inside them.
//! 2. Names match case-sensitively, as written with capitals ("Paris", never "paris"), at word
//!    boundaries; of overlapping matches the leftmost, then the longest wins ("Mexico City" over
//!    "Mexico", "Papua New Guinea" over "Guinea"). Regions, continents and seas ("South
//!    America", "Middle East", "New Guinea", "Asia") win the overlap and are dropped, so that
//!    "America", "Guinea" or "Asia" (a town in the Philippines) are not tagged inside them.
//! 3. A name is not a place when it is part of a longer name: preceded by a capitalised word
//!    that is not a function word or a direction ("George Washington", "Lake Victoria", but "In
//!    Paris", "Northern Syria"), by a title ("Gen.", "St.") or a particle ("Rouget de Lisle");
//!    followed by a capitalised word ("Quintana Roo", "Washington Post", "Paris Club"), a feature
//!    or treaty word ("Congo river", "Kyoto Protocol") or "de"/"del" and a capitalised word;
//!    joined by a hyphen to a capitalised word that is no place ("KwaZulu-Natal"; "US-Mexico"
//!    keeps both); after "Gulf of", "Treaty of", "University of", ...; or an acronym inside
//!    upper-case text ("TELL US").
//! 4. Readings: a country's name is the country ("Mexico", "Singapore"), a state's name the state
//!    unless a city of that name has 500,000 people ("New York", "Washington"), and an alternate
//!    name counts only when no state, country or tenth-as-large city has it as its own name.
//!    A qualifier right after a city's name (", Texas", ", TX", ", Egypt", " (Virginia)") keeps
//!    only the cities in that state or country, or drops the name when there is none ("Paris,
//!    Ontario": a place the list lacks).
//! 5. Scores: a city log10(population), +3 when the text names its country (+1 more when the
//!    text names that country most: its "dominant" country; only +1 and +0.5 for a town a
//!    twentieth the size of the largest candidate: "Vienna", Virginia), +4.5 when it is the
//!    capital of a named country, +2 when the text names its US state, +1.5 when it lies within
//!    400 km of a place resolved without doubt, +1.5 when a neighbour in the text (two mentions
//!    either side: lists) is a place of the same country, -1 for an alternate name. A country
//!    scores 8 (+1.5 when the text names a neighbour: "Georgia" beside Armenia); a US state 4.5
//!    (+3 when the text names the US or a US place, +1 when it names another state, +1.5 in a
//!    list of states). The best score wins; a place that wins by a point or more, or is
//!    qualified, is "resolved without doubt" for the proximity bonus (a second pass).
//! 6. Acceptance of a city: it must be supported (its country named, its state named, a
//!    qualifier, a nearby or neighbouring place) or have 100,000 people (1,000,000 in a text
//!    with a dominant country, where an unknown local name is likelier than a foreign city; in
//!    such a text a foreign town under 100,000 people is not supported by its country's name
//!    alone unless it is a capital). Words that are almost never places in English ("Of",
//!    "March", "Independence", "University") need a qualifier; common words ("Mobile",
//!    "Reading", "Nice", "Male", or any one-word name the same text also writes in lower case)
//!    need the dominant country, their state, a list of their country's places or a qualifier,
//!    and are never labels ("Male: 9.75 deaths"); people's names ("Lincoln", "Houston") need a
//!    qualifier, a list, or to be the capital of the dominant country ("Hamilton", Bermuda); a
//!    city in a list of another country's places is dropped ("Lima, Loreto, Pasco, Piura").
//!
//! A country's point is its capital (see [`super::Country::point`]); a US state's is the
//! population-weighted centroid of its listed cities.
//!
//! Measured on the Factbook by `tests/geotag.rs`.

use super::{City, Country, GeoData, Place, PlaceKind, RawCity, State, COUNTRY_ALIASES};
use crate::coords::find_coordinates;
use aho_corasick::{AhoCorasick, MatchKind};
use geo::{Distance, Haversine, Point};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use unicode_normalization::UnicodeNormalization;

/// Alternate names (other languages, old names: "Rangoon", "Kishinev") are indexed only for
/// cities this large: small towns' alternates are mostly noise.
const ALIAS_MIN_POPULATION: u64 = 100_000;
/// A city nothing in the text supports needs this many people.
const UNSUPPORTED_MIN_POPULATION: u64 = 100_000;
/// The same in a text about one country, for a city in a country the text does not name.
const UNSUPPORTED_MIN_POPULATION_ELSEWHERE: u64 = 1_000_000;
/// "Nearby" for the proximity bonus: within this distance of a place resolved without doubt
/// that is mentioned at most this many mentions away.
const NEAR_KM: f64 = 400.0;
const NEAR_MENTIONS: usize = 100;

/// Words that are almost never places in running English: tagged only with a qualifier.
#[rustfmt::skip]
const RARELY_PLACES: &[&str] = &[
    "Airport", "Alliance", "Along", "Anchor", "Annex", "Antelope", "Anthem", "Banning", "Bear",
    "Best", "Borne", "Boom", "Bountiful", "Brick", "Buy", "Centennial", "Central", "Clay", "Cocoa",
    "Commerce", "Commonwealth", "Confederation", "Date", "Deal", "Defiance", "Dole", "Eagle",
    "Energy", "Enterprise", "Fate", "Federal", "Fleet", "Flora", "Forest", "Fountain", "Freedom",
    "Friendship", "Gap", "Gay", "Golden", "Goes", "Green", "Harmony", "Ho", "Holiday", "Homestead",
    "Hope", "Hub", "Humble", "Hurricane", "Imperial", "Independence", "Industry", "Justice", "Lend",
    "Liberal", "Liberty", "Manage", "Manly", "Man", "Marks", "Mentor", "Meridian", "Mine",
    "Mission", "Most", "Much", "Normal", "Of", "Officer", "Opportunity", "Overland", "Pace",
    "Paradise", "Paramount", "Parole", "Plantation", "Plunge", "Police", "Posse", "Pride",
    "Progress", "Prosper", "Providence", "Republic", "Reservoir", "Retreat", "Rich", "Sake", "Sale",
    "Salt", "Same", "Sandy", "Savage", "Say", "Security", "Semi", "Shaping", "Shoreline", "Spring",
    "Summit", "Superior", "Surprise", "Swords", "Tank", "Time", "Union", "Unity", "University",
    "Upland", "Victory", "Welcome", "Westerly", "Ye", "Young", "January", "February", "March",
    "April", "May", "June", "July", "August", "September", "October", "November", "December",
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
];

/// Common words that are also real cities: tagged when the text is about their country (names
/// it most), names their state, lists them with other places of their country, or qualifies
/// them.
#[rustfmt::skip]
const NEED_CONTEXT: &[&str] = &[
    "Acre", "Anchorage", "Bar", "Bath", "Bay", "Buffalo", "Caledonia", "Canton", "Concord", "Delta",
    "Franca", "Male", "Mobile", "Nice", "Orange", "Reading", "Roman", "Split", "Springs", "Temple",
    "Van", "Wa",
];

/// People's names that are also cities ("Lincoln once said"): tagged when qualified, listed
/// with other places of their country, or when they are the capital of the country the text is
/// about ("Hamilton", Bermuda).
#[rustfmt::skip]
const PERSON_NAMES: &[&str] = &[
    "Adams", "Austin", "Carter", "Charlotte", "Clinton", "Douglas", "Elizabeth", "Eugene",
    "Florence", "Frank", "Franklin", "Grant", "Hamilton", "Harrison", "Houston", "Jackson",
    "Jefferson", "Lawrence", "Lincoln", "Madison", "Marshall", "Monroe", "Norman", "Sherman",
    "Taylor", "Tyler", "Wilson",
];

/// Capitalised words that may stand right before a place name without being part of it.
#[rustfmt::skip]
const FUNCTION_WORDS: &[&str] = &[
    "A", "About", "Above", "Across", "After", "Against", "All", "Along", "Also", "Although", "Amid",
    "Among", "An", "And", "Are", "Around", "As", "At", "Be", "Because", "Before", "Behind", "Below",
    "Beneath", "Beside", "Besides", "Between", "Beyond", "Both", "But", "By", "Can", "Capital",
    "Could", "Despite", "Did", "Do", "Does", "During", "Each", "Either", "Enter", "Even", "Every",
    "Except", "Following", "For", "From", "Had", "Has", "Have", "Hence", "Her", "Here", "His",
    "However", "If", "In", "Including", "Inside", "Into", "Is", "Its", "Just", "Like", "Many",
    "Meanwhile", "Might", "Moreover", "Most", "Must", "My", "Near", "Neither", "Nor", "Not", "Now",
    "Of", "Off", "On", "Once", "Only", "Onto", "Or", "Our", "Out", "Outside", "Over", "Past", "Per",
    "Several", "Should", "Since", "So", "Some", "Than", "That", "The", "Their", "Then", "There",
    "These", "This", "Those", "Though", "Through", "Throughout", "Thus", "To", "Today", "Toward",
    "Towards", "Under", "Unlike", "Until", "Up", "Upon", "Via", "Visit", "Was", "Were", "What",
    "When", "Where", "Whereas", "Whether", "Which", "While", "Who", "Whose", "Will", "With",
    "Within", "Without", "Would", "Yesterday", "Yet", "Your",
];

/// Directions and the like: "Northern Syria", "East Jerusalem", "Greater London".
#[rustfmt::skip]
const DIRECTIONS: &[&str] = &[
    "Central", "Coastal", "Downtown", "East", "Eastern", "Greater", "Inner", "Lower", "Mainland",
    "Metropolitan", "North", "Northeast", "Northeastern", "Northern", "Northwest", "Northwestern",
    "Occupied", "Outer", "Rural", "South", "Southeast", "Southeastern", "Southern", "Southwest",
    "Southwestern", "Upper", "Urban", "West", "Western",
];

/// Abbreviated titles that make the next name a person's or a saint's.
#[rustfmt::skip]
const TITLES: &[&str] = &[
    "Adm.", "Amb.", "Capt.", "Col.", "Cpl.", "Dr.", "Ft.", "Gen.", "Gov.", "Hon.", "Lt.", "Maj.",
    "Mr.", "Mrs.", "Ms.", "Mt.", "Pres.", "Prof.", "Pvt.", "Rep.", "Rev.", "Sec.", "Sen.", "Sgt.",
    "St.",
];

/// A name followed by one of these is another thing: a river, a treaty, a newspaper.
#[rustfmt::skip]
const FEATURE_AFTER: &[&str] = &[
    "Accord", "Accords", "Agreement", "Agreements", "Amendment", "Archipelago", "Atoll", "Avenue",
    "Basin", "Bay", "Boulevard", "Canal", "Channel", "Charter", "Club", "College", "Commitment",
    "Conference", "Consensus", "Convention", "County", "Current", "Dam", "Declaration", "Delta",
    "Depression", "Desert", "Doctrine", "Falls", "Forest", "Gazette", "Glacier", "Group", "Gulf",
    "Herald", "Highlands", "Hills", "Initiative", "Institute", "Island", "Islands", "Isle", "Isles",
    "Journal", "Lake", "Lakes", "Lowlands", "Mall", "Mountain", "Mountains", "Mts", "Ocean", "Pact",
    "Park", "Parish", "Peace", "Peninsula", "Plan", "Plateau", "Post", "Principles", "Process",
    "Protocol", "Range", "Reef", "Ridge", "Rift", "River", "Road", "Round", "School", "Sea",
    "Shelf", "Sound", "Square", "Statement", "Station", "Stock", "Strait", "Straits", "Street",
    "Summit", "Syndrome", "Times", "Township", "Treaty", "Trench", "Tribune", "University",
    "Valley",
];

/// "Gulf of Mexico", "Treaty of Paris": a name after one of these and "of" is not the place.
#[rustfmt::skip]
const OF_BEFORE: &[&str] = &[
    "Archbishop", "Battle", "Bay", "Bishop", "Pillars", "Cape", "Church", "Congress", "Council",
    "Count", "Duchess", "Duke", "Earl", "Emir", "Emperor", "Empress", "Gulf", "Isle", "Isthmus",
    "King", "Lake", "Mount", "Peace", "Prince", "Princess", "Queen", "Sea", "Siege", "Strait",
    "Straits", "Sultan", "Treaty", "Tropic", "University",
];

/// Regions that contain a country's or city's name but are neither.
const REGIONS: &[&str] = &[
    "Arabian Peninsula",
    "British Columbia",
    "Central Africa",
    "Central America",
    "Central Asia",
    "Central Europe",
    "East Africa",
    "East Asia",
    "East China Sea",
    "Eastern Europe",
    "Far East",
    "Horn of Africa",
    "Korean Peninsula",
    "Latin America",
    "Middle East",
    "Near East",
    "New England",
    "New Guinea",
    "New South Wales",
    "North Africa",
    "North America",
    "Northern Europe",
    "Northern Ireland",
    "Northern Territory",
    "Persian Gulf",
    "South America",
    "South Asia",
    "South China Sea",
    "South Pacific",
    "Southeast Asia",
    "Southern Africa",
    "Southern Europe",
    "Sub-Saharan Africa",
    "West Africa",
    "Western Australia",
    "Western Europe",
    "South Australia",
    "Washington State",
    // Continents and seas: not places the tagger places.
    "Africa",
    "Americas",
    "Antarctic",
    "Arctic",
    "Asia",
    "Atlantic",
    "Balkans",
    "Caribbean",
    "Caucasus",
    "Eurasia",
    "Europe",
    "Mediterranean",
    "Oceania",
    "Pacific",
    "Sahara",
    "Sahel",
    "Scandinavia",
    "Siberia",
];

/// Lower-case words allowed inside an alternate name ("Port of Spain", "Rio de Janeiro").
#[rustfmt::skip]
const PARTICLES: &[&str] = &[
    "al", "am", "an", "and", "da", "das", "de", "del", "der", "des", "di", "do", "dos", "du", "el",
    "en", "es", "la", "las", "le", "les", "los", "of", "on", "sur", "the", "upon", "y",
];

/// Folds a name to ASCII where it can: diacritics dropped ("Bogotá" → "Bogota"), ligatures and
/// a few letters spelled out ("ß" → "ss", "ø" → "o"), typographic apostrophes made plain.
pub(crate) fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        match c {
            '\u{300}'..='\u{36f}' => {}
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'Æ' => out.push_str("AE"),
            'œ' => out.push_str("oe"),
            'Œ' => out.push_str("OE"),
            'ø' => out.push('o'),
            'Ø' => out.push('O'),
            'ł' => out.push('l'),
            'Ł' => out.push('L'),
            'đ' | 'ð' => out.push('d'),
            'Đ' | 'Ð' => out.push('D'),
            'ı' => out.push('i'),
            'þ' => out.push_str("th"),
            'Þ' => out.push_str("Th"),
            '‘' | '’' | 'ʼ' | '`' | '´' => out.push('\''),
            'ʿ' | 'ʾ' => {}
            '‐' | '‑' | '–' => out.push('-'),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    City {
        idx: u32,
        alias: bool,
    },
    Country(u32),
    /// A US state; `code` when matched by its postal code ("TX", "D.C."), which counts only
    /// as a qualifier ("Paris, TX").
    Admin {
        idx: u32,
        code: bool,
    },
    /// A region that only masks the names inside it.
    Region,
}

/// Every name of the gazetteer, for the tagger.
pub(crate) struct NameIndex {
    ac: AhoCorasick,
    /// Per pattern: what the name may be.
    targets: Vec<Vec<Target>>,
}

/// Whether an alternate name looks like an English-text name of a place: ASCII, capitalised,
/// four letters or more, not an airport code, every word capitalised or a particle.
fn alias_ok(a: &str) -> bool {
    let words: Vec<&str> = a.split([' ', '-']).collect();
    a.len() >= 4
        && a.is_ascii()
        && words.len() <= 4
        && a.bytes()
            .all(|b| b.is_ascii_alphabetic() || b" '-.".contains(&b))
        && a.bytes().any(|b| b.is_ascii_lowercase())
        && words.iter().enumerate().all(|(i, w)| {
            let first = w.chars().next();
            (first.is_some_and(|c| c.is_ascii_uppercase())
                && w.chars()
                    .skip(1)
                    .all(|c| !c.is_ascii_uppercase() || c == 'c'))
                || (i > 0 && PARTICLES.contains(w))
        })
}

/// A name worth indexing at all: starts with a capital letter, at least three characters.
fn name_ok(n: &str) -> bool {
    n.chars().count() >= 3 && n.chars().next().is_some_and(char::is_uppercase)
}

impl NameIndex {
    pub(super) fn build(
        countries: &[Country],
        cities: &[City],
        raw: &[RawCity],
        states: &[State],
    ) -> NameIndex {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut targets: Vec<Vec<Target>> = Vec::new();
        let mut add = |name: &str, t: Target| {
            let name = name.trim();
            for form in [Cow::Borrowed(name), fold(name)] {
                let id = *ids.entry(form.to_string()).or_insert_with(|| {
                    patterns.push(form.to_string());
                    targets.push(Vec::new());
                    patterns.len() - 1
                });
                if !targets[id].contains(&t) {
                    targets[id].push(t);
                }
            }
        };
        for (i, c) in countries.iter().enumerate() {
            let t = Target::Country(i as u32);
            if name_ok(&c.name) {
                add(&c.name, t);
            }
            // "Netherlands" for "The Netherlands".
            if let Some(rest) = c.name.strip_prefix("The ") {
                add(rest, t);
            }
        }
        for (iso2, aliases) in COUNTRY_ALIASES {
            if let Some(i) = countries.iter().position(|c| c.iso2 == *iso2) {
                for a in aliases.iter().filter(|a| !a.contains('(')) {
                    add(a, Target::Country(i as u32));
                }
            }
        }
        for (i, s) in states.iter().enumerate() {
            add(
                &s.name,
                Target::Admin {
                    idx: i as u32,
                    code: false,
                },
            );
            add(
                &s.code,
                Target::Admin {
                    idx: i as u32,
                    code: true,
                },
            );
            if s.code == "DC" {
                add(
                    "D.C.",
                    Target::Admin {
                        idx: i as u32,
                        code: true,
                    },
                );
            }
        }
        for (i, (c, r)) in cities.iter().zip(raw).enumerate() {
            let idx = i as u32;
            let primary = c.name.split(" (").next().unwrap_or(&c.name);
            if name_ok(primary) {
                add(primary, Target::City { idx, alias: false });
                // "St. Petersburg" is as much the name as "Saint Petersburg".
                for (long, short) in [("Saint ", "St. "), ("Sainte ", "Ste. "), ("St. ", "Saint ")]
                {
                    if let Some(rest) = primary.strip_prefix(long) {
                        add(
                            &format!("{short}{rest}"),
                            Target::City { idx, alias: false },
                        );
                    }
                }
            }
            if c.population >= ALIAS_MIN_POPULATION {
                for a in &r.alternatenames {
                    let a = fold(a);
                    if alias_ok(&a) && a != primary {
                        add(&a, Target::City { idx, alias: true });
                    }
                }
            }
        }
        for r in REGIONS {
            add(r, Target::Region);
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .expect("gazetteer names build an automaton");
        NameIndex { ac, targets }
    }
}

/// One name found in the text (byte offsets).
#[derive(Debug, Clone)]
struct Mention {
    start: usize,
    end: usize,
    pattern: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// The word right before byte `start`, when only one space separates them.
fn word_before(text: &str, start: usize) -> Option<&str> {
    let before = text[..start].strip_suffix(' ')?;
    if before.ends_with(' ') {
        return None;
    }
    let from = before
        .rfind(|c: char| c.is_whitespace() || "([{\"'“‘/".contains(c))
        .map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
    let w = &before[from..];
    (!w.is_empty()).then_some(w)
}

/// The word right after byte `end`, when only one space separates them.
fn word_after(text: &str, end: usize) -> Option<&str> {
    let after = text[end..].strip_prefix(' ')?;
    let to = after
        .find(|c: char| !(c.is_alphanumeric() || c == '.'))
        .unwrap_or(after.len());
    let w = after[..to].trim_end_matches('.');
    (!w.is_empty()).then_some(w)
}

/// Lower-case words that make the next name a person's ("Rouget de Lisle") or part of a longer
/// name ("Corte de Justicia").
#[rustfmt::skip]
const NAME_PARTICLES: &[&str] = &[
    "ben", "bin", "da", "de", "del", "della", "den", "der", "di", "du", "ibn", "la", "le", "van",
    "von",
];

#[rustfmt::skip]
const MONTHS_AND_DAYS: &[&str] = &[
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday", "Sunday",
];

/// `w` with an upper-case first letter ("river" → "River").
fn capitalised(w: &str) -> String {
    let mut out = w.to_string();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    out
}

/// Rule 3: the name is part of a longer proper name. `bounds` holds the start and end of
/// every mention, so that "US-Mexico" is two places while "KwaZulu-Natal" is none.
fn part_of_longer_name(text: &str, m: &Mention, bounds: &HashSet<usize>) -> bool {
    let upper = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    // Hyphenated compounds: "Kara-Balta", "KwaZulu-Natal", "Nar'yan-Mar".
    let before = text[..m.start].strip_suffix('-');
    if before.is_some_and(|b| b.ends_with(char::is_alphabetic)) && !bounds.contains(&(m.start - 1))
    {
        return true;
    }
    let after = text[m.end..].strip_prefix('-');
    if after.is_some_and(|a| a.starts_with(char::is_uppercase)) && !bounds.contains(&(m.end + 1)) {
        return true;
    }
    if let Some(w) = word_after(text, m.end) {
        if FEATURE_AFTER.contains(&capitalised(w).as_str()) {
            return true;
        }
        // "Quintana Roo", "Laguna Salada", "New York Times".
        if upper(w)
            && !FUNCTION_WORDS.contains(&w)
            && !DIRECTIONS.contains(&w)
            && !MONTHS_AND_DAYS.contains(&w)
        {
            return true;
        }
        // "Santo Domingo de los Tsachilas".
        if NAME_PARTICLES.contains(&w) {
            let rest = &text[m.end + 1 + w.len()..];
            let next = rest.strip_prefix(' ').and_then(|r| {
                r.split(' ')
                    .find(|x| !NAME_PARTICLES.contains(x) && *x != "los")
            });
            if next.is_some_and(upper) {
                return true;
            }
        }
    }
    let Some(w) = word_before(text, m.start) else {
        return false;
    };
    if TITLES.contains(&w) || NAME_PARTICLES.contains(&w) {
        return true;
    }
    if w == "of" || w == "the" {
        // "Gulf of Mexico", "Treaty of the ...": look one or two words further back.
        let mut at = m.start - w.len() - 1;
        let mut prev = word_before(text, at);
        if w == "the" && prev == Some("of") {
            at -= 3;
            prev = word_before(text, at);
        }
        // "the congress of Vienna" as well as "Congress of Vienna".
        return prev.is_some_and(|p| OF_BEFORE.contains(&capitalised(p).as_str()));
    }
    let first_upper = w.chars().next().is_some_and(char::is_uppercase);
    let ends_word = w.chars().last().is_some_and(char::is_alphabetic);
    first_upper && ends_word && !FUNCTION_WORDS.contains(&w) && !DIRECTIONS.contains(&w)
}

/// Acronyms ("US", "UK") inside upper-case text ("TELL US MORE") are words, not countries.
fn shouting(text: &str, m: &Mention) -> bool {
    let name = &text[m.start..m.end];
    if name.chars().any(char::is_lowercase) {
        return false;
    }
    let caps = |w: Option<&str>| {
        w.is_some_and(|w| {
            w.chars().filter(|c| c.is_alphabetic()).count() >= 2
                && !w.chars().any(char::is_lowercase)
        })
    };
    caps(word_before(text, m.start)) || caps(word_after(text, m.end))
}

/// Character offsets for byte offsets.
struct CharOffsets {
    /// For non-ASCII text: the byte offset of every character, in order.
    starts: Option<Vec<usize>>,
}

impl CharOffsets {
    fn new(text: &str) -> CharOffsets {
        CharOffsets {
            starts: (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect()),
        }
    }

    fn char_at(&self, byte: usize) -> usize {
        match &self.starts {
            None => byte,
            Some(s) => s.partition_point(|&b| b < byte),
        }
    }
}

fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1)) / 1000.0
}

/// Context gathered from the whole text.
#[derive(Default)]
struct Context {
    /// Countries named (unambiguously), with their counts.
    countries: HashMap<u32, usize>,
    /// The country named most, if one is.
    dominant: Option<u32>,
    /// US states named (not by postal code alone).
    states: HashSet<u32>,
    /// Whether the text names the US, a US state or a US-only city.
    us: bool,
}

pub(super) fn tag(geo: &GeoData, text: &str) -> Vec<Place> {
    let offsets = CharOffsets::new(text);
    let idx = &geo.names;
    let mut places: Vec<(usize, usize, Place)> = Vec::new();

    // 1. Coordinates.
    let coords = find_coordinates(text);
    for f in &coords {
        places.push((
            f.start,
            f.end,
            Place {
                name: text[f.start..f.end].to_string(),
                lon: f.lon,
                lat: f.lat,
                start: 0,
                end: 0,
                kind: PlaceKind::Coordinates,
                country: geo.country_at(f.lon, f.lat).map(|c| c.iso2.clone()),
                population: 0,
            },
        ));
    }

    // 2. Names at word boundaries, leftmost-longest, outside coordinates.
    let mut found: Vec<Mention> = idx
        .ac
        .find_overlapping_iter(text)
        .filter(|m| {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            !before.is_some_and(is_word_char)
                && !after.is_some_and(is_word_char)
                && !coords
                    .iter()
                    .any(|f| m.start() < f.end && m.end() > f.start)
        })
        .map(|m| Mention {
            start: m.start(),
            end: m.end(),
            pattern: m.pattern().as_usize(),
        })
        .collect();
    found.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    let mut mentions: Vec<Mention> = Vec::new();
    for m in found {
        if mentions.last().is_none_or(|p| m.start >= p.end) {
            mentions.push(m);
        }
    }
    // 3. Regions, longer names, acronyms in capitals.
    let bounds: HashSet<usize> = mentions.iter().flat_map(|m| [m.start, m.end]).collect();
    mentions.retain(|m| {
        !idx.targets[m.pattern].contains(&Target::Region)
            && !part_of_longer_name(text, m, &bounds)
            && !shouting(text, m)
    });

    // Qualifiers: mention i+1 right after ", " or " (" of mention i, naming a state or country.
    let qualifier_of = |i: usize| -> Option<&Mention> {
        let (m, q) = (&mentions[i], mentions.get(i + 1)?);
        let gap = &text[m.end..q.start];
        let is_qual = idx.targets[q.pattern]
            .iter()
            .any(|t| matches!(t, Target::Country(_) | Target::Admin { .. }));
        (matches!(gap, ", " | "," | " (") && is_qual).then_some(q)
    };
    let qualified_by: Vec<Option<Vec<Target>>> = (0..mentions.len())
        .map(|i| {
            let has_city = idx.targets[mentions[i].pattern]
                .iter()
                .any(|t| matches!(t, Target::City { .. }));
            qualifier_of(i)
                .filter(|_| has_city)
                .map(|q| idx.targets[q.pattern].clone())
        })
        .collect();
    let is_qualifier: Vec<bool> = (0..mentions.len())
        .map(|i| i > 0 && qualified_by[i - 1].is_some())
        .collect();

    // Context from unambiguous mentions.
    let mut ctx = Context::default();
    for (i, m) in mentions.iter().enumerate() {
        let ts = &idx.targets[m.pattern];
        // A country's name counts for it unless it is also a state's ("Georgia"); a state's
        // unless it is also a country's.
        let country = ts.iter().find_map(|t| match t {
            Target::Country(c) => Some(*c),
            _ => None,
        });
        let state = ts.iter().find_map(|t| match t {
            Target::Admin { idx, code } if !code || is_qualifier[i] => Some(*idx),
            _ => None,
        });
        match (country, state) {
            (Some(c), None) => *ctx.countries.entry(c).or_default() += 1,
            (None, Some(s)) => {
                ctx.states.insert(s);
            }
            _ => {}
        }
        if ts.iter().all(
            |t| matches!(t, Target::City { idx, .. } if geo.cities[*idx as usize].country == "US"),
        ) && !ts.is_empty()
        {
            ctx.us = true;
        }
    }
    let us_index = geo
        .countries
        .iter()
        .position(|c| c.iso2 == "US")
        .map(|i| i as u32);
    if us_index.is_some_and(|u| ctx.countries.contains_key(&u)) || !ctx.states.is_empty() {
        ctx.us = true;
    }
    let top = ctx.countries.values().copied().max().unwrap_or(0);
    let tops: Vec<u32> = ctx
        .countries
        .iter()
        .filter(|(_, &n)| n == top)
        .map(|(&c, _)| c)
        .collect();
    if let [one] = tops.as_slice() {
        ctx.dominant = Some(*one);
    }
    let country_named = |iso2: &str| {
        (iso2 == "US" && ctx.us)
            || ctx
                .countries
                .keys()
                .any(|&c| geo.countries[c as usize].iso2 == iso2)
    };
    let state_named = |c: &City| {
        c.country == "US"
            && ctx
                .states
                .iter()
                .any(|&s| geo.states[s as usize].code == c.admin1)
    };
    let lowercase_words: HashSet<&str> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
        .collect();

    // 4. Resolution, twice: the second time with the places the first resolved without doubt.
    struct Resolved {
        target: Target,
        point: (f64, f64),
        sure: bool,
    }
    let point_of = |t: Target| -> Option<(f64, f64)> {
        match t {
            Target::City { idx, .. } => {
                let c = &geo.cities[idx as usize];
                Some((c.lon, c.lat))
            }
            Target::Country(i) => geo.countries[i as usize].point.map(|p| (p.x(), p.y())),
            Target::Admin { idx, .. } => geo.states[idx as usize].point.map(|p| (p.x(), p.y())),
            Target::Region => None,
        }
    };
    let mut resolved: Vec<Option<Resolved>> = Vec::new();
    for pass in 0..2 {
        let anchors_all: Vec<(usize, Target)> = resolved
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().filter(|r| r.sure).map(|r| (i, r.target)))
            .collect();
        let anchors: Vec<(usize, (f64, f64))> = resolved
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.as_ref()
                    .filter(|r| r.sure && matches!(r.target, Target::City { .. }))
                    .map(|r| (i, r.point))
            })
            .collect();
        let mut next = Vec::with_capacity(mentions.len());
        for (i, m) in mentions.iter().enumerate() {
            let name = &text[m.start..m.end];
            let all = &idx.targets[m.pattern];
            // A qualifier is its state or country.
            let mut cands: Vec<Target> = if is_qualifier[i] {
                all.iter()
                    .copied()
                    .filter(|t| matches!(t, Target::Country(_) | Target::Admin { .. }))
                    .collect()
            } else {
                all.iter()
                    .copied()
                    .filter(|t| !matches!(t, Target::Admin { code: true, .. } | Target::Region))
                    .collect()
            };
            let mut qualified = false;
            if let Some(q) = &qualified_by[i] {
                let fits = |t: &Target| {
                    let Target::City { idx, .. } = t else {
                        return false;
                    };
                    let c = &geo.cities[*idx as usize];
                    q.iter().any(|qt| match qt {
                        Target::Country(k) => geo.countries[*k as usize].iso2 == c.country,
                        Target::Admin { idx: s, .. } => {
                            c.country == "US" && geo.states[*s as usize].code == c.admin1
                        }
                        _ => false,
                    })
                };
                let kept: Vec<Target> = cands.iter().copied().filter(fits).collect();
                if !kept.is_empty() {
                    cands = kept;
                    qualified = true;
                } else if !cands
                    .iter()
                    .any(|t| matches!(t, Target::Country(_) | Target::Admin { .. }))
                {
                    // "Paris, Ontario": a place the list does not have. (A country or state
                    // followed by another is a list: "Florida, Georgia and ...".)
                    cands.clear();
                }
            }
            if !qualified {
                // A country's name is the country ("Mexico", "Singapore"); a state's name is the
                // state unless a city of that name is large ("New York", "Washington").
                let has = |f: fn(&Target) -> bool| cands.iter().any(f);
                if has(|t| matches!(t, Target::Country(_))) {
                    cands.retain(|t| !matches!(t, Target::City { .. }));
                } else if has(|t| matches!(t, Target::Admin { .. })) {
                    cands.retain(|t| match t {
                        Target::City { idx, .. } => geo.cities[*idx as usize].population >= 500_000,
                        _ => true,
                    });
                }
            }
            // Alternate names only when no state or country has this name as its own
            // ("Oklahoma" is not Oklahoma City), nor a city a tenth as large ("Zaragoza" is
            // not Tijuana; "Canton" may be Guangzhou rather than Canton, Ohio).
            let own_name = cands
                .iter()
                .filter_map(|t| match t {
                    Target::City { alias: true, .. } => None,
                    Target::City { idx, .. } => Some(geo.cities[*idx as usize].population),
                    _ => Some(u64::MAX),
                })
                .max();
            if let Some(own) = own_name {
                cands.retain(|t| match t {
                    Target::City { idx, alias: true } => {
                        own < u64::MAX && geo.cities[*idx as usize].population / 10 > own
                    }
                    _ => true,
                });
            }
            let largest = cands
                .iter()
                .filter_map(|t| match t {
                    Target::City { idx, .. } => Some(geo.cities[*idx as usize].population),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            // Neighbours in the text (lists: "Atlanta, Boston, Chicago"): what the places
            // resolved without doubt next to this one are.
            let beside: Vec<Target> = anchors_all
                .iter()
                .filter(|(j, _)| *j != i && j.abs_diff(i) <= 2)
                .map(|(_, t)| *t)
                .collect();
            let mut scored: Vec<(f64, Target, bool)> = cands
                .iter()
                .filter_map(|&t| {
                    let point = point_of(t)?;
                    let (score, supported) = match t {
                        Target::Country(k) => {
                            let c = &geo.countries[k as usize];
                            let neighbour = c.neighbours.iter().any(|n| country_named(n));
                            (8.0 + if neighbour { 1.5 } else { 0.0 }, true)
                        }
                        Target::Admin { idx: s, .. } => {
                            let other = ctx.states.iter().any(|&o| o != s);
                            let us = ctx.us || other;
                            let listed = beside.iter().any(|t| matches!(t, Target::Admin { .. }));
                            let score = 4.5
                                + if us { 3.0 } else { 0.0 }
                                + if other { 1.0 } else { 0.0 }
                                + if listed { 1.5 } else { 0.0 };
                            (score, true)
                        }
                        Target::City { idx: k, alias } => {
                            let c = &geo.cities[k as usize];
                            let mut s = (c.population.max(1) as f64).log10();
                            let mut supported = qualified;
                            if alias {
                                s -= 1.0;
                            }
                            if country_named(&c.country) {
                                // A town named after a city 20 times its size ("Vienna",
                                // Virginia; "Paris", Texas) needs more than its country named.
                                let town = c.population.saturating_mul(20) < largest;
                                s += if town { 1.0 } else { 3.0 };
                                if geo.capitals.contains(&k) {
                                    s += 4.5;
                                }
                                let dominant = ctx
                                    .dominant
                                    .is_some_and(|d| geo.countries[d as usize].iso2 == c.country);
                                if dominant {
                                    s += if town { 0.5 } else { 1.0 };
                                }
                                // In a text about another country, a small foreign town needs
                                // more than its country named ("Pasco" is a region of Peru).
                                if dominant
                                    || ctx.dominant.is_none()
                                    || c.population >= UNSUPPORTED_MIN_POPULATION
                                    || geo.capitals.contains(&k)
                                {
                                    supported = true;
                                }
                            }
                            if state_named(c) {
                                s += 2.0;
                                supported = true;
                            }
                            if anchors.iter().any(|&(j, p)| {
                                j != i && j.abs_diff(i) <= NEAR_MENTIONS && km(p, point) <= NEAR_KM
                            }) {
                                s += 1.5;
                                supported = true;
                            }
                            let same_country = |t: &Target| match t {
                                Target::City { idx, .. } => {
                                    geo.cities[*idx as usize].country == c.country
                                }
                                _ => false,
                            };
                            if beside.iter().any(same_country) {
                                s += 1.5;
                                supported = true;
                            }
                            (s, supported)
                        }
                        Target::Region => return None,
                    };
                    Some((score, t, supported))
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            let Some(&(best, target, supported)) = scored.first() else {
                next.push(None);
                continue;
            };
            let margin = scored.get(1).map_or(f64::INFINITY, |s| best - s.0);
            // 5. Acceptance.
            let accept = match target {
                Target::City { idx: k, .. } => {
                    let c = &geo.cities[k as usize];
                    let dominant = ctx
                        .dominant
                        .is_some_and(|d| geo.countries[d as usize].iso2 == c.country);
                    let one_word = !name.contains([' ', '-']);
                    let near = anchors.iter().any(|&(j, p)| {
                        j != i && j.abs_diff(i) <= NEAR_MENTIONS && km(p, (c.lon, c.lat)) <= NEAR_KM
                    });
                    let alias = matches!(target, Target::City { alias: true, .. });
                    let person = PERSON_NAMES.contains(&name);
                    let common = NEED_CONTEXT.contains(&name)
                        || (one_word && lowercase_words.contains(name.to_lowercase().as_str()));
                    let in_country = |t: &Target| match t {
                        Target::City { idx, .. } => geo.cities[*idx as usize].country == c.country,
                        _ => false,
                    };
                    let listed = beside.iter().any(in_country);
                    // A list of another country's places ("Lima, Loreto, Pasco, Piura").
                    let other_list = beside
                        .iter()
                        .filter(|t| matches!(t, Target::City { .. }))
                        .count()
                        >= 2
                        && !listed;
                    // "Male: 9.75 deaths": a label, not a place.
                    let line_start = text[..m.start]
                        .rsplit('\n')
                        .next()
                        .is_some_and(|l| l.trim_start_matches(['-', '*', ' ']).is_empty());
                    let label = line_start && text[m.end..].starts_with(':');
                    if RARELY_PLACES.contains(&name) || (alias && common) || (common && label) {
                        qualified
                    } else if other_list && !qualified {
                        false
                    } else if person {
                        let capital = geo.capitals.contains(&k) && dominant;
                        qualified || listed || capital
                    } else if alias {
                        qualified || dominant || state_named(c)
                    } else if common {
                        qualified || dominant || listed || state_named(c)
                    } else if supported {
                        true
                    } else if ctx.dominant.is_some() {
                        // A text about one country: a name of an unnamed country's town is
                        // more likely a local name the list lacks ("Santa Catarina" in Brazil).
                        near || c.population >= UNSUPPORTED_MIN_POPULATION_ELSEWHERE
                    } else {
                        c.population >= UNSUPPORTED_MIN_POPULATION
                    }
                }
                _ => true,
            };
            if !accept {
                next.push(None);
                continue;
            }
            let sure = qualified || margin >= 1.0;
            next.push(Some(Resolved {
                target,
                point: point_of(target).unwrap_or_default(),
                sure: sure && pass == 0,
            }));
        }
        resolved = next;
    }

    for (m, r) in mentions.iter().zip(resolved) {
        let Some(r) = r else { continue };
        let (kind, country, population) = match r.target {
            Target::City { idx, .. } => {
                let c = &geo.cities[idx as usize];
                (PlaceKind::City, Some(c.country.clone()), c.population)
            }
            Target::Country(i) => {
                let c = &geo.countries[i as usize];
                (PlaceKind::Country, Some(c.iso2.clone()), c.population)
            }
            Target::Admin { idx, .. } => (
                PlaceKind::Admin,
                Some("US".to_string()),
                geo.states[idx as usize].population,
            ),
            Target::Region => continue,
        };
        places.push((
            m.start,
            m.end,
            Place {
                name: text[m.start..m.end].to_string(),
                lon: r.point.0,
                lat: r.point.1,
                start: 0,
                end: 0,
                kind,
                country,
                population,
            },
        ));
    }
    places.sort_by_key(|(s, e, _)| (*s, *e));
    places
        .into_iter()
        .map(|(s, e, mut p)| {
            p.start = offsets.char_at(s);
            p.end = offsets.char_at(e);
            p
        })
        .collect()
}
