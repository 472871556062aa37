import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { ServerInfo } from './server-info';

/**
 * Bulk data for the render measurements, written straight into the e2e
 * server's SQLite database (DATA_DIR/messaging.db, WAL: the running server
 * sees it at once) with the sqlite3 command-line shell. Rows are copied
 * from template rows that the server itself made through the API, with
 * only ids, names, keys and texts changed, so they have exactly the shape
 * the server writes (whatever columns later migrations add).
 */
export async function sql(server: ServerInfo, statements: string): Promise<string> {
  const db = join(server.dataDir, 'messaging.db');
  return new Promise((resolve, reject) => {
    const child = spawn('sqlite3', ['-bail', db], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', (e) =>
      reject(new Error(`cannot run sqlite3 (apt-get install sqlite3): ${e.message}`)),
    );
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`sqlite3 exited with ${code}: ${err}`)),
    );
    // The server writes too: wait for its locks instead of failing.
    child.stdin.end(`.timeout 20000\n${statements}\n`);
  });
}

async function columns(server: ServerInfo, table: string): Promise<string[]> {
  const out = await sql(server, `SELECT name FROM pragma_table_info('${table}');`);
  const names = out.split('\n').filter(Boolean);
  if (names.length === 0) {
    throw new Error(`table ${table} not found in the e2e database`);
  }
  return names;
}

/**
 * `INSERT INTO table (every column but id) SELECT …`: each column from the
 * template row `t` unless `set` gives an expression for it.
 */
async function copyRows(
  server: ServerInfo,
  table: string,
  set: Record<string, string>,
  from: string,
): Promise<string> {
  const cols = (await columns(server, table)).filter((c) => c !== 'id');
  for (const name of Object.keys(set)) {
    if (!cols.includes(name)) {
      throw new Error(`${table} has no column ${name}`);
    }
  }
  const values = cols.map((c) => set[c] ?? `t.${c}`);
  return `INSERT INTO ${table} (${cols.join(', ')}) SELECT ${values.join(', ')} FROM ${from};`;
}

export interface BigAccount {
  /** Conversations of the main user in all (the templates included). */
  conversations: number;
  /** Messages in the big conversation (the templates included). */
  messages: number;
}

/**
 * Gives `me` (1:1 template `direct` with `other`, group template `group`
 * with `other`, each with one message sent through the API) `directCount`
 * more 1:1s with new people and `groupCount` more groups, each with a
 * message, and `bigMessages` more messages in `group`.
 */
export async function seedBigAccount(
  server: ServerInfo,
  ids: { me: number; other: number; direct: number; group: number },
  counts: { directCount: number; groupCount: number; bigMessages: number },
): Promise<void> {
  const { me, other, direct, group } = ids;
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const seedEmail = `'seed-' || s.n || '-${tag}@example.com'`;
  const upTo = (n: number) =>
    `(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${n}) SELECT n FROM seq) s`;
  const before = Number((await sql(server, 'SELECT COALESCE(MAX(id), 0) FROM conversations;')).trim());
  const isNew = `c.id > ${before}`;
  const pairKey = (u: string) => `MIN(${me}, ${u}) || ':' || MAX(${me}, ${u})`;
  const text = (expr: string) => ({
    content: `replace(t.content, 'seedtemplate', ${expr})`,
    content_html: `replace(t.content_html, 'seedtemplate', ${expr})`,
    content_search: `replace(t.content_search, 'seedtemplate', lower(${expr}))`,
  });

  const statements = [
    'BEGIN;',
    // People for the 1:1s.
    await copyRows(
      server,
      'users',
      { email: seedEmail, name: `'Osoba ' || s.n` },
      `users t, ${upTo(counts.directCount)} WHERE t.id = ${other}`,
    ),
    // The 1:1s, with both members.
    await copyRows(
      server,
      'conversations',
      { direct_key: pairKey('u.id'), last_message_id: 'NULL' },
      `conversations t, users u WHERE t.id = ${direct} AND u.email LIKE 'seed-%-${tag}@example.com'`,
    ),
    await copyRows(
      server,
      'conversation_members',
      { conversation_id: 'c.id', user_id: 'u.id' },
      `conversation_members t, users u JOIN conversations c ON c.direct_key = ${pairKey('u.id')}
       WHERE t.conversation_id = ${direct} AND t.user_id = ${other}
         AND u.email LIKE 'seed-%-${tag}@example.com'`,
    ),
    // The groups, each with me and the other person.
    await copyRows(
      server,
      'conversations',
      { name: `'Grupa ' || s.n`, last_message_id: 'NULL' },
      `conversations t, ${upTo(counts.groupCount)} WHERE t.id = ${group}`,
    ),
    await copyRows(
      server,
      'conversation_members',
      { conversation_id: 'c.id' },
      `conversation_members t, conversations c
       WHERE t.conversation_id = ${group} AND t.user_id = ${other} AND c.is_group AND ${isNew}`,
    ),
    // Me in each: my member row of the template of the same kind.
    await copyRows(
      server,
      'conversation_members',
      { conversation_id: 'c.id' },
      `conversation_members t, conversations c
       WHERE t.user_id = ${me} AND ${isNew}
         AND t.conversation_id = CASE WHEN c.is_group THEN ${group} ELSE ${direct} END`,
    ),
    // One message in each new conversation …
    await copyRows(
      server,
      'conv_messages',
      {
        conversation_id: 'c.id',
        sender_id: `(SELECT user_id FROM conversation_members
                     WHERE conversation_id = c.id AND user_id <> ${me})`,
        ...text(`'Wiadomość w rozmowie ' || c.id`),
      },
      `conv_messages t, conversations c
       WHERE t.id = (SELECT MIN(id) FROM conv_messages WHERE conversation_id = ${direct}) AND ${isNew}`,
    ),
    // … and many in the big one.
    await copyRows(
      server,
      'conv_messages',
      {
        sender_id: `CASE WHEN s.n % 3 = 0 THEN ${me} ELSE ${other} END`,
        ...text(`'Wiadomość numer ' || s.n || '.'`),
      },
      `conv_messages t, ${upTo(counts.bigMessages)}
       WHERE t.id = (SELECT MIN(id) FROM conv_messages WHERE conversation_id = ${group})`,
    ),
    `UPDATE conversations SET last_message_id =
       (SELECT MAX(id) FROM conv_messages m WHERE m.conversation_id = conversations.id)
     WHERE id > ${before} OR id = ${group};`,
    'COMMIT;',
  ];
  await sql(server, statements.join('\n'));
}
