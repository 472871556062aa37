import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

import { expect, test } from '../fixtures';
import {
  annaSignedInWithJan,
  api,
  composer,
  conversationItem,
  createConversation,
  messageWith,
  openSession,
  sendViaApi,
  userId,
} from '../session';
import { createUser, signIn } from '../users';

const SCREENSHOTS = join(__dirname, '..', 'screenshots');
mkdirSync(SCREENSHOTS, { recursive: true });

test('presence shows in the header and the list, live', async ({ page, server, browser }) => {
  test.setTimeout(90_000);
  const { jan, id } = await annaSignedInWithJan(page, server);
  await sendViaApi(page, server, id, 'Jesteś?');
  await page.goto(`/wiadomosci/${id}`);
  const subtitle = page.getByTestId('chat-subtitle');
  const item = conversationItem(page, jan.name);
  await expect(messageWith(page, 'Jesteś?')).toBeVisible();
  // Jan has never been online: no dot, no line.
  await expect(subtitle).toHaveText('');
  await expect(item.getByTestId('presence-dot')).toHaveCount(0);

  // Jan signs in: Anna sees him online without reloading.
  const janSide = await openSession(browser, jan);
  await expect(subtitle).toHaveText('online');
  await expect(item.getByTestId('presence-dot')).toBeVisible();
  await expect(page.locator('.chat__header').getByTestId('presence-dot')).toBeVisible();

  // Jan leaves: after the grace period he is shown as last seen.
  await janSide.close();
  await expect(subtitle).toHaveText(/^ostatnio online (przed chwilą|1 min temu)$/, {
    timeout: 60_000,
  });
  await expect(item.getByTestId('presence-dot')).toHaveCount(0);
});

test('mute and archive; a new message brings an archived conversation back', async ({
  page,
  server,
  browser,
}) => {
  const { jan, id } = await annaSignedInWithJan(page, server);
  await sendViaApi(page, server, id, 'Pierwsza');
  await page.goto(`/wiadomosci/${id}`);
  const janSide = await openSession(browser, jan, `/wiadomosci/${id}`);
  const item = conversationItem(page, jan.name);

  // Mute: the mark appears in the list; the button says what it will do.
  await page.getByRole('button', { name: 'Wycisz' }).click();
  await expect(item.getByTestId('muted-mark')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Wyłącz wyciszenie' })).toHaveAttribute(
    'aria-pressed',
    'true',
  );

  // Archive: it leaves the main list and shows in the archive.
  await page.getByRole('button', { name: 'Archiwizuj' }).click();
  await expect(item).toHaveCount(0);
  const archiveToggle = page.getByTestId('archive-toggle');
  await archiveToggle.click();
  await expect(archiveToggle).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByRole('heading', { name: 'Archiwum' })).toBeVisible();
  await expect(item.getByTestId('archived-mark')).toBeVisible();
  await expect(item.getByTestId('muted-mark')).toBeVisible();
  await page.screenshot({ path: join(SCREENSHOTS, 'desktop-archive-pl.png') });

  // Jan writes: the conversation comes back to Anna's main list, live.
  await composer(janSide.page).fill('Wracam do rozmowy');
  await composer(janSide.page).press('Enter');
  await expect(item).toHaveCount(0);
  await expect(page.getByText('Brak zarchiwizowanych rozmów.')).toBeVisible();
  await archiveToggle.click();
  await expect(item).toContainText('Wracam do rozmowy');
  await expect(item.getByTestId('archived-mark')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Archiwizuj' })).toBeVisible();
  await expect(messageWith(page, 'Wracam do rozmowy')).toBeVisible();

  // Unmute with the keyboard.
  await page.getByRole('button', { name: 'Wyłącz wyciszenie' }).focus();
  await page.keyboard.press('Enter');
  await expect(item.getByTestId('muted-mark')).toHaveCount(0);
  await janSide.close();
});

