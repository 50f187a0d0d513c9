//! Sequence numbers in the real service's version-2 layout (`docs/protocol/sequence-numbers.md`,
//! "Sequence-number layout").
//!
//! A sequence number is a 188-bit value written in decimal. From the most significant end:
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

/// The fields a sequence number carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceNumber {
    pub shard_created_secs: u64,
    pub seq_ix: u64,
    pub arrival_secs: u64,
    pub shard_index: u32,
}

/// Why a string is not a sequence number this server can have issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqParseError {
    /// Not decimal digits, or too large for 188 bits.
    Malformed,
    /// A well-formed number in a layout other than version 2.
    UnknownVersion,
}

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

    /// Parses the decimal form. Only version-2 numbers (the kind this server issues) decode.
    pub fn parse(s: &str) -> Result<SequenceNumber, SeqParseError> {
        let v = U192::from_decimal(s).ok_or(SeqParseError::Malformed)?;
        if v.get(188, 4) != 0 {
            return Err(SeqParseError::Malformed);
        }
        if v.get(0, 4) != 2 || v.get(184, 4) != 2 {
            return Err(SeqParseError::UnknownVersion);
        }
        Ok(SequenceNumber {
            shard_created_secs: v.get(148, 36),
            seq_ix: v.get(80, 64),
            arrival_secs: v.get(36, 36),
            shard_index: v.get(4, 32) as u32,
        })
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
