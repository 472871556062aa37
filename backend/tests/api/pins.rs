//! Tests of pins (being written).
