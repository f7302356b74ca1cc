//! Support code shared by the benches (data loading).
pub fn placeholder() {}
