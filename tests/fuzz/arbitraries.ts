/**
 * Shared fast-check arbitraries for the decoder fuzzers: hostile JSON values
 * (deep nesting, `__proto__`, huge and odd numbers, unicode), valid frames to
 * start from, byte-level mutations of them (bit flips, truncation, splicing,
 * insertion of invalid UTF-8) and random chunkings of a byte stream.
 *
 * @module
 */
import fc from "fast-check";

/** How one fuzz property is run: run count, and a seed/path to replay. */
export interface FuzzRunOptions {
  /** Number of generated cases. */
  numRuns: number;
  /** Seed to replay (from a fast-check failure report). @default random */
  seed?: number;
  /** Path to replay (from a fast-check failure report). @default none */
  path?: string;
}

/** One named property, runnable with any run count. */
export interface FuzzProperty {
  /** Stable name, `area: what is checked`. */
  readonly name: string;
  /** Share of the run count this property gets (slow async ones less). @default 1 */
  readonly weight?: number;
  /** Runs the property; rejects with fast-check's report on a counterexample. */
  run(options: FuzzRunOptions): Promise<void>;
}

/**
 * fast-check parameters from {@linkcode FuzzRunOptions}.
 *
 * @param options Run count, seed, path.
 * @returns Parameters for `fc.assert`.
 */
export function assertParameters(options: FuzzRunOptions): fc.Parameters<unknown> {
  const { numRuns, seed, path } = options;
  return {
    numRuns,
    ...(seed === undefined ? {} : { seed }),
    ...(path === undefined ? {} : { path }),
    endOnFailure: path !== undefined,
  };
}

/** Strings that tend to break parsers and terminals. */
const NASTY_STRINGS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "",
  " ",
  "\u0000",
  "\x1b[2J\x1b]0;pwned\x07",
  "\x9b31m\x9d0;x\x9c",
  "\ud800",
  "\udfff",
  "\ufeff",
  "\u202e",
  "👩‍👩‍👧‍👦",
  "e\u0301",
  "a".repeat(70),
  "a".repeat(5000),
  "lobby",
  "n1",
  "message",
];

/** A string from a mix of nasty constants, unicode and binary code units. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NASTY_STRINGS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
);

/** Numbers at the edges: huge, negative, fractional, unsafe, -0. */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 53 - 1,
    2 ** 53,
    2 ** 53 + 2,
    1e308,
    -1e308,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    0.5,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.maxSafeNat(),
);

/** A JSON value with hostile keys and numbers, nested up to `depth` levels. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    nastyNumber,
    nastyString,
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.oneof(nastyString, fc.constantFrom("t", "k", "v", "text")), tie("value"), {
      maxKeys: 5,
    }),
  ),
})).value;

/**
 * An object that looks like `base` with some fields replaced by hostile
 * values, some deleted and some added (including an own `__proto__`).
 *
 * @param base A valid value to start from.
 * @returns Near-valid variants of it.
 */
export function mutatedRecord(base: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(base);
  return fc.record({
    replace: fc.dictionary(fc.constantFrom(...keys), hostileJson, { maxKeys: 3 }),
    remove: fc.subarray(keys, { maxLength: Math.min(2, keys.length) }),
    add: fc.dictionary(fc.oneof(nastyString, fc.constant("__proto__")), hostileJson, {
      maxKeys: 2,
    }),
  }).map(({ replace, remove, add }) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(base)) {
      if (!remove.includes(k)) out[k] = Object.hasOwn(replace, k) ? replace[k] : v;
    }
    for (const [k, v] of Object.entries(add)) {
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true });
    }
    return out;
  });
}

/** A JSON text nested `depth` levels deep, as arrays or objects. */
export const deepJsonText: fc.Arbitrary<string> = fc.record({
  depth: fc.integer({ min: 1, max: 5000 }),
  object: fc.boolean(),
  closed: fc.boolean(),
}).map(({ depth, object, closed }) => {
  const open = object ? '{"a":' : "[";
  const close = object ? "}" : "]";
  return open.repeat(depth) + "1" + (closed ? close.repeat(depth) : "");
});

/** A JSON text with a number literal far outside double precision. */
export const hugeNumberText: fc.Arbitrary<string> = fc.record({
  digits: fc.integer({ min: 1, max: 400 }),
  exp: fc.integer({ min: -100_000, max: 100_000 }),
}).map(({ digits, exp }) => `{"t":"hello","v":${"9".repeat(digits)}e${exp},"user":"x"}`);

