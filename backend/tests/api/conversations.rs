//! Tests of conversations.
