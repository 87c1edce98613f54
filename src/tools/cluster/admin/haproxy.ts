/**
 * HAProxy actions of pg_cluster_admin: enable_server, disable_server, drain_server, set_weight, through the runtime API
 * (a socket path or host:port at level admin). The stats URL is read-only: with only a URL configured, these actions
 * say how to give pgmcp the runtime API. The outcome is read back from `show servers state` (administrative state and
 * weight) and `show stat` (status and health check).
 */
import { z } from 'zod';
import { HAPROXY_NAME, type HaproxyClient, type HaproxyRow, type ServerAdminState } from '../../../cluster/haproxy.js';
import type { ToolContext } from '../../context.js';
import { ToolError } from '../../errors.js';
import { haproxyClient, reach } from '../clients.js';
import { type ActionPlan, defineComponent } from './action.js';
import { findServer, othersUp, serverView } from './haproxy-checks.js';
import type { ActionRunner } from './runner.js';

const name = (what: string) =>
  z
    .string()
    .regex(HAPROXY_NAME, 'a HAProxy name: letters, digits, _ . : - (or #id)')
    .optional()
    .describe(`haproxy actions: the ${what}`);

const fields = {
  backend: name('backend (listen or backend section), e.g. replicas'),
  server: name('server in that backend, e.g. node2'),
  weight: z
    .number()
    .int()
    .min(0)
    .max(256)
    .optional()
    .describe('set_weight: the new weight, 0–256 (0: no new connections from load balancing)'),
};

type Args = { backend?: string; server?: string; weight?: number };

const RUNTIME_API_HINT =
  'give pgmcp the runtime API: a `stats socket /run/haproxy/admin.sock mode 600 level admin` line in haproxy.cfg ' +
  '(or `stats socket ipv4@127.0.0.1:9999 level admin`), then PGMCP_HAPROXY=/run/haproxy/admin.sock (or 127.0.0.1:9999)';

function adminClient(ctx: ToolContext): HaproxyClient {
  const client = haproxyClient(ctx.config);
  if (!client) throw new ToolError('HAProxy is not configured', { hint: 'set PGMCP_HAPROXY' });
  if (!client.canAdminister) {
    throw new ToolError('HAProxy changes need its runtime API, and PGMCP_HAPROXY is a stats URL, which is read-only', {
      code: 'haproxy_read_only',
      hint: RUNTIME_API_HINT,
    });
  }
  return client;
}

interface Current {
  client: HaproxyClient;
  rows: HaproxyRow[];
  row: HaproxyRow;
  state: ServerAdminState | undefined;
}

async function current(ctx: ToolContext, args: Args): Promise<Current> {
  const client = adminClient(ctx);
  const [rows, states] = await reach('haproxy', ctx, () => Promise.all([client.stats(), client.serversState()]));
  const row = findServer(rows, args.backend as string, args.server as string);
  const state = states.find((s) => s.backend === row.proxy && s.server === row.name);
  return { client, rows, row, state };
}

/** Reads the server again until `holds` says the change shows; returns its view. */
async function readBack(
  runner: ActionRunner,
  c: Current,
  check: string,
  holds: (row: HaproxyRow, state: ServerAdminState | undefined) => boolean,
  opts: { informative?: boolean; timeoutMs?: number } = {},
): Promise<Record<string, unknown>> {
  let view = serverView(c.row, c.state);
  await runner.waitFor(
    check,
    async () => {
      const [rows, states] = await Promise.all([c.client.stats(), c.client.serversState()]);
      const row = findServer(rows, c.row.proxy, c.row.name);
      const state = states.find((s) => s.backend === row.proxy && s.server === row.name);
      view = serverView(row, state);
      return holds(row, state) ? view : undefined;
    },
    () => `${view.status}, admin ${view.admin}, weight ${view.weight}, check ${view.check ?? '-'}`,
    opts,
  );
  return view;
}

function plan(
  c: Current,
  change: { summary: string; command: string; verify: string; reasons: string[]; notes?: string[] },
  run: (runner: ActionRunner) => Promise<Record<string, unknown>>,
): ActionPlan {
  const ref = `${c.row.proxy}/${c.row.name}`;
  return {
    target: ref,
    summary: change.summary,
    reasons: change.reasons,
    steps: [
      { phase: 'check', what: `${ref} exists (${c.row.status}, admin ${c.state?.admin ?? '?'})`, where: 'show stat' },
      { phase: 'act', what: change.command, where: 'HAProxy runtime API' },
      { phase: 'verify', what: change.verify, where: 'show servers state, show stat' },
    ],
    before: serverView(c.row, c.state),
    bind: { admin: c.state?.admin ?? null, weight: c.state?.userWeight ?? null },
    notes: change.notes ?? [],
    async run(runner) {
      return { after: await run(runner) };
    },
  };
}

function stopReasons(c: Current, what: string): string[] {
  const others = othersUp(c.rows, c.row);
  const reasons = [`${c.row.name} ${what} in ${c.row.proxy}`];
  if (c.row.status.startsWith('UP') && others.length === 0) {
    reasons.push(`${c.row.name} is the only server UP in ${c.row.proxy}: new connections to ${c.row.proxy} fail`);
  }
  return reasons;
}

