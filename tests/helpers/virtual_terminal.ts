/**
 * A tiny virtual terminal for tests: the subset of escapes the line editor
 * emits, autowrap at the right margin with xterm's pending-wrap state, wide
 * characters, a screen of `height` rows that scrolls, and on resize either
 * no reflow (xterm) or reflow of soft-wrapped rows (most other terminals).
 * Feed it what a session writes and assert on what a person would see.
 *
 * @module
 */
import assert from "node:assert/strict";
import { displayWidth } from "../../core/display_width.ts";

/** The second column of a wide character. */
export const TAIL = "\u0000tail";

interface Row {
  cells: (string | undefined)[];
  /** The row was left by autowrap, so it continues into the next one. */
  wrapped: boolean;
}

const graphemeSegmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

export function graphemes(text: string): string[] {
  return Array.from(graphemeSegmenter.segment(text), (s) => s.segment);
}

/** A terminal screen with its scrollback, fed with {@linkcode VirtualTerminal.write}. */
export class VirtualTerminal {
  width: number;
  readonly reflow: boolean;
  /** Rows on the screen; those above `top` have scrolled away. */
  readonly height: number;
  rows: Row[] = [{ cells: [], wrapped: false }];
  /** The first row on the screen. */
  top = 0;
  row = 0;
  col = 0;
  /** Autowrap pending: the cursor shows at the last column. */
  pending = false;

  /**
   * @param width Columns.
   * @param reflow Whether a resize reflows soft-wrapped rows.
   * @param height Rows on the screen. @default Infinity
   */
  constructor(width: number, reflow = false, height = Infinity) {
    this.width = width;
    this.reflow = reflow;
    this.height = height;
  }

  /** Takes output as a terminal would. */
  write(data: string): void {
    let i = 0;
    while (i < data.length) {
      const c = data.charCodeAt(i);
      if (c === 0x1b) {
        i = this.#escape(data, i);
      } else if (c === 0x0d) {
        this.col = 0;
        this.pending = false;
        i++;
      } else if (c === 0x0a) {
        this.#down(1);
        this.pending = false;
        i++;
      } else if (c < 0x20 || c === 0x7f) {
        throw new Error(`Unexpected control 0x${c.toString(16)} at ${i}`);
      } else {
        let j = i;
        while (j < data.length && data.charCodeAt(j) >= 0x20 && data.charCodeAt(j) !== 0x7f) j++;
        for (const unit of graphemes(data.slice(i, j))) this.#print(unit);
        i = j;
      }
    }
  }

  /** Changes the width, reflowing or not. */
  resize(width: number): void {
    if (!this.reflow) {
      this.width = width; // cells beyond the margin are kept but hidden
      this.col = Math.min(this.col, width - 1);
      this.pending = false;
      return;
    }
    this.#reflow(width);
    // The screen shows the bottom of the reflowed rows.
    this.top = Math.max(0, this.rows.length - this.height);
  }

