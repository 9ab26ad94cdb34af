// SPDX-License-Identifier: GPL-3.0-or-later
//
// The SDK's error: the hub's stable `code` (docs/protocol.md, "Error
// codes") or one of the SDK's own (`CLOSED`, `TIMEOUT`, `CONNECT_ERROR`,
// `HTTP_<status>`, `ERROR`; README.md, "Errors"), with the `event` it
// concerns and, where known, `status`, `retryAfter`.

export class PrdClientError extends Error {
  constructor(code, message, extra = {}) {
    super(message);
    this.name = 'PrdClientError';
    this.code = code;
    Object.assign(this, extra);
  }
}