test('pins: pin and unpin live, and a click on a pin scrolls back to its message', async ({
  page,
  server,
  browser,
}) => {
  const { jan, id } = await annaSignedInWithJan(page, server);
  const oldest = await sendViaApi(page, server, id, 'Najstarsza wiadomość do przypięcia');
  for (let i = 1; i <= 60; i++) {
    await sendViaApi(page, server, id, `Wypełniacz ${i}.`);
  }
  await sendViaApi(page, server, id, 'Przypnij mnie');
  await page.goto(`/wiadomosci/${id}`);
  const janSide = await openSession(browser, jan, `/wiadomosci/${id}`);
  await expect(messageWith(janSide.page, 'Przypnij mnie')).toBeVisible();

  // Anna pins with the message's action; Jan sees the bar live.
  const mine = messageWith(page, 'Przypnij mnie');
  await mine.focus();
  await mine.getByRole('button', { name: 'Przypnij' }).click();
  await expect(mine.getByTestId('message-pinned')).toBeVisible();
  const janBar = janSide.page.getByTestId('pinned-bar');
  await expect(janBar.getByTestId('pin')).toHaveCount(1);
  await expect(janBar).toContainText('Przypnij mnie');

  // A message that is not loaded yet gets pinned (through the API).
  await api(page, server, 'POST', `/api/messages/${oldest.id}/pin`);
  await expect(janBar.getByTestId('pin')).toHaveCount(2);
  await expect(messageWith(janSide.page, 'Najstarsza wiadomość')).toHaveCount(0);
  // Jan clicks it: older pages load and the message is shown and focused.
  await janBar.getByRole('button', { name: /Najstarsza wiadomość/ }).click();
  const target = messageWith(janSide.page, 'Najstarsza wiadomość do przypięcia');
  await expect(target).toBeInViewport();
  await expect(target).toBeFocused();
  await janSide.page.screenshot({ path: join(SCREENSHOTS, 'desktop-pins-pl.png') });

  // Anna unpins from the message; Jan's bar loses it.
  await mine.focus();
  await mine.getByRole('button', { name: 'Odepnij' }).click();
  await expect(janBar.getByTestId('pin')).toHaveCount(1);
  await expect(janBar).not.toContainText('Przypnij mnie');
  // And the other one from the bar.
  await page.getByTestId('pinned-bar').getByRole('button', { name: 'Odepnij' }).click();
  await expect(janBar).toHaveCount(0);
  await janSide.close();
});

test('forwarding a message to another conversation', async ({ page, server, browser }) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  const ola = await createUser(server, 'Ola Wiśniewska');
  await signIn(page, anna);
  const withJan = await createConversation(page, server, [jan]);
  const withOla = await createConversation(page, server, [ola]);
  await sendViaApi(page, server, withOla, 'Cześć Ola');
  await api(page, server, 'POST', `/api/conversations/${withJan}/messages`, {
    content: 'Warto to przekazać',
  });
  await page.goto(`/wiadomosci/${withJan}`);
  const olaSide = await openSession(browser, ola, `/wiadomosci/${withOla}`);

  const message = messageWith(page, 'Warto to przekazać');
  await message.hover();
  await message.getByRole('button', { name: 'Przekaż dalej' }).click();
  const dialog = page.getByRole('dialog', { name: 'Przekaż wiadomość' });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Szukaj rozmów').fill('Ola');
  await dialog.getByRole('button', { name: ola.name }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('chat-notice')).toHaveText(`Przekazano do: ${ola.name}`);

  const forwarded = messageWith(olaSide.page, 'Warto to przekazać');
  await expect(forwarded).toBeVisible();
  await expect(forwarded.getByTestId('message-forwarded')).toContainText('Przekazana dalej');
  await olaSide.close();
});

