/**
 * The one-time import of `nicks.json`, where nick ownership lived before nick
 * claims were events. At start, each claim in an existing file is claimed
 * again through the event log, oldest first (an event of this node's origin,
 * replicated and snapshotted like the rest), a snapshot is written, and only
 * then is the file renamed `nicks.json.imported`, so it is read once.
 *
 * A crash before the rename imports it again at the next start: the claims
 * that reached the snapshot are found owned already, the others are claimed
 * again. Every node of an upgraded cluster imports its own copy; the copies
 * hold the same claims (the old side channel replicated them), and the
 * claim events converge on one owner per nick like any others.
 *
 * @module
 */
import { KEY_FINGERPRINT_PATTERN } from "../../core/event_rules.ts";
import { NICK_PATTERN } from "../../core/names.ts";
import type { ClaimOutcome, NickRegistryView } from "../chat/nick_registry.ts";

/** One claim as `nicks.json` held it (format version 1). */
export interface LegacyNickClaim {
  /** The nick as first claimed (display case). */
  readonly nick: string;
  /** Owner's public key fingerprint, `SHA256:...`. */
  readonly fingerprint: string;
  /** When it was claimed (ms since the epoch). */
  readonly since: number;
}

/** What {@linkcode importNicksJson} did, claim by claim outcome. */
export interface NicksJsonImport {
  /** The file read. */
  readonly file: string;
  /** Where it was moved: `<file>.imported`. */
  readonly movedTo: string;
  /** How many claims had each outcome (`owned`: already in the log, e.g. after a crash). */
  readonly outcomes: Readonly<Record<ClaimOutcome, number>>;
}

/**
 * Imports `path` once if it exists: claims each of its nicks for its key
 * through `nicks` (so through the event log), waits for `persist` (a
 * snapshot that holds the new claim events), then renames the file.
 *
 * @param path The old registry, e.g. `./data/n1/nicks.json`.
 * @param nicks The event log's nick registry.
 * @param persist Writes the log to disk (the snapshot store's `snapshotNow`).
 * @returns What was imported, or undefined when there is no file.
 * @throws {SyntaxError} When the file is not JSON (it is left in place).
 * @throws {TypeError} When the file is not a nick registry (it is left in place).
 */
export async function importNicksJson(
  path: string,
  nicks: Pick<NickRegistryView, "claim">,
  persist: () => Promise<unknown>,
): Promise<NicksJsonImport | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let claims: LegacyNickClaim[];
  try {
    claims = parseNicksJson(JSON.parse(text));
  } catch (error) {
    if (!(error instanceof SyntaxError || error instanceof TypeError)) throw error;
    // Starting without it would hand registered nicks to whoever asks first.
    throw new (error.constructor as typeof SyntaxError)(
      `Cannot import nick registry ${path}: ${error.message} (repair the file or move it aside)`,
      { cause: error },
    );
  }
  const outcomes: Record<ClaimOutcome, number> = {
    claimed: 0,
    owned: 0,
    taken: 0,
    quota: 0,
    full: 0,
  };
  for (const claim of claims.sort((a, b) => a.since - b.since)) {
    outcomes[nicks.claim(claim.nick, claim.fingerprint)]++;
  }
  await persist();
  const movedTo = `${path}.imported`;
  await Deno.rename(path, movedTo);
  return { file: path, movedTo, outcomes };
}

/**
 * Reads the claims of a `nicks.json` (`{v: 1, claims: [{nick, fingerprint, since}]}`).
 *
 * @param value Parsed JSON.
 * @returns The claims.
 * @throws {TypeError} When the value or one of its claims is malformed.
 */
export function parseNicksJson(value: unknown): LegacyNickClaim[] {
  if (
    typeof value !== "object" || value === null || (value as { v?: unknown }).v !== 1 ||
    !Array.isArray((value as { claims?: unknown }).claims)
  ) {
    throw new TypeError("expected {v: 1, claims: [...]}");
  }
  return (value as { claims: unknown[] }).claims.map((claim, i) => {
    const { nick, fingerprint, since } =
      (typeof claim === "object" && claim !== null ? claim : {}) as Record<string, unknown>;
    if (
      typeof nick !== "string" || !NICK_PATTERN.test(nick) ||
      typeof fingerprint !== "string" || !KEY_FINGERPRINT_PATTERN.test(fingerprint) ||
      typeof since !== "number" || !Number.isFinite(since)
    ) {
      throw new TypeError(`claim ${i} is not {nick, fingerprint: "SHA256:...", since}`);
    }
    return { nick, fingerprint, since };
  });
}
