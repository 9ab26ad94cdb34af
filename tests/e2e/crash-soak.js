// SPDX-License-Identifier: GPL-3.0-or-later
//
// Crash soak: a real prdhub under load from several SDK clients
// (clients/js), killed with SIGKILL at random moments and restarted on the
// same port and data folder, cycle after cycle. The clients never stop:
// they type (inserts of unique markers), comment with @mentions of each
// other, and one of them creates versions; the SDK reconnects and rejoins
// by itself after every restart. Only what the hub acknowledged is
// recorded, and after every restart the hub must still hold every
// acknowledged edit, comment and version; at the end every mention must
// have its notification and every client must converge to the hub's text.
//
//   node tests/e2e/crash-soak.js [--cycles N] [--clients N] [--seed N]
//
// (PRDHUB_BIN names the hub; default _build/src/hub/prdhub.) The suite runs
// a few cycles (crash-soak.test.js); docs/durability.md reports a full run.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, startHub, tmpDir, token } from './helpers/hub.js';
import { createPrd, rest } from './collab-helpers.js';
import { PrdClient, SDK_HUB_CONFIG, converged, sameVector } from './sdk-helpers.js';
import { io } from './helpers/hub.js';

const ORG = 'org_soak';
const REQUEST_TIMEOUT_MS = 4000;

// A small PRNG (mulberry32) for the run's choices (the moments of the
// kills, the positions, who mentions whom); the seed is reported, though
// the clients' timing makes no two runs alike.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function claimsOf(i) {
  return { sub: `soak_${i}`, name: `Soak ${i}`, org: ORG, role: i === 0 ? 'admin' : 'editor' };
}

const MARKER_RE = /<(\d+):(\d+)>/g;

function markersIn(text) {
  return [...text.matchAll(MARKER_RE)].map((m) => m[0]);
}

// Positions where a marker can go without splitting another: the ends and
// just after any '>' or '\n'.
function boundary(text, rand) {
  const spots = [0, text.length];
  for (let i = 0; i < text.length; i++) if (text[i] === '>' || text[i] === '\n') spots.push(i + 1);
  return spots[Math.floor(rand() * spots.length)];
}

