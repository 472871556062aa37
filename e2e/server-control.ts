import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

import { ServerInfo } from './server-info';
import {
  LOG_PATH,
  healthy,
  readServerPid,
  serverEnv,
  stopProcess,
  writeServerPid,
} from './server-process';

const START_TIMEOUT_MS = 30_000;

/**
 * Stops and starts the e2e server on the same port and data directory (so
 * the same database and sessions), for tests of what clients do across a
 * restart. The `serverControl` fixture starts it again when a test left it
 * stopped, so the tests after it find it up.
 */
export class ServerControl {
  private stopped = false;

  constructor(private readonly server: ServerInfo) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  /** A graceful stop (SIGTERM, as systemd or docker do); resolves once it is gone. */
  async stop(): Promise<void> {
    const pid = readServerPid(this.server.dataDir);
    if (pid === null) {
      throw new Error(`no server pid in ${this.server.dataDir}`);
    }
    this.stopped = true;
    await stopProcess(pid);
    if (await healthy(this.server.baseUrl)) {
      throw new Error(`something still answers on ${this.server.baseUrl} after stopping ${pid}`);
    }
  }

  /**
   * Starts `messaging serve` again and resolves when /healthz answers. The
   * process outlives this test worker (global-teardown.ts stops it); its
   * output goes to the same log as the first start's.
   */
  async start(): Promise<void> {
    const log = openSync(LOG_PATH, 'a');
    const child = spawn(this.server.bin, ['serve'], {
      env: serverEnv(this.server.dataDir),
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    let exited: string | null = null;
    child.on('exit', (code, sig) => (exited = `exited with ${sig ?? `code ${code}`}`));
    child.on('error', (err) => (exited = `could not start: ${err.message}`));
    if (!child.pid) {
      throw new Error(`${this.server.bin} serve did not start (see ${LOG_PATH})`);
    }
    writeServerPid(this.server.dataDir, child.pid);
    child.unref();

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await healthy(this.server.baseUrl))) {
      if (exited) {
        throw new Error(`${this.server.bin} serve ${exited} (see ${LOG_PATH})`);
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.server.bin} serve not healthy within ${START_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.stopped = false;
  }
}
