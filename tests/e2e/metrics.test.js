// SPDX-License-Identifier: GPL-3.0-or-later
//
// GET /metrics: the Prometheus text exposition format 0.0.4, read with a
// strict parser of that format written below (every line must parse; HELP
// and TYPE once per family and before its samples; a family's samples
// together; histogram buckets cumulative and ending with +Inf == _count),
// after real traffic; counters only grow between two scrapes; who may read.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { startHub, token, connect, once, assertCleanExit, assertCleanStop } from './helpers/hub.js';
import { client, user, request, createPrd, join, bump, recorder, until } from './collab-helpers.js';
import { startAiServer, startAiHub } from './ai-helpers.js';

// ---- a strict parser of the text format -------------------------------------

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const NAME_RE = new RegExp(`^${NAME}$`);
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text, line) {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text))
    throw new Error(`not a number: ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
  return Number(text);
}

function parseLabels(text, line) {
  // text: what is between the braces.
  const labels = {};
  let i = 0;
  while (i < text.length) {
    const m = new RegExp(`^(${LABEL_NAME})="`).exec(text.slice(i));
    if (!m) throw new Error(`bad label at ${i} in ${JSON.stringify(line)}`);
    i += m[0].length;
    let value = '';
    for (;;) {
      if (i >= text.length) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
      const c = text[i++];
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i++];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`bad escape \\${e} in ${JSON.stringify(line)}`);
      } else if (c === '\n') {
        throw new Error('raw newline in a label value');
      } else {
        value += c;
      }
    }
    if (m[1] in labels) throw new Error(`label ${m[1]} twice in ${JSON.stringify(line)}`);
    labels[m[1]] = value;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected , in ${JSON.stringify(line)}`);
      i++;
    }
  }
  return labels;
}

function familyOf(sampleName, families) {
  if (families.has(sampleName)) return sampleName;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      const f = families.get(base);
      if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket')))
        return base;
    }
  }
  return null;
}

function seriesKey(name, labels) {
  return name + JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

// Returns Map(family name → {type, help, samples: [{name, labels, value}]}).
function parseExposition(text) {
  assert.ok(text.endsWith('\n'), 'the text ends with a newline');
  const families = new Map();
  const seen = new Set();
  let current = null;
  const done = new Set();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
      if (!m) {
        assert.ok(line === '#' || line.startsWith('# '), `comment ${JSON.stringify(line)}`);
        continue;
      }
      const [, kind, name, rest] = m;
      let f = families.get(name);
      if (!f) {
        assert.ok(!done.has(name), `${name} is declared again after other families`);
        f = { type: undefined, help: undefined, samples: [] };
        families.set(name, f);
      }
      assert.equal(f.samples.length, 0, `${kind} of ${name} comes before its samples`);
      if (current !== null && current !== name) done.add(current);
      current = name;
      if (kind === 'HELP') {
        assert.equal(f.help, undefined, `HELP of ${name} once`);
        assert.doesNotMatch(rest.replace(/\\[\\n]/g, ''), /\\/, `HELP escapes of ${name}`);
        f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      } else {
        assert.equal(f.type, undefined, `TYPE of ${name} once`);
        assert.ok(TYPES.has(rest), `TYPE of ${name}: ${rest}`);
        f.type = rest;
      }
      continue;
    }
    assert.notEqual(line.trim(), '', 'no blank lines');
    const m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`).exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = m;
    const labels = labelText === undefined ? {} : parseLabels(labelText, line);
    const value = parseValue(valueText, line);
    const fname = familyOf(name, families);
    assert.ok(fname !== null, `sample ${name} belongs to a declared family`);
    assert.ok(!done.has(fname), `the samples of ${fname} are together`);
    if (current !== fname) {
      if (current !== null) done.add(current);
      current = fname;
    }
    const key = seriesKey(name, labels);
    assert.ok(!seen.has(key), `series ${key} once`);
    seen.add(key);
    families.get(fname).samples.push({ name, labels, value });
  }
  for (const [name, f] of families) {
    assert.ok(f.type !== undefined, `${name} has a TYPE`);
    assert.ok(f.help !== undefined && f.help.length > 0, `${name} has a HELP`);
    if (f.type === 'histogram') checkHistogram(name, f);
    if (f.type === 'counter')
      for (const s of f.samples) assert.ok(s.value >= 0 && Number.isFinite(s.value), `${s.name} >= 0`);
  }
  return families;
}

