/**
 * What a person may choose about their own view (`/theme`, `/timestamp`,
 * `/tz`, `/ignore`) and the rules a choice obeys, whoever keeps it: the
 * command table checks a person's input with them, the settings file
 * (node/store/user_settings.ts) checks what it loads.
 *
 * @module
 */
import { NICK_PATTERN, nickKey } from "../../core/names.ts";

/** What one person chose; an absent field means the default. */
export interface UserSettings {
  /** `/theme`. */
  readonly theme?: "color" | "mono";
  /** `/timestamp`. */
  readonly timestamps?: "on" | "off";
  /** `/tz`: an IANA time zone name, e.g. `Europe/Paris`. */
  readonly tz?: string;
  /** `/ignore`: nick keys (see `nickKey`), sorted. */
  readonly ignored?: readonly string[];
}

/** Most nicks one person may ignore, by default (also `/ignore`'s limit). */
export const MAX_IGNORED = 100;

/** Longest time zone name kept (the longest IANA name is 30 characters). */
const MAX_ZONE_LENGTH = 64;

/**
 * Checks a time zone name with the runtime's time zone data.
 *
 * @param zone A name such as `Europe/Paris` or `UTC`; a leading `:` (POSIX
 *   `TZ` style) is allowed.
 * @returns The canonical name, or undefined when it is no time zone.
 */
export function validTimeZone(zone: string): string | undefined {
  const name = zone.trim().replace(/^:/, "");
  if (name === "" || name.length > MAX_ZONE_LENGTH || !/^[A-Za-z0-9_+\-/]+$/.test(name)) {
    return undefined;
  }
  try {
    return new Intl.DateTimeFormat("en", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * Settings read from untrusted JSON: unknown fields and bad values dropped.
 *
 * @param value One stored entry.
 * @param maxIgnored Nicks kept at most.
 * @returns The valid settings (possibly none).
 */
export function parseUserSettings(value: unknown, maxIgnored = MAX_IGNORED): UserSettings {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  const raw = value as Record<string, unknown>;
  const tz = typeof raw.tz === "string" ? validTimeZone(raw.tz) : undefined;
  const ignored = Array.isArray(raw.ignored)
    ? [
      ...new Set(
        raw.ignored
          .filter((nick): nick is string => typeof nick === "string" && NICK_PATTERN.test(nick))
          .map(nickKey),
      ),
    ].sort().slice(0, maxIgnored)
    : [];
  return {
    ...(raw.theme === "color" || raw.theme === "mono" ? { theme: raw.theme } : {}),
    ...(raw.timestamps === "on" || raw.timestamps === "off" ? { timestamps: raw.timestamps } : {}),
    ...(tz === undefined ? {} : { tz }),
    ...(ignored.length === 0 ? {} : { ignored }),
  };
}
