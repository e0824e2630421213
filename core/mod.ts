// Copyright the meshchat authors. MIT license.
/**
 * The pure core of meshchat: data structures, codecs and rules shared by the
 * node, the terminal client and (later) the browser. Nothing here touches
 * `Deno.*`, sockets, files or timers; time is always passed in.
 *
 * - {@linkcode RingBuffer}: a room's bounded, ordered history with absolute
 *   positions for catch-up.
 * - {@linkcode HybridClock} and {@linkcode compareStamps}: hybrid logical
 *   clock stamps, the total order every node agrees on.
 * - {@linkcode ChatEvent} and {@linkcode VersionVector}: the event log and
 *   what each node has seen of it.
 * - {@linkcode SeenMark}: where a person stopped reading, as the text of a
 *   `seen` event.
 * - {@linkcode FrameDecoder} and {@linkcode encodeFrame}: bounded
 *   newline-delimited JSON framing for the client protocol, whose frames are
 *   described in `protocol.ts`.
 * - {@linkcode sanitizeText}: strips controls, escape sequences and invisible
 *   characters from everything one person shows another.
 * - {@linkcode validateNick}, {@linkcode nickKey}, {@linkcode normalizeRoom}:
 *   nick and room name rules.
 * - {@linkcode TokenBucket}: rate limiting with an injected clock.
 * - {@linkcode CommandTable}: the slash commands shared by every frontend.
 * - {@linkcode parseSearch} and {@linkcode formatHit}: what `/search` asks
 *   for and how a match is shown, the same on the node and in the clients.
 * - {@linkcode FrameView} and {@linkcode TerminalScreen}: what a terminal
 *   shows for each frame, and the screen that draws it (lines above a line
 *   editor, a no-echo secret prompt), shared by the terminal client and the
 *   SSH frontend; {@linkcode formatMsg} formats one event.
 *
 * - {@linkcode signLogin} and {@linkcode verifyLogin}: proving a key in the
 *   client protocol's `hello` (a signed challenge), with SSH signatures
 *   (crypto/sshsig.ts) and the terminal client's OpenSSH-format key
 *   (crypto/ssh_ed25519_key.ts).
 *
 * End-to-end encryption of sealed rooms (which loads WASM) lives behind its
 * own entry point, `core/crypto/mod.ts`, and is not re-exported here.
 *
 * @example Decoding frames from a stream
 * ```ts
 * import { encodeFrame, FrameDecoder, sanitizeText } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const decoder = new FrameDecoder({ maxLineBytes: 16_384 });
 * const [line] = decoder.push(encodeFrame({ t: "say", text: "hi\x1b[2J" }));
 * assert.ok(line?.ok);
 * const { text } = line.value as { text: string };
 * assert.equal(sanitizeText(text), "hi");
 * ```
 *
 * @module
 */

export * from "./address_key.ts";
export * from "./chat_format.ts";
export * from "./cli_flags.ts";
export * from "./command_table.ts";
export * from "./event.ts";
export * from "./frame_view.ts";
export * from "./hybrid_clock.ts";
export * from "./login_proof.ts";
export * from "./names.ts";
export * from "./ndjson.ts";
export * from "./protocol.ts";
export * from "./rate_limiter.ts";
export * from "./search_query.ts";
export * from "./ring_buffer.ts";
export * from "./seen_mark.ts";
export * from "./terminal_screen.ts";
export * from "./text_sanitizer.ts";
export * from "./version_vector.ts";
