// SPDX-License-Identifier: GPL-3.0-or-later
//
// Types of @prdhub/client: the clients bound to socket.io-client (no `io`
// option), plus everything of ./client and ./crdt.

import {
  PrdClient as BaseClient,
  NotificationsClient as BaseNotifications,
  type PrdClientOptions,
  type NotificationsClientOptions,
  type IoFactory,
} from './client.js';

export * from './client.js';
export * from './crdt.js';

export type BoundPrdClientOptions = Omit<PrdClientOptions, 'io'> & { io?: IoFactory };
export type BoundNotificationsClientOptions = Omit<NotificationsClientOptions, 'io'> & { io?: IoFactory };

export declare class PrdClient extends BaseClient {
  constructor(options: BoundPrdClientOptions);
}

export declare class NotificationsClient extends BaseNotifications {
  constructor(options: BoundNotificationsClientOptions);
}

/** Creates a PrdClient, connects and joins; resolves with the client. */
export declare function connectPrd(options: BoundPrdClientOptions): Promise<PrdClient>;
