import { type Locator, type Page } from '@playwright/test';

import { expect, test } from '../fixtures';
import { composer, createConversation, messageWith, openSession, sendViaApi } from '../session';
import { createUser } from '../users';

/** How many presses of Tab may separate two controls before we call it unreachable. */
const MAX_PRESSES = 80;

/**
 * Presses `key` (Tab or Shift+Tab) until `target` has the focus, as a
 * keyboard user would; fails when it is not reached within MAX_PRESSES.
 */
async function pressUntilFocused(page: Page, key: string, target: Locator): Promise<void> {
  await target.waitFor({ state: 'attached' });
  for (let i = 0; i < MAX_PRESSES; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) {
      return;
    }
    await page.keyboard.press(key);
  }
  await expect(target, `reached with ${key} within ${MAX_PRESSES} presses`).toBeFocused({
    timeout: 1,
  });
}

test('keyboard only: sign in, open a conversation, send, react and reply', async ({
  page,
  server,
  browser,
}) => {
  test.setTimeout(60_000);
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  const janSide = await openSession(browser, jan);
  const id = await createConversation(janSide.page, server, [anna]);
  const asked = await sendViaApi(janSide.page, server, id, 'O której jutro spotkanie?');
  await janSide.page.goto(`/wiadomosci/${id}`);

  // Sign in: Tab to the e-mail field, type, Tab, type, Enter.
  await page.goto('/wiadomosci/logowanie');
  await pressUntilFocused(page, 'Tab', page.getByLabel('E-mail'));
  await page.keyboard.type(anna.email);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Hasło')).toBeFocused();
  await page.keyboard.type(anna.password);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('current-user-name')).toHaveText(anna.name);

  // Open the conversation from the list.
  const item = page.getByTestId('conversation-item').filter({ hasText: jan.name });
  await pressUntilFocused(page, 'Tab', item);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`/wiadomosci/${id}$`));
  // By id: the reply below quotes its text.
  const question = page.locator(`[data-testid="message"][data-message-id="${asked.id}"]`);
  await expect(question).toBeVisible();

  // Send: Shift+Enter is a new line, Enter sends.
  await pressUntilFocused(page, 'Tab', composer(page));
  await page.keyboard.type('Chyba o 10.');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('Sprawdzę w kalendarzu.');
  await expect(composer(page)).toHaveValue('Chyba o 10.\nSprawdzę w kalendarzu.');
  await page.keyboard.press('Enter');
  await expect(composer(page)).toHaveValue('');
  await expect(composer(page)).toBeFocused();
  const sent = messageWith(page, 'Sprawdzę w kalendarzu.');
  await expect(sent).toContainText('Chyba o 10.');
  const sentContent = sent.getByTestId('message-content');
  expect(await sentContent.innerText()).toMatch(/^Chyba o 10\.\nSprawdzę w kalendarzu\.$/);
  await expect(messageWith(janSide.page, 'Sprawdzę w kalendarzu.')).toBeVisible();

  // React to Jan's message: back from the composer to its actions.
  const react = question.getByRole('button', { name: 'Zareaguj', exact: true });
  await pressUntilFocused(page, 'Shift+Tab', react);
  await expect(react).toBeVisible();
  await page.keyboard.press('Enter');
  await expect(react).toHaveAttribute('aria-expanded', 'true');
  await pressUntilFocused(page, 'Tab', question.getByRole('button', { name: 'Zareaguj: 👍' }));
  await page.keyboard.press('Enter');
  await expect(question.getByTestId('reaction')).toHaveText('👍 1');
  await expect(question.getByTestId('reaction')).toHaveAttribute('aria-pressed', 'true');
  // The focus stays on the message's actions, not lost to the page.
  await expect(react).toBeFocused();
  await expect(react).toHaveAttribute('aria-expanded', 'false');
  await expect(messageWith(janSide.page, 'O której jutro').getByTestId('reaction')).toHaveText(
    '👍 1',
  );

  // Escape closes the picker and keeps the focus on its button.
  await page.keyboard.press('Enter');
  await expect(react).toHaveAttribute('aria-expanded', 'true');
  await page.keyboard.press('Escape');
  await expect(react).toHaveAttribute('aria-expanded', 'false');
  await expect(react).toBeFocused();

  // Reply: the action moves the focus to the composer in reply mode.
  await pressUntilFocused(page, 'Shift+Tab', question.getByRole('button', { name: 'Odpowiedz' }));
  await page.keyboard.press('Enter');
  await expect(composer(page)).toBeFocused();
  await expect(page.getByTestId('composer-mode')).toContainText(`Odpowiadasz: ${jan.name}`);
  await page.keyboard.type('Potwierdzam: 10:00.');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('composer-mode')).toHaveCount(0);
  const reply = messageWith(janSide.page, 'Potwierdzam: 10:00.');
  await expect(reply).toBeVisible();
  await expect(reply.locator('.message__quote')).toContainText('O której jutro spotkanie?');

  // A reply can be cancelled with Escape.
  await pressUntilFocused(page, 'Shift+Tab', question.getByRole('button', { name: 'Odpowiedz' }));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('composer-mode')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('composer-mode')).toHaveCount(0);
  await expect(composer(page)).toBeFocused();
  await janSide.close();
});
