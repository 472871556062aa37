import { expect, test } from '../fixtures';

const LOGIN_URL = /\/wiadomosci\/logowanie$/;
const HOME_URL = /\/wiadomosci\/?$/;

test('the printed admin signs in, stays signed in after a reload, and signs out', async ({
  page,
  server,
}) => {
  // The server redirects / to /wiadomosci/; signed out, the SPA goes on to
  // the login page.
  await page.goto('/');
  await expect(page).toHaveURL(LOGIN_URL);
  await expect(page.getByRole('heading', { name: 'Zaloguj się' })).toBeVisible();

  await page.getByLabel('E-mail').fill(server.admin.email);
  await page.getByLabel('Hasło').fill(server.admin.password);
  await page.getByRole('button', { name: 'Zaloguj się' }).click();

  await expect(page).toHaveURL(HOME_URL);
  const me = await page.request.get('/api/auth/me');
  expect(me.status()).toBe(200);
  const { name } = (await me.json()) as { name: string };
  expect(name).not.toBe('');
  const userName = page.getByTestId('current-user-name');
  await expect(userName).toHaveText(name);
  await expect(page.getByText('Wybierz rozmowę albo zacznij nową')).toBeVisible();

  // The session cookie survives a reload.
  await page.reload();
  await expect(userName).toHaveText(name);
  await expect(page).toHaveURL(HOME_URL);

  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(LOGIN_URL);
  await expect(page.getByRole('heading', { name: 'Zaloguj się' })).toBeVisible();

  // Signed out for real: the home page sends us back to the login page.
  await page.goto('/wiadomosci');
  await expect(page).toHaveURL(LOGIN_URL);
  await expect(page.getByRole('heading', { name: 'Zaloguj się' })).toBeVisible();
});

test('a wrong password is reported in the alert', async ({ page, server }) => {
  await page.goto('/wiadomosci/logowanie');
  await page.getByLabel('E-mail').fill(server.admin.email);
  await page.getByLabel('Hasło').fill(`${server.admin.password}-wrong`);
  await page.getByLabel('Hasło').press('Enter');

  await expect(page.getByRole('alert')).toHaveText('Nieprawidłowy e-mail lub hasło.');
  await expect(page).toHaveURL(LOGIN_URL);
  await expect(page.getByRole('button', { name: 'Zaloguj się' })).toBeEnabled();
});

test('an unreachable server is reported', async ({ page, server, pageErrors }) => {
  pageErrors.allow(/Failed to load resource: net::ERR_FAILED/);
  await page.goto('/wiadomosci/logowanie');
  await page.route('**/api/auth/login', (route) => route.abort('failed'));
  await page.getByLabel('E-mail').fill(server.admin.email);
  await page.getByLabel('Hasło').fill(server.admin.password);
  await page.getByRole('button', { name: 'Zaloguj się' }).click();
  await expect(page.getByRole('alert')).toHaveText('Brak połączenia z serwerem.');
  await expect(page).toHaveURL(LOGIN_URL);
});

test('empty fields are reported without asking the server', async ({ page }) => {
  await page.goto('/wiadomosci/logowanie');
  await page.getByRole('button', { name: 'Zaloguj się' }).click();
  await expect(page.getByRole('alert')).toHaveText('Podaj e-mail i hasło.');
});

test('the language can be switched to English and is remembered', async ({ page }) => {
  await page.goto('/wiadomosci/logowanie');
  await expect(page.getByRole('heading', { name: 'Zaloguj się' })).toBeVisible();

  await page.getByRole('button', { name: 'English' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByLabel('Password')).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');

  await page.reload();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();

  await page.getByRole('button', { name: 'Polski' }).click();
  await expect(page.getByRole('heading', { name: 'Zaloguj się' })).toBeVisible();
});

// Last on purpose: it uses up the failed-login budget of one (unknown)
// account and a few of this client's attempts.
test('too many failed logins are reported with the wait from Retry-After', async ({ page }) => {
  await page.goto('/wiadomosci/logowanie');
  await page.getByLabel('E-mail').fill('nobody@example.com');
  const password = page.getByLabel('Hasło');
  await password.fill('not-the-password');

  let status = 0;
  for (let attempt = 0; attempt < 20 && status !== 429; attempt++) {
    const response = page.waitForResponse((r) => r.url().endsWith('/api/auth/login'));
    await password.press('Enter');
    status = (await response).status();
    if (status === 401) {
      await expect(page.getByRole('alert')).toHaveText('Nieprawidłowy e-mail lub hasło.');
      await expect(page.getByRole('button', { name: 'Zaloguj się' })).toBeEnabled();
    }
  }
  expect(status).toBe(429);
  await expect(page.getByRole('alert')).toHaveText(
    /^Zbyt wiele prób logowania\. Spróbuj ponownie za \d+ s\.$/,
  );
});
