/**
 * One running node: the hub plus its listeners, started from a
 * {@linkcode NodeConfig} and stopped gracefully.
 *
 * @module
 */
import { ClientListener } from "./client_listener.ts";
import { Hub } from "./hub.ts";
import type { Logger } from "./logger.ts";
import type { NodeConfig } from "./node_config.ts";

/** A started node. */
export interface RunningNode {
  /** The hub. */
  readonly hub: Hub;
  /** Where the client listener is bound. */
  readonly clientAddr: Deno.NetAddr;
  /**
   * Tells every client, stops listening, and waits briefly for output to flush.
   *
   * @param reason Told to clients.
   */
  stop(reason: string): Promise<void>;
}

/**
 * Starts a node: binds its ports and begins serving.
 *
 * @param config Validated configuration.
 * @param logger Where log lines go.
 * @returns The running node.
 * @throws {Deno.errors.AddrInUse} When a port is taken.
 */
export function startNode(config: NodeConfig, logger: Logger): RunningNode {
  const hub = new Hub({
    nodeId: config.id,
    historySize: config.historySize,
    rateBurst: config.rateBurst,
    ratePerSecond: config.ratePerSecond,
    logger,
  });
  const clients = new ClientListener(
    hub,
    Deno.listen({ hostname: config.host, port: config.port, transport: "tcp" }),
    logger,
    { maxLineBytes: config.maxLineBytes, maxQueueBytes: config.maxQueueBytes },
  );
  const serving = clients.serve();
  logger.info("listening", {
    what: "clients",
    addr: `${clients.addr.hostname}:${clients.addr.port}`,
  });
  return {
    hub,
    clientAddr: clients.addr,
    async stop(reason: string) {
      hub.shutdown(reason);
      await clients.close();
      await serving;
    },
  };
}