test('group settings: rename, add and remove members, leave — live for the others', async ({
  page,
  server,
  browser,
}) => {
  test.setTimeout(60_000);
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  const ola = await createUser(server, 'Ola Wiśniewska');
  const piotr = await createUser(server, 'Piotr Zieliński');
  await signIn(page, anna);
  const id = await createConversation(page, server, [jan, ola], 'Projekt');
  await sendViaApi(page, server, id, 'Start projektu');
  await page.goto(`/wiadomosci/${id}`);
  const janSide = await openSession(browser, jan, `/wiadomosci/${id}`);
  const olaSide = await openSession(browser, ola, `/wiadomosci/${id}`);
  await expect(janSide.page.getByTestId('chat-name')).toHaveText('Projekt');

  // Anna (the owner) renames the group.
  await page.getByRole('button', { name: 'Ustawienia grupy' }).click();
  const dialog = page.getByRole('dialog', { name: 'Ustawienia grupy' });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Nazwa grupy').fill('Projekt X');
  await dialog.getByRole('button', { name: 'Zapisz' }).click();
  await expect(page.getByTestId('chat-name')).toHaveText('Projekt X');
  await expect(janSide.page.getByTestId('chat-name')).toHaveText('Projekt X');
  await expect(conversationItem(olaSide.page, 'Projekt X')).toBeVisible();

  // Adds Piotr from the directory.
  await dialog.getByLabel('Dodaj osoby').fill(piotr.email);
  await dialog.getByRole('button', { name: `Dodaj: ${piotr.name}` }).click();
  await expect(dialog.getByTestId('group-member')).toHaveCount(4);
  await expect(janSide.page.getByTestId('chat-subtitle')).toContainText(piotr.name);
  await page.screenshot({ path: join(SCREENSHOTS, 'desktop-group-settings-pl.png') });

  // Removes Ola: her conversation is gone, the others see her leave.
  await dialog.getByRole('button', { name: `Usuń z grupy: ${ola.name}` }).click();
  await expect(dialog.getByTestId('group-member')).toHaveCount(3);
  await expect(
    olaSide.page.getByRole('alert').filter({ hasText: 'Nie ma takiej rozmowy' }),
  ).toBeVisible();
  await expect(conversationItem(olaSide.page, 'Projekt X')).toHaveCount(0);
  await expect(janSide.page.getByTestId('chat-subtitle')).not.toContainText(ola.name);
  await dialog.getByRole('button', { name: 'Zamknij' }).click();
  await expect(dialog).toBeHidden();

  // Jan (not the owner) sees the members but cannot change them.
  await janSide.page.getByRole('button', { name: 'Ustawienia grupy' }).click();
  const janDialog = janSide.page.getByRole('dialog', { name: 'Ustawienia grupy' });
  await expect(janDialog.getByTestId('group-member')).toHaveCount(3);
  await expect(janDialog.getByLabel('Nazwa grupy')).toHaveCount(0);
  await expect(janDialog.getByRole('button', { name: /Usuń z grupy/ })).toHaveCount(0);
  await janDialog.getByRole('button', { name: 'Zamknij' }).click();

  // Jan leaves from the header (with a confirmation).
  await janSide.page.getByRole('button', { name: 'Opuść grupę' }).click();
  await janSide.page.getByTestId('confirm-leave').click();
  await expect(janSide.page).toHaveURL(/\/wiadomosci\/?$/);
  await expect(conversationItem(janSide.page, 'Projekt X')).toHaveCount(0);
  await expect(page.getByTestId('chat-subtitle')).not.toContainText(jan.name);
  await expect(page.getByTestId('chat-subtitle')).toContainText(piotr.name);

  // The API agrees: Anna and Piotr are left.
  const detail = await api<{ members: { id: number }[] }>(
    page,
    server,
    'GET',
    `/api/conversations/${id}`,
  );
  const ids = detail.members.map((m) => m.id).sort();
  const expected = [await userId(page, server, anna), await userId(page, server, piotr)].sort();
  expect(ids).toEqual(expected);
  await janSide.close();
  await olaSide.close();
});
