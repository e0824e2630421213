/**
 * The one command table every frontend shares, and what runs a line a person
 * typed on it: {@linkcode handleInput} (which throws a `ProtocolError` for a
 * refusal) with a {@linkcode commandContext}. Frontends call it through
 * node/frontends/handle_line.ts, which turns refusals into `error` frames.
 * `/help` is generated from the table.
 *
 * @module
 */
import { CommandTable, unescapeSlash, UnknownCommandError } from "../../core/command_table.ts";
import type { ChatEvent } from "../../core/event.ts";
import type { Hub, Session } from "./hub.ts";
import { olderGoneLine } from "./room.ts";
import { ProtocolError, toMsgFrame } from "../../core/protocol.ts";
import { nickKey } from "../../core/names.ts";
import { quoteText, sanitizeText } from "../../core/text_sanitizer.ts";
import { countOf } from "../../core/chat_format.ts";
import { cleanVisibleText, MAX_REASON_LENGTH } from "../../core/event_rules.ts";
import { fitHistory, NOTE_RESERVE, replyList } from "./reply_budget.ts";
import { MAX_SEARCH_RESULTS, searchReply } from "./history_search.ts";
import { MAX_IGNORED, validTimeZone } from "./user_preferences.ts";
import { MENTIONS_LIMIT } from "./coming_back.ts";
import { mentionsReply, unreadReply } from "./coming_back_replies.ts";
import { MAIL_PER_RECIPIENT } from "./offline_mail.ts";
import { keysCommand, whoamiCommand } from "./identity_commands.ts";
import { firstWord, requireArgs } from "./command_args.ts";
import {
  banCommand,
  bannedCommand,
  deopCommand,
  kickCommand,
  motdCommand,
  muteCommand,
  opCommand,
  statsCommand,
  unbanCommand,
  unmuteCommand,
  unsealCommand,
} from "./operator_commands.ts";

/** What a command runs with. */
export interface CommandContext {
  /** The hub. */
  readonly hub: Hub;
  /** Who typed the command. */
  readonly session: Session;
  /** Room the client named for this line, or undefined for the current one. */
  readonly room: string | undefined;
  /** Sends command output to the person. */
  reply(command: string, lines: readonly string[], data?: unknown): void;
}

/**
 * The context a line runs with: command output goes to the session's own
 * sink as `info` frames, which every frontend renders.
 *
 * @param hub The hub.
 * @param session Who typed the line.
 * @param room The room the client named for the line; undefined for the current one.
 * @returns The context.
 */
export function commandContext(hub: Hub, session: Session, room?: string): CommandContext {
  return {
    hub,
    session,
    room,
    reply: (cmd, lines, data) =>
      session.sink.send(
        data === undefined ? { t: "info", cmd, lines } : { t: "info", cmd, lines, data },
      ),
  };
}

/**
 * What a session's sink offers when its frontend can sign its person in on
 * the web (`/web`): an SSH session with a key, on a node that serves HTTP
 * (node/frontends/ssh/ssh_session.ts).
 */
export interface WebSignInOffer {
  /**
   * Makes a one-time link that signs a browser in as this session's key.
   *
   * @param nick A nick the key owns, the one the browser signs in as.
   * @returns The link and how long it works (ms), or undefined when the
   *   node signs no one in on the web (no HTTP port).
   */
  webSignInLink(nick: string): { readonly url: string; readonly ttlMs: number } | undefined;
}

/** Most history lines one `/history` returns. */
const MAX_HISTORY = 500;

/** Most messages `/history` may skip (more than any room keeps). */
const MAX_HISTORY_SKIP = 1_000_000;

/** What `/whois` tells about someone. */
interface Person {
  nick: string;
  node: string;
  since: number;
  rooms: string[];
  via?: string;
  idleMs?: number;
  away?: string;
}

