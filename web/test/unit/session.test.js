// SPDX-License-Identifier: GPL-3.0-or-later
//
// What the editor takes to continue a session whose token ended
// (web/src/session.js): a token or a sign-in link pasted, and the rule that
// it must be a readable, unexpired token of the same user and role.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeClaims, describeClaims, freshTokenProblem, pastedToken } from '../../src/session.js';

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const jwt = (claims) => `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}.sig`;
const ANN = { sub: 'ann', name: 'Ann', org: 'o1', role: 'editor' };
const session = { token: jwt(ANN), ...describeClaims(ANN) };
const later = () => Math.floor(Date.now() / 1000) + 3600;

test('a pasted token, or the token of a pasted link', () => {
  const t = jwt({ ...ANN, exp: later() });
  assert.equal(pastedToken(`  ${t}\n`), t);
  assert.equal(pastedToken(`http://127.0.0.1:3000/#token=${t}`), t);
  assert.equal(pastedToken(`http://127.0.0.1:3000/prds/x#a=1&token=${t}`), t);
  // A fragment without a token: the text as it is (then refused as unreadable).
  assert.equal(pastedToken('http://127.0.0.1:3000/#a=1'), 'http://127.0.0.1:3000/#a=1');
});

test('a fresh token must be readable, unexpired, and of the same user and role', () => {
  assert.equal(freshTokenProblem(decodeClaims(jwt({ ...ANN, exp: later() })), session), null);
  assert.equal(freshTokenProblem(decodeClaims(jwt(ANN)), session), null, 'no exp: valid');
  assert.match(freshTokenProblem(decodeClaims('not a token'), session), /^That is not a token/);
  assert.match(freshTokenProblem(decodeClaims(jwt({ ...ANN, exp: 1 })), session), /^That token has expired too/);
  for (const other of [{ sub: 'bob' }, { org: 'o2' }, { role: 'viewer' }, { role: 'admin' }]) {
    assert.match(freshTokenProblem(decodeClaims(jwt({ ...ANN, ...other, exp: later() })), session),
      /^That token is for .*; this page is Ann's \(ann\), editor in organization o1\./, JSON.stringify(other));
  }
});
