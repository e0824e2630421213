/**
 * What a node says about the cluster, asked the way a person asks: `/nodes`
 * and `/who` through a throwaway client.
 *
 * @module
 */
import { RawClient } from "./raw_client.ts";
import { waitFor } from "./wait_for.ts";

/** Joins `port` under a random nick, runs `line`, and returns the `info` frame's data. */
async function ask(port: number, line: string, cmd: string): Promise<unknown> {
  const probe = await RawClient.join(port, `v${crypto.randomUUID().slice(0, 6)}`);
  try {
    await probe.send({ t: "cmd", line });
    return (await probe.next((f) => f.t === "info" && f.cmd === cmd)).data;
  } finally {
    probe.close();
  }
}

/**
 * The members a node knows and their state, from its `/nodes`.
 *
 * @returns State (`alive`, `suspect`, `dead`, ...) by node id.
 */
export async function nodeStates(port: number): Promise<Record<string, string>> {
  const members = await ask(port, "/nodes", "nodes") as { id: string; state: string }[];
  return Object.fromEntries(members.map((m) => [m.id, m.state]));
}

/** Waits until the node at `port` sees `count` members alive (itself included). */
export async function waitForAlive(port: number, count: number): Promise<void> {
  await waitFor(
    async () => Object.values(await nodeStates(port)).filter((s) => s === "alive").length === count,
    `${count} alive members on the node at port ${port}`,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

/** Whether `/who` of #lobby on the node at `port` lists `nick`, on whichever node. */
export async function whoHas(port: number, nick: string): Promise<boolean> {
  const members = await ask(port, "/who", "who") as { nick: string }[];
  return members.some((m) => m.nick === nick);
}