function refuseIf(already: boolean, message: string): void {
  if (already) throw new ToolError(message, { code: 'nothing_to_do' });
}

export const haproxyActions = defineComponent({
  component: 'haproxy',
  fields,
  unavailable: (ctx) =>
    ctx.config.cluster.haproxy ? undefined : 'HAProxy is not configured: set PGMCP_HAPROXY (its runtime API)',
  actions: {
    disable_server: {
      description: 'puts `backend`/`server` in maintenance (MAINT: no traffic, no health checks)',
      required: ['backend', 'server'],
      async plan({ args, ctx }) {
        const c = await current(ctx, args);
        refuseIf(c.state?.admin === 'maint', `${c.row.proxy}/${c.row.name} is already in maintenance`);
        const ref = `${c.row.proxy}/${c.row.name}`;
        return plan(
          c,
          {
            summary: `disable ${ref} (maintenance)`,
            command: `disable server ${ref}`,
            verify: `${ref} is in maintenance (MAINT)`,
            reasons: stopReasons(c, 'gets no new connections and no health checks until enable_server'),
            notes: ['sessions already open on it are not cut'],
          },
          async (runner) => {
            await runner.act(`disable server ${ref}`, () => c.client.disableServer(c.row.proxy, c.row.name));
            return readBack(
              runner,
              c,
              `${ref} is in maintenance`,
              (r, s) => s?.admin === 'maint' && r.status.startsWith('MAINT'),
            );
          },
        );
      },
    },
    drain_server: {
      description: 'drains `backend`/`server` (DRAIN: no new connections from load balancing, health checks go on)',
      required: ['backend', 'server'],
      async plan({ args, ctx }) {
        const c = await current(ctx, args);
        refuseIf(c.state?.admin === 'drain', `${c.row.proxy}/${c.row.name} is already draining`);
        const ref = `${c.row.proxy}/${c.row.name}`;
        return plan(
          c,
          {
            summary: `drain ${ref}`,
            command: `set server ${ref} state drain`,
            verify: `${ref} is draining (admin state drain)`,
            reasons: stopReasons(c, 'gets no new connections from load balancing; its open sessions go on'),
          },
          async (runner) => {
            await runner.act(`set server ${ref} state drain`, () =>
              c.client.setServerState(c.row.proxy, c.row.name, 'drain'),
            );
            return readBack(runner, c, `${ref} is draining`, (_r, s) => s?.admin === 'drain');
          },
        );
      },
    },
    enable_server: {
      description: 'brings `backend`/`server` back from maintenance or drain (state ready); waits for its health check',
      required: ['backend', 'server'],
      async plan({ args, ctx }) {
        const c = await current(ctx, args);
        refuseIf(c.state?.admin === 'ready', `${c.row.proxy}/${c.row.name} is already ready (${c.row.status})`);
        const ref = `${c.row.proxy}/${c.row.name}`;
        return plan(
          c,
          {
            summary: `enable ${ref} (from ${c.state?.admin ?? c.row.status})`,
            command: `set server ${ref} state ready`,
            verify: `${ref} is ready, then UP once its health check passes (informative)`,
            reasons: [`${c.row.name} takes connections in ${c.row.proxy} again once its health check passes`],
          },
          async (runner) => {
            await runner.act(`set server ${ref} state ready`, () =>
              c.client.setServerState(c.row.proxy, c.row.name, 'ready'),
            );
            await readBack(runner, c, `${ref} is ready`, (_r, s) => s?.admin === 'ready');
            return readBack(runner, c, `${ref} is UP (health check passes)`, (r) => r.status.startsWith('UP'), {
              informative: true,
              timeoutMs: 10_000,
            });
          },
        );
      },
    },
    set_weight: {
      description: 'sets the weight of `backend`/`server` (0–256; 0: no new connections from load balancing)',
      required: ['backend', 'server', 'weight'],
      async plan({ args, ctx }) {
        const c = await current(ctx, args);
        const weight = args.weight as number;
        const before = c.state?.userWeight ?? c.row.weight;
        refuseIf(before === weight, `${c.row.proxy}/${c.row.name} already has weight ${weight}`);
        const ref = `${c.row.proxy}/${c.row.name}`;
        return plan(
          c,
          {
            summary: `set the weight of ${ref} from ${before ?? '?'} to ${weight}`,
            command: `set weight ${ref} ${weight}`,
            verify: `${ref} has weight ${weight}`,
            reasons:
              weight === 0
                ? stopReasons(c, 'gets no new connections from load balancing (weight 0)')
                : [`${c.row.name}'s share of new connections in ${c.row.proxy} changes`],
          },
          async (runner) => {
            await runner.act(`set weight ${ref} ${weight}`, () => c.client.setWeight(c.row.proxy, c.row.name, weight));
            return readBack(runner, c, `${ref} has weight ${weight}`, (_r, s) => s?.userWeight === weight);
          },
        );
      },
    },
  },
});