const encoder = new TextEncoder();

/**
 * Byte mutations of a valid input: bit flips, byte overwrites, truncation,
 * splicing with other bytes, insertion of invalid UTF-8 and of newlines.
 *
 * @param valid The bytes to start from.
 * @returns Mutated copies.
 */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const mutation = fc.oneof(
    fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ op: fc.constant("set" as const), at: fc.nat(), byte: fc.nat(255) }),
    fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({
      op: fc.constant("splice" as const),
      at: fc.nat(),
      bytes: fc.oneof(
        fc.uint8Array({ maxLength: 16 }),
        fc.constantFrom(
          new Uint8Array([0xff]),
          new Uint8Array([0xc0, 0x80]),
          new Uint8Array([0xed, 0xa0, 0x80]),
          new Uint8Array([0xf4, 0x90, 0x80, 0x80]),
          new Uint8Array([0xe2, 0x82]),
          new Uint8Array([0x0a]),
          new Uint8Array([0x0d, 0x0a]),
          new Uint8Array([0xef, 0xbb, 0xbf]),
          encoder.encode('"__proto__":{"t":"say"},'),
        ),
      ),
    }),
    fc.record({ op: fc.constant("cut" as const), at: fc.nat(), length: fc.nat(32) }),
  );
  return fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 6 })).map(
    ([bytes, mutations]) => {
      let out = Uint8Array.from(bytes);
      for (const m of mutations) {
        const at = out.length === 0 ? 0 : m.at % (out.length + 1);
        switch (m.op) {
          case "flip":
            if (at < out.length) out[at] = out[at]! ^ (1 << m.bit);
            break;
          case "set":
            if (at < out.length) out[at] = m.byte;
            break;
          case "truncate":
            out = out.slice(0, at);
            break;
          case "splice": {
            const next = new Uint8Array(out.length + m.bytes.length);
            next.set(out.subarray(0, at));
            next.set(m.bytes, at);
            next.set(out.subarray(at), at + m.bytes.length);
            out = next;
            break;
          }
          case "cut": {
            const end = Math.min(out.length, at + m.length);
            const next = new Uint8Array(out.length - (end - at));
            next.set(out.subarray(0, at));
            next.set(out.subarray(end), at);
            out = next;
            break;
          }
        }
      }
      return out;
    },
  );
}

/** Valid client frames, as JSON values. */
export const validClientFrame: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ t: fc.constant("hello"), v: fc.constant(1), user: fc.string({ maxLength: 16 }) }),
  fc.record({ t: fc.constant("say"), text: fc.string({ maxLength: 60 }), cid: fc.uuid() }),
  fc.record({ t: fc.constant("cmd"), line: fc.constantFrom("/join x", "/nick y", "/who") }),
  fc.constant({ t: "ping" }),
);

/** Valid client frames, encoded as NDJSON lines. */
export const validFrameBytes: fc.Arbitrary<Uint8Array> = fc.array(validClientFrame, {
  minLength: 1,
  maxLength: 4,
}).map((frames) => encoder.encode(frames.map((f) => JSON.stringify(f) + "\n").join("")));

/** Bytes to throw at a line decoder: random, mutated valid, deep or huge. */
export const hostileStreamBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 256 }),
  mutatedBytes(validFrameBytes),
  fc.oneof(deepJsonText, hugeNumberText).map((text) => encoder.encode(text + "\n")),
  hostileJson.map((v) => encoder.encode(JSON.stringify(v) + "\n")),
);

/**
 * Cuts `bytes` into chunks at the given (unsorted, possibly repeated) points.
 *
 * @param bytes The stream.
 * @param cuts Cut positions, taken modulo `bytes.length + 1`.
 * @returns The chunks, in order; empty chunks included.
 */
export function chunk(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    out.push(bytes.subarray(start, p));
    start = p;
  }
  out.push(bytes.subarray(start));
  return out;
}

/**
 * Values as they come off the wire: through `JSON.stringify` and
 * `JSON.parse`, so objects have the normal prototype (an own `__proto__` key
 * stays an own key), and `-0` and non-JSON values are gone.
 *
 * @param arbitrary Any JSON-serialisable values.
 * @returns The same values after a JSON round trip.
 */
export function wire<T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return arbitrary.map((value) => JSON.parse(JSON.stringify(value) ?? "null"));
}

/** Cut points for {@linkcode chunk}. */
export const cutPoints: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 8 });
