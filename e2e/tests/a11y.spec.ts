import AxeBuilder from '@axe-core/playwright';
import { type Page } from '@playwright/test';

import { expect, test } from '../fixtures';
import { ServerInfo } from '../server-info';
import {
  api,
  composer,
  createConversation,
  messageWith,
  openSession,
  sendViaApi,
} from '../session';
import { TestUser, createUser, signIn } from '../users';

/**
 * Scans the page with axe-core (WCAG 2.x A/AA and best practices) and fails
 * on serious or critical violations, listing each with its elements.
 */
async function expectNoSeriousViolations(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter(
    (v) => v.impact === 'serious' || v.impact === 'critical',
  );
  const report = serious.map(
    (v) =>
      `${v.impact} ${v.id}: ${v.help} (${v.helpUrl})\n` +
      v.nodes
        .slice(0, 5)
        .map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.replace(/\n/g, ' ')}`)
        .join('\n'),
  );
  expect(report, `serious or critical accessibility violations on ${screen}`).toEqual([]);
}

/** Anna with a 1:1 and a group, both with some history (mine, theirs, a reaction, a reply). */
async function seed(
  page: Page,
  server: ServerInfo,
): Promise<{ anna: TestUser; jan: TestUser; id: number; first: number }> {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  const ola = await createUser(server, 'Ola Wiśniewska');
  await signIn(page, anna);
  const group = await createConversation(page, server, [jan, ola], 'Projekt');
  await sendViaApi(page, server, group, 'Plan na jutro w grupie');
  const id = await createConversation(page, server, [jan]);
  const first = await sendViaApi(page, server, id, 'Cześć, masz chwilę?');
  await api(page, server, 'POST', `/api/messages/${first.id}/reactions`, { emoji: '👍' });
  await api(page, server, 'POST', `/api/messages/${first.id}/pin`);
  await api(page, server, 'POST', `/api/conversations/${id}/messages`, {
    content: 'Tak, **jasne** — zobacz https://example.com',
    reply_to_id: first.id,
  });
  return { anna, jan, id, first: first.id };
}

test('axe: the login page', async ({ page }) => {
  await page.goto('/wiadomosci/logowanie');
  await expect(page.getByRole('heading', { name: 'Zaloguj się' })).toBeVisible();
  await expectNoSeriousViolations(page, 'login');
  // With an error shown, too.
  await page.getByRole('button', { name: 'Zaloguj się' }).click();
  await expect(page.getByRole('alert')).toHaveText('Podaj e-mail i hasło.');
  await expectNoSeriousViolations(page, 'login with an error');
});

test('axe: the list with a chat open, in light and dark', async ({ page, server, browser }) => {
  test.setTimeout(60_000);
  const { jan, id, first } = await seed(page, server);
  const janSide = await openSession(browser, jan, `/wiadomosci/${id}`);
  await page.goto(`/wiadomosci/${id}`);
  await expect(messageWith(page, 'jasne')).toBeVisible();
  await expect(page.getByTestId('pinned-bar')).toBeVisible();
  await composer(janSide.page).fill('Piszę…');
  await expect(page.getByTestId('typing')).toHaveText('Jan pisze…');
  // A message's actions are shown (focus), with the emoji picker open.
  const message = page.locator(`[data-testid="message"][data-message-id="${first}"]`);
  await message.focus();
  await message.getByRole('button', { name: 'Zareaguj', exact: true }).click();
  await expect(message.getByRole('button', { name: 'Zareaguj: 👍' })).toBeVisible();
  await expectNoSeriousViolations(page, 'conversation list + chat (light)');

  await page.emulateMedia({ colorScheme: 'dark' });
  await expectNoSeriousViolations(page, 'conversation list + chat (dark)');

  // The search bar with a result (the match marked).
  await page.getByRole('button', { name: 'Szukaj w rozmowie' }).click();
  await page.getByRole('searchbox', { name: 'Szukaj wiadomości' }).fill('jasne');
  await expect(page.getByTestId('message-search-result')).toHaveCount(1);
  await expectNoSeriousViolations(page, 'chat with the search bar (dark)');
  await page.emulateMedia({ colorScheme: 'light' });
  await expectNoSeriousViolations(page, 'chat with the search bar (light)');
  await janSide.close();
});

test('axe: settings', async ({ page, server }) => {
  const anna = await createUser(server, 'Anna Nowak');
  await signIn(page, anna, '/wiadomosci/ustawienia');
  await expect(page.getByRole('heading', { name: 'Ustawienia' })).toBeVisible();
  await expectNoSeriousViolations(page, 'settings');
});

test('axe: the new conversation dialog', async ({ page, server }) => {
  const { jan } = await seed(page, server);
  await page.getByRole('button', { name: 'Nowa wiadomość' }).click();
  const dialog = page.getByRole('dialog', { name: 'Nowa wiadomość' });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Szukaj osób').fill(jan.email);
  await expect(dialog.locator('.person', { hasText: jan.email })).toBeVisible();
  await expectNoSeriousViolations(page, 'new conversation dialog');
  await dialog.locator('.person', { hasText: jan.email }).click();
  await expect(dialog.locator('.chip')).toContainText(jan.name);
  await expectNoSeriousViolations(page, 'new conversation dialog with a person picked');
});

test('axe: a phone (390×844), list and chat', async ({ server, browser }) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  const phone = await openSession(browser, anna, undefined, {
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
  });
  const page = phone.page;
  const id = await createConversation(page, server, [jan]);
  await sendViaApi(page, server, id, 'Na telefonie');
  await page.goto('/wiadomosci');
  await expect(page.getByTestId('conversation-item')).toHaveCount(1);
  await expectNoSeriousViolations(page, 'phone: list');
  await page.getByTestId('conversation-item').click();
  await expect(messageWith(page, 'Na telefonie')).toBeVisible();
  await expectNoSeriousViolations(page, 'phone: chat');
  await phone.close();
});
