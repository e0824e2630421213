/**
 * Real headless Chromium for the web client's tests, driven over the Chrome
 * DevTools Protocol with Deno's own WebSocket: Debian's `chromium`
 * (`apt-get install chromium`; `.ci/run` installs it) started with
 * `--remote-debugging-port=0`. No npm driver: playwright-core launches
 * Chromium over extra stdio pipes, which Deno's Node compatibility has not
 * run reliably (denoland/deno#16899, #27623), and the few commands these
 * tests need fit in a page.
 *
 * @module
 */
import { waitFor } from "./wait_for.ts";
import { scratchDir } from "./scratch_dir.ts";

/** Debian's Chromium, found on the PATH (the tests' permissions allow running `chromium`). */
export const CHROMIUM = "chromium";

/** Whether Chromium is installed (tests are skipped with a reason when not). */
export function hasChromium(): boolean {
  try {
    return new Deno.Command(CHROMIUM, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

interface Pending {
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

/** The fields of the DevTools events a page listens to. */
interface DevToolsEvent {
  entry?: { level?: string; source?: string; text?: string; url?: string };
  exceptionDetails?: { text?: string; exception?: { description?: string } };
  type?: string;
  args?: { value?: unknown; description?: string }[];
}

/** One DevTools connection: commands with replies, events to listeners. */
class DevTools {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(method: string, params: unknown, session?: string) => void>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data as string);
      if (typeof message.id === "number") {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) pending?.reject(new Error(`DevTools: ${message.error.message}`));
        else pending?.resolve(message.result ?? {});
        return;
      }
      for (const listen of this.#listeners) {
        listen(message.method, message.params, message.sessionId);
      }
    };
    socket.onclose = () => {
      for (const pending of this.#pending.values()) pending.reject(new Error("DevTools closed"));
      this.#pending.clear();
    };
  }

  static open(url: string): Promise<DevTools> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.onopen = () => resolve(new DevTools(socket));
      socket.onerror = () => reject(new Error(`Cannot reach DevTools at ${url}`));
    });
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.send(
        JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }),
      );
    });
  }

  listen(listener: (method: string, params: unknown, session?: string) => void): void {
    this.#listeners.add(listener);
  }

  close(): void {
    this.#socket.close();
  }
}

/** A running headless Chromium. */
export class Chromium {
  readonly #child: Deno.ChildProcess;
  readonly #profile: string;
  readonly #devtools: DevTools;

  private constructor(child: Deno.ChildProcess, profile: string, devtools: DevTools) {
    this.#child = child;
    this.#profile = profile;
    this.#devtools = devtools;
  }

