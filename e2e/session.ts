import { type Browser, type BrowserContext, type Page } from '@playwright/test';

import { expect } from './fixtures';
import { ServerInfo } from './server-info';
import { TestUser, signIn } from './users';

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
