//! Parameter sweep on raw usearch (no WAL, no wrapper), used to pick the graph settings quoted in
//! docs/vector-index.md.
//!
//! cargo run --release -p sextant-vector --example explore -- N M EF_ADD THREADS MODE [NOISE]
//! MODE: r = uniform random unit vectors, l = 24-d latent + noise (NOISE = noise weight),
//!       c = 1000 cluster centres + noise. SKIP_FILTERED=1 skips the filtered-search part.

use rand::{Rng, SeedableRng};
use std::time::Instant;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

fn norm(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
}
fn gauss(r: &mut impl Rng) -> f32 {
    // Box-Muller
    let u1: f32 = r.random::<f32>().max(1e-12);
    let u2: f32 = r.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(100_000);
    let m: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(16);
    let efc: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(128);
    let threads: usize = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(2);
    let mode = args.get(5).cloned().unwrap_or("r".into());
    let noise: f32 = args.get(6).map(|s| s.parse().unwrap()).unwrap_or(1.0);
    let skip_filtered = std::env::var("SKIP_FILTERED").is_ok();
    let d = 384;
    let mut r = rand::rngs::StdRng::seed_from_u64(7);
    let centers: Vec<Vec<f32>> = (0..1000)
        .map(|_| {
            let mut v: Vec<f32> = (0..d).map(|_| gauss(&mut r)).collect();
            norm(&mut v);
            v
        })
        .collect();
    // signal energy 16x the noise's (same model as the bench and the tests)
    let proj: Vec<f32> = (0..d * 24)
        .map(|_| gauss(&mut r) * 4.0 / ((24 * d) as f32).sqrt())
        .collect();
    let gen = |r: &mut rand::rngs::StdRng| -> Vec<f32> {
        let mut v: Vec<f32> = (0..d).map(|_| gauss(r)).collect();
        if mode == "c" {
            let c = &centers[r.random_range(0..centers.len())];
            norm(&mut v);
            for i in 0..d {
                v[i] = c[i] + noise * v[i];
            }
        } else if mode == "l" {
            // low-rank latent model: 24-d latent through a fixed random projection, plus isotropic noise
            let z: Vec<f32> = (0..24).map(|_| gauss(r)).collect();
            norm(&mut v);
            for i in 0..d {
                let mut s = 0.0;
                for j in 0..24 {
                    s += proj[i * 24 + j] * z[j];
                }
                v[i] = s + noise * v[i];
            }
        }
        norm(&mut v);
        v
    };
    let data: Vec<Vec<f32>> = (0..n).map(|_| gen(&mut r)).collect();
    let queries: Vec<Vec<f32>> = (0..500).map(|_| gen(&mut r)).collect();
    let opts = IndexOptions {
        dimensions: d,
        metric: MetricKind::IP,
        quantization: ScalarKind::F32,
        connectivity: m,
        expansion_add: efc,
        expansion_search: 64,
        multi: false,
    };
    let idx = Index::new(&opts).unwrap();
    idx.reserve(n).unwrap();
    let t = Instant::now();
    std::thread::scope(|s| {
        for tid in 0..threads {
            let idx = &idx;
            let data = &data;
            s.spawn(move || {
                let mut i = tid;
                while i < n {
                    idx.add(i as u64, &data[i]).unwrap();
                    i += threads;
                }
            });
        }
    });
    let bt = t.elapsed().as_secs_f64();
    println!("n={n} M={m} efc={efc} threads={threads} mode={mode} noise={noise}: build {:.2}s ({:.2}s per 100k) mem {} MB hw={}", bt, bt * 100_000.0 / n as f64, idx.memory_usage() >> 20, idx.hardware_acceleration());
    let t = Instant::now();
    let truth: Vec<Vec<u64>> = queries
        .iter()
        .map(|q| idx.exact_search(q, 10).unwrap().keys)
        .collect();
    let s10: f32 = queries
        .iter()
        .map(|q| 1.0 - idx.exact_search(q, 10).unwrap().distances[9])
        .sum::<f32>()
        / queries.len() as f32;
    let s1: f32 = queries
        .iter()
        .map(|q| 1.0 - idx.exact_search(q, 10).unwrap().distances[0])
        .sum::<f32>()
        / queries.len() as f32;
    println!("  mean sim top1 {s1:.3} top10 {s10:.3}");
    let et = t.elapsed().as_secs_f64() / queries.len() as f64;
    println!("  exact (usearch exact_search): {:.2} ms/query", et * 1e3);
    for ef in [64, 128, 256, 512, 1024, 2048] {
        idx.change_expansion_search(ef);
        let t = Instant::now();
        let mut hit = 0;
        for (q, tr) in queries.iter().zip(&truth) {
            let res = idx.search(q, 10).unwrap();
            hit += res.keys.iter().filter(|k| tr.contains(k)).count();
        }
        let el = t.elapsed().as_secs_f64();
        println!(
            "  ef={ef}: recall@10 {:.4}  {:.0} QPS (1 thread)  {:.3} ms/q",
            hit as f64 / (10.0 * queries.len() as f64),
            queries.len() as f64 / el,
            el * 1e3 / queries.len() as f64
        );
    }
    // filtered 1% predicate
    idx.change_expansion_search(64);
    for modu in [2u64, 10, 100] {
        if skip_filtered {
            break;
        }
        let t = Instant::now();
        let mut hit = 0;
        let mut short = 0;
        for q in queries.iter().take(100) {
            let res = idx.filtered_search(q, 10, |k| k % modu == 0).unwrap();
            if res.keys.len() < 10 {
                short += 1;
            }
            // truth
            let mut sc: Vec<(f32, u64)> = (0..n as u64)
                .filter(|k| k % modu == 0)
                .map(|k| {
                    (
                        data[k as usize]
                            .iter()
                            .zip(q)
                            .map(|(a, b)| a * b)
                            .sum::<f32>(),
                        k,
                    )
                })
                .collect();
            sc.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
            let tr: Vec<u64> = sc.iter().take(10).map(|x| x.1).collect();
            hit += res.keys.iter().filter(|k| tr.contains(k)).count();
        }
        let _ = t;
        let t = Instant::now();
        for q in queries.iter().take(100) {
            let _ = idx.filtered_search(q, 10, |k| k % modu == 0).unwrap();
        }
        println!(
            "  filtered 1/{modu}: recall {:.4} short {short}/100  {:.3} ms/q",
            hit as f64 / 1000.0,
            t.elapsed().as_secs_f64() * 10.0
        );
    }
    // get cost
    let mut buf = vec![0f32; d];
    let t = Instant::now();
    let mut s = 0f32;
    for k in 0..n as u64 {
        idx.get(k, &mut buf).unwrap();
        s += buf[0];
    }
    println!(
        "  get: {:.0} ns/key ({s})",
        t.elapsed().as_secs_f64() * 1e9 / n as f64
    );
}