function findPerson(hub: Hub, nick: string): Person | undefined {
  const key = nickKey(nick);
  for (const session of hub.sessions()) {
    if (nickKey(session.nick) !== key) continue;
    return {
      nick: session.nick,
      node: hub.nodeId,
      since: session.since,
      rooms: [...session.rooms],
      via: session.origin.via,
      idleMs: Math.max(0, hub.now() - session.lastActive),
      ...(session.away === undefined ? {} : { away: session.away }),
    };
  }
  let found: Person | undefined;
  for (const room of hub.rooms().keys()) {
    const member = hub.members(room).find((m) => nickKey(m.nick) === key);
    if (member === undefined) continue;
    found ??= {
      nick: member.nick,
      node: member.node,
      since: member.since,
      rooms: [],
      ...(member.away === undefined ? {} : { away: member.away }),
    };
    found.rooms.push(room);
  }
  return found;
}

/**
 * A duration for people: `42s`, `3m 5s`, `2h 4m`, `3d 2h`.
 *
 * @param ms Milliseconds.
 * @returns The text.
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor(s / 60) % 60}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

/** The command table of meshchat. */
export const commands: CommandTable<CommandContext> = new CommandTable<CommandContext>();

commands
  .register({
    name: "help",
    aliases: ["h"],
    help: "list commands",
    run(ctx) {
      ctx.reply("help", [
        "Commands:",
        ...commands.helpLines({ includeOpOnly: ctx.hub.isOp(ctx.session) }),
      ]);
    },
  })
  .register({
    name: "who",
    aliases: ["names"],
    args: "[ROOM]",
    help: "list the people in a room",
    run(ctx, args) {
      const room = ctx.hub.roomOf(ctx.session, args === "" ? ctx.room : args);
      const members = ctx.hub.members(room.name).map((m) =>
        ctx.hub.isBot(m.nick) ? { ...m, bot: true } : m
      );
      const lines = members.map((m) =>
        `  ${m.nick} (${m.node})${"bot" in m ? " [bot]" : ""}${
          m.away === undefined ? "" : ` away: ${m.away}`
        }`
      );
      replyList(ctx, "who", `${members.length} in #${room.name}:`, lines, members);
    },
  })
  .register({
    name: "nick",
    args: "NEW",
    help: "change your nick",
    run(ctx, args) {
      ctx.hub.rename(ctx.session, requireArgs(args, "/nick NEW"));
    },
  })
  .register({
    name: "me",
    args: "ACTION",
    help: "say what you are doing (/me waves)",
    run(ctx, args) {
      ctx.hub.say(ctx.session, ctx.room, requireArgs(args, "/me ACTION"), "action");
    },
  })
  .register({
    name: "msg",
    aliases: ["m", "query"],
    args: "NICK TEXT",
    help: "send a private message",
    run(ctx, args) {
      const [nick, text] = firstWord(args);
      requireArgs(text, "/msg NICK TEXT");
      const sent = ctx.hub.sendPrivate(ctx.session, nick, text);
      if (ctx.hub.onlineNick(nick) === undefined) {
        ctx.reply("msg", [
          `${sent.to} is offline: your message is kept for them (the last ${MAIL_PER_RECIPIENT}) ` +
          "and shown when they log in",
        ], { to: sent.to, kept: true });
      }
    },
  })
  .register({
    name: "join",
    aliases: ["j"],
    args: "ROOM",
    help: "join a room (created if new) and make it current",
    run(ctx, args) {
      ctx.hub.join(ctx.session, requireArgs(firstWord(args)[0], "/join ROOM"));
    },
  })
  .register({
    name: "leave",
    aliases: ["part"],
    args: "[ROOM]",
    help: "leave a room (default: the current one)",
    run(ctx, args) {
      ctx.hub.leave(ctx.session, args === "" ? ctx.room : firstWord(args)[0]);
    },
  })
  .register({
    name: "rooms",
    aliases: ["list"],
    help: "list rooms with their member counts and topics",
    run(ctx) {
      const rooms = [...ctx.hub.rooms().values()]
        .map((room) => ({ room, members: ctx.hub.members(room.name).length }))
        .filter(({ room, members }) => members > 0 || ctx.session.rooms.has(room.name))
        .sort((a, b) => a.room.name.localeCompare(b.room.name));
      const data = rooms.map((r) => ({
        room: r.room.name,
        members: r.members,
        topic: r.room.topic,
      }));
      replyList(
        ctx,
        "rooms",
        `${countOf(rooms.length, "room")}:`,
        data.map((r) => `  #${r.room} (${r.members})${r.topic ? ` ${r.topic}` : ""}`),
        data,
      );
    },
  })
  .register({
    name: "topic",
    args: "[TEXT]",
    help: "show or set the room topic",
    run(ctx, args) {
      if (args !== "") {
        ctx.hub.setTopic(ctx.session, ctx.room, args);
        return;
      }
      const room = ctx.hub.roomOf(ctx.session, ctx.room);
      ctx.reply("topic", [
        room.topic ? `Topic of #${room.name}: ${room.topic}` : `#${room.name} has no topic`,
      ], {
        room: room.name,
        topic: room.topic,
      });
    },
  })
  .register({
    name: "history",
    args: "[N] [SKIP]",
    help: `show the last N messages of the room (default 20, at most ${MAX_HISTORY}), ` +
      "skipping the newest SKIP",
    run(ctx, args) {
      const [first, rest] = firstWord(args);
      const count = first === "" ? 20 : Number(first);
      const skip = rest === "" ? 0 : Number(rest);
      if (
        !Number.isInteger(count) || count < 1 || count > MAX_HISTORY ||
        !Number.isInteger(skip) || skip < 0 || skip > MAX_HISTORY_SKIP
      ) {
        throw new ProtocolError(
          "bad_args",
          `Invalid arguments ${
            quoteText(args, 24)
          }: use /history N [SKIP], N from 1 to ${MAX_HISTORY}, SKIP from 0`,
        );
      }
      const room = ctx.hub.roomOf(ctx.session, ctx.room);
      const recent = room.recent(count + skip);
      const page = recent.slice(0, Math.max(0, recent.length - skip)).map(toMsgFrame);
      const olderGone = room.reachesGone(recent.length, count + skip);
      // The newest that fit the reader's queue: one frame bigger than it drops the reader.
      const frame = fitHistory(
        ctx.session.sink,
        { t: "history", room: room.name, history: page, ...(olderGone ? { olderGone } : {}) },
        NOTE_RESERVE,
      );
      ctx.session.sink.send(frame);
      const shown = frame.history.length;
      if (shown === page.length) {
        if (olderGone) ctx.reply("history", [olderGoneLine(room.name)], { olderGone });
        return;
      }
      const older = `/history ${page.length - shown} ${skip + shown}`;
      ctx.reply("history", [
        `Only the newest ${shown} of ${countOf(page.length, "message")} fit in one reply; ` +
        `for older ones: ${older}`,
      ], { shown, omitted: page.length - shown, older });
    },
  })
  .register({
    name: "search",
    args: "TEXT [#ROOM] [from:NICK]",
    help: `find messages in your rooms, newest first (at most ${MAX_SEARCH_RESULTS}); ` +
      "sealed rooms: the terminal client searches them",
    run(ctx, args) {
      const found = searchReply(ctx.hub, ctx.session, requireArgs(args, "/search TEXT"));
      replyList(ctx, "search", found.header, found.lines, found.hits, found.notes);
    },
  })
  .register({
    name: "unread",
    help: "list the rooms you left that have new messages, with how many",
    run(ctx) {
      const { header, lines, data } = unreadReply(ctx.hub.comingBack, ctx.session);
      replyList(ctx, "unread", header, lines, data);
    },
  })
  .register({
    name: "mentions",
    help: `list the messages that named you since you were last seen (the last ${MENTIONS_LIMIT})`,
    run(ctx) {
      const { header, lines, data } = mentionsReply(ctx.hub.comingBack, ctx.session);
      replyList(ctx, "mentions", header, lines, data);
    },
  })
  .register({
    name: "away",
    args: "[MESSAGE]",
    help: "mark yourself away",
    run(ctx, args) {
      ctx.hub.setAway(ctx.session, args);
    },
  })
  .register({
    name: "back",
    help: "mark yourself back",
    run(ctx) {
      ctx.hub.setAway(ctx.session, undefined);
    },
  })
  .register({
    name: "nodes",
    help: "list the nodes of the cluster and their state",
    run(ctx) {
      const cluster = ctx.hub.cluster;
      if (cluster === undefined) {
        ctx.reply("nodes", [`Standalone node ${ctx.hub.nodeId} (the mesh is off)`], []);
        return;
      }
      const members = cluster.members();
      const lost = cluster.lostRanges();
      // Cut to the reader's budget: gossip can announce any number of members.
      replyList(
        ctx,
        "nodes",
        `${countOf(members.length, "node")}:`,
        members.map((m) =>
          `  ${m.id} ${m.addr} ${m.state}${
            m.id === ctx.hub.nodeId ? " (this node)" : m.connected ? "" : " (not linked)"
          }`
        ),
        members,
        lost.length > 0 ? [`Lost event ranges: ${lost.join(", ")}`] : [],
      );
    },
  })
  .register({
    name: "whois",
    args: "NICK",
    help: "show someone's node, key fingerprint and idle time",
    run(ctx, args) {
      const nick = requireArgs(firstWord(args)[0], "/whois NICK");
      const person = findPerson(ctx.hub, nick);
      if (person === undefined) {
        throw new ProtocolError("no_such_user", `No such user: ${sanitizeText(nick).slice(0, 32)}`);
      }
      const owner = ctx.hub.nickGuard?.ownerOf(person.nick);
      const bot = ctx.hub.isBot(person.nick);
      const idle = person.idleMs === undefined
        ? "idle time known on its node only"
        : `idle ${formatDuration(person.idleMs)}`;
      ctx.reply("whois", [
        `${person.nick} on node ${person.node}${person.via ? ` via ${person.via}` : ""}, ` +
        `connected ${formatDuration(ctx.hub.now() - person.since)}, ${idle}`,
        owner === undefined
          ? "  nick not registered (no SSH key owns it)"
          : `  nick registered to SSH key ${owner}`,
        `  rooms: ${person.rooms.map((r) => `#${r}`).join(" ") || "none"}`,
        ...(person.away === undefined ? [] : [`  away: ${person.away}`]),
        ...(bot ? ["  a bot (marked with /bot)"] : []),
      ], {
        ...person,
        ...(owner === undefined ? {} : { fingerprint: owner }),
        ...(bot ? { bot } : {}),
      });
    },
  })
  .register(whoamiCommand)
  .register(keysCommand)
  .register({
    name: "bot",
    args: "[on|off] [NICK]",
    help: "mark your registered nick as a bot (no history on join, shown in /who), or not; " +
      "operators: anyone's",
    run(ctx, args) {
      const [choice, rest] = firstWord(args);
      const nick = firstWord(rest)[0] || undefined;
      const word = choice.toLowerCase();
      if (word === "") {
        const bot = ctx.hub.isBot(ctx.session.nick);
        ctx.reply("bot", [`${ctx.session.nick} is ${bot ? "" : "not "}marked as a bot`], {
          nick: ctx.session.nick,
          bot,
        });
        return;
      }
      if (word !== "on" && word !== "off") {
        throw new ProtocolError(
          "bad_args",
          `Invalid choice ${quoteText(choice, 16)}: use on or off`,
        );
      }
      const marked = ctx.hub.markBot(ctx.session, nick, word === "on");
      ctx.reply("bot", [
        word === "on"
          ? `${marked} is a bot now: shown as one in /who, no history on join unless asked`
          : `${marked} is no longer marked as a bot`,
      ], { nick: marked, bot: word === "on" });
    },
  })
  .register({
    name: "theme",
    args: "[color|mono]",
    help: "colours on or off (SSH sessions)",
    run(ctx, args) {
      const choice = firstWord(args)[0].toLowerCase();
      if (choice !== "") {
        if (!["color", "colour", "mono"].includes(choice)) {
          throw new ProtocolError(
            "bad_args",
            `Unknown theme ${quoteText(choice, 16)}: use color or mono`,
          );
        }
        ctx.session.prefs.set("theme", choice === "mono" ? "mono" : "color");
      }
      const theme = ctx.session.prefs.get("theme") ?? "default";
      ctx.reply("theme", [`Theme: ${theme}`], { theme });
    },
  })
  .register({
    name: "timestamp",
    aliases: ["timestamps"],
    args: "[on|off]",
    help: "show the time of each message or not (SSH sessions)",
    run(ctx, args) {
      const choice = firstWord(args)[0].toLowerCase();
      if (choice !== "") {
        if (choice !== "on" && choice !== "off") {
          throw new ProtocolError(
            "bad_args",
            `Invalid choice ${quoteText(choice, 16)}: use on or off`,
          );
        }
        ctx.session.prefs.set("timestamps", choice);
      }
      const timestamps = ctx.session.prefs.get("timestamps") ?? "default";
      ctx.reply("timestamp", [`Timestamps: ${timestamps}`], { timestamps });
    },
  })
  .register({
    name: "tz",
    aliases: ["timezone"],
    args: "[ZONE|-]",
    help: "show times in a time zone, e.g. /tz Europe/Paris; /tz - for the default (SSH sessions)",
    run(ctx, args) {
      const choice = firstWord(args)[0];
      if (choice === "-") {
        ctx.session.prefs.delete("tz");
      } else if (choice !== "") {
        const zone = validTimeZone(choice);
        if (zone === undefined) {
          throw new ProtocolError(
            "bad_args",
            `Unknown time zone ${quoteText(choice, 40)}: use a name like Europe/Paris or UTC`,
          );
        }
        ctx.session.prefs.set("tz", zone);
      }
      const tz = ctx.session.prefs.get("tz");
      ctx.reply("tz", [`Time zone: ${tz ?? "default (your SSH client's TZ, else the node's)"}`], {
        tz: tz ?? null,
      });
    },
  })
  .register({
    name: "seal",
    args: "PARAMS",
    help: "seal the room end to end (the terminal client's /seal sends this)",
    // The terminal client lists its own /seal [ROOM]; SSH cannot seal at all.
    hidden: true,
    run(ctx, args) {
      if (args === "") {
        throw new ProtocolError(
          "bad_args",
          "Sealing needs the terminal client (client/main.ts): its /seal makes the key and sends the parameters",
        );
      }
      let params: unknown;
      try {
        params = JSON.parse(args);
      } catch (error) {
        throw new ProtocolError("bad_args", "Invalid seal parameters: expected JSON", {
          cause: error,
        });
      }
      ctx.hub.seal(ctx.session, ctx.room, params);
    },
  })
  .register({
    name: "ignore",
    args: "[NICK]",
    help: "stop seeing someone's messages (kept for an SSH key, on this node); no NICK lists them",
    run(ctx, args) {
      const nick = firstWord(args)[0];
      if (nick !== "") {
        if (nickKey(nick) === nickKey(ctx.session.nick)) {
          throw new ProtocolError("bad_args", "You cannot ignore yourself");
        }
        if (!/^[A-Za-z0-9._-]{1,16}$/.test(nick)) {
          throw new ProtocolError("bad_args", `Invalid nick ${quoteText(nick, 32)}`);
        }
        if (ctx.session.ignored.size >= MAX_IGNORED && !ctx.session.ignored.has(nickKey(nick))) {
          throw new ProtocolError(
            "bad_args",
            `Cannot ignore ${nick}: you ignore ${MAX_IGNORED} people already; /unignore someone first`,
          );
        }
        ctx.session.ignored.add(nickKey(nick));
        ctx.reply("ignore", [`Ignoring ${nick}: /unignore ${nick} to see them again`], {
          ignored: [...ctx.session.ignored],
        });
        return;
      }
      const ignored = [...ctx.session.ignored].sort();
      ctx.reply(
        "ignore",
        [ignored.length === 0 ? "You ignore nobody" : `You ignore: ${ignored.join(", ")}`],
        { ignored },
      );
    },
  })
  .register({
    name: "unignore",
    args: "NICK",
    help: "see someone's messages again",
    run(ctx, args) {
      const nick = requireArgs(firstWord(args)[0], "/unignore NICK");
      if (!ctx.session.ignored.delete(nickKey(nick))) {
        throw new ProtocolError("bad_args", `You do not ignore ${sanitizeText(nick).slice(0, 32)}`);
      }
      ctx.reply("unignore", [`No longer ignoring ${nick}`], { ignored: [...ctx.session.ignored] });
    },
  })
  .register(motdCommand)
  .register(opCommand)
  .register(deopCommand)
  .register(kickCommand)
  .register(banCommand)
  .register(unbanCommand)
  .register(statsCommand)
  .register(bannedCommand)
  .register(muteCommand)
  .register(unmuteCommand)
  .register(unsealCommand)
  .register({
    name: "web",
    help: "a one-time link that signs a browser in as you (over SSH with a key)",
    run(ctx) {
      const { session } = ctx;
      const fingerprint = session.origin.fingerprint;
      // Only an SSH session's sink makes links: it knows the key and the address it was reached at.
      const offer = session.origin.via === "ssh"
        ? (session.sink as Partial<WebSignInOffer>).webSignInLink
        : undefined;
      if (fingerprint === undefined || offer === undefined) {
        throw new ProtocolError(
          "forbidden",
          "/web works in an SSH session signed in with a key (ssh -i ~/.ssh/id_ed25519 …)",
        );
      }
      if (ctx.hub.nickGuard?.ownerOf(session.nick) !== fingerprint) {
        throw new ProtocolError(
          "forbidden",
          `Nick ${session.nick} is not registered to your key: /nick to one it owns first`,
        );
      }
      const link = offer.call(session.sink, session.nick);
      if (link === undefined) {
        throw new ProtocolError("forbidden", "This node serves no web page: /web is off here");
      }
      const within = formatDuration(link.ttlMs);
      ctx.reply("web", [
        `Open this link within ${within} to sign a browser in as ${session.nick}:`,
        `  ${link.url}`,
        "It works once, on this node only. Whoever opens it first is you: do not share it.",
      ]);
    },
  })
  .register({
    name: "quit",
    aliases: ["exit", "bye"],
    args: "[MESSAGE]",
    help: "leave the chat",
    run(ctx, args) {
      // Shown to everyone in the person's rooms: clean it, and a muted person says nothing.
      const clean = cleanVisibleText(args, MAX_REASON_LENGTH);
      const reason = clean === "" || ctx.hub.muteOf(ctx.session) !== undefined ? "quit" : clean;
      ctx.session.sink.send({ t: "bye", reason: "quit" });
      ctx.hub.disconnect(ctx.session, reason);
      ctx.session.sink.close("quit");
    },
  });

