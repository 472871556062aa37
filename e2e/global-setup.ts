import { spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { SERVER_INFO_ENV, ServerInfo, baseUrl } from './server-info';
import { LOG_PATH, REPO, healthy, serverEnv, writeServerPid } from './server-process';

const STARTUP_TIMEOUT_MS = 60_000;

/** Set here for global-teardown.ts (same process). */
export const SERVER_PID_ENV = 'E2E_SERVER_PID';
export const DATA_DIR_ENV = 'E2E_DATA_DIR';

/**
 * Starts the real server (`$MESSAGING_BIN serve`) on a fresh data directory
 * with the embedded SQLite database, reads the first administrator's
 * credentials from its stdout, waits for /healthz and writes a ServerInfo
 * JSON file whose path goes to the tests in E2E_SERVER_INFO.
 */
export default async function globalSetup(): Promise<void> {
  const bin = process.env.MESSAGING_BIN;
  if (!bin) {
    throw new Error(
      'MESSAGING_BIN is not set: point it at the server binary, e.g. ' +
        'MESSAGING_BIN=/root/.cache/messaging-target/debug/messaging npm test',
    );
  }
  if (!existsSync(bin)) {
    throw new Error(`MESSAGING_BIN=${bin} does not exist: build the backend first`);
  }
  const staticDir = join(REPO, 'dist');
  if (!existsSync(join(staticDir, 'index.html'))) {
    throw new Error(
      `${staticDir}/index.html is missing: build the SPA first ` +
        '(PATH=$PWD/e2e/node_modules/.bin:$PATH trunk build --release --offline)',
    );
  }

  const url = baseUrl();
  if (await healthy(url)) {
    throw new Error(`something already answers on ${url}: stop it or set E2E_PORT`);
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'messaging-e2e-'));
  const logPath = LOG_PATH;
  mkdirSync(dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath);

  const env = serverEnv(dataDir);

  const server = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  process.env[SERVER_PID_ENV] = String(server.pid);
  if (server.pid) {
    writeServerPid(dataDir, server.pid);
  }
  process.env[DATA_DIR_ENV] = dataDir;

  let stdout = '';
  let output = '';
  server.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
    log.write(chunk);
  });
  server.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    log.write(chunk);
  });
  let exited: string | null = null;
  server.on('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  server.on('error', (err) => {
    exited = `could not start: ${err.message}`;
  });

  const failure = (why: string) => {
    rmSync(dataDir, { recursive: true, force: true });
    return new Error(`${bin} serve ${why}\n--- server output (also in ${logPath}) ---\n${output}`);
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let admin: ServerInfo['admin'] | null = null;
  let up = false;
  while (!(admin && up)) {
    if (exited) {
      throw failure(exited);
    }
    if (Date.now() > deadline) {
      server.kill('SIGKILL');
      throw failure(
        `did not get ready within ${STARTUP_TIMEOUT_MS / 1000} s ` +
          `(credentials seen: ${admin !== null}, /healthz 200: ${up})`,
      );
    }
    if (!admin) {
      const email = /e-mail:\s+(\S+)/.exec(stdout)?.[1];
      const password = /password:\s+(\S+)/.exec(stdout)?.[1];
      if (email && password) {
        admin = { email, password };
      }
    }
    up = up || (await healthy(url));
    await new Promise((r) => setTimeout(r, 200));
  }

  const info: ServerInfo = { baseUrl: url, admin, bin, dataDir };
  const infoPath = join(dataDir, 'e2e-server.json');
  writeFileSync(infoPath, JSON.stringify(info, null, 2));
  process.env[SERVER_INFO_ENV] = infoPath;
}
