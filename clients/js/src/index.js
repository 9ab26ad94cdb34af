// SPDX-License-Identifier: GPL-3.0-or-later
//
// @prdhub/client: the JavaScript SDK of prdhub. PrdClient and
// NotificationsClient here are bound to socket.io-client; import
// './client.js' (and './notifications.js') to bring another copy of it.

import { io } from 'socket.io-client';
import { PrdClient as BaseClient } from './client.js';
import { NotificationsClient as BaseNotifications } from './notifications.js';

export class PrdClient extends BaseClient {
  constructor(options) {
    super({ io, ...options });
  }
}

export class NotificationsClient extends BaseNotifications {
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

export { PrdClientError, PrdRestClient, diffDeltas } from './client.js';
export { CrdtDoc, CrdtError, opFromJson, opToJson, isWellFormed } from './crdt.js';
export { Emitter } from './emitter.js';
