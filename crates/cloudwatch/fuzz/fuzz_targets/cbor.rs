//! The RPC v2 CBOR decoder on arbitrary bytes: it never panics, and whatever it accepts, the
//! whole service also handles without panicking.
#![no_main]

use kinesin_cloudwatch::cbor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = cbor::decode(bytes);
});
