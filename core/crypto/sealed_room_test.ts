// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import { readEnvelopeHeader } from "./envelope.ts";
import { RoomKey } from "./room_key.ts";
import { SealedMessageError } from "./sealed_message_error.ts";
import { SealedRoom } from "./sealed_room.ts";
import { SenderIdentity } from "./sender_identity.ts";

const key = RoomKey.fromBytes(new Uint8Array(32).fill(3));

Deno.test("SealedRoom.seal() numbers messages 1, 2, 3 within one session", async () => {
  const room = new SealedRoom("general", key);
  const bodies = await Promise.all(
    ["a", "b", "c"].map((text) => room.seal({ sender: "ada", text, time: 1000 })),
  );
  assert.deepEqual(bodies.map((b) => readEnvelopeHeader(b).seq), [1, 2, 3]);
  assert.equal(room.seq, 3);
  for (const body of bodies) {
    assert.equal(readEnvelopeHeader(body).session, room.session);
    assert.equal(readEnvelopeHeader(body).keyId, room.keyId);
  }
});

Deno.test("SealedRoom gives every session its own random id", () => {
  const ids = new Set(
    Array.from({ length: 20 }, () => new SealedRoom("general", key).session),
  );
  assert.equal(ids.size, 20);
  assert.match([...ids][0]!, /^[A-Za-z0-9_-]{22}$/);
});

Deno.test("SealedRoom.open() opens another session's messages once", async () => {
  const ada = new SealedRoom("general", key);
  const bob = new SealedRoom("general", key, { session: "bob-1" });
  const body = await ada.seal({ sender: "ada", text: "hi bob", time: 5 });
  const message = await bob.open(body);
  assert.equal(message.text, "hi bob");
  assert.equal(message.sender, "ada");
  assert.equal(message.session, ada.session);
  await assert.rejects(
    bob.open(body),
    (error) => error instanceof SealedMessageError && error.code === "replay",
  );
});

Deno.test("SealedRoom.open() refuses messages sealed for another room", async () => {
  const general = new SealedRoom("general", key);
  const random = new SealedRoom("random", key);
  const body = await general.seal({ sender: "ada", text: "hi", time: 5 });
  await assert.rejects(random.open(body), {
    name: "SealedMessageError",
    code: "wrong_room",
    message: "Cannot open sealed message in #random: envelope was sealed for #general",
  });
});

Deno.test("SealedRoom signs with its identity and shows the sender as verified", async () => {
  const identity = await SenderIdentity.generate();
  const ada = new SealedRoom("general", key, { identity });
  const bob = new SealedRoom("general", key);
  const first = await bob.open(await ada.seal({ sender: "ada", text: "1", time: 1 }));
  const second = await bob.open(await ada.seal({ sender: "ada", text: "2", time: 2 }));
  assert.equal(first.signer, identity.publicKey);
  assert.deepEqual([first.trust, second.trust], ["first_use", "trusted"]);
  assert.equal(second.verified, true);
  const mallory = new SealedRoom("general", key, {
    identity: await SenderIdentity.generate(),
  });
  const impostor = await bob.open(await mallory.seal({ sender: "ada", text: "3", time: 3 }));
  assert.equal(impostor.trust, "changed");
  assert.equal(impostor.verified, false);
});
