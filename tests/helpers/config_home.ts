/**
 * A private client configuration directory for a test (`XDG_CONFIG_HOME`),
 * so a client's settings, identity key and pinned node certificates never
 * touch the real `~/.config/meshchat`, and the permissions that let the
 * client use it.
 *
 * @module
 */

/**
 * Runs `run` with a fresh directory under ./data/tmp, removed afterwards.
 *
 * @param run Gets the directory (absolute): give it as `XDG_CONFIG_HOME`.
 * @returns Resolves when `run` is done and the directory removed.
 */
export async function withConfigHome(run: (home: string) => Promise<void>): Promise<void> {
  const home = `${Deno.cwd()}/data/tmp/xdg-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(home, { recursive: true });
  try {
    await run(home);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

/**
 * The client's permissions plus its configuration directory.
 *
 * @param home The directory from {@linkcode withConfigHome}.
 * @returns Deno permission flags for {@linkcode ClientProcess}.
 */
export function settingsPermissions(home: string): string[] {
  return [
    "-P=client",
    "--allow-env=HOME,XDG_CONFIG_HOME,MESHCHAT_ROOM_KEY",
    `--allow-read=${home}`,
    `--allow-write=${home}`,
  ];
}
