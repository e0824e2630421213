// Copyright the meshchat authors. MIT license.
/**
 * Where the prompt and the input line land on a terminal that wraps at its
 * right margin: the rows and columns {@linkcode LineEditor} reasons about when
 * it draws, erases and redraws. Internal to the line editor.
 *
 * @module
 */
import { escapeEnd, graphemes, graphemeWidth } from "./display_width.ts";
import { sanitizeText } from "./text_sanitizer.ts";

const SGR_RESET = "\x1b[0m";
const ESC = "\x1b";

/** One thing written to the terminal, and how many columns it takes. */
interface Cell {
  readonly text: string;
  readonly width: number;
}

/** The prompt split into cells; SGR sequences are cells of width 0. */
export interface Prompt {
  readonly text: string;
  readonly cells: readonly Cell[];
  readonly styled: boolean;
}

/** Prompt and line laid out at a width; rows count from the prompt's. */
interface Layout {
  readonly text: string;
  /**
   * Where the terminal's cursor is after writing `text`; a column equal to
   * the width means autowrap is pending.
   */
  readonly endRow: number;
  readonly endCol: number;
  /** Where the cursor belongs. */
  readonly cursorRow: number;
  readonly cursorCol: number;
}

/**
 * Lays out prompt and line from column 0 at a width, the way a terminal with
 * autowrap places them: a character that does not fit goes to the next row
 * (a wide one leaves the last column empty). A character wider than the
 * terminal is written as `?`.
 */
export function layout(
  prompt: Prompt,
  units: readonly string[],
  cursor: number,
  width: number,
): Layout {
  let text = "";
  let row = 0;
  let col = 0;
  let cursorRow = 0;
  let cursorCol = 0;
  const place = (cell: Cell) => {
    if (cell.width > 0 && col + cell.width > width) {
      row++;
      col = 0;
    }
    text += cell.text;
    col += cell.width;
  };
  for (const cell of prompt.cells) place(fit(cell, width));
  if (prompt.styled) text += SGR_RESET;
  for (let i = 0; i <= units.length; i++) {
    const unit = units[i];
    const cell = unit === undefined
      ? { text: "", width: 0 }
      : fit({ text: unit, width: graphemeWidth(unit) }, width);
    if (i === cursor) {
      if (col + Math.max(cell.width, 1) > width) {
        cursorRow = row + 1;
        cursorCol = 0;
      } else {
        cursorRow = row;
        cursorCol = col;
      }
    }
    place(cell);
  }
  return { text, endRow: row, endCol: col, cursorRow, cursorCol };
}

function fit(cell: Cell, width: number): Cell {
  return cell.width > width ? { text: "?", width: 1 } : cell;
}

export function parsePrompt(prompt: string): Prompt {
  const cells: Cell[] = [];
  let styled = false;
  let start = 0;
  const addText = (end: number) => {
    for (const unit of graphemes(cleanText(prompt.slice(start, end)))) {
      cells.push({ text: unit, width: graphemeWidth(unit) });
    }
  };
  for (let i = prompt.indexOf(ESC); i >= 0; i = prompt.indexOf(ESC, start)) {
    addText(i);
    start = escapeEnd(prompt, i);
    const sequence = prompt.slice(i, start);
    if (isSgr(sequence)) {
      cells.push({ text: sequence, width: 0 });
      styled = true;
    }
  }
  addText(prompt.length);
  return { text: cells.map((cell) => cell.text).join(""), cells, styled };
}

/** `ESC [ params m` with numeric parameters only. */
function isSgr(sequence: string): boolean {
  return sequence.startsWith(`${ESC}[`) && sequence.endsWith("m") &&
    /^[0-9;:]*$/.test(sequence.slice(2, -1));
}

/** Text as inserted: tabs and line separators become spaces, then sanitised. */
export function cleanText(text: string): string {
  return sanitizeText(text.replace(/[\t\u2028\u2029]/g, " "));
}
