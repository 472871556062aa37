import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { type Page } from '@playwright/test';

import { expect, test } from '../fixtures';
import {
  api,
  composer,
  conversationItem,
  createConversation,
  messageWith,
  openSession,
  sendViaApi,
} from '../session';
import { createUser, signIn } from '../users';

/** e2e/screenshots/<lang>/<viewport>-<screen>.png, next to the spec's folder. */
const SCREENSHOTS = join(__dirname, '..', 'screenshots');

const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 800 } },
  mobile: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
} as const;

const TEXTS = {
  pl: { signIn: 'Zaloguj się', settings: 'Ustawienia', back: 'Wróć do listy rozmów' },
  en: { signIn: 'Sign in', settings: 'Settings', back: 'Back to conversations' },
} as const;

for (const lang of ['pl', 'en'] as const) {
  for (const [kind, options] of Object.entries(VIEWPORTS)) {
    test(`screenshots: ${kind}, ${lang}`, async ({ server, browser }) => {
      test.setTimeout(60_000);
      const dir = join(SCREENSHOTS, lang);
      mkdirSync(dir, { recursive: true });
      const shot = (page: Page, screen: string) =>
        page.screenshot({ path: join(dir, `${kind}-${screen}.png`) });
      const text = TEXTS[lang];

      const anna = await createUser(server, 'Anna Nowak');
      const jan = await createUser(server, 'Jan Kowalski');
      const ola = await createUser(server, 'Ola Wiśniewska');
      const session = await openSession(browser, anna, undefined, options);
      const page = session.page;

      // Some history: a group, a 1:1 with a reply, a reaction and a pin.
      const group = await createConversation(page, server, [jan, ola], 'Wyjazd w góry');
      await sendViaApi(page, server, group, 'Kto bierze namiot?');
      const id = await createConversation(page, server, [jan]);
      const first = await sendViaApi(page, server, id, 'Cześć! Masz chwilę po południu?');
      await api(page, server, 'POST', `/api/messages/${first.id}/reactions`, { emoji: '👍' });
      await api(page, server, 'POST', `/api/messages/${first.id}/pin`);
      await sendViaApi(page, server, id, 'Wyślę Ci **szkic** umowy jeszcze dziś.');

      // The login page, in the language (the switcher there remembers it).
      const signedOut = await browser.newContext(options);
      const login = await signedOut.newPage();
      await login.goto('/wiadomosci/logowanie');
      if (lang === 'en') {
        await login.getByRole('button', { name: 'English' }).click();
      }
      await expect(login.getByRole('heading', { name: text.signIn })).toBeVisible();
      await shot(login, 'login');
      await signedOut.close();

      if (lang === 'en') {
        await page.getByRole('button', { name: 'English' }).click();
      }
      const janSide = await openSession(browser, jan, `/wiadomosci/${id}`);
      await composer(janSide.page).fill('Jasne, o 15?');
      await janSide.page.keyboard.press('Enter');

      if (kind === 'mobile') {
        await page.goto('/wiadomosci');
        await expect(conversationItem(page, jan.name)).toContainText('Jasne, o 15?');
        await shot(page, 'list');
        await conversationItem(page, jan.name).click();
      } else {
        await page.goto(`/wiadomosci/${id}`);
      }
      await expect(messageWith(page, 'Jasne, o 15?')).toBeVisible();
      await expect(page.getByTestId('pinned-bar')).toBeVisible();
      await shot(page, 'chat');

      if (kind === 'mobile') {
        await page.getByRole('link', { name: text.back }).click();
      }
      await page.getByRole('link', { name: text.settings }).click();
      await expect(page.getByRole('heading', { name: text.settings })).toBeVisible();
      await shot(page, 'settings');

      await janSide.close();
      await session.close();
    });
  }
}

test('a group of three: created from the dialog, one member leaves, the others see it live', async ({
  page,
  server,
  browser,
}) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  const ola = await createUser(server, 'Ola Wiśniewska');
  await signIn(page, anna);
  const annaPage = page;
  const janSide = await openSession(browser, jan);
  const olaSide = await openSession(browser, ola);

  // Anna picks two people and a name: a group.
  await annaPage.getByRole('button', { name: 'Nowa wiadomość' }).click();
  const dialog = annaPage.getByRole('dialog', { name: 'Nowa wiadomość' });
  for (const person of [jan, ola]) {
    await dialog.getByLabel('Szukaj osób').fill(person.email);
    await dialog.locator('.person', { hasText: person.email }).click();
  }
  await expect(dialog.locator('.chip')).toHaveCount(2);
  await dialog.getByLabel('Nazwa grupy').fill('Urodziny Piotra');
  await dialog.getByRole('button', { name: 'Utwórz grupę' }).click();
  await expect(dialog).toBeHidden();
  await expect(annaPage.getByTestId('chat-name')).toHaveText('Urodziny Piotra');
  await composer(annaPage).fill('Zbieramy na prezent?');
  await composer(annaPage).press('Enter');

  // Jan and Ola get it live, with the message.
  for (const side of [janSide.page, olaSide.page]) {
    const item = conversationItem(side, 'Urodziny Piotra');
    await expect(item).toContainText('Zbieramy na prezent?');
    await item.click();
    await expect(messageWith(side, 'Zbieramy na prezent?')).toBeVisible();
    await expect(side.getByTestId('chat-subtitle')).toContainText(anna.name);
  }
  await expect(janSide.page.getByTestId('chat-subtitle')).toContainText(ola.name);
  mkdirSync(join(SCREENSHOTS, 'pl'), { recursive: true });
  await janSide.page.screenshot({ path: join(SCREENSHOTS, 'pl', 'desktop-group.png') });

  // Ola leaves; Anna and Jan see her go, she no longer has it.
  await olaSide.page.getByRole('button', { name: 'Opuść grupę' }).click();
  await olaSide.page.getByTestId('confirm-leave').click();
  await expect(olaSide.page).toHaveURL(/\/wiadomosci\/?$/);
  await expect(conversationItem(olaSide.page, 'Urodziny Piotra')).toHaveCount(0);
  for (const [side, other] of [
    [annaPage, jan],
    [janSide.page, anna],
  ] as const) {
    await expect(side.getByTestId('chat-subtitle')).not.toContainText(ola.name);
    await expect(side.getByTestId('chat-subtitle')).toContainText(other.name);
  }
  // The two left still talk.
  await composer(janSide.page).fill('Ja dorzucę 50 zł');
  await composer(janSide.page).press('Enter');
  await expect(messageWith(annaPage, 'Ja dorzucę 50 zł')).toBeVisible();
  await olaSide.close();
  await janSide.close();
});
