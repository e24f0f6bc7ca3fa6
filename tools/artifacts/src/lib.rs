//! Paths of Warden's WebAssembly components, built by this crate's build
//! script: the test fixtures under `tools/testing/` and the bundled tools.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
