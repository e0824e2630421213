/**
 * The client's side of `hello`: says it, and when the client has an identity
 * key, answers the node's `challenge` with a signature of it
 * (core/login_proof.ts), so the node admits the client as that key. Pure
 * (no `Deno.*`): the web client can use it too.
 *
 * @module
 */
import { type LoginSigner, signLogin } from "../core/login_proof.ts";
import type { ServerFrame } from "../core/protocol.ts";
import type { NodeLink } from "./chat_client.ts";

/**
 * Says hello and, for a client with a key, answers the challenge.
 *
 * @param conn The connection.
 * @param frames Its frames (already being read).
 * @param hello The `hello` frame, without `key`.
 * @param identity The client's key, if it has one.
 * @returns The node's answer to the hello: `welcome`, an `error`, or done
 *   when the connection closed first.
 */
export async function sayHello(
  conn: NodeLink,
  frames: AsyncGenerator<ServerFrame>,
  hello: Record<string, unknown>,
  identity: LoginSigner | undefined,
): Promise<IteratorResult<ServerFrame>> {
  const frame = identity === undefined ? hello : { ...hello, key: identity.publicKeyLine() };
  await conn.send(frame).catch(() => {});
  const first = await frames.next();
  if (first.done || first.value.t !== "challenge" || identity === undefined) return first;
  const signature = await signLogin(identity, first.value.node, first.value.nonce);
  await conn.send({ t: "auth", signature }).catch(() => {});
  return await frames.next();
}
