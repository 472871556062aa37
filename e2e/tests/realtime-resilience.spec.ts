import { expect, test } from '../fixtures';
import {
  annaSignedInWithJan,
  composer,
  conversationItem,
  createConversation,
  messageWith,
  openSession,
  sendViaApi,
} from '../session';
import { createUser, signIn } from '../users';

/** What Chromium logs while the server is away (the stream, heartbeats, a send). */
const SERVER_AWAY = /net::ERR_(CONNECTION_REFUSED|EMPTY_RESPONSE|CONNECTION_RESET|INCOMPLETE_CHUNKED_ENCODING)|status of 50[23]/;

test('after the server restarts the app reconnects by itself and no message is lost', async ({
  page,
  server,
  browser,
  serverControl,
  pageErrors,
}) => {
  test.setTimeout(90_000);
  pageErrors.allow(SERVER_AWAY);
  const { jan, id } = await annaSignedInWithJan(page, server);
  // Some traffic first, so Anna's stream has a Last-Event-ID to resume from.
  for (const text of ['Przed restartem 1', 'Przed restartem 2', 'Przed restartem 3']) {
    await sendViaApi(page, server, id, text);
  }
  await page.goto(`/wiadomosci/${id}`);
  const janSide = await openSession(browser, jan, `/wiadomosci/${id}`);
  janSide.allow(SERVER_AWAY);
  await expect(messageWith(janSide.page, 'Przed restartem 3')).toBeVisible();
  const banner = page.getByTestId('connection-banner');
  await expect(banner).toHaveCount(0);

  await serverControl.stop();

  // Both see that the connection is gone.
  await expect(banner).toHaveText('Brak połączenia — łączę ponownie…');
  await expect(janSide.page.getByTestId('connection-banner')).toBeVisible();

  // Jan writes while it is down: the text stays in his composer with an error.
  await composer(janSide.page).fill('Napisane podczas awarii');
  await composer(janSide.page).press('Enter');
  await expect(janSide.page.getByRole('alert').filter({ hasText: 'Brak połączenia z serwerem.' }))
    .toBeVisible();
  await expect(composer(janSide.page)).toHaveValue('Napisane podczas awarii');

  await serverControl.start();
  // Sent the moment the server is back, most likely before Anna's browser
  // has reconnected (it retries every 3 s): she must get it on resuming.
  await sendViaApi(janSide.page, server, id, 'Zaraz po starcie');

  await expect(banner).toHaveCount(0, { timeout: 20_000 });
  await expect(janSide.page.getByTestId('connection-banner')).toHaveCount(0, { timeout: 20_000 });
  await expect(messageWith(page, 'Zaraz po starcie')).toBeVisible();

  // Jan sends the kept text again (Enter retries it).
  await composer(janSide.page).press('Enter');
  await expect(composer(janSide.page)).toHaveValue('');
  await expect(messageWith(page, 'Napisane podczas awarii')).toBeVisible();

  // Live again both ways, without a reload.
  await composer(page).fill('Po restarcie od Anny');
  await composer(page).press('Enter');
  await expect(messageWith(janSide.page, 'Po restarcie od Anny')).toBeVisible();
  await sendViaApi(janSide.page, server, id, 'Po restarcie od Jana');
  await expect(messageWith(page, 'Po restarcie od Jana')).toBeVisible();

  // Nothing lost, nothing twice, in order.
  const expected = [
    'Przed restartem 1',
    'Przed restartem 2',
    'Przed restartem 3',
    'Zaraz po starcie',
    'Napisane podczas awarii',
    'Po restarcie od Anny',
    'Po restarcie od Jana',
  ];
  for (const side of [page, janSide.page]) {
    await expect(side.getByTestId('message-content')).toHaveText(expected);
  }
  await expect(conversationItem(page, jan.name)).toContainText('Po restarcie od Jana');
  await janSide.close();
});

test('the typing indicator appears and disappears when the typist stops', async ({
  page,
  server,
  browser,
}) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  await signIn(page, jan);
  const id = await createConversation(page, server, [anna]);
  await sendViaApi(page, server, id, 'Hej');
  await page.goto(`/wiadomosci/${id}`);
  const annaSide = await openSession(browser, anna, `/wiadomosci/${id}`);
  await expect(messageWith(annaSide.page, 'Hej')).toBeVisible();

  const typing = page.getByTestId('typing');
  await expect(typing).toHaveText('');
  await composer(annaSide.page).pressSequentially('Zaraz Ci napi');
  await expect(typing).toHaveText('Anna pisze…');
  // Anna stops without sending: the line goes after its time to live.
  await expect(typing).toHaveText('', { timeout: 15_000 });
  await expect(composer(annaSide.page)).toHaveValue('Zaraz Ci napi');
  await annaSide.close();
});
