#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Joins of one large PRD: creates a PRD with KIB KiB of text over REST,
// then N clients join it one after another over raw WebSocket (each waits
// for its joined-prd, whose initial state carries the whole document), and
// prints the wall time and the server's CPU per join, for prdhub and for
// the Node reference (socket.io + Yjs) in the same run. With --edit, the
// first client inserts a few characters (and waits for the ack) before each
// of the other joins, so that no join finds the document as the last one
// left it.
//
//   node bench/fanout/joins.mjs [--hub PATH] [--joins 20] [--kib 1024] [--edit] [--data-parent DIR]
//
// Bounded: at most 1000 joins and 1536 KiB (the hub's REST body limit is
// 2 MiB); 127.0.0.1 only.

import WebSocket from 'ws';
import { signToken } from './loadgen.mjs';
import { DEFAULT_HUB, startServer } from './servers.mjs';

function parseArgs(argv) {
  const o = { hub: DEFAULT_HUB, joins: 20, kib: 1024, edit: false, dataParent: undefined };
  const num = (v, min, max, name) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be ${min}-${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--hub': o.hub = next(); break;
      case '--joins': o.joins = num(next(), 1, 1000, '--joins'); break;
      case '--kib': o.kib = num(next(), 1, 1536, '--kib'); break;
      case '--edit': o.edit = true; break;
      case '--data-parent': o.dataParent = next(); break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return o;
}

// Words of varied text, so that compression does not make it trivial.
function makeText(kib) {
  let seed = 12345;
  const words = [];
  let size = 0;
  while (size < kib * 1024) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const w = `word${seed % 1000003} `;
    words.push(w);
    size += w.length;
  }
  return words.join('');
}

// One insert at the end of the document by @ws, resolved on its ack.
function editOnce(ws, prdId, index) {
  return new Promise((resolve, reject) => {
    const id = 1000 + index;
    const timer = setTimeout(() => reject(new Error(`edit ${index}: timed out`)), 60000);
    const done = () => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
    };
    const onMessage = (data) => {
      const d = data.toString();
      if (!d.startsWith(`43/prds,${id}[`)) return;
      done();
      if (!d.includes('"ok":true')) reject(new Error(`edit ${index}: ${d.slice(0, 300)}`));
      else resolve();
    };
    const onClose = (code) => {
      done();
      reject(new Error(`edit ${index}: the server closed the connection (${code})`));
    };
    ws.on('message', onMessage);
    ws.on('close', onClose);
    const text = `edit ${index}. `;
    while (ws.sv.length <= ws.siteId) ws.sv.push(0);
    ws.sv[ws.siteId]++;
    ws.send(`42/prds,${id}["content-update",{"prdId":"${prdId}","operation":{"type":"insert","position":${ws.len},"content":"${text}","timestamp":${Date.now()}},"stateVector":[${ws.sv.join(',')}]}]`);
    ws.len += text.length;
  });
}

// One client: connect, authenticate on /prds, join, resolve on joined-prd.
function joinOnce(server, prdId, index) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`,
      { perMessageDeflate: false });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`join ${index}: timed out`)); }, 60000);
    ws.on('error', (err) => { clearTimeout(timer); reject(err); });
    ws.on('message', (data) => {
      const d = data.toString();
      if (d === '2') ws.send('3');
      else if (d.startsWith('0{'))
        ws.send(`40/prds,${JSON.stringify({ token: signToken(server.secret, `join_u${index}`) })}`);
      else if (d.startsWith('40/prds,'))
        ws.send(`42/prds,1["join-prd",{"prdId":"${prdId}","mode":"edit"}]`);
      else if (d.startsWith('42/prds,["joined-prd"')) {
        clearTimeout(timer);
        const [, p] = JSON.parse(d.slice(8));
        ws.siteId = p.siteId;
        ws.len = p.initialState.content.length;
        ws.sv = p.initialState.stateVector.slice();
        resolve(ws);
      } else if (d.startsWith('43/prds,1[{"error"') || d.startsWith('42/prds,["error"')) {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`join ${index}: ${d.slice(0, 300)}`));
      }
    });
  });
}

async function run(kind, o, text) {
  const server = await startServer(kind, { hub: o.hub, dataParent: o.dataParent });
  const sockets = [];
  try {
    const res = await fetch(`${server.url}/api/prds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${signToken(server.secret, 'join_owner')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Joins', content: text }),
    });
    if (res.status !== 201) throw new Error(`create PRD on ${kind}: ${res.status} ${await res.text()}`);
    const { id } = await res.json();
    const cpu0 = server.cpuSeconds();
    const t0 = performance.now();
    for (let i = 0; i < o.joins; i++) {
      if (o.edit && i > 0) await editOnce(sockets[0], id, i);
      sockets.push(await joinOnce(server, id, i));
    }
    const wallMs = performance.now() - t0;
    const cpuMs = (server.cpuSeconds() - cpu0) * 1000;
    return { wallMs, cpuMs };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.stop();
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const text = makeText(o.kib);
  const hub = await run('prdhub', o, text);
  const node = await run('node', o, text);
  console.log(`${o.joins} joins, one after another, of one PRD of ${o.kib} KiB of text` +
    (o.edit ? ', an edit before each but the first' : ''));
  console.log('server                  wall ms   CPU ms per join');
  for (const [name, r] of [['prdhub', hub], ['Node socket.io + Yjs', node]])
    console.log(`${name.padEnd(22)} ${r.wallMs.toFixed(0).padStart(8)}   ${(r.cpuMs / o.joins).toFixed(1).padStart(15)}`);
  console.log(`ratio (prdhub / Node)  ${(hub.wallMs / node.wallMs).toFixed(2).padStart(8)}x  ${(hub.cpuMs / node.cpuMs).toFixed(2).padStart(15)}x`);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
