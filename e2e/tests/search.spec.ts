import { expect, test } from '../fixtures';
import {
  annaSignedInWithJan,
  conversationItem,
  createConversation,
  messageWith,
  sendViaApi,
} from '../session';
import { createUser, signIn } from '../users';

test('searching a conversation finds Polish text in any case, also beyond the loaded page', async ({
  page,
  server,
}) => {
  const { anna, id } = await annaSignedInWithJan(page, server);
  // The oldest match is more than a page (50) before the newest message.
  await sendViaApi(page, server, id, 'Stare: zażółć gęślą jaźń, dawno temu');
  for (let i = 1; i <= 55; i++) {
    await sendViaApi(page, server, id, `Wypełniacz ${i}.`);
  }
  await sendViaApi(page, server, id, 'Nowe: Zażółć gęślą jaźń');
  await page.goto(`/wiadomosci/${id}`);
  await expect(messageWith(page, 'Nowe: Zażółć')).toBeVisible();
  await expect(messageWith(page, 'Stare: zażółć')).toHaveCount(0);

  // The header's search button opens the bar with the field focused.
  await page.getByRole('button', { name: 'Szukaj w rozmowie' }).click();
  const search = page.getByTestId('message-search');
  const field = search.getByRole('searchbox', { name: 'Szukaj wiadomości' });
  await expect(field).toBeFocused();

  // Upper case finds both, newest first, with the match marked.
  await field.fill('ZAŻÓŁĆ');
  const results = search.getByTestId('message-search-result');
  await expect(results).toHaveCount(2);
  await expect(results.nth(0)).toContainText('Nowe: Zażółć gęślą jaźń');
  await expect(results.nth(0)).toContainText(anna.name);
  await expect(results.nth(0).locator('mark')).toHaveText('Zażółć');
  await expect(results.nth(1).locator('mark')).toHaveText('zażółć');

  // The older one is not loaded: a click loads it, scrolls to it and
  // highlights it for a moment.
  await results.nth(1).click();
  const old = messageWith(page, 'Stare: zażółć gęślą jaźń');
  await expect(old).toBeInViewport();
  await expect(old).toHaveClass(/message--flash/);
  await expect(old).toBeFocused();
  await expect(old).not.toHaveClass(/message--flash/, { timeout: 5_000 });

  // Enter on a result works as a click.
  await results.nth(0).focus();
  await results.nth(0).press('Enter');
  await expect(messageWith(page, 'Nowe: Zażółć')).toBeInViewport();

  // Another query finding the same messages marks its own match.
  await field.fill('GĘŚLĄ');
  await expect(results.nth(0).locator('mark')).toHaveText('gęślą');
  await expect(results).toHaveCount(2);

  // Nothing found: a clear empty state.
  await field.fill('nie ma takiego słowa');
  await expect(search.getByText('Brak wyników')).toBeVisible();
  await expect(results).toHaveCount(0);

  // Escape closes the bar.
  await field.press('Escape');
  await expect(search).toHaveCount(0);
});

test('the search button is keyboard reachable, Ctrl+F opens the bar and results page on', async ({
  page,
  server,
}) => {
  const { jan, id } = await annaSignedInWithJan(page, server);
  for (let i = 1; i <= 25; i++) {
    await sendViaApi(page, server, id, `Łódź numer ${i}`);
  }
  await page.goto(`/wiadomosci/${id}`);
  await expect(messageWith(page, 'Łódź numer 25')).toBeVisible();

  // Tab from the open conversation's list item reaches the button (the
  // first control of the chat header); Enter opens, Escape closes.
  await conversationItem(page, jan.name).focus();
  const button = page.getByRole('button', { name: 'Szukaj w rozmowie' });
  for (let i = 0; i < 10 && !(await button.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  await expect(button).toBeFocused();
  await page.keyboard.press('Enter');
  const search = page.getByTestId('message-search');
  const field = search.getByRole('searchbox', { name: 'Szukaj wiadomości' });
  await expect(field).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(search).toHaveCount(0);

  // Ctrl+F anywhere in the chat opens it too.
  await messageWith(page, 'Łódź numer 25').focus();
  await page.keyboard.press('Control+f');
  await expect(field).toBeFocused();
  await field.fill('łÓdŹ');
  const results = search.getByTestId('message-search-result');
  await expect(results).toHaveCount(20);
  await search.getByRole('button', { name: 'Więcej wyników' }).click();
  await expect(results).toHaveCount(25);
  await expect(results.nth(24)).toContainText('Łódź numer 1');
  await expect(search.getByRole('button', { name: 'Więcej wyników' })).toHaveCount(0);
  await search.getByRole('button', { name: 'Zamknij wyszukiwanie' }).click();
  await expect(search).toHaveCount(0);

  // In English.
  await page.evaluate(() => localStorage.setItem('lang', 'en'));
  await page.reload();
  await page.getByRole('button', { name: 'Search in conversation' }).click();
  await page.getByRole('searchbox', { name: 'Search messages' }).fill('xyz');
  await expect(page.getByTestId('message-search').getByText('No results')).toBeVisible();
});

test('the conversation list filters by name and member as you type', async ({ page, server }) => {
  const anna = await createUser(server, 'Anna Nowak');
  const jan = await createUser(server, 'Jan Kowalski');
  const ola = await createUser(server, 'Ola Wiśniewska');
  const piotr = await createUser(server, 'Piotr Zieliński');
  await signIn(page, anna);
  await createConversation(page, server, [jan]);
  await createConversation(page, server, [ola]);
  await createConversation(page, server, [jan, piotr], 'Wyjazd w góry');
  await page.reload();

  const search = page.getByRole('searchbox', { name: 'Szukaj rozmów' });
  const items = page.getByTestId('conversation-item');
  await expect(items).toHaveCount(3);

  // Polish letters, any case; a group matches by its name and its members.
  await search.fill('WIŚNIEW');
  await expect(items).toHaveCount(1);
  await expect(items).toContainText(ola.name);
  await search.fill('kowal');
  await expect(items).toHaveCount(2);
  await expect(conversationItem(page, jan.name)).toBeVisible();
  await expect(conversationItem(page, 'Wyjazd w góry')).toBeVisible();
  await search.fill('góry');
  await expect(items).toHaveCount(1);
  await search.fill('nikt taki');
  await expect(items).toHaveCount(0);
  await expect(page.getByText('Nic nie znaleziono.')).toBeVisible();
  await search.fill('');
  await expect(items).toHaveCount(3);
});
