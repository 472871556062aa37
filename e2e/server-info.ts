import { readFileSync } from 'node:fs';

/** What global-setup.ts learnt about the server it started. */
export interface ServerInfo {
  baseUrl: string;
  /** The first administrator, as the server printed it on its first start. */
  admin: { email: string; password: string };
  /** The server's binary and data directory, for running its CLI (users.ts). */
  bin: string;
  dataDir: string;
}

/** The environment variable naming the JSON file with the ServerInfo. */
export const SERVER_INFO_ENV = 'E2E_SERVER_INFO';

export function port(): number {
  const raw = process.env.E2E_PORT ?? '18080';
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`E2E_PORT must be a TCP port, got "${raw}"`);
  }
  return port;
}

export function baseUrl(): string {
  return `http://127.0.0.1:${port()}`;
}

export function readServerInfo(): ServerInfo {
  const path = process.env[SERVER_INFO_ENV];
  if (!path) {
    throw new Error(`${SERVER_INFO_ENV} is not set: did global-setup.ts run?`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as ServerInfo;
}