  #reflow(width: number): void {
    // Join soft-wrapped rows into lines, remembering the cursor's place.
    const lines: { units: string[]; cursor?: number; extra?: number }[] = [];
    let current: { units: string[]; cursor?: number; extra?: number } = { units: [] };
    this.rows.forEach((row, r) => {
      const visible = row.cells.slice(0, this.width);
      let last = visible.length - 1;
      while (last >= 0 && visible[last] === undefined) last--;
      let cursorIndex: number | undefined;
      let extra = 0;
      for (let c = 0; c <= last; c++) {
        const cell = visible[c];
        if (r === this.row && c === this.col && !this.pending) cursorIndex = current.units.length;
        if (cell === TAIL) continue;
        current.units.push(cell ?? " ");
      }
      if (r === this.row && cursorIndex === undefined) {
        cursorIndex = current.units.length;
        extra = this.pending ? 0 : Math.max(0, this.col - (last + 1));
      }
      if (cursorIndex !== undefined) {
        current.cursor = cursorIndex;
        current.extra = extra;
      }
      if (!row.wrapped) {
        lines.push(current);
        current = { units: [] };
      }
    });
    if (current.units.length > 0 || current.cursor !== undefined) lines.push(current);
    this.width = width;
    this.rows = [];
    for (const line of lines) {
      let row: Row = { cells: [], wrapped: false };
      this.rows.push(row);
      let col = 0;
      const atCursor = () => {
        this.row = this.rows.length - 1;
        this.col = col;
        this.pending = false;
      };
      line.units.forEach((unit, index) => {
        const w = displayWidth(unit);
        if (w > 0 && col + w > width) {
          row.wrapped = true;
          row = { cells: [], wrapped: false };
          this.rows.push(row);
          col = 0;
        }
        if (index === line.cursor) atCursor();
        row.cells[col] = unit;
        if (w === 2) row.cells[col + 1] = TAIL;
        col += w;
      });
      if (line.cursor === line.units.length) {
        const extra = line.extra ?? 0;
        if (col >= width) {
          this.row = this.rows.length - 1;
          this.col = width - 1;
          this.pending = true;
        } else {
          atCursor();
          this.col = Math.min(width - 1, col + extra);
        }
      }
    }
  }

  /** What each row shows, scrolled-away rows included: empty cells as spaces, trailing ones trimmed. */
  screen(): string[] {
    return this.#show(this.rows);
  }

  /** What the screen shows now, as {@linkcode VirtualTerminal.screen}. */
  visible(): string[] {
    return this.#show(this.rows.slice(this.top, this.top + this.height));
  }

  #show(rows: readonly Row[]): string[] {
    const out = rows.map((row) =>
      row.cells.slice(0, this.width).map((cell) => cell === TAIL ? "" : cell ?? " ").join("")
        .trimEnd()
    );
    while (out.length > 0 && out.at(-1) === "") out.pop();
    return out;
  }

  /** Characters from row `from` (inclusive) to `to` (exclusive), in reading order. */
  units(from: number, to = this.rows.length, hidden = false): string[] {
    const out: string[] = [];
    for (const row of this.rows.slice(from, to)) {
      for (const cell of hidden ? row.cells : row.cells.slice(0, this.width)) {
        if (cell !== undefined && cell !== TAIL) out.push(cell);
      }
    }
    return out;
  }

  get cursor(): { row: number; col: number } {
    return { row: this.row, col: this.col };
  }

  #print(unit: string): void {
    const w = displayWidth(unit);
    if (w === 0) {
      const cells = this.#line().cells;
      const c = this.pending ? this.col : this.col - 1;
      if (c >= 0 && cells[c] !== undefined) cells[c] += unit;
      return;
    }
    if (w > this.width) throw new Error(`Cannot print ${unit}: wider than the terminal`);
    if (this.pending || this.col + w > this.width) {
      this.#line().wrapped = true;
      this.#down(1);
      this.col = 0;
      this.pending = false;
    }
    const cells = this.#line().cells;
    cells[this.col] = unit;
    if (w === 2) cells[this.col + 1] = TAIL;
    this.col += w;
    if (this.col >= this.width) {
      this.col = this.width - 1;
      this.pending = true;
    }
  }

  #escape(data: string, i: number): number {
    if (data[i + 1] !== "[") throw new Error(`Unexpected escape at ${i}`);
    let j = i + 2;
    while (j < data.length && /[0-9;?]/.test(data[j] ?? "")) j++;
    const params = data.slice(i + 2, j);
    const final = data[j];
    const n = Math.max(1, Number(params || "1"));
    if (final !== "m") this.pending = false; // SGR keeps a pending wrap
    if (params.startsWith("?")) {
      // Private modes (bracketed paste...) do not change the screen.
      if (final !== "h" && final !== "l") throw new Error(`Unexpected escape ${params}${final}`);
      return j + 1;
    }
    switch (final) {
      case "A":
        this.row = Math.max(this.top, this.row - n);
        break;
      case "H": {
        const [r = 1, c = 1] = params.split(";").map((p) => Math.max(1, Number(p || "1")));
        this.row = this.top + Math.min(r, this.height) - 1;
        this.#down(0);
        this.col = Math.min(this.width, c) - 1;
        break;
      }
      case "B":
        this.#down(n);
        break;
      case "C":
        this.col = Math.min(this.width - 1, this.col + n);
        break;
      case "D":
        this.col = Math.max(0, this.col - n);
        break;
      case "J":
        assert.equal(params, "");
        this.#line().cells.length = Math.min(this.#line().cells.length, this.col);
        this.#line().wrapped = false;
        this.rows.length = this.row + 1;
        break;
      case "K":
        assert.equal(params, "");
        this.#line().cells.length = Math.min(this.#line().cells.length, this.col);
        this.#line().wrapped = false;
        break;
      case "m":
        break;
      default:
        throw new Error(`Unexpected escape ${JSON.stringify(data.slice(i, j + 1))}`);
    }
    return j + 1;
  }

  #down(n: number): void {
    this.row += n;
    while (this.rows.length <= this.row) this.rows.push({ cells: [], wrapped: false });
    // Below the screen's last row, the screen scrolls.
    this.top = Math.max(this.top, this.row - this.height + 1);
  }

  #line(): Row {
    const row = this.rows[this.row];
    assert.ok(row !== undefined);
    return row;
  }
}
