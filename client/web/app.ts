/**
 * The web client's entry point (bundled to `/assets/app.js`): the sign-in
 * form, then the terminal client's {@linkcode ChatClient} over the node's
 * WebSocket with the {@linkcode ChatPage} as its view, and the keyboard.
 *
 * Keys: Enter sends; ↑/↓ recall earlier lines; Tab completes a nick of the
 * shown room; Alt+↑/Alt+↓ show the previous or next conversation; Escape
 * returns to the input line.
 *
 * @module
 */
import { deriveRoomKeyInWorker, SenderIdentity, SignerPins } from "../../core/crypto/mod.ts";
import { ChatClient } from "../chat_client.ts";
import { ConnectError } from "../node_connection.ts";
import { SealedRooms } from "../sealed_rooms.ts";
import { ChatPage } from "./chat_page.ts";
import { privateKey, privatePeer } from "./conversations.ts";
import { dialogPassphrase } from "./passphrase_dialog.ts";
import { WebSocketLink, webSocketUrl } from "./web_socket_link.ts";

/** The Argon2id Worker, served beside this bundle (the page's CSP refuses `data:` workers). */
const ARGON2_WORKER_URL = "/assets/argon2_worker.js";

/** How long the page looks for a node again after losing one (ms). */
const RECONNECT_WINDOW_MS = 120_000;

/** Lines kept for ↑/↓. */
const RECALL_LINES = 100;

function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`The page has no #${id}`);
  return found as T;
}

const signIn = byId<HTMLFormElement>("sign-in");
const signInError = byId<HTMLElement>("sign-in-error");
const chat = byId<HTMLElement>("chat");
const input = byId<HTMLInputElement>("line");
const composer = byId<HTMLFormElement>("composer");

/** Signs in with the form's nick and room, and runs the chat until it ends. */
async function start(nick: string, room: string): Promise<void> {
  let client: ChatClient | undefined;
  const early: string[] = [];
  // Sealed messages are signed with a key made for this tab's session only. Without
  // WebCrypto (a page over plain HTTP from another machine) they go unsigned, as the page says.
  const identity = await SenderIdentity.generate().catch(() => undefined);
  const page = new ChatPage({
    rooms: byId("rooms"),
    log: byId("log"),
    members: byId("members"),
    title: byId("title"),
    topic: byId("topic"),
    status: byId("status"),
    older: byId<HTMLButtonElement>("older"),
    announcer: byId("announcer"),
  }, {
    sealStatus: (name) => sealed.status(name),
    // The welcome is drawn before start() returns: what it asks waits for the client.
    command: (line) => client ? void client.send(line) : early.push(line),
  });
  const sealed = new SealedRooms({
    passphrase: dialogPassphrase({
      dialog: byId<HTMLDialogElement>("secret"),
      form: byId<HTMLFormElement>("secret-form"),
      label: byId("secret-label"),
      input: byId<HTMLInputElement>("secret-input"),
      cancel: byId<HTMLButtonElement>("secret-cancel"),
    }, (message) => page.print([{ text: message, error: true }])),
    derive: (passphrase, params) =>
      deriveRoomKeyInWorker(passphrase, params, { workerUrl: ARGON2_WORKER_URL }),
    ...(identity === undefined ? {} : { identity }),
    pins: new SignerPins(),
  });
  try {
    client = await ChatClient.start({
      servers: [webSocketUrl(new URL(location.href))],
      connect: (url) => WebSocketLink.open(url),
      user: nick,
      room,
      view: page,
      print: (lines) => page.print(lines),
      onState: () => page.render(),
      sealed,
      reconnectWindowMs: RECONNECT_WINDOW_MS,
    });
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    signInError.textContent = error.message;
    return;
  }
  for (const line of early.splice(0)) client.send(line);
  signIn.hidden = true;
  chat.hidden = false;
  if (identity === undefined) {
    page.print([{
      text:
        "warning: this browser offers no Ed25519 signing here (a page over plain HTTP from another machine): sealed messages you send are not signed",
      error: true,
    }]);
  }
  input.focus();
  const stopKeys = bindKeys(client, page);
  const reason = await client.closed;
  stopKeys();
  signInError.textContent = reason === "quit" ? "" : reason;
  signIn.hidden = false;
}

/**
 * Wires the input line and the keys; returns what unwires them.
 */
function bindKeys(client: ChatClient, page: ChatPage): () => void {
  const recall: string[] = [];
  let recallAt = 0;
  const send = (event: SubmitEvent) => {
    event.preventDefault();
    const line = input.value;
    if (line.trim() === "") return;
    input.value = "";
    recall.push(line);
    if (recall.length > RECALL_LINES) recall.shift();
    recallAt = recall.length;
    const peer = privatePeer(page.conversations.shown);
    // In a private conversation a plain line is a private message.
    client.send(peer !== undefined && !line.startsWith("/") ? `/msg ${peer} ${line}` : line);
  };
  const keys = (event: KeyboardEvent) => {
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      const keys = page.conversations.list().map((c) => c.key);
      const at = keys.indexOf(page.conversations.shown);
      const next = keys[(at + (event.key === "ArrowUp" ? -1 : 1) + keys.length) % keys.length];
      if (next !== undefined) page.open(next);
      return;
    }
    if (event.target !== input) {
      if (event.key === "Escape") input.focus();
      return;
    }
    if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      event.preventDefault();
      recallAt = Math.max(
        0,
        Math.min(recall.length, recallAt + (event.key === "ArrowUp" ? -1 : 1)),
      );
      input.value = recall[recallAt] ?? "";
    } else if (event.key === "Tab" && input.value !== "") {
      const completed = completeNick(input.value, page);
      if (completed !== undefined) {
        event.preventDefault();
        input.value = completed;
      }
    }
  };
  const openPrivate = (event: MouseEvent) => {
    const nick = (event.target as HTMLElement).closest(".member")?.querySelector(".nick");
    if (nick?.textContent) page.open(privateKey(nick.textContent));
  };
  composer.addEventListener("submit", send);
  document.addEventListener("keydown", keys);
  byId("members").addEventListener("dblclick", openPrivate);
  return () => {
    composer.removeEventListener("submit", send);
    document.removeEventListener("keydown", keys);
    byId("members").removeEventListener("dblclick", openPrivate);
  };
}

/** The line with its last word completed to a member's nick, or undefined when none fits. */
function completeNick(line: string, page: ChatPage): string | undefined {
  const word = /(\S+)$/.exec(line)?.[1];
  if (word === undefined) return undefined;
  const members = page.conversations.get(page.conversations.shown).members.values();
  const match = [...members].find((m) => m.nick.toLowerCase().startsWith(word.toLowerCase()));
  if (match === undefined) return undefined;
  const alone = line.length === word.length;
  return line.slice(0, line.length - word.length) + match.nick + (alone ? ": " : " ");
}

signIn.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(signIn);
  signInError.textContent = "";
  start(String(data.get("nick") ?? "").trim(), String(data.get("room") ?? "").trim() || "lobby")
    .catch((error) => {
      signInError.textContent = (error as Error).message;
      signIn.hidden = false;
    });
});
