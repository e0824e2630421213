/**
 * The certificates the terminal client has pinned, one per node address —
 * its `known_hosts`. A node without a CA-signed certificate presents one it
 * made itself; the client trusts it the first time (trust on first use),
 * writes its fingerprint here, and from then on refuses that address if the
 * certificate is different (see ./tls_connect.ts).
 *
 * The file is `known_nodes` in the settings directory
 * (`$XDG_CONFIG_HOME/meshchat`, else `~/.config/meshchat`), mode 0600, one
 * pin a line so a person can read and edit it:
 *
 * ```text
 * # meshchat: node certificates pinned on first use (remove a line to accept a new one)
 * localhost:8080 SHA256:VSOPzqSs/nc+AR2GQeiKFneg0nr35dm0dssxHJpYXy4
 * ```
 *
 * Without permission to use the directory (a plain `deno run` grants the
 * network only) pins last for the session, and the client says so.
 *
 * @module
 */
import { permissionGranted } from "./settings.ts";

/** The pin file's name in the settings directory. */
export const PINS_FILE = "known_nodes";

const HEADER =
  "# meshchat: node certificates pinned on first use (remove a line to accept a new one)\n";

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * The form an address is pinned under: host in lower case, `[v6]:port`.
 *
 * @param address `host:port` as given to `-server`.
 * @returns The key.
 */
export function pinKey(address: string): string {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address.trim());
  if (!match) return address.trim().toLowerCase();
  const host = match[1]!.toLowerCase();
  return host.includes(":") ? `[${host}]:${Number(match[2])}` : `${host}:${Number(match[2])}`;
}

/** One pin and where it is in the file. */
export interface Pin {
  /** `SHA256:` fingerprint of the certificate. */
  readonly fingerprint: string;
  /** Its line in the file (1-based), when it is in the file. */
  readonly line: number | undefined;
}

/** What {@linkcode ServerPins.pin} did. */
export interface Pinned {
  /** Whether it is in the file (else for this session only). */
  readonly saved: boolean;
  /** Why it is not in the file, in one line, when it is not. */
  readonly reason?: string;
}

/** Pinned node certificates: the file's, and this session's. */
export class ServerPins {
  /** The pin file, when known. */
  readonly path: string | undefined;
  readonly #pins = new Map<string, Pin>();

  private constructor(path: string | undefined) {
    this.path = path;
  }

  /**
   * Pins kept for this session only (tests, the web client's page).
   *
   * @returns An empty set of pins.
   */
  static memory(): ServerPins {
    return new ServerPins(undefined);
  }

  /**
   * Reads the pin file in `directory`. Lines that are not `ADDRESS SHA256:…`
   * are skipped (and kept when the file is written again).
   *
   * @param directory The settings directory, or undefined when unknown.
   * @returns The pins, and a one-line warning when the file could not be read.
   */
  static open(directory: string | undefined): { pins: ServerPins; warning?: string } {
    const pins = new ServerPins(directory === undefined ? undefined : `${directory}/${PINS_FILE}`);
    if (directory === undefined || !permissionGranted({ name: "read", path: directory })) {
      return { pins };
    }
    let text: string;
    try {
      text = Deno.readTextFileSync(pins.path!);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { pins };
      return { pins, warning: `Cannot read ${pins.path}: ${(error as Error).message}` };
    }
    text.split("\n").forEach((line, index) => {
      const [address, fingerprint, ...rest] = line.trim().split(/\s+/);
      if (address === undefined || address.startsWith("#") || rest.length > 0) return;
      if (fingerprint === undefined || !FINGERPRINT.test(fingerprint)) return;
      // The first line for an address wins, as in known_hosts.
      if (!pins.#pins.has(pinKey(address))) {
        pins.#pins.set(pinKey(address), { fingerprint, line: index + 1 });
      }
    });
    return { pins };
  }

  /**
   * The pin of an address.
   *
   * @param address `host:port`.
   * @returns The pin, or undefined when the address has none.
   */
  get(address: string): Pin | undefined {
    return this.#pins.get(pinKey(address));
  }

  /**
   * Pins a certificate for an address that has no pin, in the file when
   * the client may write it (appended: nothing else in the file changes).
   *
   * @param address `host:port`.
   * @param fingerprint `SHA256:` fingerprint of its certificate.
   * @returns Whether it was saved.
   * @throws {Error} When the address is pinned already (a changed certificate is never re-pinned here).
   */
  pin(address: string, fingerprint: string): Pinned {
    const key = pinKey(address);
    if (this.#pins.has(key)) throw new Error(`Cannot pin ${key}: it is pinned already`);
    const { line, ...saved } = this.#append(`${key} ${fingerprint}\n`);
    this.#pins.set(key, { fingerprint, line });
    return saved;
  }

  /** Appends a line to the file; returns its line number when it was written. */
  #append(entry: string): Pinned & { line?: number } {
    const path = this.path;
    if (path === undefined) return { saved: false, reason: "no settings directory" };
    const directory = path.slice(0, path.lastIndexOf("/"));
    const permitted = permissionGranted({ name: "read", path: directory }) &&
      permissionGranted({ name: "write", path: directory });
    if (!permitted) return { saved: false, reason: "no permission to write it" };
    try {
      Deno.mkdirSync(directory, { recursive: true, mode: 0o700 });
      let existing = "";
      try {
        existing = Deno.readTextFileSync(path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      const before = existing === ""
        ? HEADER
        : existing.endsWith("\n")
        ? existing
        : `${existing}\n`;
      // Written whole and renamed: a crash never leaves half a pin file.
      const temporary = `${path}.tmp`;
      Deno.writeTextFileSync(temporary, before + entry, { mode: 0o600 });
      Deno.chmodSync(temporary, 0o600);
      Deno.renameSync(temporary, path);
      return { saved: true, line: (before + entry).split("\n").length - 1 };
    } catch (error) {
      return { saved: false, reason: (error as Error).message };
    }
  }
}