function checkHistogram(name, f) {
  const groups = new Map();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(rest);
    if (!groups.has(key)) groups.set(key, { buckets: [], sum: undefined, count: undefined });
    const g = groups.get(key);
    if (s.name === `${name}_bucket`) {
      assert.ok(le !== undefined, `${name}_bucket has le`);
      g.buckets.push({ le: parseValue(le, le), value: s.value });
    } else if (s.name === `${name}_sum`) {
      g.sum = s.value;
    } else if (s.name === `${name}_count`) {
      g.count = s.value;
    } else {
      assert.fail(`${s.name} in histogram ${name}`);
    }
  }
  for (const g of groups.values()) {
    assert.ok(g.buckets.length > 0, `${name} has buckets`);
    for (let i = 1; i < g.buckets.length; i++) {
      assert.ok(g.buckets[i].le > g.buckets[i - 1].le, `${name} buckets in increasing le`);
      assert.ok(g.buckets[i].value >= g.buckets[i - 1].value, `${name} buckets cumulative`);
    }
    const last = g.buckets[g.buckets.length - 1];
    assert.equal(last.le, Infinity, `${name} ends with le="+Inf"`);
    assert.equal(g.count, last.value, `${name} +Inf bucket == _count`);
    assert.ok(g.sum >= 0, `${name}_sum`);
  }
}

function sample(families, name, labels = {}) {
  const fname = familyOf(name, families) ?? name;
  const f = families.get(fname);
  if (!f) return undefined;
  const key = seriesKey(name, labels);
  const s = f.samples.find((x) => seriesKey(x.name, x.labels) === key);
  return s?.value;
}

// ---- the parser refuses what it must -----------------------------------------

test('the parser refuses malformed expositions', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total 1\n';
  assert.doesNotThrow(() => parseExposition(ok));
  const bad = [
    'a_total 1\n',                                                           // no TYPE
    '# HELP a_total A.\n# TYPE a_total counter\na_total one\n',               // value
    '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1} 1\n',           // quote
    '# HELP a_total A.\n# TYPE a_total counter\na_total 1\n# TYPE a_total counter\n',
    '# HELP h A.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# HELP h A.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    '# HELP h A.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    '# HELP a_total A.\n# TYPE a_total counter\na_total 1\na_total 2\n',    // series twice
  ];
  for (const text of bad) assert.throws(() => parseExposition(text), undefined, text);
});

// ---- a hub with the default access: loopback reads without a token ------------

const RATE_CONFIG = '[rate-limit]\nchatty = 2/3600\n[rate-limit.events]\nping = chatty\n';
let hub;
before(async () => { hub = await startHub({ config: RATE_CONFIG }); });
after(async () => {
  await assertCleanStop(hub);
});

async function scrape(target, headers = {}) {
  const res = await fetch(`${target.url}/metrics`, { headers });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), text, res };
}

