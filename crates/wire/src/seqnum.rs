//! Sequence numbers: the version-2 layout this server issues (`docs/protocol/sequence-numbers.md`,
//! "Sequence-number layout"), and the older layouts AWS still accepts from clients
//! (`docs/protocol/corners.md`, "Sequence numbers in every layout").
//!
//! A version-2 sequence number is a 188-bit value written in decimal. From the most
//! significant end:
//!
//! | bits | field |
//! |---|---|
//! | 4   | constant `2` |
//! | 36  | shard creation time, epoch seconds |
//! | 4   | low nibble of the shard index |
//! | 64  | per-shard sequence index (`seq_ix`) |
//! | 8   | unknown byte, `0` |
//! | 36  | record arrival time, epoch seconds |
//! | 32  | shard index |
//! | 4   | version, `2` |
//!
//! Within a shard only `seq_ix` and the arrival time vary, and `seq_ix` sits above the arrival
//! time, so a per-shard counter alone makes the numbers strictly increasing even if the clock
//! goes backwards.
//!
//! Version 1 has the same frame (a leading `2`, the creation time, the 32-bit shard index and
//! the version nibble `1`), with the arrival time right after an unknown byte and a random
//! part where version 2 has `seq_ix`. Version 0 is a 128-bit number: a leading nibble, 36 bits
//! of creation time, an unknown byte, 64 random bits and a 16-bit shard index; AWS reads any
//! number below 2^124 in this layout, as if its leading nibble were `1`.

/// The fields a sequence number carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceNumber {
    pub shard_created_secs: u64,
    pub seq_ix: u64,
    pub arrival_secs: u64,
    pub shard_index: u32,
}

/// Why a string is not a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqParseError {
    /// Not decimal digits, or too large for 188 bits.
    Malformed,
    /// A well-formed number in no layout the parser reads.
    UnknownVersion,
    /// A field AWS refuses: a negative shard index or a `seq_ix` with its top bit set
    /// (versions 1 and 2), or a shard created at or after [`SHARD_CREATION_SECS_LIMIT`]
    /// (version 0).
    OutOfRange,
}

/// The layouts AWS has issued sequence numbers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    V0,
    V1,
    V2,
}

/// AWS refuses a version-0 sequence number whose shard was created at or after this second (in
/// the year 2477). Version 2 has no such limit: AWS accepted one whose creation field is all
/// ones.
pub const SHARD_CREATION_SECS_LIMIT: u64 = 16_025_175_000;

const SECONDS_MASK: u64 = (1 << 36) - 1;

/// A 192-bit unsigned integer as three little-endian 64-bit limbs; just enough arithmetic for
/// the decimal conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct U192([u64; 3]);

impl U192 {
    /// Sets `width` bits at bit offset `at` (fields never straddle more than two limbs).
    fn put(&mut self, at: u32, width: u32, value: u64) {
        let value = value as u128 & ((1u128 << width) - 1);
        let limb = (at / 64) as usize;
        let shift = at % 64;
        let shifted = value << shift;
        self.0[limb] |= shifted as u64;
        if limb + 1 < 3 {
            self.0[limb + 1] |= (shifted >> 64) as u64;
        }
    }

    /// Like [`Self::put`], but replacing what the field held.
    fn set(&mut self, at: u32, width: u32, value: u64) {
        let mut mask = U192::default();
        mask.put(at, width, u64::MAX);
        for (limb, mask) in self.0.iter_mut().zip(mask.0) {
            *limb &= !mask;
        }
        self.put(at, width, value);
    }

    /// 2^`at`.
    fn bit(at: u32) -> U192 {
        let mut v = U192::default();
        v.put(at, 1, 1);
        v
    }

    fn get(&self, at: u32, width: u32) -> u64 {
        let limb = (at / 64) as usize;
        let shift = at % 64;
        let mut window = self.0[limb] as u128;
        if limb + 1 < 3 {
            window |= (self.0[limb + 1] as u128) << 64;
        }
        ((window >> shift) & ((1u128 << width) - 1)) as u64
    }

    /// `self * 10 + digit`, or `None` on overflow.
    fn mul10_add(&self, digit: u64) -> Option<U192> {
        let mut out = [0u64; 3];
        let mut carry = digit as u128;
        for (i, limb) in self.0.iter().enumerate() {
            let v = (*limb as u128) * 10 + carry;
            out[i] = v as u64;
            carry = v >> 64;
        }
        (carry == 0).then_some(U192(out))
    }

