import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { type Browser, type BrowserContext, type Page } from '@playwright/test';

import { expect } from './fixtures';
import { ServerInfo } from './server-info';
import { TestUser, createUser, signIn } from './users';

/** Another signed-in browser (its own context) with its page errors watched. */
export interface OtherSession {
  context: BrowserContext;
  page: Page;
  /** Lets the test expect console errors matching `pattern` (e.g. while the server is down). */
  allow(pattern: RegExp): void;
  /** Closes the context and fails on errors its page threw or logged. */
  close(): Promise<void>;
}

/**
 * Signs `user` in in a new browser context. The `pageErrors` fixture
 * watches only the default page, so this one is watched the same way.
 */
export async function openSession(
  browser: Browser,
  user: TestUser,
  path?: string,
  options: Parameters<Browser['newContext']>[0] = {},
): Promise<OtherSession> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors: string[] = [];
  const allowed: RegExp[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.stack || err.message}`));
  page.on('console', (msg) => {
    const fromApi = new URL(msg.location().url || '/', 'http://x').pathname.startsWith('/api/');
    const handled = fromApi && /status of 4\d\d/.test(msg.text());
    if (msg.type() === 'error' && !handled && !allowed.some((p) => p.test(msg.text()))) {
      errors.push(`console.error: ${msg.text()} (${msg.location().url})`);
    }
  });
  await signIn(page, user, path);
  return {
    context,
    page,
    allow: (pattern) => allowed.push(pattern),
    close: async () => {
      await context.close();
      expect(errors, `errors in ${user.name}'s page`).toEqual([]);
    },
  };
}

/** A JSON API call with the page's session cookie (and the Origin the CSRF check wants). */
export async function api<T>(
  page: Page,
  server: ServerInfo,
  method: string,
  path: string,
  data?: unknown,
): Promise<T> {
  const response = await page.request.fetch(path, {
    method,
    data,
    headers: { Origin: server.baseUrl },
  });
  expect(response.ok(), `${method} ${path}: ${response.status()} ${await response.text()}`).toBe(
    true,
  );
  return (response.status() === 204 ? undefined : await response.json()) as T;
}

export async function userId(page: Page, server: ServerInfo, user: TestUser): Promise<number> {
  const found = await api<{ items: { id: number; email: string }[] }>(
    page,
    server,
    'GET',
    `/api/users?q=${encodeURIComponent(user.email)}`,
  );
  const entry = found.items.find((u) => u.email === user.email);
  expect(entry, `${user.email} in the directory`).toBeTruthy();
  return entry!.id;
}

/** Creates a conversation of the signed-in user of `page` with `others`; a name makes a group. */
export async function createConversation(
  page: Page,
  server: ServerInfo,
  others: TestUser[],
  name?: string,
): Promise<number> {
  const ids = [];
  for (const other of others) {
    ids.push(await userId(page, server, other));
  }
  const detail = await api<{ id: number }>(page, server, 'POST', '/api/conversations', {
    member_ids: ids,
    name,
  });
  return detail.id;
}

/** The most common start: Anna Nowak signed in on `page`, in a 1:1 with Jan Kowalski. */
export async function annaSignedInWithJan(
  page: Page,
  server: ServerInfo,
): Promise<{ anna: TestUser; jan: TestUser; id: number }> {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  await signIn(page, anna);
  const id = await createConversation(page, server, [jan]);
  return { anna, jan, id };
}

export async function sendViaApi(
  page: Page,
  server: ServerInfo,
  conversation: number,
  content: string,
): Promise<{ id: number }> {
  return api<{ id: number }>(page, server, 'POST', `/api/conversations/${conversation}/messages`, {
    content,
  });
}

export function composer(page: Page) {
  return page.getByRole('textbox', { name: /^(Treść wiadomości|Message text)$/ });
}

export function messageWith(page: Page, text: string) {
  return page.getByTestId('message').filter({ hasText: text });
}

export function conversationItem(page: Page, name: string) {
  return page.getByTestId('conversation-item').filter({ hasText: name });
}

/** A server of the test's own, started with settings the shared one lacks. */
export interface OwnServer {
  info: ServerInfo;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts another `messaging serve` (the binary of `shared`) on a free port
 * with a fresh data directory and `env` on top of the shared server's
 * settings (e.g. MAX_UPLOAD_BYTES, LINK_PREVIEW_*). Use its `info` with
 * createUser, and `openSession(browser, user, undefined, { baseURL: info.baseUrl })`.
 */
export async function startOwnServer(
  shared: ServerInfo,
  env: Record<string, string>,
): Promise<OwnServer> {
  const port = await new Promise<number>((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address() as AddressInfo;
      probe.close(() => resolvePort(address.port));
    });
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'messaging-e2e-own-'));
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    BIND: `127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    PUBLIC_URL: baseUrl,
    STATIC_DIR: resolve(__dirname, '..', 'dist'),
    RUST_LOG: 'info',
    LOGIN_MAX_ATTEMPTS_PER_IP: '1000',
    ...env,
  };
  delete childEnv.DATABASE_URL;
  const child = spawn(shared.bin, ['serve'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (!exited) {
        child.kill('SIGKILL');
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const email = /e-mail:\s+(\S+)/.exec(stdout)?.[1];
    const password = /password:\s+(\S+)/.exec(stdout)?.[1];
    let up = false;
    try {
      up = (await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok;
    } catch {
      up = false;
    }
    if (email && password && up) {
      return { info: { baseUrl, admin: { email, password }, bin: shared.bin, dataDir }, stop };
    }
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`own server did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