test('metrics after traffic: names, types, values, and counters that only grow', async () => {
  const first = await scrape(hub);
  assert.equal(first.status, 200);
  assert.equal(first.type, 'text/plain; version=0.0.4; charset=utf-8');
  const before = parseExposition(first.text);

  const prdId = await createPrd(hub, 'Metrics', 'Hello');
  const a = await client(hub, user('user_a'));
  const b = await client(hub, user('user_b'));
  const poller = await connect(hub.url, { transports: ['polling'], auth: { token: token() } }, '/');
  const ja = await join(a, prdId);
  await join(b, prdId);

  // Edits with acks, each broadcast to the other member.
  let vector = ja.vector;
  const EDITS = 5;
  for (let i = 0; i < EDITS; i++) {
    const received = once(b, 'content-update');
    vector = bump(vector, ja.siteId);
    const ack = await request(a, 'content-update', {
      prdId,
      operation: { type: 'insert', position: 0, content: `${i}`, timestamp: Date.now() },
      stateVector: vector,
    });
    assert.equal(ack.ok, true);
    await received;
  }
  // Over the `chatty` limit of 2: the third ping is refused.
  for (let i = 0; i < 2; i++) await request(a, 'ping');
  const refused = await request(a, 'ping');
  assert.equal(refused.error.code, 'RATE_LIMITED');
  // A name no handler knows is counted as "other", never by its own name.
  const unknown = await request(a, 'no-such-event-xyz', {});
  assert.equal(unknown.error.code, 'UNKNOWN_EVENT');

  const second = await scrape(hub);
  assert.equal(second.status, 200);
  const after = parseExposition(second.text);

  const expectType = {
    prdhub_connections: 'gauge',
    prdhub_open_prds: 'gauge',
    prdhub_prd_joined_users: 'gauge',
    prdhub_events_received_total: 'counter',
    prdhub_events_sent_total: 'counter',
    prdhub_ack_latency_seconds: 'histogram',
    prdhub_broadcasts_total: 'counter',
    prdhub_broadcast_deliveries_total: 'counter',
    prdhub_sqlite_commit_duration_seconds: 'histogram',
    prdhub_ai_jobs: 'gauge',
    prdhub_ai_jobs_finished_total: 'counter',
    prdhub_rate_limit_refusals_total: 'counter',
    prdhub_pending_ack_refusals_total: 'counter',
    prdhub_slow_consumers_dropped_total: 'counter',
    process_resident_memory_bytes: 'gauge',
    process_cpu_seconds_total: 'counter',
  };
  for (const [name, type] of Object.entries(expectType))
    assert.equal(after.get(name)?.type, type, `${name} is a ${type}`);
  for (const [name, f] of after) {
    assert.ok(name.startsWith('prdhub_') || name.startsWith('process_'), `${name} prefix`);
    if (f.type === 'counter') assert.match(name, /_total$/, `counter ${name} ends in _total`);
    if (f.type === 'histogram') assert.match(name, /_seconds$/, `histogram ${name} in seconds`);
    assert.doesNotMatch(name, /_(ms|milliseconds|kb|mb)(_|$)/, `${name} in base units`);
  }

  assert.ok(sample(after, 'prdhub_connections', { transport: 'websocket' }) >= 2);
  assert.ok(sample(after, 'prdhub_connections', { transport: 'polling' }) >= 1);
  assert.equal(sample(after, 'prdhub_prd_joined_users', { prd: prdId }), 2);
  assert.ok(sample(after, 'prdhub_open_prds') >= 1);
  assert.ok(sample(after, 'prdhub_events_received_total', { event: 'content-update' }) >= EDITS);
  assert.ok(sample(after, 'prdhub_events_received_total', { event: 'join-prd' }) >= 2);
  assert.ok(sample(after, 'prdhub_events_received_total', { event: 'other' }) >= 1);
  assert.equal(sample(after, 'prdhub_events_received_total', { event: 'no-such-event-xyz' }),
    undefined);
  assert.ok(sample(after, 'prdhub_events_sent_total', { event: 'content-update' }) >= EDITS);
  assert.ok(sample(after, 'prdhub_events_sent_total', { event: 'rate-limit' }) >= 1);
  assert.ok(sample(after, 'prdhub_rate_limit_refusals_total', { class: 'chatty' }) >= 1);
  assert.ok(sample(after, 'prdhub_ack_latency_seconds_count') >= EDITS + 2 + 4);
  assert.ok(sample(after, 'prdhub_broadcasts_total') >= EDITS);
  assert.ok(sample(after, 'prdhub_broadcast_deliveries_total') >= EDITS);
  assert.ok(sample(after, 'prdhub_sqlite_commit_duration_seconds_count') >= EDITS);
  assert.equal(sample(after, 'prdhub_ai_jobs', { state: 'queued' }), 0);
  assert.ok(sample(after, 'process_resident_memory_bytes') > 1024 * 1024);
  assert.ok(sample(after, 'process_cpu_seconds_total') > 0);

  // Every counter and histogram series of the first scrape is there again,
  // never lower.
  for (const [name, f] of before) {
    if (f.type !== 'counter' && f.type !== 'histogram') continue;
    for (const s of f.samples) {
      const later = sample(after, s.name, s.labels);
      assert.ok(later !== undefined, `${s.name} ${JSON.stringify(s.labels)} still there`);
      assert.ok(later >= s.value, `${s.name} ${JSON.stringify(s.labels)}: ${s.value} -> ${later}`);
    }
  }

  // Who left is no longer counted.
  const left = once(a, 'user-left');
  b.disconnect();
  await left;
  const third = parseExposition((await scrape(hub)).text);
  assert.equal(sample(third, 'prdhub_prd_joined_users', { prd: prdId }), 1);
  a.disconnect();
  poller.disconnect();
});