    fn to_decimal(self) -> Decimal {
        // Peel off 9 digits at a time from 32-bit limbs, so that every division is a u64 one
        // by a constant (a multiplication) rather than a 128-bit library call, and skip the
        // limbs already divided down to zero.
        let mut limbs = [0u32; 6];
        for (i, limb) in self.0.iter().enumerate() {
            limbs[2 * i] = *limb as u32;
            limbs[2 * i + 1] = (*limb >> 32) as u32;
        }
        let mut len = limbs.len();
        let mut decimal = Decimal::default();
        for chunk in decimal.0.iter_mut() {
            while len > 0 && limbs[len - 1] == 0 {
                len -= 1;
            }
            let mut rem = 0u64;
            for limb in limbs[..len].iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / CHUNK) as u32;
                rem = cur % CHUNK;
            }
            *chunk = rem as u32;
        }
        decimal
    }

    fn from_decimal(s: &str) -> Option<U192> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.bytes().try_fold(U192::default(), |acc, b| acc.mul10_add(u64::from(b - b'0')))
    }
}

/// Nine decimal digits: the base of [`Decimal`].
const CHUNK: u64 = 1_000_000_000;

/// A number in base 10^9, least significant chunk first; seven chunks hold any U192.
#[derive(Debug, Clone, Copy, Default)]
struct Decimal([u32; 7]);

impl Decimal {
    fn add(&mut self, other: &Decimal) {
        let mut carry = 0;
        for (chunk, other) in self.0.iter_mut().zip(other.0) {
            let sum = *chunk + other + carry;
            carry = u32::from(sum >= CHUNK as u32);
            *chunk = sum - carry * CHUNK as u32;
        }
    }

    fn text(self) -> SequenceText {
        // Zero's text is all zeros: only the non-zero chunks need writing.
        let mut text = SequenceText { digits: [b'0'; 63], start: 0 };
        text.update(&Decimal::default(), &self);
        text
    }
}

/// A sequence number's decimal form, held on the stack: a PutRecords answer writes 500 of
/// them straight into its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceText {
    digits: [u8; 63],
    /// Where the digits start: there are no leading zeros (but "0" for zero).
    start: u8,
}

impl SequenceText {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("ASCII digits")
    }

    /// The digits, for writing into a body without the UTF-8 check of [`Self::as_str`].
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[usize::from(self.start)..]
    }

    /// Turns the text of `old` into that of `new`, writing only the chunks that differ.
    fn update(&mut self, old: &Decimal, new: &Decimal) {
        // Chunk 0, the least significant, holds the last nine digits.
        for (i, out) in self.digits.rchunks_exact_mut(9).enumerate() {
            if old.0[i] != new.0[i] {
                write_nine_digits(new.0[i], out);
            }
        }
        let start = self.digits.iter().position(|&d| d != b'0').unwrap_or(self.digits.len() - 1);
        self.start = start as u8;
    }
}

