/**
 * A protocol-v1 client that logs in with a key (core/login_proof.ts): says
 * `hello` with the public key, answers the node's challenge, and runs
 * commands. Shared by the identity tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SshEd25519Key } from "../../core/crypto/ssh_ed25519_key.ts";
import { signLogin } from "../../core/login_proof.ts";
import type { FrameInbox } from "./frame_inbox.ts";
import { type Frame, RawClient } from "./raw_client.ts";

/** A connection the test speaks protocol v1 on (TCP or WebSocket). */
export type Link = FrameInbox & { send(frame: unknown): unknown };

/**
 * Says hello with a key and answers the challenge.
 *
 * @param link The connection.
 * @param key The key.
 * @param user The nick asked for.
 * @returns The node's answer: `welcome` or `error`.
 */
export async function keyHello(link: Link, key: SshEd25519Key, user: string): Promise<Frame> {
  await link.send({ t: "hello", v: 1, user, key: key.publicKeyLine() });
  const challenge = await link.next((f) => f.t === "challenge" || f.t === "error");
  if (challenge.t === "error") return challenge;
  assert.equal(challenge.namespace, "meshchat-login");
  const signature = await signLogin(key, String(challenge.node), String(challenge.nonce));
  await link.send({ t: "auth", signature });
  return await link.next((f) => f.t === "welcome" || f.t === "error");
}

/**
 * Connects to a node's client port and logs in with a key.
 *
 * @param port The client port.
 * @param key The key.
 * @param user The nick.
 * @returns The client, welcomed.
 * @throws {AssertionError} When the node does not welcome it.
 */
export async function keyJoin(port: number, key: SshEd25519Key, user: string): Promise<RawClient> {
  const client = await RawClient.connect(port);
  const answer = await keyHello(client, key, user);
  assert.equal(answer.t, "welcome", JSON.stringify(answer));
  return client;
}

/**
 * What a node answers a hello for a nick.
 *
 * @param port The client port.
 * @param user The nick.
 * @param key A key to log in with; none: a guest.
 * @returns `welcome NICK`, or `error MESSAGE`.
 */
export async function helloAnswer(
  port: number,
  user: string,
  key?: SshEd25519Key,
): Promise<string> {
  const client = await RawClient.connect(port);
  try {
    const answer = key === undefined
      ? (await client.send({ t: "hello", v: 1, user }),
        await client.next((f) => f.t === "welcome" || f.t === "error"))
      : await keyHello(client, key, user);
    return answer.t === "welcome" ? `welcome ${answer.nick}` : `error ${answer.message}`;
  } finally {
    client.close();
  }
}

/**
 * Runs one command.
 *
 * @param client The client.
 * @param line The command line, e.g. `/keys`.
 * @returns Its `info` reply, or the `error` for it.
 */
export async function command(client: RawClient, line: string): Promise<Frame> {
  const cid = crypto.randomUUID().slice(0, 8);
  const name = /^\/(\w+)/.exec(line)![1];
  await client.send({ t: "cmd", line, cid });
  return await client.next((f) =>
    (f.t === "info" && f.cmd === name) || (f.t === "error" && f.cid === cid)
  );
}
