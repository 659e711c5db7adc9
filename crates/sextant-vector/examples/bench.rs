//! Measures the figures quoted in docs/vector-index.md.
//!
//! cargo run --release -p sextant-vector --example bench -- [n] [random|embed] [dir]
//!
//! Prints: build time (insert_batch of 1000, WAL fsync included), checkpoint / reopen times,
//! recall@10 and latency for several beam widths, calibration, exact-scan and filtered-search
//! latencies, and the cost of the two ways to get raw vectors for exact scans.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sextant_vector::{Filter, VectorIndex};

const DIM: usize = 384;
const LATENT: usize = 24;

fn gauss(r: &mut StdRng) -> f32 {
    let u1: f32 = r.random::<f32>().max(1e-12);
    let u2: f32 = r.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}
fn normalize(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

struct Gen {
    embed: bool,
    proj: Vec<f32>,
}
impl Gen {
    fn sample(&self, r: &mut StdRng) -> Vec<f32> {
        let noise = normalize((0..DIM).map(|_| gauss(r)).collect());
        if !self.embed {
            return noise;
        }
        let z: Vec<f32> = (0..LATENT).map(|_| gauss(r)).collect();
        normalize(
            (0..DIM)
                .map(|i| {
                    self.proj[i * LATENT..(i + 1) * LATENT]
                        .iter()
                        .zip(&z)
                        .map(|(a, b)| a * b)
                        .sum::<f32>()
                        + noise[i]
                })
                .collect(),
        )
    }
}

/// Eight independent accumulators, which LLVM turns into one AVX2 FMA lane set.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(100_000, |s| s.parse().unwrap());
    let embed = args.get(2).is_some_and(|s| s == "embed");
    let base = args.get(3).map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = base.unwrap_or_else(|| tmp.path().to_path_buf()).join("idx");
    let _ = std::fs::remove_dir_all(&dir);
    let mut r = StdRng::seed_from_u64(42);
    let s = 4.0 / ((LATENT * DIM) as f32).sqrt();
    let gen = Gen {
        embed,
        proj: (0..DIM * LATENT).map(|_| gauss(&mut r) * s).collect(),
    };
    let data: Vec<(u64, Vec<f32>)> = (0..n as u64).map(|k| (k, gen.sample(&mut r))).collect();
    let queries: Vec<Vec<f32>> = (0..200).map(|_| gen.sample(&mut r)).collect();
    println!(
        "n={n} dim={DIM} data={} cores={}",
        if embed {
            "embedding-like (24-d latent + noise)"
        } else {
            "uniform random"
        },
        std::thread::available_parallelism().map_or(0, |c| c.get())
    );

    let scan_only = std::env::var("BENCH_SCAN_ONLY").is_ok();
    let idx = if scan_only {
        // a cheap graph: only raw-vector access is measured
        let o = sextant_vector::IndexOptions {
            connectivity: 4,
            expansion_add: 8,
            ..Default::default()
        };
        VectorIndex::open_with(&dir, DIM, o).unwrap()
    } else {
        VectorIndex::open(&dir, DIM).unwrap()
    };
    let t = Instant::now();
    for c in data.chunks(1000) {
        idx.insert_batch(c).unwrap();
    }
    let build = t.elapsed().as_secs_f64();
    println!(
        "build: {:.1} s ({:.1} s per 100k, {:.0} vectors/s), memory ~{} MiB",
        build,
        build * 100_000.0 / n as f64,
        n as f64 / build,
        idx.memory_usage() >> 20
    );

    if scan_only {
        scan_cost(&idx, &data, &queries, n);
        return;
    }
    let truth: Vec<Vec<(u64, f32)>> = {
        let t = Instant::now();
        let v = queries
            .iter()
            .map(|q| idx.exact_search(q, 10, Filter::All).unwrap())
            .collect();
        println!(
            "exact_search(All, k=10): {:.2} ms/query (usearch brute force, 1 thread)",
            t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64
        );
        v
    };
    let recall = |res: &[Vec<(u64, f32)>]| {
        let hits: usize = res
            .iter()
            .zip(&truth)
            .map(|(g, t)| {
                g.iter()
                    .filter(|(k, _)| t.iter().any(|x| x.0 == *k))
                    .count()
            })
            .sum();
        hits as f64 / (10 * res.len()) as f64
    };
    for ef in [32, 64, 128, 256, 512, 1024] {
        idx.set_search_settings(ef, false);
        let t = Instant::now();
        let res: Vec<_> = queries
            .iter()
            .map(|q| idx.search(q, 10, Filter::All).unwrap())
            .collect();
        let el = t.elapsed().as_secs_f64();
        // two threads searching at once
        let t2 = Instant::now();
        std::thread::scope(|s| {
            for part in queries.chunks(queries.len() / 2) {
                let idx = &idx;
                s.spawn(move || {
                    for q in part {
                        idx.search(q, 10, Filter::All).unwrap();
                    }
                });
            }
        });
        let el2 = t2.elapsed().as_secs_f64();
        println!(
            "HNSW ef={ef:<5} recall@10 {:.3}  {:.3} ms/query  {:.0} QPS (1 thread)  {:.0} QPS (2 threads)",
            recall(&res),
            el * 1e3 / queries.len() as f64,
            queries.len() as f64 / el,
            queries.len() as f64 / el2
        );
    }
    let t = Instant::now();
    let cal = idx.calibrate().unwrap();
    println!(
        "calibrate: {:.2} s -> ef={} exact={} trials={:?} exact_ms={:.2}",
        t.elapsed().as_secs_f64(),
        cal.expansion_search,
        cal.exact,
        cal.trials,
        cal.exact_ms
    );
    let t = Instant::now();
    let res: Vec<_> = queries
        .iter()
        .map(|q| idx.search(q, 10, Filter::All).unwrap())
        .collect();
    println!(
        "search(All) after calibration: recall@10 {:.3}, {:.3} ms/query",
        recall(&res),
        t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64
    );

    // Filtered searches.
    let allowed: Vec<u64> = (0..n as u64).filter(|k| k % 50 == 3).collect(); // 2%
    let t = Instant::now();
    for q in &queries {
        idx.search(q, 10, Filter::Allowed(&allowed)).unwrap();
    }
    println!(
        "search(Allowed {} keys = 2%): {:.2} ms/query (exact over the allowed keys via usearch get)",
        allowed.len(),
        t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64
    );
    let pred = |k: u64| k % 100 == 7;
    let t = Instant::now();
    for q in &queries {
        idx.search(q, 10, Filter::Predicate(&pred)).unwrap();
    }
    println!(
        "search(Predicate 1%): {:.2} ms/query (sampled estimate -> exact scan)",
        t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64
    );
    let pred10 = |k: u64| k % 10 == 7;
    let t = Instant::now();
    let res: Vec<_> = queries
        .iter()
        .map(|q| idx.search(q, 10, Filter::Predicate(&pred10)).unwrap())
        .collect();
    let el = t.elapsed().as_secs_f64();
    let tr: Vec<_> = queries
        .iter()
        .map(|q| idx.exact_search(q, 10, Filter::Predicate(&pred10)).unwrap())
        .collect();
    let hits: usize = res
        .iter()
        .zip(&tr)
        .map(|(g, t)| {
            g.iter()
                .filter(|(k, _)| t.iter().any(|x| x.0 == *k))
                .count()
        })
        .sum();
    println!(
        "search(Predicate 10%): {:.2} ms/query, recall@10 {:.3} ({})",
        el * 1e3 / queries.len() as f64,
        hits as f64 / (10 * res.len()) as f64,
        if 10 * n / 100 > 20_000.max(n / 50) {
            "filtered HNSW walk"
        } else {
            "exact scan"
        }
    );

    scan_cost(&idx, &data, &queries, n);

    // Persistence.
    let t = Instant::now();
    idx.checkpoint().unwrap();
    let ck = t.elapsed().as_secs_f64();
    drop(idx);
    let size: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let t = Instant::now();
    let idx = VectorIndex::open(&dir, DIM).unwrap();
    println!(
        "checkpoint: {:.2} s, files {} MiB; reopen from snapshot: {:.2} s (len {})",
        ck,
        size >> 20,
        t.elapsed().as_secs_f64(),
        idx.len()
    );
    // WAL replay of 10% of the index on top of the snapshot
    let extra: Vec<(u64, Vec<f32>)> = (0..n as u64 / 10)
        .map(|k| (n as u64 + k, gen.sample(&mut r)))
        .collect();
    for c in extra.chunks(1000) {
        idx.insert_batch(c).unwrap();
    }
    drop(idx);
    let t = Instant::now();
    let idx = VectorIndex::open(&dir, DIM).unwrap();
    println!(
        "reopen with {} vectors in the WAL: {:.2} s (replay re-inserts into the graph)",
        extra.len(),
        t.elapsed().as_secs_f64()
    );
    drop(idx);
}

fn scan_cost(idx: &VectorIndex, data: &[(u64, Vec<f32>)], queries: &[Vec<f32>], n: usize) {
    // Raw-vector access for exact scans: usearch get (one copy) vs a flat f32 matrix (second copy).
    let flat: Vec<f32> = data.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    let sub: Vec<u64> = (0..n as u64).step_by(5).collect(); // 20%
    let t = Instant::now();
    for q in queries.iter().take(20) {
        idx.exact_search(q, 10, Filter::Allowed(&sub)).unwrap();
    }
    let get_ns = t.elapsed().as_secs_f64() * 1e9 / (20 * sub.len()) as f64;
    let t = Instant::now();
    let mut acc = 0f32;
    for q in queries.iter().take(20) {
        for k in &sub {
            let i = *k as usize * DIM;
            acc += dot(q, &flat[i..i + DIM]);
        }
    }
    let flat_ns = t.elapsed().as_secs_f64() * 1e9 / (20 * sub.len()) as f64;
    println!(
        "exact scan cost per key: usearch get + dot {get_ns:.0} ns, flat matrix dot {flat_ns:.0} ns ({acc:.1}); flat copy would add {} MiB",
        (flat.len() * 4) >> 20
    );
    drop(flat);
}