/// `"00".."99"`, for writing two digits per division.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// `n` (below 10^9) as exactly nine decimal digits, zero-padded.
fn write_nine_digits(mut n: u32, out: &mut [u8]) {
    for at in [7, 5, 3, 1] {
        let pair = (n % 100) as usize * 2;
        out[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        n /= 100;
    }
    out[0] = b'0' + n as u8;
}

impl SequenceNumber {
    /// The decimal form clients see.
    pub fn encode(&self) -> String {
        self.to_u192().to_decimal().text().as_str().to_owned()
    }

    /// The decimal forms of `count` numbers that differ only in `seq_ix`: `self.seq_ix`,
    /// `self.seq_ix + 1`, ... (the records of one append). Each is the one before plus 2^80,
    /// added in decimal, which costs a fraction of encoding it afresh; only the digits of the
    /// nine-digit chunks the addition changed are written again. `self.seq_ix + count - 1`
    /// must fit in 64 bits.
    pub fn encode_run(&self, count: usize) -> impl Iterator<Item = SequenceText> {
        debug_assert!(count == 0 || self.seq_ix.checked_add(count as u64 - 1).is_some());
        let mut step = U192::default();
        step.put(80, 64, 1);
        let step = step.to_decimal();
        let mut number = self.to_u192().to_decimal();
        let mut text = number.text();
        (0..count).map(move |i| {
            if i > 0 {
                let previous = number;
                number.add(&step);
                text.update(&previous, &number);
            }
            text
        })
    }

    fn to_u192(self) -> U192 {
        let mut v = U192::default();
        v.put(0, 4, 2);
        v.put(4, 32, u64::from(self.shard_index));
        v.put(36, 36, self.arrival_secs & SECONDS_MASK);
        v.put(72, 8, 0);
        v.put(80, 64, self.seq_ix);
        v.put(144, 4, u64::from(self.shard_index) & 0xf);
        v.put(148, 36, self.shard_created_secs & SECONDS_MASK);
        v.put(184, 4, 2);
        v
    }

    /// Decodes the decimal form of a version-2 number, whatever its fields hold; what a client
    /// may send is [`ClientSequenceNumber::parse`]'s business.
    pub fn parse(s: &str) -> Result<SequenceNumber, SeqParseError> {
        let v = U192::from_decimal(s).ok_or(SeqParseError::Malformed)?;
        match frame_version(&v) {
            Some(2) => Ok(SequenceNumber::from_v2(&v)),
            _ => Err(SeqParseError::UnknownVersion),
        }
    }

    fn from_v2(v: &U192) -> SequenceNumber {
        SequenceNumber {
            shard_created_secs: v.get(148, 36),
            seq_ix: v.get(80, 64),
            arrival_secs: v.get(36, 36),
            shard_index: v.get(4, 32) as u32,
        }
    }
}

/// The version nibble of a number in the 188-bit frame of versions 1 and 2 (a leading `2`);
/// `None` for a number outside it. Exactly 2^185, the frame's smallest value, is not in it.
fn frame_version(v: &U192) -> Option<u64> {
    let in_frame = v.get(188, 4) == 0 && v.get(184, 4) == 2 && *v != U192::bit(185);
    in_frame.then(|| v.get(0, 4))
}

/// A sequence number as a client sent it (SequenceNumberForOrdering, StartingSequenceNumber),
/// in any layout AWS accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSequenceNumber {
    pub layout: Layout,
    pub shard_created_secs: u64,
    pub shard_index: u32,
    /// The record's arrival second; version 0 does not carry one.
    pub arrival_secs: Option<u64>,
    /// The number, a version-0 one with its leading nibble made `1`.
    value: U192,
}

impl ClientSequenceNumber {
    /// Reads `s` by AWS's rules: below 2^128 it is version 0 (below 2^124 as if it had a
    /// leading `1`), refused with a creation time at or past [`SHARD_CREATION_SECS_LIMIT`]; in
    /// the 188-bit frame the last nibble says version 1 or 2, refused with a negative 32-bit
    /// shard index or (version 2) a `seq_ix` with its top bit set; anything else is invalid.
    pub fn parse(s: &str) -> Result<ClientSequenceNumber, SeqParseError> {
        let value = U192::from_decimal(s).ok_or(SeqParseError::Malformed)?;
        if value.0[2] == 0 {
            Self::version_0(value)
        } else {
            Self::framed(value)
        }
    }

    /// A number below 2^128.
    fn version_0(mut value: U192) -> Result<ClientSequenceNumber, SeqParseError> {
        value.set(124, 4, 1);
        let shard_created_secs = value.get(88, 36);
        if shard_created_secs >= SHARD_CREATION_SECS_LIMIT {
            return Err(SeqParseError::OutOfRange);
        }
        Ok(ClientSequenceNumber {
            layout: Layout::V0,
            shard_created_secs,
            shard_index: value.get(0, 16) as u32,
            arrival_secs: None,
            value,
        })
    }

    /// A version-1 or version-2 number.
    fn framed(value: U192) -> Result<ClientSequenceNumber, SeqParseError> {
        let (layout, arrival_at) = match frame_version(&value) {
            Some(1) => (Layout::V1, 100),
            Some(2) => (Layout::V2, 36),
            _ => return Err(SeqParseError::UnknownVersion),
        };
        // AWS reads the shard index as a signed 32-bit number, and seq_ix as a signed 64-bit one.
        let shard_index = value.get(4, 32) as u32;
        if shard_index > i32::MAX as u32 || (layout == Layout::V2 && value.get(143, 1) == 1) {
            return Err(SeqParseError::OutOfRange);
        }
        Ok(ClientSequenceNumber {
            layout,
            shard_created_secs: value.get(148, 36),
            shard_index,
            arrival_secs: Some(value.get(arrival_at, 36)),
            value,
        })
    }

