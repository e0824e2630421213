/**
 * Every decoder fuzz property, in one list for `tests/fuzz_test.ts` (a few
 * thousand runs) and `tests/fuzz/main.ts` (`deno task fuzz`, 100,000+).
 *
 * @module
 */
import type { FuzzProperty } from "./arbitraries.ts";
import { clientFrameProperties } from "./client_frames.ts";
import { lineInputProperties } from "./line_input.ts";
import { meshHandshakeProperties } from "./mesh_handshake.ts";
import { meshMessageProperties } from "./mesh_messages.ts";
import { sealedEnvelopeProperties } from "./sealed_envelopes.ts";

export type { FuzzProperty, FuzzRunOptions } from "./arbitraries.ts";

/** All properties, grouped by decoder. */
export const FUZZ_PROPERTIES: readonly FuzzProperty[] = [
  ...clientFrameProperties,
  ...meshMessageProperties,
  ...meshHandshakeProperties,
  ...lineInputProperties,
  ...sealedEnvelopeProperties,
];

/**
 * The run count of a property for a base count: `base × weight`, at least 1.
 *
 * @param property The property.
 * @param base Runs of a weight-1 property.
 * @returns The run count.
 */
export function runsFor(property: FuzzProperty, base: number): number {
  return Math.max(1, Math.round(base * (property.weight ?? 1)));
}
