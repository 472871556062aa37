import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { baseUrl, port } from './server-info';

/** The repository root (the SPA is served from its dist/). */
export const REPO = resolve(__dirname, '..');
/** Where the server's output goes (every start appends). */
export const LOG_PATH = join(__dirname, 'logs', 'server.log');

/**
 * The environment of `messaging serve` in the e2e run: the same for the
 * first start (global-setup.ts) and a restart (server-control.ts), so a
 * restarted server has the same port, data directory and limits.
 */
export function serverEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BIND: `127.0.0.1:${port()}`,
    DATA_DIR: dataDir,
    PUBLIC_URL: baseUrl(),
    STATIC_DIR: join(REPO, 'dist'),
    RUST_LOG: 'info',
    // Every test signs in a few users from 127.0.0.1; the per-account
    // limit (what auth.spec.ts checks) stays at its default.
    LOGIN_MAX_ATTEMPTS_PER_IP: '1000',
    // The suite sends and creates faster than a person, as the same users.
    MESSAGES_PER_MINUTE: '10000',
    MESSAGES_BURST: '10000',
    CONVERSATIONS_PER_HOUR: '10000',
  };
  delete env.DATABASE_URL;
  return env;
}

/**
 * The server's pid lives in a file of the data directory, so a test that
 * restarts the server (a new pid) tells global-teardown.ts which to stop.
 */
function pidPath(dataDir: string): string {
  return join(dataDir, 'e2e-server.pid');
}

export function writeServerPid(dataDir: string, pid: number): void {
  writeFileSync(pidPath(dataDir), String(pid));
}

export function readServerPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(pidPath(dataDir), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Sends a signal; false when the process is gone. */
export function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (a graceful stop), SIGKILL after `timeoutMs`; resolves when it is gone. */
export async function stopProcess(pid: number, timeoutMs = 10_000): Promise<void> {
  if (!signal(pid, 'SIGTERM')) {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!signal(pid, 0)) {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  signal(pid, 'SIGKILL');
}
