#![allow(dead_code)]
//! Shared test data generators.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn gauss(r: &mut StdRng) -> f32 {
    let u1: f32 = r.random::<f32>().max(1e-12);
    let u2: f32 = r.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

pub fn normalize(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt() as f32;
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// Uniformly random unit vectors: the hardest case for graph indexes.
pub fn random_unit(r: &mut StdRng, dim: usize) -> Vec<f32> {
    normalize((0..dim).map(|_| gauss(r)).collect())
}

/// Embedding-like data: a 24-d latent vector through a fixed random projection, plus isotropic
/// noise with 1/16 of its energy (at 384-d, 20k points: top-1 neighbour cosine ~0.68).
pub struct LowRank {
    proj: Vec<f32>,
    dim: usize,
}

pub const LATENT: usize = 24;

impl LowRank {
    pub fn new(r: &mut StdRng, dim: usize) -> Self {
        let s = 4.0 / ((LATENT * dim) as f32).sqrt();
        LowRank {
            proj: (0..dim * LATENT).map(|_| gauss(r) * s).collect(),
            dim,
        }
    }
    pub fn sample(&self, r: &mut StdRng) -> Vec<f32> {
        let z: Vec<f32> = (0..LATENT).map(|_| gauss(r)).collect();
        let noise = random_unit(r, self.dim);
        normalize(
            (0..self.dim)
                .map(|i| {
                    let p = &self.proj[i * LATENT..(i + 1) * LATENT];
                    p.iter().zip(&z).map(|(a, b)| a * b).sum::<f32>() + noise[i]
                })
                .collect(),
        )
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum::<f64>() as f32
}

/// Brute-force top-k over `(key, unit vector)` pairs accepted by `keep`; ties by key.
pub fn brute_top_k(
    data: &[(u64, Vec<f32>)],
    q: &[f32],
    k: usize,
    keep: impl Fn(u64) -> bool,
) -> Vec<(u64, f32)> {
    let q = normalize(q.to_vec());
    let mut all: Vec<(u64, f32)> = data
        .iter()
        .filter(|(key, _)| keep(*key))
        .map(|(key, v)| (*key, dot(&q, v)))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

pub fn recall(got: &[(u64, f32)], truth: &[(u64, f32)]) -> (usize, usize) {
    let hits = got
        .iter()
        .filter(|(k, _)| truth.iter().any(|(t, _)| t == k))
        .count();
    (hits, truth.len())
}
