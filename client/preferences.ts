/**
 * The terminal client's own display commands: `/theme`, `/timestamp`, `/tz`,
 * `/ignore` and `/unignore` change what this client shows (they never reach
 * the node) and are saved, so they last across sessions.
 *
 * @module
 */
import { NICK_PATTERN, nickKey } from "../core/names.ts";
import { sanitizeText } from "../core/text_sanitizer.ts";
import type { ChatView, ViewLine } from "./chat_view.ts";
import type { ClientCommandHelp } from "./help_lines.ts";
import { type ClientSettings, isTimeZone } from "./settings.ts";

/** `/help` entries of the commands handled here. */
export const PREFERENCE_HELP: readonly ClientCommandHelp[] = [
  { usage: "/theme [color|mono]", help: "colours on or off (saved)" },
  {
    usage: "/timestamp [on|off]",
    help: "show the time of each line or not (saved) (alias: /timestamps)",
  },
  {
    usage: "/tz [ZONE|local]",
    help: "time zone of the times, e.g. /tz Europe/Paris (saved) (alias: /timezone)",
  },
  { usage: "/ignore [NICK]", help: "stop seeing someone's messages (saved); no NICK lists them" },
  { usage: "/unignore NICK", help: "see someone's messages again (saved)" },
];

/** Options of {@linkcode Preferences}. */
export interface PreferencesOptions {
  /** What was saved last time. @default {} */
  settings?: ClientSettings;
  /**
   * Keeps the settings after a change; returns a line to show when they
   * could not be kept.
   *
   * @default {keeps nothing}
   */
  save?: (settings: ClientSettings) => string | undefined;
  /**
   * Whether colours can be shown at all (a terminal, no `NO_COLOR`, no
   * `--no-color`): `/theme color` says so when they cannot.
   *
   * @default true
   */
  colorAvailable?: boolean;
}

/** The display choices of one client and the commands that change them. */
export class Preferences {
  readonly #view: ChatView;
  readonly #settings: ClientSettings;
  readonly #save: (settings: ClientSettings) => string | undefined;
  readonly #colorAvailable: boolean;
  readonly #ignored: Set<string>;

  /**
   * Applies the saved settings to the view.
   *
   * @param view The view whose theme, timestamps and time zone change.
   * @param options Saved settings, how to save them, whether colour is possible.
   */
  constructor(view: ChatView, options: PreferencesOptions = {}) {
    const { settings = {}, save = () => undefined, colorAvailable = true } = options;
    this.#view = view;
    this.#settings = { ...settings };
    this.#save = save;
    this.#colorAvailable = colorAvailable;
    this.#ignored = new Set(settings.ignored ?? []);
    if (settings.theme !== undefined) view.color = colorAvailable && settings.theme === "color";
    if (settings.timestamps !== undefined) view.timestamps = settings.timestamps;
    if (settings.timeZone !== undefined) view.setTimeZone(settings.timeZone);
  }

  /**
   * Whether messages from a nick are hidden.
   *
   * @param nick The sender.
   * @returns `true` after `/ignore NICK`.
   */
  isIgnored(nick: string): boolean {
    return this.#ignored.has(nickKey(nick));
  }

  /**
   * Runs a line when it is one of these commands.
   *
   * @param line What was typed.
   * @param ownNick The person's nick (they cannot ignore themselves).
   * @returns The lines to show, or undefined when the line is not one of these commands.
   */
  run(line: string, ownNick: string): ViewLine[] | undefined {
    const [word = "", rest = ""] = /^(\S*)\s*(.*)$/s.exec(line.trim())?.slice(1) ?? [];
    const arg = rest.trim().split(/\s+/)[0] ?? "";
    switch (word.toLowerCase()) {
      case "/theme":
        return this.#theme(arg.toLowerCase());
      case "/timestamp":
      case "/timestamps":
        return this.#timestamps(arg.toLowerCase());
      case "/tz":
      case "/timezone":
        return this.#timeZone(arg);
      case "/ignore":
        return this.#ignore(arg, ownNick);
      case "/unignore":
        return this.#unignore(arg);
      default:
        return undefined;
    }
  }

