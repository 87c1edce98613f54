/**
 * deploy/docker/ without a Docker engine: what can be checked from the files. The binaries the Dockerfile copies per
 * TARGETARCH are the build's outputs (and of that architecture), the user is not root, the command line parses with
 * pgmcp's own configuration and starts only with tokens, the port is the same everywhere, the health check asks
 * /health, and the compose file's Traefik router, secret and health check fit the image.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { healthHostHeader, healthUrl } from '../../src/commands/health.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { SETTINGS } from '../../src/config/settings.js';
import { bindProblem } from '../../src/http/gateway.js';
import { BINARY, root, run } from '../support/built.js';

const dir = path.join(root, 'deploy/docker');
const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions (comments dropped, continuation lines joined), in order. */
function instructions(text: string): Instruction[] {
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.map((l) => {
    const m = /^(\S+)\s+(.*)$/.exec(l);
    return { op: (m?.[1] ?? l).toUpperCase(), args: m?.[2] ?? '' };
  });
}

const dockerfile = instructions(read('Dockerfile'));
const all = (op: string) => dockerfile.filter((i) => i.op === op);
const one = (op: string): string => {
  const found = all(op);
  if (found.length !== 1) throw new Error(`expected one ${op} in the Dockerfile, found ${found.length}`);
  return found[0]?.args ?? '';
};
/** An exec-form argument list (JSON array): no shell in the image to run anything else. */
const execForm = (args: string): string[] => {
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`${args} is not in exec form`);
  return parsed as string[];
};

/** The stage each FROM starts: its name and base. */
function stages(): { base: string; name?: string; body: Instruction[] }[] {
  const out: { base: string; name?: string; body: Instruction[] }[] = [];
  for (const i of dockerfile) {
    if (i.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      out.push({ base: m?.[1] ?? '', ...(m?.[2] ? { name: m[2] } : {}), body: [] });
    } else out.at(-1)?.body.push(i);
  }
  return out;
}

/** What the final image is built from for one TARGETARCH: the COPY into it of that stage. */
function binaryFor(targetArch: string): { source: string; dest: string } {
  const list = stages();
  const final = list.at(-1) as { base: string };
  const stageName = final.base.replace(/\$\{TARGETARCH\}/, targetArch);
  const stage = list.find((s) => s.name === stageName);
  expect(stage, `a stage ${stageName} for TARGETARCH=${targetArch}`).toBeDefined();
  const copy = stage?.body.find((i) => i.op === 'COPY');
  const parts = (copy?.args ?? '').split(/\s+/).filter((p) => !p.startsWith('--'));
  expect(parts).toHaveLength(2);
  return { source: parts[0] as string, dest: parts[1] as string };
}

/** The image's ENV as a map. */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of all('ENV')) {
    for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g))
      env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '');
  }
  return env;
}

/** Flags of a pgmcp command line as the CLI collects them (setting key → value), and the rest. */
function flagsOf(args: string[]): { command: string | undefined; flags: Record<string, string> } {
  const byFlag = new Map(SETTINGS.filter((s) => s.flag).map((s) => [s.flag as string, s]));
  const flags: Record<string, string> = {};
  let command: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const s = byFlag.get(a);
    if (s) {
      flags[s.key] = s.type === 'bool' ? 'true' : (args[++i] as string);
    } else if (!a.startsWith('-') && command === undefined) command = a;
    else throw new Error(`unknown argument ${a}`);
  }
  return { command, flags };
}

const ELF_MACHINE: Record<string, number> = { amd64: 0x3e, arm64: 0xb7 };

function elfMachine(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(20);
    readSync(fd, buf, 0, 20, 0);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    return buf.readUInt16LE(18);
  } finally {
    closeSync(fd);
  }
}

const compose = parseYaml(read('compose.yaml')) as {
  services: Record<
    string,
    {
      build?: { context: string; dockerfile: string };
      command?: string[];
      environment?: Record<string, string>;
      secrets?: string[];
      expose?: string[];
      healthcheck?: { test: string[] };
      labels?: string[];
    }
  >;
  secrets: Record<string, { file: string }>;
};
const pgmcp = compose.services.pgmcp ?? {};
const traefik = compose.services.traefik ?? {};
const labels = Object.fromEntries(
  (pgmcp.labels ?? []).map((l) => {
    const i = l.indexOf('=');
    return [l.slice(0, i), l.slice(i + 1)];
  }),
);
const cmd = execForm(one('CMD'));
const entrypoint = execForm(one('ENTRYPOINT'));
const exposed = Number(one('EXPOSE'));
/** The container's configuration as pgmcp resolves it: image ENV, compose environment (a sample domain), CMD. */
const containerConfig = () =>
  resolveConfig({
    env: {
      ...imageEnv(),
      ...Object.fromEntries(
        Object.entries(pgmcp.environment ?? {}).map(([k, v]) => [
          k,
          v.replace(/\$\{PGMCP_DOMAIN[^}]*\}/, 'pgmcp.example.com'),
        ]),
      ),
    },
    flags: flagsOf(cmd).flags,
  }).config;

