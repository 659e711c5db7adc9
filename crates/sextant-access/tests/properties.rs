//! Property tests over deterministically generated markings and accesses: spelling
//! tolerance, canonical round trips, the semilattice laws of `join`, and the soundness of
//! `dominates` and `join` with respect to `Access::may_see`. A tiny xorshift generator
//! keeps the runs reproducible without a proptest dependency.

use sextant_access::{banner_line, portion_mark, Access, Level, Marking};

/// xorshift64*: small, fast and deterministic; quality is ample for test generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    fn subset<T: Clone>(&mut self, xs: &[T], percent: u64) -> Vec<T> {
        xs.iter()
            .filter(|_| self.chance(percent))
            .cloned()
            .collect()
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

const SCI_POOL: [&str; 11] = [
    "SI",
    "TK",
    "SI-G",
    "SI-G ABCD",
    "SI-G EFGH",
    "HCS-P",
    "HCS-O",
    "KDK",
    "SI-ECI XYZ",
    "RSV",
    "BUR",
];
const SAP_POOL: [&str; 5] = ["BP", "GB", "TR 1", "BUTTERED POPCORN", "NC"];
const CUI_POOL: [&str; 4] = ["SP-PRVCY", "LEI", "PRVCY", "SP-CTI"];
/// (banner spelling, portion spelling) of the controls other than FD&R and FOUO.
const DISSEM_POOL: [(&str, &str); 6] = [
    ("ORCON", "OC"),
    ("IMCON", "IMC"),
    ("NOCONTRACT", "NC"),
    ("PROPIN", "PR"),
    ("RELIDO", "RELIDO"),
    ("FED ONLY", "FEDONLY"),
];
const REL_POOL: [&str; 9] = [
    "AUS", "CAN", "GBR", "NZL", "DEU", "FRA", "NATO", "ACGU", "FVEY",
];

