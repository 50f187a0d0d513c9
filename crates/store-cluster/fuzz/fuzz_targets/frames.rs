//! Any bytes, as a whole object and as one frame's span, through the object decoder of
//! kinesin-store-cluster: nothing may panic, and whatever decodes encodes back to the same
//! bytes (docs/cluster.md, "The object format").
//!
//! Run with `cargo +nightly fuzz run frames` from `crates/store-cluster`.

#![no_main]

use bytes::Bytes;
use kinesin_store_cluster::frame::{decode_frame, decode_object, encode_object, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(frames) = decode_object(&bytes) {
        let (encoded, _) = encode_object(&frames).expect("decoded frames encode");
        assert_eq!(encoded, bytes, "an object decodes only from its own encoding");
    }
    if let Ok(frame) = decode_frame(bytes.clone()) {
        let (encoded, _) = encode_object(std::slice::from_ref(&frame)).expect("a decoded frame encodes");
        assert_eq!(&encoded[HEADER_LEN..], &bytes[..], "a frame decodes only from its own encoding");
    }
});
