// meshchat launcher for the shared fan-out harness (../shared/bench/fanout).
// tests/bench/fanout_compare.ts copies the harness into data/bench/fanout/harness
// and puts this file in place of its servers/meshchat.mjs, because the harness's
// own launcher passes `--cluster-secret VALUE`, which a node refuses (a secret in
// argv is readable by every local account): the secret goes in the environment.
// cluster: MESHCHAT_NODES nodes (default 3) in a full mesh; with MESHCHAT_REPLICATION=nats
// they replicate through a 3-server NATS JetStream cluster instead (a 3-replica stream;
// single: one NATS server, 1 replica), started here and counted in the server CPU.
// Limits a chat node applies to people (rate, per-address connections, per-minute
// bytes, slow-reader queue) are opened up so the harness measures the data path,
// as with the IRC servers' flood control.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { HOST, spawnServer, waitPort, assertPortsFree } from './common.mjs';
import fs from 'node:fs';

const run = promisify(execFile);
const OFF = +(process.env.FB_PORT_OFFSET || 0);
const PORT = 18080 + OFF;
const MESH = 17946 + OFF;
const DIR = process.env.MESHCHAT_DIR;
const NODES = +(process.env.MESHCHAT_NODES || 3);
const OVER_NATS = process.env.MESHCHAT_REPLICATION === 'nats';
const NATS = 24222 + OFF;
const NATS_ROUTE = 26222 + OFF;

// JetStream servers for MESHCHAT_REPLICATION=nats: n of them, routed to each other.
async function startNats(dir, n) {
  const ports = Array.from({ length: n }, (_, i) => NATS + i);
  const routes = ports.map((_, i) => `nats://${HOST}:${NATS_ROUTE + i}`).join(',');
  await assertPortsFree(n > 1 ? [...ports, ...ports.map((_, i) => NATS_ROUTE + i)] : ports);
  const procs = ports.map((port, i) => {
    const store = path.join(dir, `nats-store-${i + 1}`);
    fs.rmSync(store, { recursive: true, force: true });
    const cluster = n > 1
      ? ['--cluster_name', 'fanout-js', '--cluster', `nats://${HOST}:${NATS_ROUTE + i}`, '--routes', routes]
      : [];
    return spawnServer(dir, `jsnats${i + 1}`, 'nats-server',
      ['-js', '-a', HOST, '-p', String(port), '-n', `js${i + 1}`, '-sd', store, ...cluster]);
  });
  for (const p of ports) await waitPort(p);
  return { procs, urls: ports.map((p) => `nats://${HOST}:${p}`).join(',') };
}

export default {
  adapter: 'meshchat',
  modes: ['single', 'cluster'],
  async version() {
    if (!DIR) throw new Error('set MESHCHAT_DIR to the meshchat checkout');
    const { stdout } = await run('git', ['-C', DIR, 'rev-parse', '--short', 'HEAD']);
    return `meshchat@${stdout.trim()}`;
  },
  async start({ mode, dir }) {
    if (!DIR) throw new Error('set MESHCHAT_DIR to the meshchat checkout');
    const n = mode === 'cluster' ? NODES : 1;
    const ports = Array.from({ length: n }, (_, i) => PORT + i);
    const mesh = Array.from({ length: n }, (_, i) => MESH + i);
    await assertPortsFree(n > 1 && !OVER_NATS ? [...ports, ...mesh] : ports);
    process.env.MESHCHAT_CLUSTER_SECRET = 'fanout-bench-secret';
    const nats = OVER_NATS ? await startNats(dir, mode === 'cluster' ? 3 : 1) : undefined;
    const replication = (i) => nats
      ? ['--mesh-port', '0', '--nats', nats.urls, '--nats-stream', 'fanout',
        '--nats-replicas', mode === 'cluster' ? '3' : '1']
      : ['--mesh-port', n > 1 ? String(mesh[i]) : '0',
        ...(n > 1 && i > 0 ? ['--peers', `${HOST}:${mesh[0]}`] : [])];
    const procs = ports.map((port, i) => {
      // Each run's stream is new: its nodes start empty too (else they publish their old events).
      if (nats) fs.rmSync(path.join(dir, `data-b${i + 1}`), { recursive: true, force: true });
      const args = ['run', '-A', path.join(DIR, 'main.ts'), 'node', '--id', `b${i + 1}`,
        '--host', HOST, '--port', String(port), '--ssh-port', '0',
        '--data', path.join(dir, `data-b${i + 1}`), '--snapshot-interval', '0',
        '--burst', '0', '--max-conns-per-addr', '100000', '--max-bytes-per-conn', '0',
        '--max-queue', String(64 << 20), '--log-level', 'warn',
        ...replication(i), '--http-port', '0'];
      return spawnServer(dir, `meshchat${i + 1}`, 'deno', args, { cwd: DIR });
    });
    for (const p of ports) await waitPort(p, 30000);
    return {
      procs: [...procs, ...(nats?.procs ?? [])],
      endpoints: ports.map((port) => ({ host: HOST, port })),
      clientOpts: {},
    };
  },
};
