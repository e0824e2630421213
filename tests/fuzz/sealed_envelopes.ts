/**
 * Fuzz properties of sealed-room envelopes as nodes and clients receive
 * them: `readEnvelopeHeader` (nodes, without the key) and `openMessage`
 * (clients, with it).
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  EnvelopeSyntaxError,
  openMessage,
  readEnvelopeHeader,
  RoomKey,
  SealedMessageError,
  sealMessage,
  SenderIdentity,
  SignerPins,
} from "../../core/crypto/mod.ts";
import { decodeBase64, encodeBase64 } from "../../core/crypto/_base64.ts";
import { assertParameters, type FuzzProperty, mutatedBytes, nastyString } from "./arbitraries.ts";

interface Fixture {
  key: RoomKey;
  envelopes: Uint8Array[];
}

let fixture: Promise<Fixture> | undefined;

function setUp(): Promise<Fixture> {
  fixture ??= (async () => {
    const key = RoomKey.fromBytes(new Uint8Array(32).fill(7));
    const identity = await SenderIdentity.generate();
    const message = { room: "general", sender: "ada", session: "s1", seq: 1, time: 0, text: "hi" };
    const envelopes = [
      await sealMessage(key, message),
      await sealMessage(key, { ...message, seq: 2, text: "signed ✓" }, { identity }),
    ].map((e) => decodeBase64(e, "base64url"));
    return { key, envelopes };
  })();
  return fixture;
}

/** Envelope strings: mutated valid ones, base64url noise, or any text. */
function envelopeText(envelopes: Uint8Array[]): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: mutatedBytes(fc.constantFrom(...envelopes)).map((b) =>
        encodeBase64(b, "base64url")
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...envelopes).map((b) => encodeBase64(b, "base64url")),
    },
    { weight: 1, arbitrary: fc.base64String({ maxLength: 200 }).map((s) => s.replace(/=+$/, "")) },
    { weight: 1, arbitrary: nastyString },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...envelopes), fc.nat(), fc.string({ maxLength: 3 })).map(
        ([b, at, s]) => {
          const text = encodeBase64(b, "base64url");
          const i = at % (text.length + 1);
          return text.slice(0, i) + s + text.slice(i + 1);
        },
      ),
    },
  );
}

/** The sealed-envelope properties. */
export const sealedEnvelopeProperties: FuzzProperty[] = [
  {
    name: "sealed envelopes: readEnvelopeHeader gives a header or EnvelopeSyntaxError",
    async run(options) {
      const { envelopes } = await setUp();
      fc.assert(
        fc.property(envelopeText(envelopes), (text) => {
          try {
            const info = readEnvelopeHeader(text);
            for (const field of [info.room, info.sender, info.session]) {
              assert.equal(typeof field, "string");
            }
          } catch (error) {
            assert.ok(error instanceof EnvelopeSyntaxError, `threw ${error}`);
          }
        }),
        assertParameters(options),
      );
    },
  },
  {
    name: "sealed envelopes: openMessage opens only the originals, else SealedMessageError",
    weight: 0.2,
    async run(options) {
      const { key, envelopes } = await setUp();
      const originals = new Set(envelopes.map((b) => encodeBase64(b, "base64url")));
      await fc.assert(
        fc.asyncProperty(envelopeText(envelopes), async (text) => {
          try {
            const opened = await openMessage(key, text, {
              room: "general",
              pins: new SignerPins(),
            });
            assert.ok(originals.has(text), "opened an altered envelope");
            assert.equal(opened.sender, "ada");
          } catch (error) {
            assert.ok(error instanceof SealedMessageError, `threw ${error}`);
          }
        }),
        assertParameters(options),
      );
    },
  },
];
