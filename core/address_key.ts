// Copyright the meshchat authors. MIT license.
/**
 * The key an IP address is counted under by every per-address limit (failed
 * SSH logins, open connections, mesh handshakes): one person with an IPv6
 * /64 must not get 2^64 budgets.
 *
 * @module
 */

/**
 * The key an address is counted under: IPv4 as is (IPv4-mapped IPv6 made
 * plain), IPv6 by its first 64 bits.
 *
 * @param address An IP address as the socket reports it.
 * @returns The key.
 */
export function addressKey(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
  if (!plain.includes(":")) return plain;
  const [head = "", tail] = plain.toLowerCase().split("::");
  const groups = head === "" ? [] : head.split(":");
  if (tail !== undefined && groups.length < 4) {
    const rest = tail === "" ? [] : tail.split(":");
    const zeros = 8 - groups.length - rest.length;
    groups.push(...Array(Math.max(0, zeros)).fill("0"), ...rest);
  }
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
