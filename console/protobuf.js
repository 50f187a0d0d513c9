// A protobuf wire-format reader, as much as KPL aggregated records need: the fields of one
// message, each with its number and its value — a BigInt for varints, bytes for
// length-delimited fields; fixed-width fields are skipped. Malformed input throws.

export function* fields(bytes) {
  let at = 0;
  const varint = () => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (at >= bytes.length) throw new Error('truncated varint');
      const byte = bytes[at++];
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
    throw new Error('varint longer than 10 bytes');
  };
  const skip = (n) => {
    if (at + n > bytes.length) throw new Error('truncated field');
    at += n;
  };
  while (at < bytes.length) {
    const key = varint();
    const number = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (number === 0) throw new Error('field number 0');
    if (wireType === 0) yield { number, value: varint() };
    else if (wireType === 2) {
      const length = Number(varint());
      const start = at;
      skip(length);
      yield { number, value: bytes.subarray(start, at) };
    } else if (wireType === 1) skip(8);
    else if (wireType === 5) skip(4);
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}