export async function runSoak({ cycles = 50, clients: nClients = 4, seed = Date.now() % 1000000,
  log = () => {} } = {}) {
  const rand = prng(seed);
  const dataDir = tmpDir('prdhub-soak-');
  const configDir = tmpDir('prdhub-soak-conf-');
  // Snapshots every 7 operations: the log is compacted behind them mid-run.
  const configFile = path.join(configDir, 'soak.conf');
  fs.writeFileSync(configFile, `${SDK_HUB_CONFIG}[collab]\nsnapshot-every=7\n`);
  const baseArgs = ['--data-dir', dataDir, '--config', configFile];
  const adminClaims = claimsOf(0);

  const acked = {
    markers: new Set(),
    comments: new Map(), // commentId → { mentioned, author }
    versions: new Map(), // version id → { version, commitHash }
  };
  const refused = new Map(); // code → count (requests the hub answered with an error)
  const sdkErrors = new Map();
  const errorSamples = [];
  const typed = new Set(); // every marker a client typed (applied locally)
  const dropped = []; // the SDK's reports of local edits it dropped
  let stopping = false;
  let hub = await startHub({ args: baseArgs });
  const port = hub.port;
  const clients = [];
  const loops = [];
  const started = Date.now();
  let checks = 0;

  const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);

  // What was acknowledged before the hub is asked: the clients go on, and
  // whatever the running hub acknowledges after it answered is checked next
  // time.
  async function checkHub(what) {
    const markers = [...acked.markers];
    const commentIds = [...acked.comments.keys()];
    const versionList = [...acked.versions];
    const page = await rest(hub, 'GET', `/api/prds/${prdId}`, { tok: token(adminClaims) });
    if (page.status !== 200) throw new Error(`${what}: GET prd ${page.status} ${page.text}`);
    const present = new Set(markersIn(page.json.content));
    const lostEdits = markers.filter((m) => !present.has(m));
    if (lostEdits.length > 0)
      throw new Error(`${what}: ${lostEdits.length} acknowledged edits lost: ${lostEdits.slice(0, 10).join(' ')}`);

    const comments = await rest(hub, 'GET', `/api/prds/${prdId}/comments`, { tok: token(adminClaims) });
    if (comments.status !== 200) throw new Error(`${what}: GET comments ${comments.status}`);
    const ids = new Set(comments.json.comments.map((c) => c.commentId ?? c.id));
    const lostComments = commentIds.filter((id) => !ids.has(id));
    if (lostComments.length > 0)
      throw new Error(`${what}: ${lostComments.length} acknowledged comments lost: ${lostComments.slice(0, 5).join(' ')}`);

    const versions = await rest(hub, 'GET', `/api/prds/${prdId}/versions`, { tok: token(adminClaims) });
    if (versions.status !== 200) throw new Error(`${what}: GET versions ${versions.status}`);
    const byId = new Map(versions.json.versions.map((v) => [v.id, v]));
    for (const [id, v] of versionList) {
      const got = byId.get(id);
      if (!got || got.version !== v.version || got.commitHash !== v.commitHash)
        throw new Error(`${what}: acknowledged version ${v.version} (${id}) lost or changed: ${JSON.stringify(got)}; ` +
          `the hub has ${versions.json.versions.map((x) => `${x.version} (${x.id})`).join(', ')}`);
    }
    checks++;
    return { doc: page.json, edits: markers.length, comments: commentIds.length, versions: versionList.length };
  }

  // Every mention of an acknowledged comment has its notification.
  async function checkNotifications() {
    let checked = 0;
    for (let i = 0; i < nClients; i++) {
      const userId = `soak_${i}`;
      const expected = [...acked.comments].filter(([, c]) => c.mentioned === userId).map(([id]) => id);
      const socket = await connect(hub.url, { transports: ['websocket'], auth: { token: token(claimsOf(i)) } }, '/notifications');
      const seen = new Set();
      socket.on('notification', (n) => {
        if (n.type === 'mention' && n.data && n.data.commentId) seen.add(n.data.commentId);
      });
      const ack = await socket.timeout(20000).emitWithAck('subscribe', { organizationId: ORG });
      socket.close();
      if (!ack.ok) throw new Error(`subscribe as ${userId}: ${JSON.stringify(ack)}`);
      const missing = expected.filter((id) => !seen.has(id));
      if (missing.length > 0)
        throw new Error(`${missing.length} of ${expected.length} mention notifications of ${userId} lost: ${missing.slice(0, 5).join(' ')}`);
      checked += expected.length;
    }
    return checked;
  }

  // One client's typing: a marker at a boundary every few ms, acknowledged
  // markers recorded from the SDK's `ack` events.
  function typist(c, i) {
    let n = 0;
    c.on('ack', ({ operation }) => {
      if (operation.type === 'insert') for (const m of markersIn(operation.content)) acked.markers.add(m);
    });
    // What the SDK reports: the hub's refusals (with their event) and its
    // own connection attempts while the hub is down.
    c.on('error', (err) => {
      const key = err.event ? `${err.event} ${err.code}` : err.code;
      count(sdkErrors, key);
      if (err.code !== 'CONNECT_ERROR' && errorSamples.length < 5) errorSamples.push(`${key}: ${err.message}`);
      if (/dropped/.test(err.message)) dropped.push(`client ${i}: ${key}: ${err.message}`);
    });
    return (async () => {
      while (!stopping) {
        if (c.joined || c.siteId !== null) {
          try {
            const marker = `<${i}:${++n}>`;
            c.insert(boundary(c.text, rand), marker);
            typed.add(marker);
          } catch (err) {
            count(sdkErrors, `local insert ${err.code ?? err.message}`);
          }
        }
        await sleep(5 + Math.floor(rand() * 20));
      }
    })();
  }

  async function requestAck(socket, event, payload) {
    try {
      const ack = await socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck(event, payload);
      if (!ack || !ack.ok) count(refused, ack?.error?.code ?? 'NO_OK');
      return ack && ack.ok ? ack : null;
    } catch {
      return null; // no answer: the hub died (not acknowledged)
    }
  }

  // One client's comments, each mentioning another client.
  function commenter(c, i) {
    let n = 0;
    return (async () => {
      while (!stopping) {
        await sleep(150 + Math.floor(rand() * 250));
        if (!c.socket || !c.socket.connected || !c.joined) continue;
        const other = (i + 1 + Math.floor(rand() * (nClients - 1))) % nClients;
        const mentioned = `soak_${other}`;
        const ack = await requestAck(c.socket, 'add-comment', {
          prdId, position: 0, content: `@${mentioned} look at this (${i}:${++n})`,
        });
        if (ack) acked.comments.set(ack.commentId, { mentioned, author: `soak_${i}` });
      }
    })();
  }

  // Versions, from client 0.
  function versioner(c) {
    let n = 0;
    return (async () => {
      while (!stopping) {
        await sleep(300 + Math.floor(rand() * 400));
        if (!c.socket || !c.socket.connected) continue;
        const ack = await requestAck(c.socket, 'create-version', {
          prdId, changelog: `soak version ${++n}`, versionType: 'patch',
        });
        if (ack) acked.versions.set(ack.version.id, { version: ack.version.version, commitHash: ack.version.commitHash });
      }
    })();
  }

  let prdId;
  try {
    prdId = await createPrd(hub, 'Crash soak', 'start\n', adminClaims);
    for (let i = 0; i < nClients; i++) {
      const c = new PrdClient({
        url: hub.url,
        token: token(claimsOf(i)),
        prdId,
        io,
        socketOptions: { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 300 },
      });
      await c.connect();
      clients.push(c);
    }
    clients.forEach((c, i) => {
      loops.push(typist(c, i));
      loops.push(commenter(c, i));
    });
    loops.push(versioner(clients[0]));

    for (let cycle = 1; cycle <= cycles; cycle++) {
      // Load for a random moment, then SIGKILL.
      await sleep(300 + Math.floor(rand() * 1200));
      hub.proc.kill('SIGKILL');
      const { code, signal } = await hub.exited;
      // It was alive until then (a sanitizer's abort or a crash would not
      // have waited for the kill).
      if (signal !== 'SIGKILL' || /runtime error|Sanitizer/.test(hub.stderr()))
        throw new Error(`cycle ${cycle}: the hub ended by itself (code ${code}, signal ${signal})\n${hub.stderr()}`);
      fs.rmSync(hub.dataDir, { recursive: true, force: true });
      // Down for a moment (the clients keep typing offline), then back on
      // the same port and data folder.
      await sleep(Math.floor(rand() * 300));
      hub = await startHub({ args: [...baseArgs, '--listen', `127.0.0.1:${port}`] });
      const seen = await checkHub(`cycle ${cycle}`);
      log(`cycle ${cycle}/${cycles}: the ${seen.edits} edits, ${seen.comments} comments and ` +
        `${seen.versions} versions acknowledged so far are all there`);
    }

    // Quiesce: the clients stop, finish sending, and must converge.
    stopping = true;
    await Promise.all(loops);
    const doc = await converged(hub, prdId, clients, adminClaims, 120000);
    for (const c of clients) {
      if (c.text !== doc.content)
        throw new Error(`client ${c.userId} did not converge: ${c.text.length} vs ${doc.content.length} characters`);
      if (!sameVector(c.stateVector, doc.stateVector)) throw new Error(`client ${c.userId}: vector differs`);
    }
    // No typed edit is dropped, acknowledged or not (the SDK re-applies
    // edits built on operations the hub lost).
    if (dropped.length > 0) throw new Error(`the SDK dropped typed edits: ${dropped.slice(0, 5).join('; ')}`);
    const final = new Set(markersIn(doc.content));
    const lost = [...typed].filter((m) => !final.has(m));
    if (lost.length > 0)
      throw new Error(`${lost.length} of ${typed.size} typed edits missing from the final text: ${lost.slice(0, 10).join(' ')}`);
    await checkHub('after the run');
    const notifications = await checkNotifications();
    // A clean stop at the end (under ASan: no leak report either).
    for (const c of clients) c.close();
    const stopped = await hub.stop();
    if (stopped.code !== 0 || /runtime error|Sanitizer/.test(hub.stderr()))
      throw new Error(`the hub's stop ended with ${JSON.stringify(stopped)}\n${hub.stderr()}`);
    return {
      seed,
      cycles,
      clients: nClients,
      edits: acked.markers.size,
      typed: typed.size,
      comments: acked.comments.size,
      versions: acked.versions.size,
      notifications,
      checks,
      textLength: doc.content.length,
      refused: Object.fromEntries(refused),
      sdkErrors: Object.fromEntries(sdkErrors),
      errorSamples,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    stopping = true;
    for (const c of clients) c.close();
    await Promise.allSettled(loops);
    await hub.stop();
    if (process.env.PRDHUB_SOAK_KEEP) log(`data folder kept: ${dataDir}`);
    else fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const result = await runSoak({
    cycles: arg('cycles', 50),
    clients: arg('clients', 4),
    seed: arg('seed', Date.now() % 1000000),
    log: (line) => console.log(line),
  });
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