  /**
   * Starts Chromium with a fresh profile under data/tmp.
   *
   * @returns The browser.
   * @throws {Error} When it does not announce its DevTools address within 30 s.
   */
  static async launch(): Promise<Chromium> {
    const profile = await scratchDir("chromium-");
    const child = new Deno.Command(CHROMIUM, {
      args: [
        "--headless=new",
        // As root (CI containers) Chromium's sandbox cannot start; these pages are the test's own.
        "--no-sandbox",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const found = (async () => {
      while (true) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`Chromium exited before it listened:\n${log}`);
        log += value;
        const url = /DevTools listening on (ws:\/\/\S+)/.exec(log)?.[1];
        if (url !== undefined) return url;
      }
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const url = await Promise.race([
        found,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`Chromium did not listen within 30 s:\n${log}`)),
            30_000,
          );
        }),
      ]);
      // Keep draining stderr, so Chromium never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })().catch(() => {});
      return new Chromium(child, profile, await DevTools.open(url));
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Opens a tab.
   *
   * @param viewport Its size in CSS pixels. @default 1000 × 700
   * @returns The page.
   */
  async newPage(viewport = { width: 1000, height: 700 }): Promise<Page> {
    const { targetId } = await this.#devtools.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.#devtools.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const page = new Page(this.#devtools, sessionId as string);
    await page.start(viewport);
    return page;
  }

  /** Stops Chromium and removes its profile. */
  async close(): Promise<void> {
    this.#devtools.close();
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#child.status;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

/** One tab. */
export class Page {
  readonly #devtools: DevTools;
  readonly #session: string;
  /** What the page logged as errors and warnings (console, CSP, uncaught exceptions). */
  readonly problems: string[] = [];
  #loads = 0;

  /** @internal Made by {@linkcode Chromium.newPage}. */
  constructor(devtools: DevTools, session: string) {
    this.#devtools = devtools;
    this.#session = session;
    devtools.listen((method, params, session) => {
      if (session !== this.#session) return;
      const p = params as DevToolsEvent;
      if (method === "Page.loadEventFired") this.#loads++;
      else if (method === "Log.entryAdded" && ["error", "warning"].includes(p.entry?.level ?? "")) {
        const where = p.entry?.url ? ` (${p.entry.url})` : "";
        this.problems.push(`${p.entry?.source}: ${p.entry?.text}${where}`);
      } else if (method === "Runtime.exceptionThrown") {
        const details = p.exceptionDetails;
        this.problems.push(`exception: ${details?.exception?.description ?? details?.text}`);
      } else if (method === "Runtime.consoleAPICalled" && p.type === "error") {
        const args = (p.args ?? []).map((arg) => String(arg.value ?? arg.description));
        this.problems.push(`console: ${args.join(" ")}`);
      }
    });
  }

  /** @internal */
  async start(viewport: { width: number; height: number }): Promise<void> {
    for (const domain of ["Page.enable", "Runtime.enable", "Log.enable"]) await this.#send(domain);
    await this.#send("Emulation.setDeviceMetricsOverride", {
      ...viewport,
      deviceScaleFactor: 1,
      mobile: viewport.width < 700,
    });
  }

  /**
   * Loads a URL and waits for its load event.
   *
   * @param url The URL.
   */
  async goto(url: string): Promise<void> {
    const before = this.#loads;
    await this.#send("Page.navigate", { url });
    await waitFor(() => this.#loads > before, `${url} to load`);
  }

  /**
   * Runs an expression in the page (awaiting a promise) and returns its value.
   *
   * @param expression JavaScript.
   * @returns Its value, as JSON.
   * @throws {Error} With the page's exception.
   */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const reply = await this.#send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    }) as { result: { value: T }; exceptionDetails?: { exception?: { description?: string } } };
    if (reply.exceptionDetails) {
      throw new Error(`In the page: ${reply.exceptionDetails.exception?.description}`);
    }
    return reply.result.value;
  }

  /**
   * Waits until an expression is true in the page.
   *
   * @param expression JavaScript that gives a boolean.
   * @param what What is awaited, for the error.
   * @param timeoutMs How long. @default 15000
   */
  async waitUntil(expression: string, what: string, timeoutMs = 15_000): Promise<void> {
    await waitFor(() => this.evaluate<boolean>(`Boolean(${expression})`), what, {
      timeoutMs,
      detail: () => `page problems: ${this.problems.join("\n") || "none"}`,
    });
  }

  /**
   * The text of the message log, one entry per line.
   *
   * @returns The log's lines.
   */
  log(): Promise<string[]> {
    return this.evaluate<string[]>(
      `[...document.querySelectorAll("#log .entry")].map((e) => e.textContent)`,
    );
  }

  /**
   * Focuses an element and types text into it, as a keyboard would.
   *
   * @param selector A CSS selector.
   * @param text The text.
   */
  async type(selector: string, text: string): Promise<void> {
    await this.evaluate(`document.querySelector(${JSON.stringify(selector)}).focus()`);
    await this.#send("Input.insertText", { text });
  }

  /**
   * Presses and releases a key in the focused element.
   *
   * @param key `Enter`, `Tab`, `Escape`, `ArrowUp`…
   * @param modifiers DevTools modifier bits (1 Alt). @default 0
   */
  async press(key: string, modifiers = 0): Promise<void> {
    const codes: Record<string, number> = {
      Enter: 13,
      Tab: 9,
      Escape: 27,
      ArrowUp: 38,
      ArrowDown: 40,
    };
    const base = { key, code: key, windowsVirtualKeyCode: codes[key] ?? 0, modifiers };
    await this.#send("Input.dispatchKeyEvent", {
      type: "keyDown",
      ...base,
      ...(key === "Enter" ? { text: "\r" } : {}),
    });
    await this.#send("Input.dispatchKeyEvent", { type: "keyUp", ...base });
  }

  /**
   * Writes a PNG screenshot of the page.
   *
   * @param path Where (under data/).
   */
  async screenshot(path: string): Promise<void> {
    const { data } = await this.#send("Page.captureScreenshot", { format: "png" });
    const bytes = Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
    await Deno.writeFile(path, bytes);
  }

  #send(method: string, params: Record<string, unknown> = {}) {
    return this.#devtools.send(method, params, this.#session);
  }
}
