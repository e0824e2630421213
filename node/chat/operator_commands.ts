/**
 * The operators' commands, registered in the one command table
 * (commands.ts) where `/help` lists them: moderation (`/op`, `/deop`,
 * `/kick`, `/ban`, `/unban`, `/banned`, `/mute`, `/unmute`, `/unseal`), each
 * a cluster-wide `mod` event (node/chat/moderation.ts), the message of the
 * day (`/motd`: anyone reads it, operators set it) and `/stats`. Who is an
 * operator is node/chat/moderation_enforcement.ts; the table refuses an
 * `opOnly` command to anyone else before it runs.
 *
 * @module
 */
import type { Command } from "../../core/command_table.ts";
import { countOf } from "../../core/chat_format.ts";
import { nickKey } from "../../core/names.ts";
import { ProtocolError } from "../../core/protocol.ts";
import { quoteText, sanitizeText } from "../../core/text_sanitizer.ts";
import { firstWord, requireArgs } from "./command_args.ts";
import type { CommandContext } from "./commands.ts";
import { type BanTarget, formatUntil, normalizeHost, parseDuration } from "./moderation.ts";
import { replyList } from "./reply_budget.ts";
import { formatStats, gatherStats } from "./stats.ts";

/** `/motd [TEXT]`: anyone reads the message of the day; operators set it. */
export const motdCommand: Command<CommandContext> = {
  name: "motd",
  args: "[TEXT]",
  help: "show the message of the day; operators set it (/motd - clears it)",
  run(ctx, args) {
    if (args === "") {
      const motd = ctx.hub.moderation.motd;
      ctx.reply("motd", [motd === "" ? "No message of the day" : `Message of the day: ${motd}`], {
        motd,
      });
      return;
    }
    if (!ctx.hub.isOp(ctx.session)) {
      throw new ProtocolError(
        "forbidden",
        "Setting the message of the day is for operators only",
      );
    }
    const text = args === "-" ? "" : sanitizeText(args).trim().slice(0, 500);
    ctx.hub.moderate(ctx.session, { a: "motd", text });
    ctx.reply("motd", [text === "" ? "Message of the day cleared" : `Message of the day set`], {
      motd: text,
    });
  },
};

/** `/op [NICK|FINGERPRINT]`: grant a key operator cluster-wide, or list the grants. */
export const opCommand: Command<CommandContext> = {
  name: "op",
  args: "[NICK|FINGERPRINT]",
  opOnly: true,
  help: "make someone's SSH key an operator cluster-wide; no argument lists operators",
  run(ctx, args) {
    const who = firstWord(args)[0];
    if (who === "") {
      const ops = ctx.hub.moderation.ops();
      ctx.reply("op", [
        ops.length === 0
          ? "No operators granted with /op (ops files are per node)"
          : `Operators granted with /op: ${ops.join(", ")}`,
      ], { ops });
      return;
    }
    const fp = fingerprintOf(ctx, who);
    ctx.hub.moderate(ctx.session, { a: "op", fp });
    ctx.reply("op", [`${fp} is an operator now`], { fp });
  },
};

/** `/deop NICK|FINGERPRINT`: take back a grant made with `/op`. */
export const deopCommand: Command<CommandContext> = {
  name: "deop",
  args: "NICK|FINGERPRINT",
  opOnly: true,
  help: "take back an operator grant made with /op",
  run(ctx, args) {
    const fp = fingerprintOf(ctx, requireArgs(firstWord(args)[0], "/deop NICK|FINGERPRINT"));
    ctx.hub.moderate(ctx.session, { a: "deop", fp });
    ctx.reply("deop", [`${fp} is no longer an operator by /op`], { fp });
  },
};

/** `/kick NICK [REASON]`: disconnect someone, on whichever node they are. */
export const kickCommand: Command<CommandContext> = {
  name: "kick",
  args: "NICK [REASON]",
  opOnly: true,
  help: "disconnect someone, on whichever node they are",
  run(ctx, args) {
    const [word, reason] = firstWord(args);
    const nick = onlineNick(ctx, requireArgs(word, "/kick NICK [REASON]"));
    ctx.hub.moderate(ctx.session, {
      a: "kick",
      nick,
      reason: sanitizeText(reason).trim().slice(0, 200),
    });
    ctx.reply("kick", [`Kicked ${nick}`], { nick });
  },
};

