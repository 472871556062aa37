import { ConsoleMessage, expect, test as base } from '@playwright/test';

import { ServerControl } from './server-control';
import { ServerInfo, readServerInfo } from './server-info';

/** Errors the page threw or logged during a test. */
export class PageErrors {
  readonly seen: string[] = [];
  private readonly allowed: RegExp[] = [];

  /** Lets a test expect console errors matching `pattern` (e.g. a request it aborts). */
  allow(pattern: RegExp): void {
    this.allowed.push(pattern);
  }

  record(message: string): void {
    if (!this.allowed.some((pattern) => pattern.test(message))) {
      this.seen.push(message);
    }
  }
}

/**
 * Chromium logs every 4xx answer as "Failed to load resource: …". Those
 * from /api are answers the SPA expects and handles (401 from
 * /api/auth/me when signed out, 401 for a wrong password, 429), not errors.
 */
function isHandledApiError(msg: ConsoleMessage): boolean {
  return (
    /^Failed to load resource: the server responded with a status of 4\d\d\b/.test(msg.text()) &&
    new URL(msg.location().url, 'http://x').pathname.startsWith('/api/')
  );
}

export const test = base.extend<{
  server: ServerInfo;
  pageErrors: PageErrors;
  serverControl: ServerControl;
}>({
  server: async ({}, use) => {
    await use(readServerInfo());
  },

  // Stops and starts the server (same port and database); a test that
  // fails while it is stopped leaves it started again for the next ones.
  serverControl: async ({ server }, use) => {
    const control = new ServerControl(server);
    await use(control);
    if (control.isStopped) {
      await control.start();
    }
  },

  // Fails the test when the page threw or logged an error: a broken wasm
  // bundle shows up only there.
  pageErrors: [
    async ({ page }, use) => {
      const errors = new PageErrors();
      page.on('pageerror', (err) =>
        errors.record(`pageerror: ${err.stack || err.message || String(err)}`),
      );
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !isHandledApiError(msg)) {
          errors.record(`console.error: ${msg.text()} (${msg.location().url})`);
        }
      });
      await use(errors);
      expect(errors.seen, 'errors in the page (pageerror / console.error)').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
