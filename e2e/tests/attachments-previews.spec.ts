import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';

import { type Page } from '@playwright/test';

import { expect, test } from '../fixtures';
import {
  type OtherSession,
  type OwnServer,
  composer,
  createConversation,
  messageWith,
  openSession,
  startOwnServer,
  userId,
} from '../session';
import { type TestUser, createUser } from '../users';

// Attachments, link preview cards and group read receipts. These need
// settings the shared server does not have (a small upload limit, link
// previews allowed to reach a page on loopback), so the file starts its
// own server, after the little page server whose port it must allow.

/** The upload limit of this file's server. */
const MAX_UPLOAD_BYTES = 100_000;

/** A 1×1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
/** A small PDF (what the server's content sniffing sees is the header). */
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n');

const ARTICLE = `<!doctype html>
<html><head>
<meta charset="utf-8">
<title>Tytuł z title</title>
<meta property="og:title" content="Nowy cennik usług">
<meta property="og:description" content="Od stycznia zmieniamy ceny wszystkich pakietów.">
<meta property="og:site_name" content="Portal Przedsiębiorców">
</head><body><p>Treść artykułu</p></body></html>`;

let pages: Server;
let pagesPort: number;
let own: OwnServer;

test.beforeAll(async ({ server }) => {
  pages = createServer((req, res) => {
    if (req.url === '/artykul') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(ARTICLE);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
  pagesPort = (pages.address() as AddressInfo).port;
  own = await startOwnServer(server, {
    MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
    LINK_PREVIEWS: 'on',
    LINK_PREVIEW_PORTS: String(pagesPort),
    LINK_PREVIEW_ALLOW_ADDRESSES: '127.0.0.1/32',
    // The default skips the host of PUBLIC_URL, which is 127.0.0.1 here.
    LINK_PREVIEW_SKIP_DOMAINS: 'intranet.invalid',
  });
});

test.afterAll(async () => {
  await own?.stop();
  await new Promise((r) => pages?.close(r));
});

async function session(browser: Parameters<typeof openSession>[0], user: TestUser, path?: string) {
  return openSession(browser, user, path, { baseURL: own.info.baseUrl });
}

/** Two people in a 1:1 on this file's server, both with the chat open. */
async function pair(browser: Parameters<typeof openSession>[0]) {
  const anna = await createUser(own.info, 'Anna Nowak');
  const jan = await createUser(own.info, 'Jan Kowalski');
  const annaSide = await session(browser, anna);
  const id = await createConversation(annaSide.page, own.info, [jan]);
  await annaSide.page.goto(`/wiadomosci/${id}`);
  const janSide = await session(browser, jan, `/wiadomosci/${id}`);
  await expect(annaSide.page.getByTestId('chat-name')).toHaveText(jan.name);
  return { anna, jan, annaSide, janSide, id };
}

/** Drops files on the chat as a browser drag from the desktop would. */
async function dropFiles(page: Page, files: { name: string; type: string; base64: string }[]) {
  const dataTransfer = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.name, { type: f.type }));
    }
    return dt;
  }, files);
  const chat = page.getByTestId('chat');
  await chat.dispatchEvent('dragenter', { dataTransfer });
  await expect(chat).toHaveClass(/chat--dropping/);
  await chat.dispatchEvent('drop', { dataTransfer });
}

async function closeAll(...sessions: OtherSession[]) {
  for (const s of sessions) {
    await s.close();
  }
}

