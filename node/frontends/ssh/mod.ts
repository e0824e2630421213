/**
 * The SSH frontend (npm:ssh2), ssh-chat's split: {@linkcode SshListener}
 * (ssh_listener.ts) holds ssh2 and the login policy (host key, key types,
 * failed-login limits); {@linkcode SshChatSession} (ssh_session.ts) is one
 * person's chat, which only sees an `SshChannel` interface.
 *
 * @module
 */
export { SshListener, type SshListenerOptions } from "./ssh_listener.ts";
export { type SshChannel, SshChatSession } from "./ssh_session.ts";
export { loadHostKey } from "./ssh_host_key.ts";
export { weakKeyReason } from "./ssh_key_policy.ts";
export { SshAuthLimiter } from "./ssh_auth_limiter.ts";