test('a token is not needed from loopback, and a bad one does not matter there', async () => {
  const res = await scrape(hub, { authorization: 'Bearer not-a-token' });
  assert.equal(res.status, 200);
});

// A GET with the Host header given as is (fetch() will not send another).
function getWithHost(target, host, headers = {}) {
  const { port } = new URL(target.url);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', headers: { host, ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, text }));
      });
    req.on('error', reject);
  });
}

test('from loopback, a request that names the hub by a DNS name needs a token (DNS rebinding)', async () => {
  const { port } = new URL(hub.url);
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, '127.0.0.1']) {
    const res = await getWithHost(hub, host);
    assert.equal(res.status, 200, host);
  }
  for (const host of [`evil.test:${port}`, 'evil.test', `127.0.0.1.evil.test:${port}`]) {
    const res = await getWithHost(hub, host, { origin: `http://${host}` });
    assert.equal(res.status, 401, host);
    assert.equal(JSON.parse(res.text).code, 'AUTHENTICATION_FAILED');
    assert.doesNotMatch(res.text, /prdhub_/);
  }
  const admin = await getWithHost(hub, `evil.test:${port}`,
    { authorization: `Bearer ${token({ role: 'admin' })}` });
  assert.equal(admin.status, 200);
});

// ---- access from addresses that are not exempt ---------------------------------

test('without the loopback exemption only admins read the metrics', async () => {
  const strict = await startHub({ config: '[metrics]\nallow-without-token =\n' });
  try {
    const none = await scrape(strict);
    assert.equal(none.status, 401);
    assert.equal(none.res.headers.get('www-authenticate'), 'Bearer');
    assert.equal(JSON.parse(none.text).code, 'AUTHENTICATION_FAILED');
    assert.doesNotMatch(none.text, /prdhub_/);

    const bad = await scrape(strict, { authorization: 'Bearer not-a-token' });
    assert.equal(bad.status, 401);

    const expired = await scrape(strict, {
      authorization: `Bearer ${token({ role: 'admin', exp: Math.floor(Date.now() / 1000) - 60 })}`,
    });
    assert.equal(expired.status, 401);
    assert.equal(JSON.parse(expired.text).code, 'TOKEN_EXPIRED');

    for (const role of ['viewer', 'editor']) {
      const res = await scrape(strict, { authorization: `Bearer ${token({ role })}` });
      assert.equal(res.status, 403, role);
      assert.equal(JSON.parse(res.text).code, 'FORBIDDEN');
      assert.doesNotMatch(res.text, /prdhub_/);
    }

    const admin = await scrape(strict, { authorization: `Bearer ${token({ role: 'admin' })}` });
    assert.equal(admin.status, 200);
    parseExposition(admin.text);

    // An organization's admin sees the hub's totals and its own PRDs, not
    // which PRDs other organizations have open.
    const prdId = await createPrd(strict, 'Org A', 'x', user('owner_a', { org: 'org_a' }));
    const a = await client(strict, user('user_a', { org: 'org_a' }));
    try {
      await join(a, prdId);
      const other = await scrape(strict,
        { authorization: `Bearer ${token({ role: 'admin', org: 'org_b' })}` });
      assert.equal(other.status, 200);
      assert.doesNotMatch(other.text, new RegExp(prdId));
      assert.equal(sample(parseExposition(other.text), 'prdhub_open_prds'), 1);
      const own = await scrape(strict,
        { authorization: `Bearer ${token({ role: 'admin', org: 'org_a' })}` });
      assert.equal(sample(parseExposition(own.text), 'prdhub_prd_joined_users', { prd: prdId }), 1);
    } finally {
      a.close();
    }
  } finally {
    await assertCleanStop(strict);
  }
});