    /// The fields of a version-2 number, the layout this server issues.
    pub fn version_2(&self) -> Option<SequenceNumber> {
        (self.layout == Layout::V2).then(|| SequenceNumber::from_v2(&self.value))
    }

    /// The number as AWS writes it back in messages: as sent, but a version-0 number in its
    /// 128-bit form with the leading `1` (so `0` is written 2^124).
    pub fn canonical_text(&self) -> String {
        self.value.to_decimal().text().as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_real_aws_sequence_numbers() {
        let s = SequenceNumber::parse("49590338271490256608559692538361571095921575989136588898").unwrap();
        assert_eq!(s.shard_index, 6);
        // Shard created 2018-11-21, record written 2018-12-17.
        assert_eq!(s.shard_created_secs / 86400, 17856);
        assert_eq!(s.arrival_secs / 86400, 17882);
        let s = SequenceNumber::parse("49593949378240586316257100628612811999143984124999500050").unwrap();
        assert_eq!(s.shard_index, 17);
        assert_eq!(s.encode(), "49593949378240586316257100628612811999143984124999500050");
    }

    #[test]
    fn rejects_non_numbers_and_other_versions() {
        assert_eq!(SequenceNumber::parse(""), Err(SeqParseError::Malformed));
        assert_eq!(SequenceNumber::parse("12a"), Err(SeqParseError::Malformed));
        assert_eq!(SequenceNumber::parse(&"9".repeat(60)), Err(SeqParseError::Malformed));
        assert_eq!(SequenceNumber::parse("0"), Err(SeqParseError::UnknownVersion));
        assert_eq!(
            SequenceNumber::parse("21269319989652663814458848515492872193"),
            Err(SeqParseError::UnknownVersion)
        );
    }

    /// A number given in hex, as the recorded answers give them, in decimal.
    fn hex(digits: &str) -> String {
        let mut v = U192::default();
        for d in digits.chars() {
            let mut next = [0u64; 3];
            let mut carry = u64::from(d.to_digit(16).unwrap());
            for (i, limb) in v.0.iter().enumerate() {
                next[i] = (limb << 4) | carry;
                carry = limb >> 60;
            }
            v = U192(next);
        }
        v.to_decimal().text().as_str().to_owned()
    }

    fn client(s: &str) -> Result<ClientSequenceNumber, SeqParseError> {
        ClientSequenceNumber::parse(s)
    }

    #[test]
    fn numbers_below_2_to_the_124_are_version_0_with_a_leading_1() {
        let five = client("5").unwrap();
        assert_eq!((five.layout, five.shard_index, five.arrival_secs), (Layout::V0, 5, None));
        assert_eq!(client("0").unwrap().canonical_text(), "21267647932558653966460912964485513216");
        let old = client("425352958651173072921826052383309826").unwrap();
        assert_eq!(old.canonical_text(), "21693000891209827039382739016868823042");
        assert_eq!(old.shard_index, 2);
        assert_eq!(old.version_2(), None);
        // A 128-bit number keeps its fields, and is written with the leading 1.
        let wide = client(&hex("f3bb2cc3d7ff7fffffffffffffff0000")).unwrap();
        assert_eq!((wide.layout, wide.shard_created_secs), (Layout::V0, 16_025_174_999));
        assert_eq!(wide.canonical_text(), "26227199374821822965252748908982894592");
        assert_eq!(client("21269319989652663814458848515492872193").unwrap().layout, Layout::V0);
    }

    #[test]
    fn version_0_refuses_shards_created_after_2477() {
        assert_eq!(client(&hex("13bb2cc3d80000000000000000000000")), Err(SeqParseError::OutOfRange));
    }

    #[test]
    fn versions_1_and_2_are_read_in_the_188_bit_frame() {
        let v1 = client(&hex("20000000000000000000000000000000000000000000001")).unwrap();
        assert_eq!((v1.layout, v1.shard_index, v1.arrival_secs), (Layout::V1, 0, Some(0)));
        assert_eq!(v1.version_2(), None);
        // Every field at its largest valid value; the creation field has no limit here.
        let top = hex("2ffffffffff7fffffffffffffff000000000007fffffff2");
        let v2 = client(&top).unwrap();
        assert_eq!(
            (v2.layout, v2.shard_created_secs, v2.shard_index),
            (Layout::V2, (1 << 36) - 1, i32::MAX as u32)
        );
        assert_eq!(v2.version_2().unwrap().seq_ix, i64::MAX as u64);
        assert_eq!(v2.canonical_text(), top);
        let real = "49590338271490256608559692538361571095921575989136588898";
        assert_eq!(client(real).unwrap().version_2(), SequenceNumber::parse(real).ok());
    }

    #[test]
    fn refuses_numbers_aws_refuses() {
        for (digits, why) in [
            ("20000000000000000000000000000000000000000000000", SeqParseError::UnknownVersion),
            ("20000000000000000000000000000000000000000000003", SeqParseError::UnknownVersion),
            ("20000000000000000000000000000000000000000000004", SeqParseError::UnknownVersion),
            ("30000000000000000000000000000000000000000000001", SeqParseError::UnknownVersion),
            ("1ffffffffff7fffffffffffffff000000000007fffffff2", SeqParseError::UnknownVersion),
            ("100000000000000000000000000000000", SeqParseError::UnknownVersion),
            // seq_ix's top bit; a negative shard index.
            ("20000000000800000000000000000000000000000000002", SeqParseError::OutOfRange),
            ("20000000000000000000000000000000000000800000002", SeqParseError::OutOfRange),
            ("20000000000000000000000000000000000000800000001", SeqParseError::OutOfRange),
        ] {
            assert_eq!(client(&hex(digits)), Err(why), "{digits}");
        }
        // The example of docs/protocol/corners.md: seq_ix's top bit set.
        assert_eq!(
            client("49039857307719593840066370180380661734935976090628259842"),
            Err(SeqParseError::OutOfRange)
        );
        assert_eq!(client(""), Err(SeqParseError::Malformed));
        assert_eq!(client(&"9".repeat(60)), Err(SeqParseError::Malformed));
    }

    fn seq() -> impl Strategy<Value = SequenceNumber> {
        (0u64..1 << 36, any::<u64>(), 0u64..1 << 36, any::<u32>()).prop_map(|(c, ix, a, sh)| SequenceNumber {
            shard_created_secs: c,
            seq_ix: ix,
            arrival_secs: a,
            shard_index: sh,
        })
    }

    proptest! {
        /// A run gives exactly what encoding each number does, carries included.
        #[test]
        fn runs_match_numbers_encoded_one_by_one(base in seq(), count in 0usize..40) {
            let first = SequenceNumber { seq_ix: base.seq_ix.min(u64::MAX - 40), ..base };
            let run: Vec<String> = first.encode_run(count).map(|text| text.as_str().to_owned()).collect();
            let one_by_one: Vec<String> = (0..count as u64)
                .map(|i| SequenceNumber { seq_ix: first.seq_ix + i, ..first }.encode())
                .collect();
            prop_assert_eq!(run, one_by_one);
        }

        /// Every number this server issues, which never has seq_ix's top bit set, is one a
        /// client may send back.
        #[test]
        fn own_numbers_are_valid_client_numbers(s in seq()) {
            let s = SequenceNumber { seq_ix: s.seq_ix >> 1, shard_index: s.shard_index >> 1, ..s };
            let client = ClientSequenceNumber::parse(&s.encode()).unwrap();
            prop_assert_eq!(client.version_2(), Some(s));
            prop_assert_eq!(client.arrival_secs, Some(s.arrival_secs));
            prop_assert_eq!(client.canonical_text(), s.encode());
        }

        #[test]
        fn round_trips(s in seq()) {
            let text = s.encode();
            prop_assert!(text.len() >= 55 && text.len() <= 57, "{}", text);
            prop_assert_eq!(SequenceNumber::parse(&text), Ok(s));
        }

        /// Within a shard, a larger seq_ix always gives a larger number, whatever the arrival
        /// times, and decimal strings of equal length compare like the numbers.
        #[test]
        fn orders_by_seq_ix_within_a_shard(base in seq(), a in any::<u64>(), b in any::<u64>(),
                                            ta in 0u64..1 << 36, tb in 0u64..1 << 36) {
            prop_assume!(a != b);
            let x = SequenceNumber { seq_ix: a, arrival_secs: ta, ..base }.encode();
            let y = SequenceNumber { seq_ix: b, arrival_secs: tb, ..base }.encode();
            let (xn, yn) = ((x.len(), x.clone()), (y.len(), y.clone()));
            prop_assert_eq!(a < b, xn < yn);
        }
    }
}
