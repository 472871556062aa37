//! Tests of users (being written).