test('files attached by the button, a drop and a paste reach the other side live and download', async ({
  browser,
}) => {
  const { annaSide, janSide } = await pair(browser);
  const page = annaSide.page;

  // The button opens the file chooser; the chip shows the upload, then the size.
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Dołącz pliki' }).click();
  await (await chooser).setFiles({ name: 'raport.pdf', mimeType: 'application/pdf', buffer: PDF });
  const chip = page.getByTestId('pending-attachment').filter({ hasText: 'raport.pdf' });
  await expect(chip).toHaveAttribute('data-state', 'done');
  await expect(chip).toContainText(`${PDF.length} B`);
  await composer(page).fill('Raport w załączniku');
  await composer(page).press('Enter');
  await expect(page.getByTestId('pending-attachment')).toHaveCount(0);

  // Jan sees the file chip live and downloads the same bytes.
  const file = messageWith(janSide.page, 'Raport w załączniku').getByTestId('attachment-file');
  await expect(file).toContainText('raport.pdf');
  await expect(file).toContainText(`${PDF.length} B`);
  await expect(file).toHaveAccessibleName(`Pobierz raport.pdf (${PDF.length} B)`);
  const [download] = await Promise.all([janSide.page.waitForEvent('download'), file.click()]);
  expect(download.suggestedFilename()).toBe('raport.pdf');
  expect(readFileSync(await download.path())).toEqual(PDF);

  // A picture dropped on the chat, sent without text: an image inline.
  await dropFiles(page, [{ name: 'zdjecie.png', type: 'image/png', base64: PNG.toString('base64') }]);
  await expect(page.getByTestId('chat')).not.toHaveClass(/chat--dropping/);
  const dropped = page.getByTestId('pending-attachment').filter({ hasText: 'zdjecie.png' });
  await expect(dropped).toHaveAttribute('data-state', 'done');
  await composer(page).press('Enter');
  const image = janSide.page.getByTestId('attachment-image');
  await expect(image).toHaveCount(1);
  await expect(image).toHaveAccessibleName('Otwórz obraz zdjecie.png');
  await expect(image).toHaveAttribute('target', '_blank');
  await expect
    .poll(() => image.locator('img').evaluate((img: HTMLImageElement) => img.naturalWidth))
    .toBe(1);
  // Clicking opens the original.
  const href = await image.getAttribute('href');
  const original = await janSide.page.request.get(href!);
  expect(await original.body()).toEqual(PNG);

  // A file pasted into the text field is attached as well.
  await composer(page).focus();
  await page.evaluate((base64) => {
    const dt = new DataTransfer();
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], 'wklejony.png', { type: 'image/png' }));
    document
      .querySelector('.composer__input')!
      .dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, PNG.toString('base64'));
  const pasted = page.getByTestId('pending-attachment').filter({ hasText: 'wklejony.png' });
  await expect(pasted).toHaveAttribute('data-state', 'done');
  // A chosen file can be taken back before sending.
  await pasted.getByRole('button', { name: 'Usuń plik wklejony.png' }).click();
  await expect(page.getByTestId('pending-attachment')).toHaveCount(0);
  await expect(page.getByTestId('send')).toBeDisabled();

  await closeAll(annaSide, janSide);
});

test('a file over the upload limit shows an inline error and is not sent', async ({ browser }) => {
  const { annaSide, janSide } = await pair(browser);
  const page = annaSide.page;

  await page.getByTestId('file-input').setInputFiles({
    name: 'duzy.bin',
    mimeType: 'application/octet-stream',
    buffer: Buffer.alloc(MAX_UPLOAD_BYTES + 1, 7),
  });
  const chip = page.getByTestId('pending-attachment').filter({ hasText: 'duzy.bin' });
  await expect(chip).toHaveAttribute('data-state', 'failed');
  await expect(chip.getByTestId('attachment-error')).toHaveText('Plik jest za duży.');
  // Nothing to send: the failed file does not count.
  await expect(page.getByTestId('send')).toBeDisabled();

  // A file within the limit next to it goes through; the failed one stays out.
  await page.getByTestId('file-input').setInputFiles({
    name: 'maly.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('mały plik\n'),
  });
  await expect(
    page.getByTestId('pending-attachment').filter({ hasText: 'maly.txt' }),
  ).toHaveAttribute('data-state', 'done');
  await composer(page).fill('Tylko mały plik');
  await page.getByTestId('send').click();
  const received = messageWith(janSide.page, 'Tylko mały plik');
  await expect(received.getByTestId('attachment-file')).toHaveCount(1);
  await expect(received.getByTestId('attachment-file')).toContainText('maly.txt');

  await closeAll(annaSide, janSide);
});

