/**
 * End to end: the chat example as two server processes behind a real redis-server, and two
 * headless Chromium pages (Debian's chromium through playwright-core), each on a different server.
 * Messages must flow both ways; presence must show both users; a page whose server restarts
 * resumes its room (rfc6455.topics.v1, history in Redis). Leaves a screenshot in docs/chat.png.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startRedis, startServer, type ServerProcess } from '../pubsub/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHAT_SERVER = fileURLToPath(new URL('../../examples/chat/server.ts', import.meta.url));
// docs/chat.png (the README's picture) is written when missing or with UPDATE_SCREENSHOT=1;
// otherwise the screenshot goes to a temporary file, so that a test run leaves the tree clean.
const DOCS_PNG = fileURLToPath(new URL('../../docs/chat.png', import.meta.url));
const SCREENSHOT = !existsSync(DOCS_PNG) || process.env.UPDATE_SCREENSHOT === '1' ? DOCS_PNG : join(tmpdir(), `rfc6455-chat-${process.pid}.png`);

let context: BrowserContext;
let profile: string;
let A: ServerProcess;
let B: ServerProcess;
let env: Record<string, string>;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get update && apt-get install -y chromium); .ci/run does this before npm test`);
  }
  const redis = await startRedis();
  env = { REDIS_URL: redis.url, CHAT_SECRET: 'e2e-secret' };
  [A, B] = await Promise.all([
    startServer('server-A', { ...env, NAME: 'server-A' }, CHAT_SERVER, /chat on http/),
    startServer('server-B', { ...env, NAME: 'server-B' }, CHAT_SERVER, /chat on http/),
  ]);
  profile = await mkdtemp(join(tmpdir(), 'rfc6455-chat-e2e-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 760, height: 420 },
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await cleanup();
});

async function login(server: ServerProcess, name: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/`);
  await page.fill('#name', name);
  await page.click('#login-form button');
  await page.waitForSelector('#status.online', { timeout: 10_000 });
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Waits until the page's message log contains `text`. */
function logShows(page: Page, text: string) {
  return page.waitForFunction((t) => (globalThis as any).document.querySelector('#log').textContent.includes(t), text, { timeout: 10_000 });
}

const lines = (page: Page) => page.$$eval('#log .line', (nodes) => nodes.map((n) => n.textContent ?? ''));
const users = (page: Page) => page.$$eval('#users li', (nodes) => nodes.map((n) => n.textContent ?? ''));

describe('chat example: two browsers on two servers behind Redis', () => {
  it('messages flow both ways, presence shows both, and each page says which server it is on', async () => {
    const alice = await login(A, 'alice');
    const bob = await login(B, 'bob');
    expect(await alice.textContent('#who')).toBe('alice @ server-A');
    expect(await bob.textContent('#who')).toBe('bob @ server-B');
    // Presence crosses servers: alice sees bob arrive.
    await alice.waitForFunction('document.querySelectorAll("#users li").length === 2', undefined, { timeout: 10_000 });
    expect(await users(alice)).toEqual(['alice', 'bob']);
    expect(await users(bob)).toEqual(['alice', 'bob']);

    await say(alice, 'Hi Bob, this is server A');
    await logShows(bob, 'Hi Bob');
    await say(bob, 'Hello Alice, B here');
    await logShows(alice, 'Hello Alice');
    await say(alice, 'Both ways through Redis — ça marche');
    await logShows(bob, 'ça marche');

    const expected = ['alice: Hi Bob, this is server Avia server-A', 'bob: Hello Alice, B herevia server-B', 'alice: Both ways through Redis — ça marchevia server-A'];
    expect((await lines(bob)).filter((l) => l.includes(':'))).toEqual(expected);
    await logShows(alice, 'ça marche');
    expect((await lines(alice)).filter((l) => l.includes(':'))).toEqual(expected);

    // The two pages side by side, for the README.
    await alice.screenshot({ path: SCREENSHOT.replace('.png', '-a.png') });
    await bob.screenshot({ path: SCREENSHOT.replace('.png', '-b.png') });
    const both = await context.newPage();
    await both.setViewportSize({ width: 1540, height: 440 });
    const a64 = (await alice.screenshot()).toString('base64');
    const b64 = (await bob.screenshot()).toString('base64');
    await both.setContent(
      `<body style="margin:0;display:flex;gap:20px;background:#9ca3af;padding:10px">` +
        `<img src="data:image/png;base64,${a64}" width="760"><img src="data:image/png;base64,${b64}" width="760"></body>`,
    );
    const png = await both.screenshot({ path: SCREENSHOT });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
    if (SCREENSHOT !== DOCS_PNG) await rm(SCREENSHOT);
    await rm(SCREENSHOT.replace('.png', '-a.png'));
    await rm(SCREENSHOT.replace('.png', '-b.png'));
  }, 60_000);

  it('a page whose server restarts resumes its room: every message sent meanwhile shows once, in order', async () => {
    // The page reconnects to its own origin (in production, a load balancer in front of the
    // servers); here server B restarts on the same port while Redis and server A stay up.
    const alice = context.pages().find((p) => p.url().includes(`:${A.port}/`))!;
    const bob = context.pages().find((p) => p.url().includes(`:${B.port}/`))!;
    const port = B.port;
    await B.kill();
    await bob.waitForSelector('#status.offline', { timeout: 10_000 });
    // Said on A while bob's page has no connection: only the room's history can bring them.
    const meanwhile = Array.from({ length: 12 }, (_, i) => `while B was down #${i}`);
    for (const text of meanwhile) {
      await say(alice, text);
      await logShows(alice, text);
    }
    await say(bob, 'typed while my server was down');
    B = await startServer('server-B', { ...env, NAME: 'server-B', PORT: String(port) }, CHAT_SERVER, /chat on http/);
    await bob.waitForSelector('#status.online', { timeout: 15_000 });
    await logShows(alice, 'typed while my server was down');
    await say(alice, 'welcome back');
    await logShows(bob, 'welcome back');
    await logShows(alice, 'welcome back');
    expect(await bob.textContent('#log')).toContain('reconnected');
    // Bob's page shows what alice's shows: the same messages, each once, in the room's order.
    const chat = async (page: Page) => (await lines(page)).filter((l) => l.includes(': '));
    const onBob = await chat(bob);
    expect(onBob).toEqual(await chat(alice));
    for (const text of meanwhile) expect(onBob.filter((l) => l === `alice: ${text}via server-A`)).toHaveLength(1);
    expect(await bob.$$eval('#log .gap', (nodes) => nodes.length)).toBe(0);
  }, 60_000);
});