/** `/ban NICK|FINGERPRINT|ADDRESS [DURATION]`: refuse someone at login. */
export const banCommand: Command<CommandContext> = {
  name: "ban",
  args: "NICK|FINGERPRINT|ADDRESS [DURATION]",
  opOnly: true,
  help: "refuse someone at login, e.g. /ban bob 2h (10m, 2h, 1d; default permanent)",
  run(ctx, args) {
    const [word, rest] = firstWord(args);
    const target = banTarget(requireArgs(word, "/ban NICK|FINGERPRINT|ADDRESS [DURATION]"));
    const until = untilOf(ctx, firstWord(rest)[0]);
    ctx.hub.moderate(ctx.session, { a: "ban", target, until });
    ctx.reply("ban", [
      `Banned ${describeTarget(target)} ${formatUntil(until, ctx.hub.now())}`,
    ], { target: { [target.type]: target.value }, until });
  },
};

/** `/unban NICK|FINGERPRINT|ADDRESS`: lift a ban in force. */
export const unbanCommand: Command<CommandContext> = {
  name: "unban",
  args: "NICK|FINGERPRINT|ADDRESS",
  opOnly: true,
  help: "lift a ban",
  run(ctx, args) {
    const target = banTarget(requireArgs(firstWord(args)[0], "/unban NICK|FINGERPRINT|ADDRESS"));
    const banned = ctx.hub.moderation.bans(ctx.hub.now()).some((ban) =>
      ban.target.type === target.type &&
      (target.type === "nick"
        ? nickKey(ban.target.value) === nickKey(target.value)
        : ban.target.value === target.value)
    );
    if (!banned) {
      throw new ProtocolError("bad_args", `${describeTarget(target)} is not banned`);
    }
    ctx.hub.moderate(ctx.session, { a: "unban", target });
    ctx.reply("unban", [`Unbanned ${describeTarget(target)}`], {
      target: { [target.type]: target.value },
    });
  },
};

/** `/stats`: this node's retained events, history bytes, rooms, sessions and backlog. */
export const statsCommand: Command<CommandContext> = {
  name: "stats",
  opOnly: true,
  help: "show this node's retained events, history bytes, rooms, sessions and snapshot backlog",
  run(ctx) {
    const stats = gatherStats(ctx.hub);
    ctx.reply("stats", formatStats(stats, ctx.hub.now()), stats);
  },
};

/** `/banned`: the bans in force with their expiry. */
export const bannedCommand: Command<CommandContext> = {
  name: "banned",
  opOnly: true,
  help: "list the bans in force with their expiry",
  run(ctx) {
    const now = ctx.hub.now();
    const bans = ctx.hub.moderation.bans(now);
    replyList(
      ctx,
      "banned",
      bans.length === 0 ? "Nobody is banned" : `${countOf(bans.length, "ban")}:`,
      bans.map((ban) =>
        `  ${describeTarget(ban.target)} ${formatUntil(ban.until, now)} (by ${ban.by})`
      ),
      bans.map((ban) => ({
        target: { [ban.target.type]: ban.target.value },
        until: ban.until,
        by: ban.by,
      })),
    );
  },
};

/** `/mute NICK [DURATION]`: refuse someone's messages. */
export const muteCommand: Command<CommandContext> = {
  name: "mute",
  args: "NICK [DURATION]",
  opOnly: true,
  help: "refuse someone's messages, e.g. /mute bob 10m (default permanent)",
  run(ctx, args) {
    const [word, rest] = firstWord(args);
    const nick = requireArgs(word, "/mute NICK [DURATION]");
    if (!/^[A-Za-z0-9._-]{1,16}$/.test(nick)) {
      throw new ProtocolError("bad_args", `Invalid nick ${quoteText(nick, 32)}`);
    }
    const until = untilOf(ctx, firstWord(rest)[0]);
    ctx.hub.moderate(ctx.session, { a: "mute", nick, until });
    ctx.reply("mute", [`Muted ${nick} ${formatUntil(until, ctx.hub.now())}`], { nick, until });
  },
};