describe('Dockerfile', () => {
  it.each(['amd64', 'arm64'])('TARGETARCH=%s copies the release binary built for it', (arch) => {
    const { source, dest } = binaryFor(arch);
    const built = readFileSync(path.join(root, 'scripts/build-binaries.ts'), 'utf8');
    const targets = [...built.matchAll(/name: '(linux-[a-z0-9]+)'/g)].map((m) => `dist/pgmcp-${m[1]}`);
    expect(targets).toContain(source);
    const file = path.join(root, source);
    expect(existsSync(file), `${source} exists (npm run build:bin)`).toBe(true);
    expect(elfMachine(file)).toBe(ELF_MACHINE[arch]);
    expect(dest).toBe(entrypoint[0]);
  });

  it('the build context sends only those binaries', () => {
    const ignore = read('Dockerfile.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore).toEqual(['*', `!${binaryFor('amd64').source}`, `!${binaryFor('arm64').source}`]);
  });

  it('runs as a non-root user', () => {
    const user = one('USER');
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    // The distroless base's nonroot tag agrees.
    expect(stages()[0]?.base).toMatch(/:nonroot$/);
  });

  it('the command line is pgmcp serve over HTTP on every interface, parsed by pgmcp’s own settings', () => {
    expect(entrypoint).toEqual(['/usr/local/bin/pgmcp']);
    const { command } = flagsOf(cmd);
    expect(command).toBe('serve');
    const config = containerConfig();
    expect(config.transport).toBe('http');
    expect(config.http.host).toBe('0.0.0.0');
    expect(config.http.port).toBe(exposed);
  });

  it('tokens are required: the image names a tokens file; without one the bind is refused', () => {
    const config = containerConfig();
    expect(config.http.tokensFile).toBe('/run/secrets/pgmcp_tokens');
    expect(config.http.allowUnauthenticated).toBe(false);
    expect(bindProblem(config.http)).toBeUndefined();
    expect(bindProblem({ ...config.http, tokensFile: undefined })).toMatch(/refusing to listen on 0\.0\.0\.0/);
  });

  it('the built binary accepts the command line and refuses to serve without the tokens file (exit 2)', async () => {
    const env = { ...imageEnv(), PGMCP_LOG_LEVEL: 'error' };
    const help = await run(BINARY, [...cmd, '--help'], { env });
    expect(help.stdout).toMatch(/Usage: pgmcp serve/);
    // Port 0 so that nothing is held if it did start; it must not: /run/secrets/pgmcp_tokens does not exist here.
    const err = await run(BINARY, [...cmd, '--port', '0'], { env, timeout: 20_000 }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(
      /http\.tokensFile="\/run\/secrets\/pgmcp_tokens".*a readable file/,
    );
  });

  it('the health check is `pgmcp health`, which asks /health on the exposed port', () => {
    const hc = /^(?:--\S+\s+)*CMD\s+(\[.*\])$/.exec(one('HEALTHCHECK'));
    expect(hc?.[1]).toBeDefined();
    expect(execForm(hc?.[1] as string)).toEqual([entrypoint[0], 'health']);
    const url = new URL(healthUrl(containerConfig()));
    expect(url.pathname).toBe('/health');
    expect(url.hostname).toBe('127.0.0.1');
    expect(Number(url.port)).toBe(exposed);
  });
});

describe('compose.yaml', () => {
  it('builds the Dockerfile from the repository root', () => {
    expect(path.resolve(dir, pgmcp.build?.context ?? '')).toBe(root);
    expect(pgmcp.build?.dockerfile).toBe('deploy/docker/Dockerfile');
    expect(pgmcp.command, 'the image CMD is used').toBeUndefined();
  });

  it('the tokens secret is mounted where the image expects the tokens file', () => {
    expect(pgmcp.secrets).toContain('pgmcp_tokens');
    expect(compose.secrets.pgmcp_tokens?.file).toBeTruthy();
    expect(`/run/secrets/pgmcp_tokens`).toBe(imageEnv().PGMCP_HTTP_TOKENS_FILE);
  });

  it('Traefik routes the Host rule over TLS from a certresolver to the exposed port', () => {
    const args = (traefik as { command?: string[] }).command ?? [];
    expect(labels['traefik.enable']).toBe('true');
    // compose interpolates $PGMCP_DOMAIN, the same variable that sets the allowed Host name.
    expect(labels['traefik.http.routers.pgmcp.rule']).toMatch(/^Host\(`\$\{PGMCP_DOMAIN\}`\)$/);
    const resolver = labels['traefik.http.routers.pgmcp.tls.certresolver'];
    expect(args.some((a) => a.startsWith(`--certificatesresolvers.${resolver}.acme.`))).toBe(true);
    const entry = labels['traefik.http.routers.pgmcp.entrypoints'];
    expect(args).toContain(`--entrypoints.${entry}.address=:443`);
    expect(Number(labels['traefik.http.services.pgmcp.loadbalancer.server.port'])).toBe(exposed);
    expect(pgmcp.expose?.map(Number)).toEqual([exposed]);
    expect(args).toContain('--providers.docker.exposedbydefault=false');
  });

  it('pgmcp accepts the routed Host name, and its health check passes the Host check with it', () => {
    const config = containerConfig();
    expect(config.http.allowedHosts).toEqual(['pgmcp.example.com']);
    expect(healthHostHeader(config, new URL(healthUrl(config)))).toBe('pgmcp.example.com');
  });

  it('the health check is the image’s: pgmcp health', () => {
    expect(pgmcp.healthcheck?.test).toEqual(['CMD', entrypoint[0], 'health']);
  });

  it('every pgmcp variable it sets is a setting pgmcp knows', () => {
    const known = new Set(SETTINGS.flatMap((s) => [s.env, ...(s.aliases ?? []).map((a) => a.env)]));
    for (const k of Object.keys(pgmcp.environment ?? {})) expect(known.has(k), k).toBe(true);
    for (const k of Object.keys(imageEnv())) expect(known.has(k), k).toBe(true);
  });
});

describe('README', () => {
  it('says the Docker files are an example', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).toMatch(/\*\*Docker\*\* \(an example[^)]*\)[\s\S]{0,200}deploy\/docker\//);
    expect(read('README.md')).toMatch(/^# .*\(an example\)/m);
    expect(read('Dockerfile')).toMatch(/an EXAMPLE/);
    expect(read('compose.yaml')).toMatch(/an EXAMPLE/);
  });
});
