#![doc = include_str!("../SECURITY.md")]