test('a link preview card appears live on both sides', async ({ browser }) => {
  const { annaSide, janSide } = await pair(browser);
  const url = `http://127.0.0.1:${pagesPort}/artykul`;

  await composer(annaSide.page).fill(`Zobaczcie ${url}`);
  await composer(annaSide.page).press('Enter');
  for (const page of [annaSide.page, janSide.page]) {
    const card = messageWith(page, 'Zobaczcie').getByTestId('link-preview');
    await expect(card).toBeVisible();
    await expect(card).toContainText('Nowy cennik usług');
    await expect(card).toContainText('Od stycznia zmieniamy ceny');
    await expect(card).toContainText('Portal Przedsiębiorców');
    await expect(card).toHaveAttribute('href', url);
    await expect(card).toHaveAttribute('target', '_blank');
    await expect(card).toHaveAttribute('rel', 'noopener noreferrer');
  }

  await closeAll(annaSide, janSide);
});

test('in a group, the avatars of who has read up to a message appear under it live', async ({
  browser,
}) => {
  const anna = await createUser(own.info, 'Anna Nowak');
  const jan = await createUser(own.info, 'Jan Kowalski');
  const ola = await createUser(own.info, 'Ola Wiśniewska');
  const annaSide = await session(browser, anna);
  const page = annaSide.page;
  const id = await createConversation(page, own.info, [jan, ola], 'Zarząd');
  const janId = await userId(page, own.info, jan);
  const olaId = await userId(page, own.info, ola);
  await page.goto(`/wiadomosci/${id}`);
  await composer(page).fill('Spotkanie o 10');
  await composer(page).press('Enter');
  const sent = messageWith(page, 'Spotkanie o 10');
  await expect(sent).toBeVisible();
  // No ticks in groups, and nobody has read it yet.
  await expect(sent.getByTestId('message-tick')).toHaveCount(0);
  await expect(sent.getByTestId('reader')).toHaveCount(0);

  const janSide = await session(browser, jan, `/wiadomosci/${id}`);
  await expect(sent.locator(`[data-testid="reader"][data-user-id="${janId}"]`)).toHaveText('JK');
  await expect(sent.getByTestId('read-by')).toHaveAccessibleName(
    `Przeczytane przez: ${jan.name}`,
  );

  const olaSide = await session(browser, ola, `/wiadomosci/${id}`);
  await expect(sent.getByTestId('reader')).toHaveCount(2);
  await expect(sent.locator(`[data-testid="reader"][data-user-id="${olaId}"]`)).toHaveText('OW');
  // Jan sees Ola's avatar too (not his own).
  const onJan = messageWith(janSide.page, 'Spotkanie o 10');
  await expect(onJan.locator(`[data-testid="reader"][data-user-id="${olaId}"]`)).toBeVisible();
  await expect(onJan.locator(`[data-testid="reader"][data-user-id="${janId}"]`)).toHaveCount(0);

  // Jan answers; Ola, with the chat open, reads it: her avatar moves down
  // to the answer, Jan's stays where he has read to (not under his own).
  await composer(janSide.page).fill('Będę');
  await composer(janSide.page).press('Enter');
  const answer = messageWith(page, 'Będę');
  await expect(answer.locator(`[data-testid="reader"][data-user-id="${olaId}"]`)).toBeVisible();
  await expect(sent.locator(`[data-testid="reader"][data-user-id="${olaId}"]`)).toHaveCount(0);
  await expect(answer.locator(`[data-testid="reader"][data-user-id="${janId}"]`)).toHaveCount(0);
  await expect(sent.locator(`[data-testid="reader"][data-user-id="${janId}"]`)).toBeVisible();

  await closeAll(annaSide, janSide, olaSide);
});
