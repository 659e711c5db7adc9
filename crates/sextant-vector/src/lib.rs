//! sextant-vector
