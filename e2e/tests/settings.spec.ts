import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

import { type Page } from '@playwright/test';

import { expect, test } from '../fixtures';
import { openSession } from '../session';
import { createUser, signIn } from '../users';

const SCREENSHOTS = join(__dirname, '..', 'screenshots');
mkdirSync(SCREENSHOTS, { recursive: true });

async function me(page: Page): Promise<{ language: string; notify_email_messages: boolean }> {
  const response = await page.request.get('/api/auth/me');
  expect(response.status()).toBe(200);
  return response.json();
}

test('settings: e-mail notifications and language are saved to the account', async ({
  page,
  server,
}) => {
  const anna = await createUser(server, 'Anna Nowak');
  await signIn(page, anna);
  await page.getByRole('link', { name: 'Ustawienia' }).click();
  await expect(page).toHaveURL(/\/wiadomosci\/ustawienia$/);
  await expect(page.getByRole('heading', { name: 'Ustawienia' })).toBeVisible();

  const notify = page.getByLabel('Powiadomienia e-mail o nowych wiadomościach');
  await expect(notify).toBeChecked();
  await notify.uncheck();
  await expect(page.getByTestId('settings-status')).toHaveText('Zapisano.');
  expect((await me(page)).notify_email_messages).toBe(false);
  await page.reload();
  await expect(notify).not.toBeChecked();
  await page.screenshot({ path: join(SCREENSHOTS, 'desktop-settings-pl.png') });

  // English: the page switches and the account remembers it (for e-mails).
  await expect(page.getByTestId('settings-lang-pl')).toBeChecked();
  await page.getByTestId('settings-lang-en').check();
  await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
  await expect(page.getByLabel('E-mail notifications about new messages')).not.toBeChecked();
  expect((await me(page)).language).toBe('en');
  await page.screenshot({ path: join(SCREENSHOTS, 'desktop-settings-en.png') });

  // Keyboard: the checkbox toggles with Space.
  await page.getByLabel('E-mail notifications about new messages').focus();
  await page.keyboard.press('Space');
  await expect(page.getByTestId('settings-status')).toHaveText('Saved.');
  expect(await me(page)).toMatchObject({ language: 'en', notify_email_messages: true });

  // Back to the messages.
  await page.getByRole('link', { name: 'Back to messages' }).click();
  await expect(page).toHaveURL(/\/wiadomosci\/?$/);
});

test('settings: changing the password keeps this session and signs the others out', async ({
  page,
  server,
  browser,
}) => {
  const anna = await createUser(server, 'Anna Nowak');
  const other = await openSession(browser, anna);
  await signIn(page, anna, '/wiadomosci/ustawienia');
  // The deep link survives signing in.
  await expect(page).toHaveURL(/\/wiadomosci\/ustawienia$/);

  const current = page.getByLabel('Obecne hasło');
  const fresh = page.getByLabel('Nowe hasło', { exact: true });
  const repeat = page.getByLabel('Powtórz nowe hasło');
  const submit = page.getByRole('button', { name: 'Zmień hasło' });
  const status = page.getByTestId('password-status');

  await current.fill('to-nie-jest-haslo');
  await fresh.fill('nowe-haslo-anny');
  await repeat.fill('nowe-haslo-anny');
  await submit.click();
  await expect(status).toHaveText('Obecne hasło jest nieprawidłowe.');

  await current.fill(anna.password);
  await repeat.fill('inne-haslo-anny');
  await submit.click();
  await expect(status).toHaveText('Hasła nie są takie same.');

  await fresh.fill('krotkie');
  await repeat.fill('krotkie');
  await submit.click();
  await expect(status).toHaveText('Nowe hasło musi mieć od 8 do 256 znaków.');

  // Nothing was changed so far: the other session still works.
  expect((await other.page.request.get('/api/auth/me')).status()).toBe(200);

  await fresh.fill('nowe-haslo-anny');
  await repeat.fill('nowe-haslo-anny');
  await submit.press('Enter');
  await expect(status).toHaveText('Hasło zmienione. Pozostałe sesje zostały wylogowane.');
  await expect(current).toHaveValue('');

  // This session stays; the other browser is signed out.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Ustawienia' })).toBeVisible();
  await other.page.reload();
  await expect(other.page).toHaveURL(/\/wiadomosci\/logowanie$/);
  await other.close();

  // The new password signs in; the old one does not.
  const again = await openSession(browser, { ...anna, password: 'nowe-haslo-anny' });
  await expect(again.page.getByTestId('current-user-name')).toHaveText(anna.name);
  await again.close();
  const old = await page.request.post('/api/auth/login', {
    data: { email: anna.email, password: anna.password },
  });
  expect(old.status()).toBe(401);
});
