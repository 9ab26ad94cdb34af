#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
//
// A tour of @prdhub/client against a running hub: create a PRD over REST,
// join it, type, comment (with a mention of nobody), reply, take a
// version and read it back, subscribe to notifications, when the hub has
// an AI provider ask for a review, and archive the PRD at the end (it stays
// readable, out of the default list). Prints one JSON line per step.
//
//   PRDHUB_URL=http://127.0.0.1:8080 \
//   PRDHUB_TOKEN=$(prdhub token --user alice --name Alice) \
//   node examples/tour.js
//
// PRDHUB_ORG is the token's organization (default: `default`, what
// `prdhub token` uses); PRDHUB_AI=1 also runs the AI review.

import { PrdClient, NotificationsClient, PrdRestClient } from '@prdhub/client';

const url = process.env.PRDHUB_URL ?? 'http://127.0.0.1:8080';
const token = process.env.PRDHUB_TOKEN;
const org = process.env.PRDHUB_ORG ?? 'default';
if (!token) {
  console.error('Set PRDHUB_TOKEN to a token of the hub (prdhub token --user ID --name NAME)');
  process.exit(2);
}

const step = (name, data) => console.log(JSON.stringify({ step: name, ...data }));

const rest = new PrdRestClient({ url, token });
const notes = new NotificationsClient({ url, token });
let client;
try {
  const prd = await rest.createPrd({ title: 'SDK tour', content: '# SDK tour\n\n' });
  step('created', { prdId: prd.id, version: prd.version });

  client = new PrdClient({ url, token, prdId: prd.id });
  client.on('error', (err) => step('error', { code: err.code, message: err.message }));
  const joined = await client.connect();
  step('joined', { siteId: joined.siteId, text: client.text });

  client.insert(client.length, 'Users sign in with OAuth2.\n');
  client.setCursor(client.length);
  await client.whenSynced(); // acknowledged = stored by the hub
  step('typed', { text: client.text });

  const comment = await client.addComment({
    position: 0,
    selection: { start: 2, end: 10 },
    content: 'Is the title final, @NoSuchPerson?',
  });
  step('commented', comment);
  const reply = await client.replyComment(comment.commentId, 'Yes.');
  step('replied', reply);

  const version = await client.createVersion({ changelog: 'First draft', versionType: 'minor' });
  const text = await rest.getVersionText(prd.id, version.version);
  const versions = await rest.listVersions(prd.id);
  step('versioned', { version: version.version, commitHash: version.commitHash, text,
    versions: versions.map((v) => v.version) });

  const sub = await notes.subscribe(org);
  step('subscribed', sub);

  if (process.env.PRDHUB_AI === '1') {
    const review = await client.aiReview();
    step('reviewed', { reviewId: review.reviewId, count: review.count, suggestions: review.suggestions });
  }

  // The joined client hears the archive as prd-updated.
  const heard = new Promise((resolve) => client.once('prd-updated', resolve));
  const archived = await rest.archivePrd(prd.id);
  await heard;
  const listed = (await rest.listPrds()).some((p) => p.id === prd.id);
  step('archived', { archived: archived.archived, clientSees: client.archived, listed });
  step('done', { comments: client.getComments().length });
} catch (err) {
  step('failed', { code: err.code, message: err.message });
  process.exitCode = 1;
} finally {
  client?.close();
  notes.close();
}
