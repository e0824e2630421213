/**
 * The commands about a person's identity, registered in the one command
 * table (commands.ts): `/whoami` (your nick, the key you proved, whether it
 * owns your nick) and `/keys` (the keys that own your nick; `/keys add`,
 * `/keys remove`, node/chat/linked_keys.ts).
 *
 * @module
 */
import type { Command } from "../../core/command_table.ts";
import {
  parsePublicKeyLine,
  sshKeyFingerprint,
  SshSignatureError,
} from "../../core/crypto/sshsig.ts";
import { KEY_FINGERPRINT_PATTERN } from "../../core/event_rules.ts";
import { ProtocolError } from "../../core/protocol.ts";
import type { CommandContext } from "./commands.ts";

/** `/whoami`: who the node takes you for. */
export const whoamiCommand: Command<CommandContext> = {
  name: "whoami",
  help: "your nick, the key you logged in with and whether it owns your nick",
  run(ctx) {
    const { session, hub } = ctx;
    const fingerprint = session.origin.fingerprint;
    const owned = fingerprint !== undefined && hub.nickGuard?.owns(session.nick, fingerprint);
    ctx.reply("whoami", [
      `${session.nick} on node ${hub.nodeId} via ${session.origin.via}`,
      fingerprint === undefined
        ? "  no key: a guest (you may use only nicks no key owns)"
        : `  key ${fingerprint}`,
      ...(fingerprint === undefined ? [] : [
        owned
          ? `  ${session.nick} is registered to your key: yours on every node`
          : `  ${session.nick} is not registered to your key`,
      ]),
    ], {
      nick: session.nick,
      node: hub.nodeId,
      via: session.origin.via,
      ...(fingerprint === undefined ? {} : { fingerprint, owned }),
    });
  },
};

/** `/keys [add KEY | remove FINGERPRINT]`: the keys that own your nick. */
export const keysCommand: Command<CommandContext> = {
  name: "keys",
  args: "[add PUBKEY|FINGERPRINT | remove FINGERPRINT]",
  help: "list the keys that own your nick; link another (add) or unlink one (remove)",
  async run(ctx, args) {
    const { session, hub } = ctx;
    const [word = "", ...rest] = args.split(/\s+/).filter((part) => part !== "");
    if (word === "") {
      const keys = hub.log.nicks.keysOf(session.nick);
      const mine = session.origin.fingerprint;
      ctx.reply(
        "keys",
        keys.length === 0 ? [`${session.nick} is not registered: no key owns it`] : [
          `Keys of ${session.nick}:`,
          ...keys.map((key, i) =>
            `  ${key}${i === 0 ? " (registered it)" : ""}${key === mine ? " (this session)" : ""}`
          ),
        ],
        { nick: session.nick, keys },
      );
      return;
    }
    const action = word === "add" ? "+" : word === "remove" ? "-" : undefined;
    if (action === undefined || rest.length === 0) {
      throw new ProtocolError(
        "bad_args",
        "Usage: /keys, /keys add PUBKEY|FINGERPRINT, /keys remove FINGERPRINT",
      );
    }
    const fingerprint = await fingerprintOf(rest.join(" "));
    const changed = hub.linkKey(session, action, fingerprint);
    const verb = action === "+" ? "linked to" : "unlinked from";
    ctx.reply("keys", [
      changed
        ? `${fingerprint} ${verb} ${session.nick}, on every node`
        : `${fingerprint} was already ${verb} ${session.nick}`,
    ], { nick: session.nick, fingerprint, action: word, changed });
  },
};

/**
 * A fingerprint as typed, or the fingerprint of a public key line. A weak key
 * may be linked: it still cannot log in (SSH and the key login refuse it).
 */
async function fingerprintOf(text: string): Promise<string> {
  if (KEY_FINGERPRINT_PATTERN.test(text)) return text;
  if (text.startsWith("SHA256:")) {
    throw new ProtocolError("bad_args", "Invalid fingerprint: SHA256: and 43 base64 characters");
  }
  try {
    const key = parsePublicKeyLine(text);
    return await sshKeyFingerprint(key);
  } catch (error) {
    if (!(error instanceof SshSignatureError)) throw error;
    throw new ProtocolError(
      "bad_args",
      `${error.message}: give a public key line or a fingerprint`,
    );
  }
}
