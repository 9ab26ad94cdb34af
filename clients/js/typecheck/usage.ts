// SPDX-License-Identifier: GPL-3.0-or-later
//
// Compile-only check of the SDK's typings (types/*.d.ts), through the
// package's own `exports` as an application imports them: `tsc -p
// tsconfig.json` (meson test sdk-js-types). Every @ts-expect-error line is a
// misuse the typings must refuse; tsc fails if one of them compiles.

import {
  PrdClient, NotificationsClient, PrdRestClient, PrdClientError, connectPrd, CrdtDoc, diffDeltas,
  type AiReview, type Comment, type Version, type Notification, type Delta, type JoinedPrd,
  type PrdSummary, type PrdUpdated, type PrdDeleted, type Session, type StorageStatus, type ErrorCode,
} from '@prdhub/client';
import { PrdClient as UnboundClient, type IoFactory } from '@prdhub/client/client';
import { CrdtError } from '@prdhub/client/crdt';

declare const io: IoFactory;
declare function log(...values: unknown[]): void;

export async function usage(url: string, token: string): Promise<void> {
  const rest = new PrdRestClient({ url, token });
  const created = await rest.createPrd({ title: 'T', content: '# T\n' });
  const prdId: string = created.id;
  const client = new PrdClient({ url, token, prdId, mode: 'edit' });
  const joined: JoinedPrd = await client.connect();
  const siteId: number | undefined = joined.siteId;
  const limits: number = joined.maxOperationSize + joined.maxDocumentSize;
  client.on('remote-change', ({ deltas, userId }) => {
    for (const d of deltas) {
      if (d.type === 'insert') log(d.position, d.text, userId);
      else log(d.position, d.length);
    }
  });
  client.on('comment-added', (c) => log(c.commentId, c.author.name));
  client.on('conflict-detected', ({ conflicts }) => conflicts.map((c) => c.conflictId));
  client.on('ai-stream-chunk', (c) => log(c.chunk.length + c.position));
  client.on('ai-suggestion', (s) => log(s.reviewId, s.suggestion.confidence));
  client.on('version-created', (v) => log(v.version.commitHash));
  client.on('error', (e: PrdClientError) => log(e.code, e.event));
  client.insert(0, 'x');
  client.setSelection(0, 1);
  client.setStatus('ai-prompting');
  await client.whenSynced();

  const { commentId, unresolvedMentions } = await client.addComment({ position: 0, content: '@Ghost' });
  const names: string[] = unresolvedMentions;
  await client.replyComment(commentId, 'ok');
  await client.resolveComment(commentId);
  const open: Comment[] = client.getComments();
  const version: Version = await client.createVersion({ changelog: 'first', versionType: 'patch' });
  const texts: string = await rest.getVersionText(prdId, version.version);
  const diff: string = await rest.diff(prdId, '0.1.0', version.version);
  for (const c of client.getConflicts()) await client.resolveConflict(c.conflictId, 'yours');
  await client.resolveConflict('conflict_1', 'merge', 'merged text');
  const { jobId } = await client.aiPrompt({ prompt: 'Write', context: { cursorPosition: 0 }, insert: false });
  const done = await client.whenAiJobDone(jobId);
  const used: number = done.tokensUsed;
  const review: AiReview = await client.aiReview();
  const first: string | null = review.suggestions[0]?.section ?? null;

  const notes = new NotificationsClient({ url, token });
  notes.on('notification', (n: Notification) => log(n.type, n.data.prdId));
  notes.on('activity-update', (a) => log(a.activity.actor.name));
  const { unread } = await notes.subscribe('org');
  const marked: number = await notes.markRead(['notif_1']);
  const page = await rest.activity({ organizationId: 'org', limit: 10 });
  const next: string | null = page.nextBefore;

  const other = await connectPrd({ url, token, prdId, mode: 'view' });
  other.close();
  const unbound = new UnboundClient({ url, token, prdId, io });
  await unbound.close();
  const deltas: Delta[] = diffDeltas('a', 'b');
  const doc = CrdtDoc.decodeState(joined.initialState.encodedState);
  const err = new CrdtError('INVALID_OPERATION', 'x');
  log(siteId, limits, names, open, texts, diff, used, first, unread, marked, next, deltas, doc.getText(), err.code);

  // Managing PRDs, REST versions and notifications, sessions.
  const renamed: PrdSummary = await rest.updatePrd(prdId, { title: 'New title' });
  const archived: boolean = (await rest.archivePrd(prdId)).archived;
  const since: string | null = (await rest.unarchivePrd(prdId)).archivedAt;
  await rest.updatePrd(prdId, { archived: false });
  const onlyArchived: PrdSummary[] = await rest.listPrds({ archived: true });
  await rest.listPrds({ archived: 'all' });
  const forced: Version = await rest.createVersion(prdId, { changelog: 'again', versionType: 'patch', force: true });
  const gone = await rest.deletePrd(prdId, { purgeVersions: true });
  const purged: number = gone.purgedVersions;
  const notePage = await rest.notifications({ unread: true, limit: 10 });
  const read: boolean = notePage.notifications[0]?.read ?? false;
  const markedRest: number = await rest.markNotificationsRead([notePage.notifications[0]?.id ?? 'notif_1']);
  const sessions: Session[] = await rest.listSessions();
  const where: string[] = sessions.flatMap((x) => x.prds.map((p) => `${x.namespace}:${p.prdId}:${p.mode}`));
  client.on('prd-updated', (u: PrdUpdated) => log(u.prd.title, u.prd.archived, u.by.name));
  client.on('prd-deleted', (d: PrdDeleted) => log(d.by.id, d.timestamp));
  client.on('closed', ({ reason, pendingCount }) => log(reason === 'deleted', pendingCount));
  const resyncing: boolean = client.resyncing;
  log(resyncing);
  client.on('storage-status', (st: StorageStatus) => log(st.ok ? st.timestamp : st.code));
  client.on('status', (st, why) => log(st === 'closed', why));
  const state: [boolean, boolean, boolean, 'edit' | 'view' | null] =
    [client.archived, client.deleted, client.closed, client.grantedMode];
  const wasArchived: boolean | undefined = joined.archived;
  const refreshed = await client.refreshToken(token);
  const exp: number | null = 'exp' in refreshed ? refreshed.exp : null;
  const notesExp: boolean = (await notes.refreshToken(token)).ok;
  const codes: ErrorCode[] = ['TOKEN_EXPIRED', 'TOKEN_REVOKED', 'OPERATION_ID_REUSED', 'STORAGE_ERROR',
    'VERSION_UNCHANGED'];
  log(renamed, archived, since, onlyArchived, forced, purged, read, markedRest, where, state, wasArchived, exp,
    notesExp, codes);

  // Misuse the typings refuse:
  // @ts-expect-error the unbound client needs io
  new UnboundClient({ url, token, prdId });
  // @ts-expect-error mode is 'edit' or 'view'
  new PrdClient({ url, token, prdId, mode: 'write' });
  // @ts-expect-error a merge needs the merged text
  await client.resolveConflict('conflict_1', 'merge');
  // @ts-expect-error versionType is major, minor or patch
  await client.createVersion({ changelog: 'x', versionType: 'huge' });
  // @ts-expect-error no such presence status
  client.setStatus('typing');
  // @ts-expect-error a comment needs a position
  await client.addComment({ content: 'x' });
  // @ts-expect-error listener of another event's payload
  client.on('comment-resolved', (c: { conflictId: string }) => log(c));
  // @ts-expect-error notifications need an organization id
  await notes.subscribe();
  // @ts-expect-error a PATCH needs a title or archived
  await rest.updatePrd(prdId, {});
  // @ts-expect-error archived is a boolean
  await rest.updatePrd(prdId, { archived: 'yes' });
  // @ts-expect-error the list filter is true, false or 'all'
  await rest.listPrds({ archived: 'some' });
  // @ts-expect-error a REST version needs a changelog
  await rest.createVersion(prdId, { force: true });
  // @ts-expect-error purgeVersions is a boolean
  await rest.deletePrd(prdId, { purgeVersions: 'true' });
  // @ts-expect-error prd-deleted carries no PRD object
  client.on('prd-deleted', (d) => log(d.prd));
  // @ts-expect-error a storage-status that is not ok carries a code; an ok one does not
  client.on('storage-status', (st) => log(st.code));
  // @ts-expect-error a refreshed token is a string
  await client.refreshToken({ token });
  // @ts-expect-error offline, a refresh has no exp
  log((await client.refreshToken(token)).exp);
  // @ts-expect-error the session list takes no organization (it is the token's)
  await rest.listSessions('org');
}
