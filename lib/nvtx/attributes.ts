// Event attributes as users write them ({ color, category, payload }) → the flat arguments of the addon's
// *Ex calls. Kept apart from Domain so the encoding rules live in one place.
import { PayloadKind } from './native.js';
import { argError, checkUint32 } from './validate.js';

export type PayloadType = 'int32' | 'uint32' | 'int64' | 'uint64' | 'float' | 'double';

/**
 * A number or BigInt picks its column: integers (safe) and BigInts that fit go to int64, other BigInts to
 * uint64, fractions to double. `{ type, value }` chooses explicitly.
 */
export type Payload = number | bigint | { type: PayloadType; value: number | bigint };

export interface EventAttributes {
  /** ARGB as a 32-bit unsigned integer, e.g. `0xff00aa00` (opaque green). */
  color?: number;
  /** A category id (uint32) or a name; names get the lowest free id in the domain and are named in NVTX. */
  category?: number | string;
  payload?: Payload;
}

export interface EncodedAttributes {
  category: number;
  color: number | undefined;
  payloadKind: number;
  payload: number | bigint | undefined;
}

const INT64_MAX = 0x7fffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;
const UINT64_MAX = 0xffffffffffffffffn;
const FLOAT_MAX = 3.4028234663852886e38;

/**
 * What each explicit payload type accepts, so a value never changes on its way to NVTX: integer types
 * take integers that fit (2^40 as int32, -1 as uint32 or NaN would be silently wrapped or zeroed),
 * `float` any number within float's range (NaN and ±Infinity included), `double` any number.
 */
const TYPED_RANGE: Record<PayloadType, { lo: bigint; hi: bigint; text: string } | null> = {
  int32: { lo: -(2n ** 31n), hi: 2n ** 31n - 1n, text: 'an integer from -2147483648 to 2147483647 (int32)' },
  uint32: { lo: 0n, hi: 2n ** 32n - 1n, text: 'an integer from 0 to 4294967295 (uint32)' },
  int64: { lo: INT64_MIN, hi: INT64_MAX, text: 'an integer from -2^63 to 2^63-1 (int64)' },
  uint64: { lo: 0n, hi: UINT64_MAX, text: 'an integer from 0 to 2^64-1 (uint64)' },
  float: null,
  double: null,
};

function checkTyped(type: PayloadType, value: number | bigint, fn: string): void {
  const range = TYPED_RANGE[type];
  if (range === null) {
    if (type === 'float' && Number.isFinite(value) && Math.abs(value as number) > FLOAT_MAX) {
      throw argError(fn, 1, 'payload.value', 'a number within float range (±3.4028234663852886e38), NaN or ±Infinity (float)', true);
    }
    return;
  }
  const integer = typeof value === 'bigint' ? value : Number.isInteger(value) ? BigInt(value) : null;
  if (integer === null || integer < range.lo || integer > range.hi) throw argError(fn, 1, 'payload.value', range.text, true);
}

function encodePayload(payload: Payload, fn: string): { kind: number; value: number | bigint } {
  if (typeof payload === 'number') {
    return { kind: Number.isSafeInteger(payload) ? PayloadKind.int64 : PayloadKind.double, value: payload };
  }
  if (typeof payload === 'bigint') {
    if (payload >= INT64_MIN && payload <= INT64_MAX) return { kind: PayloadKind.int64, value: payload };
    if (payload > INT64_MAX && payload <= UINT64_MAX) return { kind: PayloadKind.uint64, value: payload };
    throw argError(fn, 1, 'payload', 'a BigInt that fits in 64 bits', true);
  }
  if (typeof payload === 'object' && payload !== null && typeof payload.type === 'string') {
    const type = payload.type as PayloadType;
    const kind = Object.hasOwn(TYPED_RANGE, type) ? PayloadKind[type] : undefined;
    const value = payload.value;
    if (kind === undefined) throw argError(fn, 1, 'payload.type', "one of 'int32', 'uint32', 'int64', 'uint64', 'float', 'double'", true);
    const wide = kind === PayloadKind.int64 || kind === PayloadKind.uint64;
    if (!(typeof value === 'number' || (wide && typeof value === 'bigint'))) {
      throw argError(fn, 1, 'payload.value', wide ? 'a number or a BigInt' : 'a number');
    }
    checkTyped(type, value, fn);
    return { kind, value };
  }
  throw argError(fn, 1, 'payload', 'a number, a BigInt or { type, value }');
}

export function encodeAttributes(
  attrs: EventAttributes,
  fn: string,
  categoryId: (name: string) => number,
): EncodedAttributes {
  if (typeof attrs !== 'object' || attrs === null) throw argError(fn, 1, 'options', 'an object');
  let category = 0;
  if (attrs.category !== undefined) {
    if (typeof attrs.category === 'string') category = categoryId(attrs.category);
    else {
      checkUint32(attrs.category, fn, 1, 'options.category');
      category = attrs.category;
    }
  }
  if (attrs.color !== undefined) checkUint32(attrs.color, fn, 1, 'options.color');
  let payloadKind: number = PayloadKind.none;
  let payload: number | bigint | undefined;
  if (attrs.payload !== undefined) {
    const encoded = encodePayload(attrs.payload, fn);
    payloadKind = encoded.kind;
    payload = encoded.value;
  }
  return { category, color: attrs.color, payloadKind, payload };
}