// The families of the "Metrics" table of docs/protocol.md, by name: type.
function documentedFamilies() {
  const docs = fs.readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const section = docs.split('### Metrics: `GET /metrics`')[1].split('\n### ')[0];
  const families = new Map();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !cells[1].startsWith('`')) continue;
    for (const [, name] of cells[1].matchAll(/`([a-z_:]+)`/g)) families.set(name, cells[2]);
  }
  return families;
}

test("a fresh hub's first scrape lists every family of the docs' Metrics table, and no other", async () => {
  const fresh = await startHub();
  try {
    const families = parseExposition((await scrape(fresh)).text);
    const documented = documentedFamilies();
    assert.ok(documented.size >= 19, `${documented.size} families in the docs`);
    for (const [name, type] of documented)
      assert.equal(families.get(name)?.type, type, `${name}, a ${type}, is there before any session`);
    for (const name of families.keys()) assert.ok(documented.has(name), `${name} is documented`);
  } finally {
    await assertCleanStop(fresh);
  }
});

test('[metrics] enabled = false answers 404', async () => {
  const off = await startHub({ config: '[metrics]\nenabled = false\n' });
  try {
    const res = await scrape(off, { authorization: `Bearer ${token({ role: 'admin' })}` });
    assert.equal(res.status, 404);
    assert.doesNotMatch(res.text, /prdhub_/);
  } finally {
    await assertCleanStop(off);
  }
});

test('a bad [metrics] setting stops the hub from starting', async () => {
  for (const config of ['[metrics]\nallow-without-token = not-an-address\n',
    '[metrics]\nenabled = maybe\n', '[metrics]\nno-such-key = 1\n']) {
    await assert.rejects(startHub({ config }), /exited early/, config);
  }
});


test('AI jobs by state: queued and streaming now, and how they ended', async () => {
  const ai = await startAiServer();
  const aiHub = await startAiHub(ai, { extra: 'concurrency=1\nhourly-quota=2\n' });
  try {
    const prdId = await createPrd(aiHub, 'AI metrics', 'Start.\n');
    const a = await client(aiHub, user('user_a'));
    await join(a, prdId);
    const ev = recorder(a, ['ai-stream-chunk', 'ai-error']);
    const first = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated one' });
    assert.equal(first.ok, true, JSON.stringify(first));
    await until(a, () => ev.some((e) => e.event === 'ai-stream-chunk'));
    const second = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated two' });
    assert.equal(second.ok, true, JSON.stringify(second));

    // Over the hourly quota of 2: refused, and counted as a rate-limit refusal.
    const third = await request(a, 'ai-prompt', { prdId, prompt: 'hi', insert: false });
    assert.equal(third.error.code, 'RATE_LIMIT_EXCEEDED');

    const during = parseExposition((await scrape(aiHub)).text);
    assert.equal(sample(during, 'prdhub_rate_limit_refusals_total', { class: 'ai-hourly-quota' }), 1);
    assert.equal(sample(during, 'prdhub_ai_jobs', { state: 'streaming' }), 1);
    assert.equal(sample(during, 'prdhub_ai_jobs', { state: 'queued' }), 1);

    for (const job of [second, first])
      assert.equal((await request(a, 'ai-cancel', { jobId: job.jobId })).ok, true);
    const ended = (job) => ev.some((e) => e.event === 'ai-error' && e.data.jobId === job.jobId);
    await until(a, () => ended(first) && ended(second));
    const after = parseExposition((await scrape(aiHub)).text);
    assert.equal(sample(after, 'prdhub_ai_jobs', { state: 'streaming' }), 0);
    assert.equal(sample(after, 'prdhub_ai_jobs', { state: 'queued' }), 0);
    assert.equal(sample(after, 'prdhub_ai_jobs_finished_total', { state: 'cancelled' }), 2);
    assert.equal(sample(after, 'prdhub_ai_jobs_finished_total', { state: 'complete' }), 0);
    a.close();
  } finally {
    const stopped = await aiHub.stop();
    await ai.stop();
    assertCleanExit(aiHub, stopped);
  }
});
