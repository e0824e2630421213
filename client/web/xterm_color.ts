/**
 * The CSS colour of an xterm 256-colour index, so a nick on the page has
 * the colour it has in a terminal ({@linkcode nickColor} in
 * core/chat_format.ts picks it).
 *
 * @module
 */

/** The 16 system colours, as xterm draws them. */
const SYSTEM = [
  "#000000",
  "#cd0000",
  "#00cd00",
  "#cdcd00",
  "#0000ee",
  "#cd00cd",
  "#00cdcd",
  "#e5e5e5",
  "#7f7f7f",
  "#ff0000",
  "#00ff00",
  "#ffff00",
  "#5c5cff",
  "#ff00ff",
  "#00ffff",
  "#ffffff",
];

/** The six levels of each channel in the 6×6×6 cube (16–231). */
const CUBE = [0, 95, 135, 175, 215, 255];

/**
 * `rgb(r, g, b)` of a 256-colour index.
 *
 * @param index 0 to 255.
 * @returns The CSS colour.
 * @throws {RangeError} When the index is not an integer from 0 to 255.
 *
 * @example
 * ```ts
 * import { xtermColor } from "./xterm_color.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(xtermColor(196), "rgb(255, 0, 0)");
 * assert.equal(xtermColor(244), "rgb(128, 128, 128)");
 * ```
 */
export function xtermColor(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 255) {
    throw new RangeError(`Cannot map colour: ${index} is not an index from 0 to 255`);
  }
  if (index < 16) {
    const hex = SYSTEM[index]!;
    const [r, g, b] = [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
    return `rgb(${r}, ${g}, ${b})`;
  }
  if (index < 232) {
    const cube = index - 16;
    const [r, g, b] = [Math.floor(cube / 36), Math.floor(cube / 6) % 6, cube % 6]
      .map((level) => CUBE[level]!);
    return `rgb(${r}, ${g}, ${b})`;
  }
  const grey = 8 + (index - 232) * 10;
  return `rgb(${grey}, ${grey}, ${grey})`;
}
