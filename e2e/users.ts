import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import { expect, type Page } from '@playwright/test';

import { ServerInfo } from './server-info';

export interface TestUser {
  email: string;
  name: string;
  password: string;
}

/**
 * Creates a user with the server's own CLI (`messaging user add`), on the
 * data directory of the server that global-setup.ts started. There is no
 * user-creation API: accounts are made by an administrator on the server.
 * The e-mail is unique per call, so tests never see each other's users.
 */
export async function createUser(server: ServerInfo, name: string): Promise<TestUser> {
  const tag = randomBytes(4).toString('hex');
  const local = name.toLowerCase().replace(/[^a-z]+/g, '.');
  const user = { email: `${local}.${tag}@example.com`, name, password: `pw-${tag}-secret` };
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: server.dataDir, RUST_LOG: 'warn' };
  delete env.DATABASE_URL;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      server.bin,
      ['user', 'add', '--email', user.email, '--name', user.name, '--password-stdin'],
      { env, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`user add exited with ${code}: ${output}`)),
    );
    child.stdin.end(`${user.password}\n`);
  });
  return user;
}

/** Signs in through the login form and waits for the conversation list. */
export async function signIn(page: Page, user: TestUser, path = '/wiadomosci'): Promise<void> {
  await page.goto(path);
  await expect(page).toHaveURL(/\/wiadomosci\/logowanie$/);
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Hasło').fill(user.password);
  await page.getByRole('button', { name: 'Zaloguj się' }).click();
  await expect(page.getByTestId('current-user-name')).toHaveText(user.name);
}