  #theme(choice: string): ViewLine[] {
    if (choice === "") {
      return [{ text: `Theme: ${this.#view.color ? "color" : "mono"}` }];
    }
    if (!["color", "colour", "mono"].includes(choice)) {
      return error(`Unknown theme ${quote(choice)}: use color or mono`);
    }
    const theme = choice === "mono" ? "mono" : "color";
    this.#view.color = theme === "color" && this.#colorAvailable;
    const lines = this.#keep({ theme });
    if (theme === "color" && !this.#colorAvailable) {
      lines.unshift({
        text: "Theme: color (saved; not shown here: no terminal, NO_COLOR or --no-color)",
      });
    } else lines.unshift({ text: `Theme: ${theme}` });
    return lines;
  }

  #timestamps(choice: string): ViewLine[] {
    if (choice === "") return [{ text: `Timestamps: ${this.#view.timestamps ? "on" : "off"}` }];
    if (choice !== "on" && choice !== "off") {
      return error(`Invalid choice ${quote(choice)}: use on or off`);
    }
    this.#view.timestamps = choice === "on";
    return [{ text: `Timestamps: ${choice}` }, ...this.#keep({ timestamps: choice === "on" })];
  }

  #timeZone(zone: string): ViewLine[] {
    if (zone === "") return [{ text: `Time zone: ${this.#view.timeZone}` }];
    if (zone.toLowerCase() === "local") {
      this.#view.setTimeZone(undefined);
      const lines = this.#keep({ timeZone: undefined });
      return [{ text: `Time zone: ${this.#view.timeZone} (this computer's)` }, ...lines];
    }
    if (!isTimeZone(zone)) {
      return error(
        `Unknown time zone ${
          quote(zone)
        }: use a name such as Europe/Paris, America/New_York or UTC`,
      );
    }
    this.#view.setTimeZone(zone);
    // As typed: the runtime may know the zone by an older alias (Asia/Katmandu).
    return [{ text: `Time zone: ${zone}` }, ...this.#keep({ timeZone: zone })];
  }

  #ignore(nick: string, ownNick: string): ViewLine[] {
    if (nick === "") {
      const ignored = [...this.#ignored].sort();
      return [{
        text: ignored.length === 0 ? "You ignore nobody" : `You ignore: ${ignored.join(", ")}`,
      }];
    }
    if (!NICK_PATTERN.test(nick)) return error(`Invalid nick ${quote(nick)}`);
    if (nickKey(nick) === nickKey(ownNick)) return error("You cannot ignore yourself");
    this.#ignored.add(nickKey(nick));
    return [
      { text: `Ignoring ${nick}: /unignore ${nick} to see them again` },
      ...this.#keep({ ignored: [...this.#ignored] }),
    ];
  }

  #unignore(nick: string): ViewLine[] {
    if (nick === "") return error("Missing nick: /unignore NICK");
    if (!this.#ignored.delete(nickKey(nick))) return error(`You do not ignore ${quote(nick)}`);
    return [
      { text: `No longer ignoring ${nick}` },
      ...this.#keep({ ignored: [...this.#ignored] }),
    ];
  }

  /** Records a change and saves; a line when saving failed. */
  #keep(change: Partial<ClientSettings>): ViewLine[] {
    Object.assign(this.#settings, change);
    for (const key of Object.keys(change) as (keyof ClientSettings)[]) {
      if (this.#settings[key] === undefined) delete this.#settings[key];
    }
    const warning = this.#save(this.#settings);
    return warning === undefined ? [] : [{ text: warning, error: true }];
  }
}

function error(text: string): ViewLine[] {
  return [{ text: `error: ${text}`, error: true }];
}

function quote(text: string): string {
  return `"${sanitizeText(text).slice(0, 40)}"`;
}
