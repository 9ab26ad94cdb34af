// SPDX-License-Identifier: GPL-3.0-or-later
//
// @prdhub/client: the JavaScript SDK of prdhub. PrdClient here is bound to
// socket.io-client; import './client.js' to bring another copy of it.

import { io } from 'socket.io-client';
import { PrdClient as BaseClient } from './client.js';

export class PrdClient extends BaseClient {
  constructor(options) {
    super({ io, ...options });
  }
}

/** Creates a PrdClient, connects and joins; resolves with the client. */
export async function connectPrd(options) {
  const client = new PrdClient(options);
  await client.connect();
  return client;
}

export { PrdClientError, diffDeltas } from './client.js';
export { CrdtDoc, CrdtError, opFromJson, opToJson, isWellFormed } from './crdt.js';
export { Emitter } from './emitter.js';
