import { rmSync } from 'node:fs';

import { DATA_DIR_ENV, SERVER_PID_ENV } from './global-setup';

const STOP_TIMEOUT_MS = 10_000;

/** Stops the server that global-setup.ts started and removes its data. */
export default async function globalTeardown(): Promise<void> {
  const pid = Number(process.env[SERVER_PID_ENV]);
  if (Number.isInteger(pid) && pid > 0) {
    await stop(pid);
  }
  const dataDir = process.env[DATA_DIR_ENV];
  if (dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function stop(pid: number): Promise<void> {
  if (!signal(pid, 'SIGTERM')) {
    return;
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!signal(pid, 0)) {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  signal(pid, 'SIGKILL');
}

/** Sends a signal; false when the process is gone. */
function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}