/**
 * Handles one line a person typed: a `/command`, or text for a room
 * (`//text` sends `/text`). Counts against the rate limit.
 *
 * @param ctx Command context (hub, session, room, reply).
 * @param line The line.
 * @param cid The client's id for the line, when it sent one.
 * @returns The chat event when the line was a message, else undefined.
 * @throws {ProtocolError} For every refusal (rate limit, unknown command, bad arguments, …).
 */
export async function handleInput(
  ctx: CommandContext,
  line: string,
  cid?: string,
): Promise<ChatEvent | undefined> {
  ctx.hub.spend(ctx.session);
  let parsed;
  try {
    parsed = commands.parse(line);
  } catch (error) {
    if (error instanceof UnknownCommandError) {
      throw new ProtocolError(
        "unknown_command",
        `Unknown command /${error.word.slice(0, 32)}: try /help`,
        { cause: error },
      );
    }
    throw error;
  }
  if (parsed === undefined) {
    return ctx.hub.say(ctx.session, ctx.room, unescapeSlash(line), "message", cid);
  }
  if (parsed.command.opOnly && !ctx.hub.isOp(ctx.session)) {
    throw new ProtocolError("forbidden", `/${parsed.command.name} is for operators only`);
  }
  await parsed.command.run(ctx, parsed.args);
  return undefined;
}

/**
 * Handles a sealed line (a `say` frame with an envelope instead of text):
 * counts against the rate limit like any line, then hands the opaque
 * envelope to the hub.
 *
 * @param ctx Command context (hub, session, room).
 * @param envelope The sealed envelope.
 * @param kind `message`, or `action` for a sealed `/me`.
 * @param cid The client's id for the line, when it sent one.
 * @returns The chat event.
 * @throws {ProtocolError} Rate limit, `not_sealed`, `bad_envelope`, `not_in_room`.
 */
export function handleSealed(
  ctx: CommandContext,
  envelope: string,
  kind: "message" | "action",
  cid?: string,
): ChatEvent {
  ctx.hub.spend(ctx.session);
  return ctx.hub.saySealed(ctx.session, ctx.room, envelope, kind, cid);
}
