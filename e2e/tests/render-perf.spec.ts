import { type Page } from '@playwright/test';

import { expect, test } from '../fixtures';
import { seedBigAccount } from '../seed';
import { createConversation, messageWith, sendViaApi, userId } from '../session';
import { createUser, signIn } from '../users';

const DIRECTS = 898;
const GROUPS = 100;
const BIG_MESSAGES = 5_000;
/** Items that fill the list pane of a 1280×720 window. */
const FIRST_SCREEN = 10;

/** The page's requests matching `url` that started after `since` (ms): how many, and from the first start to the last end. */
async function apiSpans(page: Page, url: RegExp, since: number): Promise<string> {
  const spans = await page.evaluate(
    ([source, flags, after]) =>
      performance
        .getEntriesByType('resource')
        .filter((e) => new RegExp(source, flags).test(e.name) && e.startTime >= after)
        .map((e) => [e.startTime, (e as PerformanceResourceTiming).responseEnd]),
    [url.source, url.flags, since] as const,
  );
  if (spans.length === 0) {
    return 'none';
  }
  const start = Math.min(...spans.map((s) => s[0]));
  const end = Math.max(...spans.map((s) => s[1]));
  return `${spans.length} requests, ${Math.round(start - since)}–${Math.round(end - since)} ms`;
}

// Measures, does not judge: the figures are printed and attached to the
// report (README, "SPA render time"); the test fails only if nothing renders.
test('render time with 1,000 conversations and a 5,000-message conversation', async ({
  page,
  server,
}) => {
  test.setTimeout(120_000);
  const anna = await createUser(server, 'Anna Nowak');
  const osoba = await createUser(server, 'Osoba Wzorcowa');
  await signIn(page, anna);
  const direct = await createConversation(page, server, [osoba]);
  await sendViaApi(page, server, direct, 'seedtemplate');
  const group = await createConversation(page, server, [osoba], 'Duża rozmowa');
  await sendViaApi(page, server, group, 'seedtemplate');
  const me = await userId(page, server, anna);
  const other = await userId(page, server, osoba);

  const seedStart = Date.now();
  await seedBigAccount(
    server,
    { me, other, direct, group },
    { directCount: DIRECTS, groupCount: GROUPS, bigMessages: BIG_MESSAGES },
  );
  const seedMs = Date.now() - seedStart;
  // Through the API, so the big conversation is the newest (top of the list).
  await sendViaApi(page, server, group, 'Najnowsza wiadomość w dużej rozmowie');
  const total = 2 + DIRECTS + GROUPS;

  // Navigation → the whole list in the DOM. Measured inside the page
  // (performance.now() counts from the navigation's start) with plain DOM
  // queries: Playwright's text-matching locators run in the page too and
  // would be counted.
  await page.addInitScript(
    ([n, firstScreen, selector]) => {
      const w = window as unknown as { firstScreenAt?: number; listAt?: number };
      const check = () => {
        const count = document.querySelectorAll(selector).length;
        if (w.firstScreenAt === undefined && count >= firstScreen) {
          w.firstScreenAt = performance.now();
        }
        if (w.listAt === undefined && count >= n) {
          w.listAt = performance.now();
        }
      };
      new MutationObserver(check).observe(document, { childList: true, subtree: true });
    },
    [total, FIRST_SCREEN, '[data-testid="conversation-item"]'] as const,
  );
  await page.goto('/wiadomosci');
  const listMs = await page
    .waitForFunction(() => (window as unknown as { listAt?: number }).listAt, null, {
      timeout: 60_000,
    })
    .then((h) => h.jsonValue() as Promise<number>);
  const firstScreenMs = await page.evaluate(
    () => (window as unknown as { firstScreenAt: number }).firstScreenAt,
  );
  const listApi = await apiSpans(page, /\/api\/conversations\?/, 0);

  // Click → the newest page of messages in the DOM, likewise.
  const bigItem = `[data-testid="conversation-item"][data-conversation-id="${group}"]`;
  await expect(page.locator('[data-testid="conversation-item"]').first()).toHaveAttribute(
    'data-conversation-id',
    String(group),
  );
  const clickAt = await page.evaluate((selector) => {
    const w = window as unknown as { chatAt?: number };
    const start = performance.now();
    new MutationObserver((_, observer) => {
      const messages = document.querySelectorAll('[data-testid="message"]');
      if (messages.length >= 50) {
        w.chatAt = performance.now() - start;
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
    (document.querySelector(selector) as HTMLElement).click();
    return start;
  }, bigItem);
  const chatMs = await page
    .waitForFunction(() => (window as unknown as { chatAt?: number }).chatAt, null, {
      timeout: 60_000,
    })
    .then((h) => h.jsonValue() as Promise<number>);
  const chatApi = await apiSpans(page, /\/api\//, clickAt);

  // What was measured is what it should be.
  const items = page.getByTestId('conversation-item');
  await expect(items).toHaveCount(total);
  await expect(items.first()).toContainText('Duża rozmowa');
  await expect(items.first()).toContainText('Najnowsza wiadomość w dużej rozmowie');
  await expect(page).toHaveURL(new RegExp(`/wiadomosci/${group}$`));
  await expect(page.getByTestId('message')).toHaveCount(50);
  await expect(messageWith(page, 'Najnowsza wiadomość w dużej rozmowie')).toBeInViewport();
  await expect(messageWith(page, `Wiadomość numer ${BIG_MESSAGES}.`)).toBeVisible();

  const figures = {
    'seed (SQL)': `${seedMs} ms`,
    [`list: navigation → first screen (${FIRST_SCREEN} items) rendered`]:
      `${Math.round(firstScreenMs)} ms`,
    [`list: navigation → all ${total} items rendered`]: `${Math.round(listMs)} ms`,
    'chat: click → newest 50 of 5,002 messages rendered': `${Math.round(chatMs)} ms`,
    'list: API requests (count, first start → last end)': listApi,
    'chat: API requests after the click': chatApi,
  };
  for (const [type, description] of Object.entries(figures)) {
    test.info().annotations.push({ type, description });
    console.log(`render-perf: ${type}: ${description}`);
  }
});
