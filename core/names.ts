// Copyright the meshchat authors. MIT license.
/**
 * Rules for nicks and room names.
 *
 * @module
 */

import { quoteText } from "./text_sanitizer.ts";

/**
 * What a nick may look like: 1 to 16 ASCII letters, digits, dots,
 * underscores or hyphens. Nicks keep their case for display but are unique
 * regardless of case (see {@linkcode nickKey}).
 */
export const NICK_PATTERN = /^[A-Za-z0-9._-]{1,16}$/;

/**
 * What a normalised room name looks like: 1 to 32 lowercase ASCII letters,
 * digits, dots, underscores or hyphens, without the `#`.
 */
export const ROOM_PATTERN = /^[a-z0-9._-]{1,32}$/;

/** What {@linkcode normalizeRoom} accepts before lowercasing. */
const ROOM_INPUT_PATTERN = /^#?[A-Za-z0-9._-]{1,32}$/;

/**
 * Checks that a value is a valid nick.
 *
 * @example
 * ```ts
 * import { validateNick } from "./names.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(validateNick("Alice_1"), "Alice_1");
 * assert.throws(() => validateNick("x y"), RangeError);
 * ```
 *
 * @param nick The value to check, typically straight from the network.
 * @returns The nick, unchanged.
 * @throws {TypeError} If `nick` is not a string.
 * @throws {RangeError} If `nick` does not match {@linkcode NICK_PATTERN}, with
 * a message that can be shown to the user as is.
 */
export function validateNick(nick: unknown): string {
  if (typeof nick !== "string") {
    throw new TypeError(`Invalid nick: expected a string, got ${describe(nick)}`);
  }
  if (!NICK_PATTERN.test(nick)) {
    throw new RangeError(
      `Invalid nick ${quoteText(nick)}: use 1-16 letters, digits, dot, underscore or hyphen`,
    );
  }
  return nick;
}

/**
 * Returns the key under which a nick is unique: its lowercase form, so
 * `Alice` and `alice` cannot both be taken.
 *
 * Lookups with text that is not a valid nick simply find nothing, so this
 * does not validate.
 *
 * @param nick A nick (or any text to look up as one).
 * @returns The text in lowercase.
 */
export function nickKey(nick: string): string {
  return nick.toLowerCase();
}

/**
 * Turns what a user typed as a room name into its canonical form: without
 * a leading `#`, in lowercase.
 *
 * @example
 * ```ts
 * import { normalizeRoom } from "./names.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(normalizeRoom("#Lobby"), "lobby");
 * assert.equal(normalizeRoom("dev.ops"), "dev.ops");
 * ```
 *
 * @param room The room name, with or without a leading `#`.
 * @returns The normalised name, which matches {@linkcode ROOM_PATTERN}.
 * @throws {TypeError} If `room` is not a string.
 * @throws {RangeError} If `room` is not 1 to 32 ASCII letters, digits, dots,
 * underscores or hyphens after an optional `#`, with a message that can be
 * shown to the user as is.
 */
export function normalizeRoom(room: unknown): string {
  if (typeof room !== "string") {
    throw new TypeError(`Invalid room: expected a string, got ${describe(room)}`);
  }
  if (!ROOM_INPUT_PATTERN.test(room)) {
    throw new RangeError(
      `Invalid room ${
        quoteText(room)
      }: use 1-32 letters, digits, dot, underscore or hyphen, after an optional #`,
    );
  }
  return (room.startsWith("#") ? room.slice(1) : room).toLowerCase();
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}
