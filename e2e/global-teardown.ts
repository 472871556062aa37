import { rmSync } from 'node:fs';

import { DATA_DIR_ENV, SERVER_PID_ENV } from './global-setup';
import { readServerPid, stopProcess } from './server-process';

/**
 * Stops the server that global-setup.ts started (or the one a test
 * restarted it as: its pid is in the data directory) and removes its data.
 */
export default async function globalTeardown(): Promise<void> {
  const dataDir = process.env[DATA_DIR_ENV];
  const pid = (dataDir && readServerPid(dataDir)) || Number(process.env[SERVER_PID_ENV]);
  if (Number.isInteger(pid) && pid > 0) {
    await stopProcess(pid);
  }
  if (dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
