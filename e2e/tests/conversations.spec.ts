import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { type Page } from '@playwright/test';

import { expect, test } from '../fixtures';
import { ServerInfo } from '../server-info';
import { composer, createConversation, messageWith, openSession, sendViaApi } from '../session';
import { TestUser, createUser, signIn } from '../users';

const SCREENSHOTS = join(__dirname, '..', 'screenshots');
mkdirSync(SCREENSHOTS, { recursive: true });
const CHAT_URL = /\/wiadomosci\/(\d+)$/;

/** Creates a 1:1 between the signed-in user of `page` and `other`; returns its id. */
function startConversation(page: Page, server: ServerInfo, other: TestUser): Promise<number> {
  return createConversation(page, server, [other]);
}

test('a 1:1 started from the dialog delivers messages, unread badges and read ticks live', async ({
  page,
  server,
  browser,
}) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  await signIn(page, anna);
  const janSide = await openSession(browser, jan);

  // Anna: "Nowa wiadomość" → pick Jan → start.
  await page.getByRole('button', { name: 'Nowa wiadomość' }).click();
  const dialog = page.getByRole('dialog', { name: 'Nowa wiadomość' });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Szukaj osób').fill(jan.email);
  await dialog.locator('.person', { hasText: jan.email }).click();
  await expect(dialog.locator('.chip')).toContainText(jan.name);
  await page.screenshot({ path: join(SCREENSHOTS, 'desktop-new-conversation-pl.png') });
  await dialog.getByRole('button', { name: 'Rozpocznij rozmowę' }).click();
  await expect(dialog).toBeHidden();
  await expect(page).toHaveURL(CHAT_URL);
  await expect(page.getByTestId('chat-name')).toHaveText(jan.name);

  await composer(page).fill('Cześć **Jan**, co słychać?');
  await composer(page).press('Enter');
  const sent = messageWith(page, 'co słychać');
  await expect(sent.locator('strong')).toHaveText('Jan');
  await expect(sent.getByTestId('message-tick')).toHaveAttribute('data-state', 'sent');
  await expect(composer(page)).toHaveValue('');

  // Jan: the conversation appears in the list with an unread badge.
  const item = janSide.page.getByTestId('conversation-item').filter({ hasText: anna.name });
  await expect(item).toBeVisible();
  await expect(item.getByTestId('unread-badge')).toHaveText('1');
  await expect(item).toContainText('Cześć Jan, co słychać?');

  // Jan opens it: the message is there (bold), the badge goes, Anna sees ✓✓.
  await item.click();
  await expect(messageWith(janSide.page, 'co słychać').locator('strong')).toHaveText('Jan');
  await expect(item.getByTestId('unread-badge')).toHaveCount(0);
  await expect(sent.getByTestId('message-tick')).toHaveAttribute('data-state', 'read');

  // Jan types (Anna sees it) and replies; Anna sees the reply live.
  await composer(janSide.page).fill('Wszystko dobrze');
  await expect(page.getByTestId('typing')).toHaveText('Jan pisze…');
  await composer(janSide.page).press('Shift+Enter');
  await composer(janSide.page).pressSequentially('a u Ciebie?');
  await composer(janSide.page).press('Enter');
  await expect(messageWith(page, 'a u Ciebie?')).toBeVisible();
  await expect(messageWith(page, 'a u Ciebie?')).toContainText('Wszystko dobrze');
  await expect(page.getByTestId('typing')).toHaveText('');
  await expect(messageWith(janSide.page, 'a u Ciebie?')).toHaveClass(/message--mine/);
  await expect(messageWith(page, 'a u Ciebie?')).not.toHaveClass(/message--mine/);

  // Anna is reading the conversation, so her list shows no badge for it.
  const annaItem = page.getByTestId('conversation-item').filter({ hasText: jan.name });
  await expect(annaItem).toContainText('a u Ciebie?');
  await expect(annaItem.getByTestId('unread-badge')).toHaveCount(0);

  await page.screenshot({ path: join(SCREENSHOTS, 'desktop-chat-pl.png') });
  await janSide.close();
});

test('reactions toggle and show for the other user live', async ({ page, server, browser }) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  await signIn(page, anna);
  const id = await startConversation(page, server, jan);
  await sendViaApi(page, server, id, 'Zareaguj na mnie');
  await page.goto(`/wiadomosci/${id}`);
  const janSide = await openSession(browser, jan, `/wiadomosci/${id}`);

  const mine = messageWith(page, 'Zareaguj na mnie');
  // Keyboard: focus the message, its actions appear.
  await mine.focus();
  await mine.getByRole('button', { name: 'Zareaguj', exact: true }).click();
  await mine.getByRole('button', { name: 'Zareaguj: 👍' }).click();
  await expect(mine.getByTestId('reaction')).toHaveText('👍 1');
  await expect(mine.getByTestId('reaction')).toHaveAttribute('aria-pressed', 'true');

  const theirs = messageWith(janSide.page, 'Zareaguj na mnie');
  await expect(theirs.getByTestId('reaction')).toHaveText('👍 1');
  await expect(theirs.getByTestId('reaction')).toHaveAttribute('aria-pressed', 'false');

  // Jan adds his own 👍 by clicking the pill; Anna sees 2.
  await theirs.getByTestId('reaction').click();
  await expect(theirs.getByTestId('reaction')).toHaveText('👍 2');
  await expect(mine.getByTestId('reaction')).toHaveText('👍 2');

  // Anna takes hers back; Jan sees 1, then Jan takes his: none left.
  await mine.getByTestId('reaction').click();
  await expect(theirs.getByTestId('reaction')).toHaveText('👍 1');
  await theirs.getByTestId('reaction').click();
  await expect(mine.getByTestId('reaction')).toHaveCount(0);
  await janSide.close();
});