/** `/unmute NICK`: let someone speak again. */
export const unmuteCommand: Command<CommandContext> = {
  name: "unmute",
  args: "NICK",
  opOnly: true,
  help: "let someone speak again",
  run(ctx, args) {
    const nick = requireArgs(firstWord(args)[0], "/unmute NICK");
    if (ctx.hub.moderation.muted(nick, ctx.hub.now()) === undefined) {
      throw new ProtocolError("bad_args", `${sanitizeText(nick).slice(0, 32)} is not muted`);
    }
    ctx.hub.moderate(ctx.session, { a: "unmute", nick });
    ctx.reply("unmute", [`Unmuted ${nick}`], { nick });
  },
};

/** `/unseal [ROOM]`: take a room's seal away, cluster-wide. */
export const unsealCommand: Command<CommandContext> = {
  name: "unseal",
  args: "[ROOM]",
  opOnly: true,
  help: "take a room's seal away (it takes plain text again), cluster-wide",
  run(ctx, args) {
    const name = firstWord(args)[0] || ctx.room || ctx.session.current;
    const room = ctx.hub.findRoom(name);
    if (room?.sealed === undefined) {
      throw new ProtocolError("bad_args", `${quoteText(name, 34)} is not a sealed room`);
    }
    ctx.hub.moderate(ctx.session, { a: "unseal", room: room.name });
    ctx.reply("unseal", [`#${room.name} is unsealed`], { room: room.name });
  },
};

/** How an operator names what to ban: a key fingerprint, an address, or else a nick. */
function banTarget(word: string): BanTarget {
  if (/^SHA256:[A-Za-z0-9+/=]{1,60}$/.test(word)) return { type: "fp", value: word };
  // No IPv6 address is longer than 45 characters (47 in brackets): a longer
  // one would make a `mod` event that every node refuses or ignores.
  if (
    /^\d{1,3}(\.\d{1,3}){3}$/.test(word) ||
    (word.length <= 47 && /^\[?[0-9a-fA-F]*:[0-9a-fA-F:.]*\]?$/.test(word))
  ) {
    return { type: "addr", value: normalizeHost(word) };
  }
  if (!/^[A-Za-z0-9._-]{1,16}$/.test(word)) {
    throw new ProtocolError(
      "bad_args",
      `Invalid ban target ${
        quoteText(word, 32)
      }: use a nick, an SHA256: key fingerprint or an IP address`,
    );
  }
  return { type: "nick", value: word };
}

function describeTarget(target: BanTarget): string {
  return target.type === "nick"
    ? target.value
    : target.type === "fp"
    ? `key ${target.value}`
    : `address ${target.value}`;
}

/** An expiry time from an optional duration argument; null = permanent. */
function untilOf(ctx: CommandContext, duration: string): number | null {
  if (duration === "") return null;
  try {
    return ctx.hub.now() + parseDuration(duration);
  } catch (error) {
    throw new ProtocolError("bad_args", (error as Error).message, { cause: error });
  }
}

/** The key fingerprint behind a nick (connected here, or registered), or one typed as is. */
function fingerprintOf(ctx: CommandContext, who: string): string {
  if (/^SHA256:[A-Za-z0-9+/=]{1,60}$/.test(who)) return who;
  const fp = ctx.hub.localSession(who)?.origin.fingerprint ?? ctx.hub.nickGuard?.ownerOf(who);
  if (fp === undefined) {
    throw new ProtocolError(
      "bad_args",
      `${
        sanitizeText(who).slice(0, 32)
      } has no SSH key: only people logged in over SSH with a key can be operators`,
    );
  }
  return fp;
}

function onlineNick(ctx: CommandContext, nick: string): string {
  const found = ctx.hub.onlineNick(nick);
  if (found === undefined) {
    throw new ProtocolError("no_such_user", `No such user: ${sanitizeText(nick).slice(0, 32)}`);
  }
  return found;
}
