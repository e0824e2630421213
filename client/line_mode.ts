/**
 * Line mode, for scripts and bots (stdin is not a terminal): every input line
 * is sent, every incoming event is one plain line on stdout, errors go to
 * stderr. At end of input the client waits for its messages to be
 * acknowledged, then quits.
 *
 * @module
 */
import type { ChatClient } from "./chat_client.ts";

/**
 * Runs line mode until stdin ends or the node goes away.
 *
 * @param client A welcomed client.
 * @returns The process exit code: 0 when everything sent was acknowledged.
 */
export async function runLineMode(client: ChatClient): Promise<number> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let carry = "";
  const reading = (async () => {
    for await (const chunk of lines) {
      const parts = (carry + chunk).split(/\r?\n/);
      carry = parts.pop() ?? "";
      for (const line of parts) sendLine(client, line);
    }
    if (carry !== "") sendLine(client, carry);
  })();
  const first = await Promise.race([reading.then(() => "eof"), client.closed]);
  if (first === "quit") return 0;
  if (first !== "eof") {
    console.error(`meshchat: ${first}`);
    return 1;
  }
  const unacked = await client.settle();
  // The node went away and none answered: that, not the count, is the news.
  if (client.ended !== undefined && client.ended !== "quit") {
    console.error(`meshchat: ${client.ended}`);
    return 1;
  }
  await client.quit();
  if (unacked > 0) {
    console.error(`meshchat: ${unacked} messages were not acknowledged`);
    return 1;
  }
  return 0;
}

function sendLine(client: ChatClient, line: string): void {
  if (line.trim() === "") return;
  // Sending does not wait for the ack, so a script's lines flow at once.
  client.send(line).catch(() => {});
}