test('editing and deleting own messages reach the other user live', async ({
  page,
  server,
  browser,
}) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  await signIn(page, anna);
  const id = await startConversation(page, server, jan);
  await sendViaApi(page, server, id, 'Pierwsza wersja');
  await sendViaApi(page, server, id, 'Do usunięcia');
  await page.goto(`/wiadomosci/${id}`);
  const janSide = await openSession(browser, jan, `/wiadomosci/${id}`);
  await expect(messageWith(janSide.page, 'Do usunięcia')).toBeVisible();

  const first = messageWith(page, 'Pierwsza wersja');
  await first.hover();
  await first.getByRole('button', { name: 'Edytuj' }).click();
  await expect(page.getByTestId('composer-mode')).toContainText('Edytujesz wiadomość');
  await expect(composer(page)).toHaveValue('Pierwsza wersja');
  await composer(page).fill('Poprawiona wersja');
  await composer(page).press('Enter');
  await expect(page.getByTestId('composer-mode')).toHaveCount(0);

  const edited = messageWith(janSide.page, 'Poprawiona wersja');
  await expect(edited).toBeVisible();
  await expect(edited.getByTestId('message-edited')).toHaveText('edytowano');
  await expect(messageWith(janSide.page, 'Pierwsza wersja')).toHaveCount(0);

  const doomed = messageWith(page, 'Do usunięcia');
  await doomed.hover();
  await doomed.getByRole('button', { name: 'Usuń' }).click();
  await page.getByTestId('confirm-delete').click();
  await expect(messageWith(page, 'Do usunięcia')).toHaveCount(0);
  await expect(page.getByTestId('message-deleted')).toHaveText('Wiadomość usunięta');
  await expect(janSide.page.getByTestId('message-deleted')).toHaveText('Wiadomość usunięta');
  await expect(messageWith(janSide.page, 'Do usunięcia')).toHaveCount(0);
  await janSide.close();
});

test('a deep link opens the conversation after signing in', async ({ page, server, browser }) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  const annaSide = await openSession(browser, anna);
  const id = await startConversation(annaSide.page, server, jan);
  await sendViaApi(annaSide.page, server, id, 'Link do rozmowy');
  await annaSide.close();

  await signIn(page, jan, `/wiadomosci/${id}`);
  await expect(page).toHaveURL(new RegExp(`/wiadomosci/${id}$`));
  await expect(page.getByTestId('chat-name')).toHaveText(anna.name);
  await expect(messageWith(page, 'Link do rozmowy')).toBeVisible();

  // A reload keeps it open; a conversation of others is not shown.
  await page.reload();
  await expect(messageWith(page, 'Link do rozmowy')).toBeVisible();
  await page.goto('/wiadomosci/999999');
  await expect(page.getByRole('alert').filter({ hasText: 'Nie ma takiej rozmowy' })).toBeVisible();
});

test('older messages load when scrolling up', async ({ page, server }) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  await signIn(page, anna);
  const id = await startConversation(page, server, jan);
  for (let i = 1; i <= 120; i++) {
    await sendViaApi(page, server, id, `Wiadomość numer ${i}.`);
  }
  await page.goto(`/wiadomosci/${id}`);
  await expect(messageWith(page, 'Wiadomość numer 120.')).toBeInViewport();
  await expect(page.getByTestId('message')).toHaveCount(50);
  await expect(messageWith(page, 'Wiadomość numer 1.')).toHaveCount(0);

  const scroller = page.getByTestId('message-scroller');
  await expect(async () => {
    await scroller.evaluate((el) => {
      el.scrollTop = -el.scrollHeight;
    });
    await expect(page.getByTestId('message')).toHaveCount(120, { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await scroller.evaluate((el) => {
    el.scrollTop = -el.scrollHeight;
  });
  await expect(messageWith(page, 'Wiadomość numer 1.')).toBeInViewport();
  // Oldest first, in order.
  const texts = await page.getByTestId('message-content').allInnerTexts();
  expect(texts.slice(0, 3)).toEqual(['Wiadomość numer 1.', 'Wiadomość numer 2.', 'Wiadomość numer 3.']);
  expect(texts.at(-1)).toBe('Wiadomość numer 120.');
});

test('on a phone the list comes first, a chat opens full screen and Back returns', async ({
  server,
  browser,
}) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  const phone = await openSession(browser, anna, undefined, {
    viewport: { width: 375, height: 800 },
  });
  const page = phone.page;
  const id = await startConversation(page, server, jan);
  await sendViaApi(page, server, id, 'Na telefonie');
  await page.goto('/wiadomosci');

  const list = page.getByTestId('conversation-list');
  const item = page.getByTestId('conversation-item').filter({ hasText: jan.name });
  await expect(item).toBeVisible();
  await expect(page.getByTestId('chat')).toHaveCount(0);
  await page.screenshot({ path: join(SCREENSHOTS, 'mobile-list-pl.png') });

  await item.click();
  await expect(page).toHaveURL(new RegExp(`/wiadomosci/${id}$`));
  await expect(messageWith(page, 'Na telefonie')).toBeVisible();
  await expect(list).toBeHidden();
  await composer(page).fill('Z telefonu');
  await page.getByRole('button', { name: 'Wyślij' }).click();
  await expect(messageWith(page, 'Z telefonu')).toBeVisible();
  await page.screenshot({ path: join(SCREENSHOTS, 'mobile-chat-pl.png') });

  await page.getByRole('link', { name: 'Wróć do listy rozmów' }).click();
  await expect(page).toHaveURL(/\/wiadomosci\/?$/);
  await expect(item).toBeVisible();
  await expect(item).toContainText('Ty: Z telefonu');
  await expect(page.getByTestId('chat')).toHaveCount(0);
  await phone.close();
});
