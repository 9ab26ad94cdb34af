// SPDX-License-Identifier: GPL-3.0-or-later
//
// A fake Mattermost (API v4) on 127.0.0.1 speaking the subset prdhub uses:
// GET /api/v4/system/ping, GET /api/v4/users/me (200, or 401 for another
// token), GET /api/v4/teams/name/{team}/channels/name/{channel} (200, 404
// for an unknown name), POST /api/v4/posts (201 with a 26-character id; 403
// in a channel the bot is not a member of; 400 for a message over 16383
// characters) and POST /hooks/{id} (200 text/plain `ok`; 400 AppError for
// an unknown hook). Switched on per test:
//   rateLimitNext   answers 429 text/plain `limit exceeded`, Retry-After:
//                   retryAfter (default `1`)
//   down            every request answers 500
//   hold            requests wait (unanswered) in `held` until release()
// Each post records the `mentions` Mattermost would find in it (mentionsIn).

import http from 'node:http';
import crypto from 'node:crypto';

// The mentions Mattermost's server finds in a message (after its
// app/mention_parser_standard.go): the text once Markdown is parsed (a
// backslash escape leaves the character alone, adjacent text joined), split
// into words on anything but letters, digits and `: . - _ @`, each word also
// split on `. - :`; a word `@` + a name is a mention (`@all`, `@channel`,
// `@here` notify the channel). Returns the names, lower-cased.
export function mentionsIn(message) {
  const text = message.replace(/\\([!-/:-@[-`{-~])/g, '$1');
  const found = new Set();
  for (const word of text.split(/[^\p{L}\p{N}:.\-_@]+/u)) {
    for (const part of [word.replace(/^[:.\-_]+/, ''), ...word.split(/[.\-:]/)]) {
      const m = /^@([\p{L}\p{N}_][\p{L}\p{N}_.\-]*)/u.exec(part);
      if (m) found.add(m[1].replace(/[.\-_]+$/, '').toLowerCase());
    }
  }
  return [...found];
}

export async function startFakeMattermost({
  token = 'mm-bot-' + crypto.randomBytes(10).toString('hex'),
  team = 'product',
  channels = ['product-team', 'closed-room'],
  memberOf = ['product-team'],
} = {}) {
  const hookId = crypto.randomBytes(13).toString('hex');
  const state = {
    token,
    team,
    hookId,
    channels: new Map(channels.map((name) => [name, crypto.randomBytes(13).toString('hex')])),
    memberOf: new Set(memberOf),
    posts: [],
    hooked: [],
    requests: [],
    rateLimitNext: 0,
    retryAfter: '1',
    down: false,
    hold: false,
    held: [],
  };

  function appError(res, status, id, message) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, message, detailed_error: '', request_id: 'r', status_code: status }));
  }

  function json(res, status, body) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body;
      try { body = text.length > 0 ? JSON.parse(text) : undefined; } catch { body = null; }
      const url = new URL(req.url, 'http://127.0.0.1');
      state.requests.push({ method: req.method, path: url.pathname, search: url.search,
        headers: req.headers, body, text });
      if (state.hold) return state.held.push(res);
      if (state.down) return appError(res, 500, 'app.internal', 'down');
      if (state.rateLimitNext > 0) {
        state.rateLimitNext--;
        res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': state.retryAfter,
          'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' });
        return res.end('limit exceeded');
      }
      const p = url.pathname;
      if (req.method === 'GET' && p === '/api/v4/system/ping')
        return json(res, 200, { status: 'OK', AndroidLatestVersion: '', IosLatestVersion: '' });
      const hook = /^\/hooks\/([A-Za-z0-9]+)$/.exec(p);
      if (req.method === 'POST' && hook) {
        if (hook[1] !== state.hookId)
          return appError(res, 400, 'web.incoming_webhook.invalid.app_error', 'Invalid webhook.');
        if (req.headers['content-type'] !== 'application/json' || !body || typeof body.text !== 'string')
          return appError(res, 400, 'web.incoming_webhook.text.app_error', 'No text specified.');
        state.hooked.push(body);
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('ok');
      }
      if (req.headers.authorization !== `Bearer ${state.token}`)
        return appError(res, 401, 'api.context.session_expired.app_error',
          'Invalid or expired session, please login again.');
      if (req.method === 'GET' && p === '/api/v4/users/me')
        return json(res, 200, { id: 'botuser' + 'x'.repeat(19), username: 'prdhub-bot', is_bot: true });
      const byName = /^\/api\/v4\/teams\/name\/([^/]+)\/channels\/name\/([^/]+)$/.exec(p);
      if (req.method === 'GET' && byName) {
        const id = state.channels.get(decodeURIComponent(byName[2]));
        if (decodeURIComponent(byName[1]) !== state.team || id === undefined)
          return appError(res, 404, 'app.channel.get_by_name.missing.app_error', 'Channel does not exist.');
        return json(res, 200, { id, name: decodeURIComponent(byName[2]), team_id: 'team' + 'x'.repeat(22), type: 'O' });
      }
      if (req.method === 'POST' && p === '/api/v4/posts') {
        const name = [...state.channels].find(([, id]) => id === body?.channel_id)?.[0];
        if (name === undefined || typeof body.message !== 'string')
          return appError(res, 400, 'api.post.create_post.channel_id.app_error', 'Invalid channel_id.');
        if (!state.memberOf.has(name))
          return appError(res, 403, 'api.context.permissions.app_error',
            'You do not have the appropriate permissions.');
        if ([...body.message].length > 16383)
          return appError(res, 400, 'model.post.is_valid.message_length.app_error', 'Message too long.');
        const post = { id: crypto.randomBytes(13).toString('hex'), create_at: Date.now(),
          channel_id: body.channel_id, message: body.message, user_id: 'bot', type: '', props: {} };
        state.posts.push({ ...post, channel: name, mentions: mentionsIn(body.message) });
        return json(res, 201, post);
      }
      return appError(res, 404, 'api.context.404.app_error', 'Sorry, we could not find the page.');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    state,
    hookUrl: `${url}/hooks/${hookId}`,
    requestsTo(re) { return state.requests.filter((r) => re.test(r.path)); },
    // Answers the held requests with a 500 (a request the hub gave up on
    // finds its connection closed).
    release() {
      state.hold = false;
      for (const res of state.held.splice(0)) appError(res, 500, 'app.internal', 'released');
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