enum Fd {
    None,
    NoForn,
    Rel(Vec<&'static str>),
}

/// What a marking should contain, independent of how it is spelt.
struct Spec {
    level: Level,
    sci: Vec<&'static str>,
    sap: Vec<&'static str>,
    cui: Vec<&'static str>,
    dissem: Vec<(&'static str, &'static str)>,
    fouo: bool,
    fd: Fd,
}

fn gen_spec(rng: &mut Rng) -> Spec {
    let level = *rng.pick(&Level::ALL);
    let classified = level >= Level::Confidential;
    let sci = if classified && rng.chance(50) {
        rng.subset(&SCI_POOL, 25)
    } else {
        vec![]
    };
    let sap = if classified && rng.chance(25) {
        rng.subset(&SAP_POOL, 35)
    } else {
        vec![]
    };
    let cui = if level == Level::Cui && rng.chance(60) {
        rng.subset(&CUI_POOL, 40)
    } else {
        vec![]
    };
    let dissem = if rng.chance(40) {
        rng.subset(&DISSEM_POOL, 25)
    } else {
        vec![]
    };
    let fouo = level == Level::Unclassified && rng.chance(30);
    let fd = match rng.below(3) {
        0 => Fd::None,
        1 => Fd::NoForn,
        _ => {
            let mut list = rng.subset(&REL_POOL, 30);
            if list.is_empty() {
                list.push(*rng.pick(&REL_POOL));
            }
            list.push("USA");
            Fd::Rel(list)
        }
    };
    Spec {
        level,
        sci,
        sap,
        cui,
        dissem,
        fouo,
        fd,
    }
}

/// Randomly changes the case of every letter.
fn jumble_case(rng: &mut Rng, s: &str) -> String {
    s.chars()
        .map(|c| {
            if rng.chance(50) {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

/// One of the many accepted spellings of `spec`.
fn render(rng: &mut Rng, spec: &Spec) -> String {
    let sec_sep = *rng.pick(&["//", " // ", "// ", "  //"]);
    let entry_sep = *rng.pick(&["/", " / ", "/ "]);
    let mut sections: Vec<String> = Vec::new();
    let level = match (spec.level, rng.below(3)) {
        (Level::TopSecret, 0) => "TOP_SECRET".to_string(),
        (Level::TopSecret, 1) => "top-secret".to_string(),
        (l, 2) => l.abbrev().to_string(),
        (l, _) => l.name().to_string(),
    };
    sections.push(level);
    if !spec.sci.is_empty() {
        let mut entries: Vec<String> = spec
            .sci
            .iter()
            .map(|e| {
                if rng.chance(20) {
                    e.replace('-', " - ")
                } else {
                    e.to_string()
                }
            })
            .collect();
        rng.shuffle(&mut entries);
        sections.push(entries.join(entry_sep));
    }
    if !spec.sap.is_empty() {
        let mut ids = spec.sap.clone();
        rng.shuffle(&mut ids);
        let entries: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                if i == 0 && rng.chance(20) {
                    format!("SPECIAL ACCESS REQUIRED-{id}")
                } else if i == 0 || *id == "NC" || rng.chance(30) {
                    format!("SAR-{id}")
                } else {
                    id.to_string()
                }
            })
            .collect();
        sections.push(entries.join(entry_sep));
    }
    if !spec.cui.is_empty() {
        let mut cats = spec.cui.clone();
        rng.shuffle(&mut cats);
        sections.push(cats.join(entry_sep));
    }
    let mut dissem: Vec<String> = spec
        .dissem
        .iter()
        .map(|(full, abbrev)| {
            if rng.chance(50) {
                full.to_string()
            } else {
                abbrev.to_string()
            }
        })
        .collect();
    if spec.fouo {
        dissem.push(rng.pick(&["FOUO", "FOR OFFICIAL USE ONLY"]).to_string());
    }
    match &spec.fd {
        Fd::None => {}
        Fd::NoForn => dissem.push(rng.pick(&["NOFORN", "NF"]).to_string()),
        Fd::Rel(list) => {
            let mut list = list.clone();
            rng.shuffle(&mut list);
            let comma = *rng.pick(&[", ", ",", " , "]);
            dissem.push(format!("REL TO {}", list.join(comma)));
        }
    }
    if !dissem.is_empty() {
        rng.shuffle(&mut dissem);
        sections.push(dissem.join(entry_sep));
    }
    let mut s = sections.join(sec_sep);
    if rng.chance(40) {
        s = format!("({s})");
    }
    if rng.chance(50) {
        s = jumble_case(rng, &s);
    }
    s
}

fn parse_ok(s: &str) -> Marking {
    match Marking::parse(s) {
        Ok(m) => m,
        Err(e) => panic!("generated marking {s:?} does not parse: {e}"),
    }
}

/// Hand-written markings that exercise corner cases, plus `n` generated ones.
fn sample(rng: &mut Rng, n: usize) -> Vec<Marking> {
    let fixed = [
        "(U)",
        "(U//FOUO)",
        "(U//NF)",
        "(U//REL TO USA, GBR)",
        "(CUI)",
        "(CUI//SP-PRVCY//NF)",
        "(CUI//LEI//REL TO USA, FVEY)",
        "(C)",
        "(C//REL TO USA, GBR)",
        "(S//NF)",
        "(S//REL TO USA, AUS)",
        "(S//REL TO USA, NATO)",
        "(S//OC/PR)",
        "(TS//SI//REL TO USA, FVEY)",
        "(TS//HCS-P/SI-G ABCD/TK//OC/NF)",
        "(TS//SI-G EFGH//SAR-BP/SAR-NC//RELIDO/REL TO USA, GBR, CAN)",
    ];
    let mut out: Vec<Marking> = fixed.iter().map(|s| parse_ok(s)).collect();
    while out.len() < fixed.len() + n {
        let spec = gen_spec(rng);
        out.push(parse_ok(&render(rng, &spec)));
    }
    out
}

#[test]
fn spellings_agree_and_round_trip() {
    let mut rng = Rng(0x5EC7_A47A_CCE5_5001);
    for _ in 0..2000 {
        let spec = gen_spec(&mut rng);
        let a = render(&mut rng, &spec);
        let b = render(&mut rng, &spec);
        let (ma, mb) = (parse_ok(&a), parse_ok(&b));
        assert_eq!(ma, mb, "{a:?} and {b:?} spell the same marking");
        let banner = ma.banner();
        let portion = ma.portion();
        assert_eq!(
            Marking::parse(&banner),
            Ok(ma.clone()),
            "banner round trip of {a:?}"
        );
        assert_eq!(
            Marking::parse(&portion),
            Ok(ma.clone()),
            "portion round trip of {a:?}"
        );
        assert_eq!(
            Marking::parse(&banner.to_lowercase()),
            Ok(ma.clone()),
            "lowercase {banner:?}"
        );
        assert_eq!(
            Marking::parse(&portion[1..portion.len() - 1]),
            Ok(ma.clone()),
            "bare {portion:?}"
        );
        assert!(!banner.chars().any(char::is_lowercase), "{banner:?}");
        assert_eq!(ma.level(), spec.level);
        // A canonical banner is a banner line, and a canonical portion a portion mark.
        assert_eq!(
            banner_line(&banner),
            Some(Ok(ma.clone())),
            "banner_line({banner:?})"
        );
        let para = format!("{portion} Body text.");
        assert_eq!(
            portion_mark(&para),
            Some(Ok((ma.clone(), portion.len() + 1))),
            "{para:?}"
        );
        // Serde carries the banner.
        let json = serde_json::to_string(&ma).unwrap();
        assert_eq!(serde_json::from_str::<Marking>(&json).unwrap(), ma);
    }
}

#[test]
fn join_is_a_semilattice_with_unclassified_as_identity() {
    let mut rng = Rng(0x00DD_BA11_5EED);
    let ms = sample(&mut rng, 150);
    let u = Marking::unclassified();
    for a in &ms {
        assert_eq!(a.join(a), *a, "idempotent: {a}");
        assert_eq!(a.join(&u), *a, "identity: {a}");
        assert_eq!(u.join(a), *a, "identity: {a}");
        for b in &ms {
            let ab = a.join(b);
            assert_eq!(ab, b.join(a), "commutative: {a} + {b}");
            assert_eq!(
                Marking::parse(&ab.banner()),
                Ok(ab.clone()),
                "join round trip: {a} + {b}"
            );
            assert_eq!(
                Marking::parse(&ab.portion()),
                Ok(ab.clone()),
                "join round trip: {a} + {b}"
            );
        }
    }
    // Every triple of a prefix, then random triples of the whole sample.
    let head = &ms[..40];
    for a in head {
        for b in head {
            let ab = a.join(b);
            for c in head {
                assert_eq!(
                    ab.join(c),
                    a.join(&b.join(c)),
                    "associative: {a} + {b} + {c}"
                );
            }
        }
    }
    for _ in 0..30_000 {
        let (a, b, c) = (rng.pick(&ms), rng.pick(&ms), rng.pick(&ms));
        assert_eq!(
            a.join(b).join(c),
            a.join(&b.join(c)),
            "associative: {a} + {b} + {c}"
        );
    }
}

#[test]
fn rollup_ignores_order_and_grouping() {
    let mut rng = Rng(0x0B0B_51ED);
    let ms = sample(&mut rng, 200);
    for _ in 0..300 {
        let mut part: Vec<Marking> = (0..rng.below(8)).map(|_| rng.pick(&ms).clone()).collect();
        let r = Marking::rollup(&part);
        rng.shuffle(&mut part);
        assert_eq!(Marking::rollup(&part), r);
        let mid = rng.below(part.len() + 1);
        let split = Marking::rollup(&part[..mid]).join(&Marking::rollup(&part[mid..]));
        assert_eq!(split, r);
        for p in &part {
            assert!(r.dominates(p), "{r} dominates its part {p}");
        }
    }
}

#[test]
fn join_is_the_least_dominating_marking() {
    let mut rng = Rng(0xC0FF_EE00_1234);
    let ms = sample(&mut rng, 150);
    for a in &ms {
        assert!(a.dominates(a), "reflexive: {a}");
        assert!(a.dominates(&Marking::unclassified()), "{a} dominates U");
        for b in &ms {
            let ab = a.join(b);
            assert!(
                ab.dominates(a) && ab.dominates(b),
                "{ab} dominates {a} and {b}"
            );
        }
    }
    let mut checked = 0;
    for _ in 0..200_000 {
        let (a, b, c) = (rng.pick(&ms), rng.pick(&ms), rng.pick(&ms));
        if c.dominates(a) && c.dominates(b) {
            assert!(
                c.dominates(&a.join(b)),
                "{c} dominates {a} and {b} but not their join"
            );
            checked += 1;
        }
        if a.dominates(b) && b.dominates(c) {
            assert!(a.dominates(c), "transitive: {a} > {b} > {c}");
        }
    }
    assert!(checked > 1000, "too few upper bounds exercised: {checked}");
}

fn gen_accesses(rng: &mut Rng, n: usize) -> Vec<Access> {
    const GRANTS: [&str; 16] = [
        "SI",
        "SI-G",
        "SI-G ABCD",
        "SI-G EFGH",
        "TK",
        "HCS-P",
        "HCS-O",
        "KDK",
        "SI-ECI XYZ",
        "RSV",
        "BUR",
        "BP",
        "GB",
        "TR 1",
        "BUTTERED POPCORN",
        "SAR-NC",
    ];
    const CITIZENSHIPS: [&str; 7] = ["USA", "GBR", "AUS", "NZL", "DEU", "FRA", "JPN"];
    (0..n)
        .map(|_| {
            let level = *rng.pick(&Level::ALL);
            let grants = rng.subset(&GRANTS, 60);
            let cit = *rng.pick(&CITIZENSHIPS);
            match Access::new(level, &grants, cit) {
                Ok(a) => a,
                Err(e) => panic!("generated access {grants:?}/{cit} invalid: {e}"),
            }
        })
        .collect()
}

#[test]
fn dominance_and_join_agree_with_may_see() {
    let mut rng = Rng(0xACCE_55ED);
    let ms = sample(&mut rng, 100);
    let people = gen_accesses(&mut rng, 80);
    let mut seen = 0;
    for a in &ms {
        for b in &ms {
            let ab = a.join(b);
            let a_dom_b = a.dominates(b);
            for p in &people {
                let (sa, sb) = (p.may_see(a), p.may_see(b));
                // Seeing the roll-up is exactly seeing both parts.
                assert_eq!(p.may_see(&ab), sa && sb, "{p:?} on {a} + {b}");
                if a_dom_b && sa {
                    assert!(sb, "{a} dominates {b} but {p:?} sees only the former");
                }
                seen += usize::from(sa);
            }
        }
    }
    assert!(
        seen > 10_000,
        "too few positive may_see cases exercised: {seen}"
    );
}

#[test]
fn access_grants_round_trip() {
    let mut rng = Rng(0x0006_AA75);
    for a in gen_accesses(&mut rng, 200) {
        let again = Access::new(a.level(), a.grants(), a.citizenship()).unwrap();
        assert_eq!(again, a);
    }
}

/// Random strings built from marking fragments and stray characters: nothing panics, and
/// whatever parses is canonical-round-trip clean.
#[test]
fn arbitrary_input_never_panics() {
    const PIECES: [&str; 40] = [
        "SECRET",
        "TOP SECRET",
        "S",
        "TS",
        "U",
        "C",
        "CUI",
        "//",
        "/",
        "(",
        ")",
        " ",
        ",",
        "-",
        "REL TO ",
        "USA",
        "GBR",
        "FVEY",
        "NATO",
        "NF",
        "NOFORN",
        "OC",
        "SI",
        "-G",
        " ABCD",
        "TK",
        "HCS",
        "SAR-",
        "BP",
        "SP-",
        "PRVCY",
        "FOUO",
        "é",
        "\u{a0}",
        "\n",
        "x",
        "_",
        "RELIDO",
        "FED ONLY",
        "ü)",
    ];
    let mut rng = Rng(0xF022_1234_5678);
    let mut parsed = 0;
    for _ in 0..40_000 {
        let s: String = (0..rng.below(10)).map(|_| *rng.pick(&PIECES)).collect();
        if let Ok(m) = Marking::parse(&s) {
            parsed += 1;
            assert_eq!(Marking::parse(&m.banner()), Ok(m.clone()), "{s:?}");
            assert_eq!(Marking::parse(&m.portion()), Ok(m.clone()), "{s:?}");
        }
        if let Some(Ok((_, n))) = portion_mark(&s) {
            assert!(s.is_char_boundary(n) && n <= s.len(), "{s:?}: {n}");
        }
        let _ = banner_line(&s);
        for cit in ["USA", "GBR", &s] {
            let _ = Access::new(Level::Secret, [s.as_str()], cit);
        }
    }
    assert!(parsed > 500, "too few random inputs parsed: {parsed}");
}
