//! The awsQuery form decoder on arbitrary bytes: it never panics, and its pair splitting agrees
//! with the `form_urlencoded` crate's.
#![no_main]

use kinesin_cloudwatch::form;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let reference: Vec<(String, String)> =
        form_urlencoded::parse(bytes).map(|(name, value)| (name.into_owned(), value.into_owned())).collect();
    assert_eq!(form::pairs(bytes), reference);
    let _ = form::decode(bytes);
});
