//! Tests of reactions (being written).
