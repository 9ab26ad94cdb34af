// SPDX-License-Identifier: GPL-3.0-or-later
//
// Engine.IO sessions and pages of other origins, in a real browser: a page
// elsewhere on the web cannot make a reader's Chromium open sessions on the
// hub (fetch(…, {mode: 'no-cors'}), <img>, <script>, <iframe> carry no
// Origin), while the stock socket.io-client on a page of an allowed origin
// connects over polling and over WebSocket (src/eio/prd-eio-server.c,
// fetched_by_script()). The hub is at 127.0.0.1, an address Chromium sends
// Sec-Fetch-* to; it sends none to plain HTTP at another address
// (docs/protocol.md, "Origins and TLS").

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_TIMEOUT_MS, WEB_ROOT, launch, startHub, token } from './browser.js';

const CLIENT_JS = fs.readFileSync(path.join(WEB_ROOT, 'node_modules', 'socket.io-client', 'dist', 'socket.io.min.js'));

let hub;
let pages;
let browser;
let pagesPort;

// Pages of two other sites (Chromium maps both names to 127.0.0.1): one the
// hub allows with --cors-origin, one it does not.
const site = (name) => `http://${name}:${pagesPort}`;

before(async () => {
  pages = http.createServer((req, res) => {
    if (req.url === '/socket.io.min.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      res.end(CLIENT_JS);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>elsewhere</title><script src="/socket.io.min.js"></script>');
  });
  await new Promise((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pagesPort = pages.address().port;
  hub = await startHub({ args: ['--cors-origin', site('allowed.example')] });
  browser = await launch({
    args: ['--host-resolver-rules=MAP allowed.example 127.0.0.1, MAP elsewhere.example 127.0.0.1'],
  });
});

after(async () => {
  await browser?.close();
  pages?.close();
  const res = await hub.stop();
  assert.deepEqual(res, { code: 0, signal: null }, hub.stderr());
});

async function pollingSessions() {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  return Number(/^prdhub_connections\{transport="polling"\} (\d+)$/m.exec(text)?.[1]);
}

async function open(name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${site(name)}/`);
  return { context, page };
}

test('a page on another site opens no session with no-cors fetches, images, scripts or frames', async () => {
  const { context, page } = await open('elsewhere.example');
  const requests = await page.evaluate(async (url) => {
    const loaded = (el) => new Promise((resolve) => {
      el.onload = resolve;
      el.onerror = resolve;
      document.body.append(el);
    });
    const waits = [];
    for (let i = 0; i < 40; i++) {
      waits.push(fetch(`${url}&t=f${i}`, { mode: 'no-cors', cache: 'no-store' }).catch(() => {}));
    }
    for (let i = 0; i < 5; i++) {
      const img = document.createElement('img');
      img.src = `${url}&t=i${i}`;
      waits.push(loaded(img));
      const script = document.createElement('script');
      script.src = `${url}&t=s${i}`;
      waits.push(loaded(script));
      const frame = document.createElement('iframe');
      frame.src = `${url}&t=d${i}`;
      waits.push(loaded(frame));
    }
    await Promise.all(waits);
    return waits.length;
  }, `${hub.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(requests, 55);
  // Every request was answered (the page waited for each): none opened a session.
  assert.equal(await pollingSessions(), 0);
  await context.close();
});

// Connects the stock socket.io-client to the hub's /prds from @name's page
// with @transports; resolves with what the page saw.
async function connectFrom(name, transports) {
  const { context, page } = await open(name);
  try {
    return await page.evaluate(({ url, jwt, transports, timeout }) => new Promise((resolve) => {
      // eslint-disable-next-line no-undef
      const socket = io(`${url}/prds`, { transports, auth: { token: jwt }, reconnection: false, timeout });
      socket.on('connect', () => {
        const transport = socket.io.engine.transport.name;
        socket.close();
        resolve({ connected: true, transport });
      });
      socket.on('connect_error', (err) => {
        socket.close();
        resolve({ connected: false, error: err.message });
      });
    }), { url: hub.url, jwt: token(), transports, timeout: EVENT_TIMEOUT_MS });
  } finally {
    await context.close();
  }
}

test('the stock socket.io-client on an allowed origin connects over polling and over WebSocket', async () => {
  assert.deepEqual(await connectFrom('allowed.example', ['polling']), { connected: true, transport: 'polling' });
  assert.deepEqual(await connectFrom('allowed.example', ['websocket']), { connected: true, transport: 'websocket' });
  const both = await connectFrom('allowed.example', ['polling', 'websocket']);
  assert.equal(both.connected, true, JSON.stringify(both));
});

test('the stock socket.io-client on another origin is refused', async () => {
  for (const transports of [['polling'], ['websocket']]) {
    const res = await connectFrom('elsewhere.example', transports);
    assert.equal(res.connected, false, JSON.stringify(res));
  }
});

// The same page against a plain-HTTP hub at a name that is not loopback
// (hub.lan): Chromium sends neither Origin nor Sec-Fetch-* with its no-cors
// fetches there, so each opens a session like any client's handshake. The
// page cannot read the answers and never uses those sessions; past
// max-sessions-per-address (1024) they give way, so the reader's own
// client from that address still connects (docs/protocol.md, "Limits").
test('no-cors fetches to a plain-HTTP hub.lan fill the address, and a real client still connects', async () => {
  const lan = await launch({
    args: ['--host-resolver-rules=MAP hub.lan 127.0.0.1, MAP elsewhere.example 127.0.0.1'],
  });
  try {
    const context = await lan.newContext();
    const page = await context.newPage();
    await page.goto(`${site('elsewhere.example')}/`);
    const results = await page.evaluate(async (url) => {
      const counts = { ok: 0, err: 0 };
      const waits = [];
      for (let i = 0; i < 1100; i++) {
        waits.push(fetch(`${url}&t=${i}`, { mode: 'no-cors', cache: 'no-store' })
          .then(() => counts.ok++, () => counts.err++));
      }
      await Promise.all(waits);
      return counts;
    }, `http://hub.lan:${hub.port}/socket.io/?EIO=4&transport=polling`);
    assert.deepEqual(results, { ok: 1100, err: 0 });
    await context.close();
    // They opened sessions: the address is at its limit, every one unused.
    assert.equal(await pollingSessions(), 1024);

    const res = await connectFrom('allowed.example', ['polling']);
    assert.deepEqual(res, { connected: true, transport: 'polling' });
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    const evicted = /^prdhub_sessions_evicted_total\{limit="max-sessions-per-address"\} (\d+)$/m.exec(metrics);
    assert.ok(evicted !== null && Number(evicted[1]) >= 1100 - 1024 + 1, metrics);
  } finally {
    await lan.close();
  }
});
