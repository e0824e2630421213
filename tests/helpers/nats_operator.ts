/**
 * A NATS operator for tests of `--nats-creds`: what `nsc` would make, made
 * with `@nats-io/jwt` — an operator, a system account and one account with
 * JetStream on, as JWTs, and `.creds` files (user JWT + NKey seed) of users
 * of that account. {@linkcode NatsOperator.serverConfig} puts `nats-server`
 * in operator (JWT) mode with the accounts preloaded in a memory resolver.
 *
 * @module
 */
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  type KeyPair,
} from "@nats-io/jwt";

/** An operator, its accounts, and users' credentials. */
export interface NatsOperator {
  /** The `nats-server` configuration of operator mode (for `startNatsServers`' `config`). */
  readonly serverConfig: string;
  /**
   * A user of the operator's JetStream account.
   *
   * @returns The `.creds` file's text.
   */
  userCreds(): Promise<string>;
}

/** No limit, in every JWT limit field. */
const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

/**
 * Makes an operator, its system account and one account with JetStream.
 *
 * @returns The operator.
 */
export async function makeNatsOperator(): Promise<NatsOperator> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const signed = { signer: operator };
  const operatorJwt = await encodeOperator("meshchat-test", operator, {
    system_account: system.getPublicKey(),
  });
  const systemJwt = await encodeAccount("SYS", system, { limits: UNLIMITED }, signed);
  const accountJwt = await encodeAccount("meshchat", account, {
    limits: { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  }, signed);
  return {
    serverConfig: [
      `operator: ${operatorJwt}`,
      `system_account: ${system.getPublicKey()}`,
      "resolver: MEMORY",
      "resolver_preload: {",
      `  ${system.getPublicKey()}: ${systemJwt}`,
      `  ${account.getPublicKey()}: ${accountJwt}`,
      "}",
      "",
    ].join("\n"),
    userCreds: () => credsOf(account),
  };
}

/**
 * A `.creds` file of a new user signed by an account the server may not
 * know: {@linkcode NatsOperator.userCreds} for a known one, or a fresh
 * account's user for credentials the server must refuse.
 *
 * @param account The signing account. @default a new account, known to no server
 * @returns The `.creds` text.
 */
export async function credsOf(account: KeyPair = createAccount()): Promise<string> {
  const user = createUser();
  const jwt = await encodeUser("meshchat-node", user, account);
  return new TextDecoder().decode(fmtCreds(jwt, user));
}
