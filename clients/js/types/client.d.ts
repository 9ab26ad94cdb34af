// SPDX-License-Identifier: GPL-3.0-or-later
//
// Types of @prdhub/client/client: PrdClient (one PRD on `/prds`),
// NotificationsClient (`/notifications`), PrdRestClient (`/api`), and the
// payloads of every event the hub sends (docs/protocol.md). In this entry
// point the clients take socket.io-client's `io` as an option.

import type { CrdtDoc, Delta, WireOperation } from './crdt.js';

export type { Delta, WireOperation } from './crdt.js';

// ---- shared shapes --------------------------------------------------------------------

/** socket.io-client's `io` (or a compatible factory). */
export type IoFactory = (uri: string, options?: Record<string, unknown>) => SocketLike;

/** The part of a socket.io-client Socket the SDK uses. */
export interface SocketLike {
  readonly connected: boolean;
  readonly active?: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener?: (...args: any[]) => void): unknown;
  emit(event: string, ...args: any[]): unknown;
  timeout(ms: number): { emit(event: string, ...args: any[]): unknown };
  connect(): unknown;
  disconnect(): unknown;
  removeAllListeners(event?: string): unknown;
}

/** ISO 8601 UTC with milliseconds (`2024-01-26T10:30:00.000Z`). */
export type IsoTime = string;

/** The hub's stable error codes (docs/protocol.md, "Error codes"). */
export type ErrorCode =
  | 'INTERNAL_ERROR' | 'INVALID_PAYLOAD' | 'AUTHENTICATION_FAILED' | 'TOKEN_EXPIRED' | 'FORBIDDEN'
  | 'RATE_LIMITED' | 'PAYLOAD_TOO_LARGE' | 'NOT_FOUND' | 'PRD_NOT_FOUND' | 'INVALID_OPERATION'
  | 'SITE_CONFLICT' | 'NOT_JOINED' | 'STORAGE_ERROR' | 'CORRUPT_DATA' | 'UNSUPPORTED_VERSION'
  | 'CONFIG_ERROR' | 'UNKNOWN_EVENT' | 'INVALID_ID' | 'ALREADY_EXISTS' | 'PROVIDER_ERROR'
  | 'PROVIDER_TIMEOUT' | 'PROVIDER_PROTOCOL_ERROR' | 'CANCELLED' | 'AI_NOT_CONFIGURED'
  | 'RATE_LIMIT_EXCEEDED' | 'SECRET_STORE_ERROR' | 'INTERRUPTED' | 'TOKEN_REVOKED' | 'TLS_REQUIRED'
  | 'LIMIT_REACHED' | 'OPERATION_ID_REUSED' | 'VERSION_UNCHANGED'
  // raised by the SDK itself
  | 'CLOSED' | 'TIMEOUT' | 'CONNECT_ERROR' | 'ERROR'
  | (string & {});

export declare class PrdClientError extends Error {
  constructor(code: string, message: string, extra?: Record<string, unknown>);
  code: ErrorCode;
  /** The event the error concerns (`content-update`, `ai-error`, `connect`, …). */
  event?: string;
  /** HTTP status (PrdRestClient). */
  status?: number;
  /** Seconds to wait (`RATE_LIMITED`, `RATE_LIMIT_EXCEEDED`). */
  retryAfter?: number;
  jobId?: string | null;
  reviewId?: string;
  operation?: WireOperation;
}

/** One delete and one insert that turn @a into @b. */
export declare function diffDeltas(a: string, b: string): Delta[];

export interface Person {
  id: string;
  name: string;
}

export type PresenceStatus = 'viewing' | 'editing' | 'ai-prompting';

export interface Selection {
  start: number;
  end: number;
}

/** A user in the room (`activeUsers`, `user-joined`, kept up to date by presence). */
export interface RoomUser {
  userId: string;
  name?: string;
  avatar?: string | null;
  status?: PresenceStatus;
  color?: string;
  siteId?: number;
  cursorPosition?: number | null;
  selection?: Selection | null;
  timestamp?: number;
}

// ---- /prds payloads ---------------------------------------------------------------------

export interface Comment {
  commentId: string;
  prdId: string;
  author: { id: string; name: string; avatar: string | null };
  position: number;
  content: string;
  /** `text` is at most the selection's first 1000 UTF-16 code units;
   *  `textTruncated` is `true` when it was cut. */
  selection?: { start: number; end: number; text: string; textTruncated?: boolean };
  createdAt: IsoTime;
  /** Every selected character was deleted. */
  detached?: boolean;
  /**
   * `comment-added` on the wire: the state vector of the hub's text the
   * offsets are in. The SDK's comments (`comments`, `getComments()`, its
   * `comment-added` event) have none: their offsets are read into the
   * client's own text.
   */
  stateVector?: number[];
  replies: CommentReply[];
}

export interface CommentReply {
  id: string;
  author: Person;
  content: string;
  createdAt: IsoTime;
}

export interface CommentReplied {
  commentId: string;
  reply: CommentReply;
}

export interface CommentResolved {
  commentId: string;
  resolvedBy: Person;
  resolvedAt: IsoTime;
}

export interface Conflict {
  position: number;
  yourChange: string;
  theirChange: string;
  conflictId: string;
}

export type ConflictResolution = 'yours' | 'theirs' | 'merge';

export interface ConflictDetected {
  prdId: string;
  conflicts: Conflict[];
}

export interface ConflictResolved {
  prdId: string;
  conflictId: string;
  resolution: ConflictResolution;
  resolvedBy: Person;
}

export interface JoinedPrd {
  prdId: string;
  title: string;
  mode: 'edit' | 'view';
  siteId?: number;
  initialState: { content: string; version: string; stateVector: number[]; encodedState: string };
  activeUsers: RoomUser[];
  comments: Comment[];
  /** The state vector of the hub's text `comments`' offsets are in (the whole CRDT of `encodedState`). */
  commentsStateVector?: number[];
  conflicts: Conflict[];
  siteConflict?: SiteConflict;
  /** The PRD is archived: read-only, `mode` is then always `view`. */
  archived?: boolean;
  /**
   * The hub's `[collab] max-operation-size`: the longest insert or delete
   * (UTF-16 units) one `content-update` may carry.
   */
  maxOperationSize: number;
  /** The hub's `[collab] max-document-size`: the longest text (UTF-16 units) the PRD may have. */
  maxDocumentSize: number;
}

export interface SiteConflict {
  code: 'SITE_CONFLICT';
  message: string;
  previousSiteId: number;
}

export type VersionType = 'major' | 'minor' | 'patch';

export interface Version {
  id: string;
  /** `X.Y.Z` */
  version: string;
  changelog: string;
  /** The git commit (40 hex digits). */
  commitHash: string;
  createdBy: Person;
  createdAt: IsoTime;
}

export interface VersionCreated {
  prdId: string;
  version: Version;
}

export interface GitCommit {
  prdId: string;
  commit: { hash: string; message: string; author: string; timestamp: IsoTime; files: string[] };
}

export interface AutoSaveStart {
  prdId: string;
  changesSince: IsoTime;
}

export interface AutoSaveComplete {
  prdId: string;
  savedAt: IsoTime;
  nextSaveIn: number;
}

export interface PrdApproved {
  prdId: string;
  approver: Person;
  comment?: string;
  approvedAt: IsoTime;
}

/** The hub's `storage-status`: its database refused a write, or takes writes again. */
export type StorageStatus =
  | { ok: false; code: 'STORAGE_ERROR'; message: string; timestamp: IsoTime }
  | { ok: true; timestamp: IsoTime };

/** `prd-updated`: the PRD was renamed, archived or unarchived. */
export interface PrdUpdated {
  prdId: string;
  prd: PrdSummary;
  by: Person;
  timestamp: IsoTime;
}

/** `prd-deleted`: the PRD is gone; the client's session ends. */
export interface PrdDeleted {
  prdId: string;
  by: Person;
  timestamp: IsoTime;
}

/** Why a PrdClient's session ended: close(), or the PRD was deleted. */
export interface ClosedEvent {
  reason: 'closed' | 'deleted';
  /** Local edits never acknowledged (dropped), those held for an archived PRD included. */
  pendingCount: number;
}

/** What refreshToken() resolves with. */
export type TokenRefreshed = { ok: true; exp: number } | { ok: true; offline: true };

export interface ServerNotice {
  message: string;
  timestamp: IsoTime;
}

export type SuggestionType = 'improvement' | 'diagram' | 'missing-section' | 'clarification' | 'risk' | 'example';

export interface AiPromptOptions {
  /** 1–4000 characters. */
  prompt: string;
  /** Slug of a heading. */
  section?: string;
  context?: { selectedText?: string; cursorPosition?: number; currentContent?: string };
  /** false: preview only, nothing is written (viewers may preview). */
  insert?: boolean;
}

export interface AiJobCreated {
  jobId: string;
  prdId: string;
  userId: string;
  status: 'queued';
  /** Seconds. */
  estimatedTime: number;
  /** 1 for the next job to start. */
  position: number;
}

export interface AiStreamStart {
  jobId: string;
  prdId: string;
  userId: string;
  section: string | null;
  insert: boolean;
}

export interface AiStreamChunk {
  jobId: string;
  chunk: string;
  position: number;
  isComplete: false;
}

export interface AiStreamComplete {
  jobId: string;
  prdId: string;
  fullResponse: string;
  tokensUsed: number;
  /** Milliseconds. */
  duration: number;
  suggestions: Array<{ type: SuggestionType; description: string }>;
  /**
   * Set when the client learnt of the job's end from the hub's record
   * (`ai-job-status` after a rejoin) instead of its `ai-stream-complete`:
   * `fullResponse` is then `''` and `suggestions` `[]`.
   */
  recovered?: true;
}

export type AiJobState = 'queued' | 'streaming' | 'complete' | 'failed' | 'cancelled';

/** The answer of `ai-job-status`. */
export interface AiJobStatus {
  jobId: string;
  prdId: string;
  state: AiJobState;
  tokensUsed: number;
  /** Milliseconds from start to end (0 while not ended). */
  duration: number;
  /** For a failed or cancelled job (`INTERRUPTED` when the hub stopped). */
  error?: { code: string; message: string };
}

export interface AiErrorPayload {
  jobId: string | null;
  prdId?: string;
  reviewId?: string;
  error: { code: ErrorCode; message: string; timestamp: IsoTime; retryAfter?: number; status?: number };
}

export interface ReviewSuggestion {
  type: SuggestionType;
  section: string | null;
  title: string;
  description: string;
  /** 0–1 */
  confidence: number;
}

export interface AiSuggestion {
  prdId: string;
  reviewId: string;
  suggestion: ReviewSuggestion;
}

export interface AiReviewComplete {
  prdId: string;
  reviewId: string;
  count: number;
}

export interface AiReview {
  reviewId: string;
  count: number;
  suggestions: ReviewSuggestion[];
}

export interface ChangeEvent {
  local: boolean;
  deltas: Delta[];
  userId: string | null;
  userName: string | null;
}

export interface RemoteChangeEvent {
  deltas: Delta[];
  userId: string | null;
  userName: string | null;
  operation: WireOperation | null;
}

export interface PresenceEvent {
  users: RoomUser[];
  user?: RoomUser;
  joined?: RoomUser;
  left?: { userId: string; name?: string };
}

export interface AckEvent {
  operation: unknown;
  stateVector: number[];
  duplicate: boolean;
}

/** Event name → listener arguments of PrdClient. */
export interface PrdClientEvents {
  change: [ChangeEvent];
  'remote-change': [RemoteChangeEvent];
  presence: [PresenceEvent];
  synced: [{ stateVector: number[] }];
  ack: [AckEvent];
  'site-conflict': [SiteConflict];
  status: ['connected' | 'joined' | 'offline' | 'closed', string?];
  error: [PrdClientError];
  'storage-status': [StorageStatus];
  'prd-updated': [PrdUpdated];
  'prd-deleted': [PrdDeleted];
  closed: [ClosedEvent];
  'comment-added': [Omit<Comment, 'replies'>];
  'comment-replied': [CommentReplied];
  'comment-resolved': [CommentResolved];
  'conflict-detected': [ConflictDetected];
  'conflict-resolved': [ConflictResolved];
  'version-created': [VersionCreated];
  'git-commit': [GitCommit];
  'auto-save-start': [AutoSaveStart];
  'auto-save-complete': [AutoSaveComplete];
  'prd-approved': [PrdApproved];
  'server-shutdown': [ServerNotice];
  'session-closed': [ServerNotice];
  'ai-job-created': [AiJobCreated];
  'ai-stream-start': [AiStreamStart];
  'ai-stream-chunk': [AiStreamChunk];
  'ai-stream-complete': [AiStreamComplete];
  'ai-error': [AiErrorPayload];
  'ai-suggestion': [AiSuggestion];
  'ai-review-complete': [AiReviewComplete];
}

export declare class Emitter<Events extends { [K in keyof Events]: unknown[] } = Record<string, unknown[]>> {
  on<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this;
  once<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this;
  off<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this;
  listenerCount(event: keyof Events & string): number;
  emit<K extends keyof Events & string>(event: K, ...args: Events[K]): boolean;
}

// ---- PrdClient ---------------------------------------------------------------------------

export interface PrdClientOptions {
  /** Hub base URL, e.g. `http://127.0.0.1:8080` (`/prds` is added). */
  url: string;
  /** JWT for the handshake (`auth.token`). */
  token: string;
  /** The PRD to join (`prd_…`). */
  prdId: string;
  mode?: 'edit' | 'view';
  /** socket.io-client's `io`. */
  io: IoFactory;
  /** Extra options for io() (`transports`, `reconnectionDelay`, …). */
  socketOptions?: Record<string, unknown>;
  /** content-updates sent ahead of their acks (64); an integer ≥ 1 (TypeError otherwise). */
  maxInFlight?: number;
  /** Minimum ms between two presence-update sends (50); a number ≥ 0 and ≤ 2147483647 (2^31 − 1). */
  presenceInterval?: number;
  /** Longest insert unsent typing is merged into, UTF-16 units (4096); an integer ≥ 1. */
  maxCoalesce?: number;
  /**
   * Longest insert or delete sent as one operation, UTF-16 units: the hub's
   * `[collab] max-operation-size` (65536); an integer ≥ 1. Longer ones go as
   * several, a surrogate pair never split: at 1, an edit holding one is
   * refused `PAYLOAD_TOO_LARGE`.
   */
  maxOperationSize?: number;
  /** Ms to wait for the ack of a request (30000); a number > 0 and ≤ 2147483647 (2^31 − 1). */
  requestTimeout?: number;
}

export interface EditOptions {
  /** A state vector this replica has: the position is read in that version. */
  base?: number[];
}

export declare class PrdClient extends Emitter<PrdClientEvents> {
  constructor(options: PrdClientOptions);
  readonly url: string;
  readonly prdId: string;
  readonly mode: 'edit' | 'view';
  /** The token's `sub`. */
  readonly userId: string | null;
  readonly siteId: number | null;
  /** This replica's random id, sent as `join-prd`'s `replicaId`. */
  readonly replicaId: string;
  readonly title: string | null;
  readonly version: string | null;
  readonly joined: boolean;
  /** The mode of the last `joined-prd` (`view` for an archived PRD). */
  readonly grantedMode: 'edit' | 'view' | null;
  /** Kept from `joined-prd` and `prd-updated`. */
  readonly archived: boolean;
  /** The hub deleted the PRD (`prd-deleted`, or `PRD_NOT_FOUND` on a rejoin). */
  readonly deleted: boolean;
  /** close() was called or the session ended. */
  readonly closed: boolean;
  readonly doc: CrdtDoc;
  readonly socket: SocketLike | null;
  readonly users: Map<string, RoomUser>;
  readonly comments: Map<string, Comment>;
  readonly conflicts: Map<string, Conflict>;
  maxInFlight: number;
  presenceInterval: number;
  maxCoalesce: number;
  maxOperationSize: number;
  /** The hub's `[collab] max-document-size` (from `joined-prd`); null before the first join. */
  readonly maxDocumentSize: number | null;
  requestTimeout: number;

  // connection
  connect(): Promise<JoinedPrd>;
  disconnect(): void;
  reconnect(): Promise<JoinedPrd>;
  /**
   * Leaves for good; edits made before it that the hub has not acknowledged
   * are still sent while joined: resolves once they are acknowledged (or
   * cannot be, at most `requestTimeout` later). Offline it closes at once.
   */
  close(): Promise<void>;
  /** `refresh-token`: the hub's ack with the fresh token's `exp`; offline, the token is only kept for reconnects. */
  refreshToken(token: string): Promise<TokenRefreshed>;
  /**
   * Any event with an ack; resolves with the ack, rejects with a
   * PrdClientError. Not joined, it waits for the join first (at most
   * `requestTimeout`, then rejects `NOT_JOINED`).
   */
  request<T extends { ok: true } = { ok: true; [key: string]: unknown }>(
    event: string, payload: unknown, onAck?: (ack: T) => void): Promise<T>;

  // document
  readonly text: string;
  getText(): string;
  readonly length: number;
  readonly stateVector: number[];
  readonly pendingCount: number;
  /**
   * True while the replica waits for the hub's state after the hub refused
   * an edit it holds: its text may differ from the hub's until then.
   */
  readonly resyncing: boolean;
  insert(position: number, text: string, options?: EditOptions): unknown;
  delete(position: number, length: number, options?: EditOptions): unknown;
  replace(position: number, length: number, text: string): void;
  whenSynced(): Promise<void>;
  /**
   * This replica's state vector as of the call, once the hub has
   * acknowledged this replica's own edits made before the call (at most
   * `requestTimeout`, then rejects `TIMEOUT`): what to send with offsets
   * read in this text. Between connections it waits for the next join
   * first (at most `requestTimeout`, then rejects `NOT_JOINED`); null after
   * disconnect(), while waiting for an unarchive, or when the join
   * re-applied those edits under other ids.
   */
  syncedVersion(): Promise<number[] | null>;

  // presence
  getUsers(): RoomUser[];
  getOthers(): RoomUser[];
  setCursor(position: number): void;
  setSelection(start: number, end: number): void;
  setStatus(status: PresenceStatus): void;

  // comments
  /**
   * Offsets read in this text at the call; read back past local edits held
   * for an archived PRD (a selection of nothing but such text: `FORBIDDEN`).
   */
  addComment(comment: { position: number; content: string; selection?: Selection }):
    Promise<{ commentId: string; unresolvedMentions: string[] }>;
  replyComment(commentId: string, content: string): Promise<{ replyId: string; unresolvedMentions: string[] }>;
  resolveComment(commentId: string): Promise<void>;
  /**
   * The open comments, their offsets read into this client's text when they
   * arrived (its unacknowledged edits included); a comment placed in
   * operations this client has not received yet is added (and
   * `comment-added` emitted) once they are here.
   */
  getComments(): Comment[];

  // versions and approvals
  /** With the edits made before the call; `FORBIDDEN` while some of them wait for an unarchive. */
  createVersion(options: { changelog: string; versionType?: VersionType; force?: boolean }): Promise<Version>;
  approve(options?: { comment?: string }): Promise<{ prdId: string; approvedAt: IsoTime }>;

  // conflicts
  getConflicts(): Conflict[];
  resolveConflict(conflictId: string, resolution: 'yours' | 'theirs'): Promise<void>;
  resolveConflict(conflictId: string, resolution: 'merge', mergedContent: string): Promise<void>;

  // AI
  aiPrompt(options: AiPromptOptions): Promise<{ jobId: string }>;
  whenAiJobDone(jobId: string): Promise<AiStreamComplete>;
  aiJobStatus(jobId: string): Promise<AiJobStatus>;
  aiCancel(jobId: string): Promise<void>;
  aiReview(): Promise<AiReview>;
}

// ---- NotificationsClient --------------------------------------------------------------------

export type NotificationType = 'mention' | 'comment_reply' | 'prd_approved' | 'version_created' | (string & {});

export interface Notification {
  id: string;
  type: NotificationType;
  title: string;
  message: string;
  data: Record<string, unknown> & { prdId?: string };
  timestamp: IsoTime;
}

export interface Activity {
  id: string;
  type: 'prd_created' | 'comment_added' | 'comment_resolved' | 'prd_approved' | 'version_created' | (string & {});
  actor: Person;
  object: { type: string; id: string; [key: string]: unknown };
  timestamp: IsoTime;
}

export interface ActivityUpdate {
  organizationId: string;
  activity: Activity;
}

export interface NotificationsClientEvents {
  notification: [Notification];
  'activity-update': [ActivityUpdate];
  status: ['connected' | 'offline', string?];
  error: [PrdClientError];
}

export interface NotificationsClientOptions {
  url: string;
  token: string;
  io: IoFactory;
  socketOptions?: Record<string, unknown>;
  /** Ms to wait for the ack of a request (30000); a number > 0 and ≤ 2147483647 (TypeError otherwise). */
  requestTimeout?: number;
}

export declare class NotificationsClient extends Emitter<NotificationsClientEvents> {
  constructor(options: NotificationsClientOptions);
  readonly socket: SocketLike | null;
  readonly organizationId: string | null;
  connect(): Promise<void>;
  subscribe(organizationId: string): Promise<{ organizationId: string; unread: number }>;
  markRead(ids: string[]): Promise<number>;
  /** `refresh-token`: the hub's ack with the fresh token's `exp`; offline, the token is only kept for reconnects. */
  refreshToken(token: string): Promise<TokenRefreshed>;
  /** Closes for good: connect(), subscribe() and requests under way reject `CLOSED`. */
  close(): void;
}

// ---- PrdRestClient ------------------------------------------------------------------------------

export interface PrdSummary {
  id: string;
  title: string;
  organizationId: string;
  owner: string;
  version: string;
  createdAt: IsoTime;
  updatedAt: IsoTime;
  archived: boolean;
  /** When it was archived; null unless archived. */
  archivedAt: IsoTime | null;
  [key: string]: unknown;
}

export interface Prd extends PrdSummary {
  content: string;
  stateVector: number[];
}

export interface ActivityPage {
  organizationId: string;
  activities: Activity[];
  nextBefore: string | null;
}

export interface PrdsPage {
  prds: PrdSummary[];
  /** The cursor of the next page (`after`), or null on the last one. */
  nextAfter: string | null;
}

export interface VersionsPage {
  prdId: string;
  versions: Version[];
  /** The cursor of the next page (`after`), or null on the last one. */
  nextAfter: string | null;
}

export interface NotificationRecord extends Notification {
  read: boolean;
}

export interface NotificationsPage {
  notifications: NotificationRecord[];
  nextBefore: string | null;
}

export interface Session {
  /** The socket id. */
  id: string;
  namespace: '/' | '/prds' | '/notifications';
  user: Person;
  role: 'viewer' | 'editor' | 'admin';
  transport: 'websocket' | 'polling';
  connectedSince: IsoTime;
  prds: Array<{ prdId: string; mode: 'edit' | 'view'; status: PresenceStatus }>;
}

/** At least one of title and archived. */
export type PrdUpdate =
  | { title: string; archived?: boolean }
  | { title?: string; archived: boolean };

export interface PrdRestClientOptions {
  url: string;
  token: string;
  /** Defaults to globalThis.fetch. */
  fetch?: (input: string, init?: any) => Promise<any>;
}

export declare class PrdRestClient {
  constructor(options: PrdRestClientOptions);
  readonly url: string;
  token: string;
  health(): Promise<{ status: 'ok' }>;
  /**
   * Not archived (default), only archived (`true`) or both (`'all'`), oldest
   * first: every page (one request per 100), or with `limit` (1–100) the first `limit`.
   */
  listPrds(query?: { archived?: boolean | 'all'; limit?: number }): Promise<PrdSummary[]>;
  /** One page of `GET /api/prds`; pass `nextAfter` as `after` for the next one. */
  listPrdsPage(query?: { archived?: boolean | 'all'; limit?: number; after?: string | null }):
    Promise<PrdsPage>;
  /** `PATCH /api/prds/{id}`. */
  updatePrd(prdId: string, update: PrdUpdate): Promise<PrdSummary>;
  archivePrd(prdId: string): Promise<PrdSummary>;
  unarchivePrd(prdId: string): Promise<PrdSummary>;
  /** The PRD's owner or an admin. */
  deletePrd(prdId: string, options?: { purgeVersions?: boolean }):
    Promise<{ prdId: string; deleted: true; purgedVersions: number }>;
  /** `POST /api/prds/{id}/versions`; `VERSION_UNCHANGED` (409) for an unchanged text unless `force`. */
  createVersion(prdId: string, options: { changelog: string; versionType?: VersionType; force?: boolean }):
    Promise<Version>;
  notifications(query?: { unread?: boolean; limit?: number; before?: string | null }): Promise<NotificationsPage>;
  markNotificationsRead(ids: string[]): Promise<number>;
  /** Admins only. */
  listSessions(): Promise<Session[]>;
  createPrd(prd: { title: string; content?: string }): Promise<PrdSummary>;
  getPrd(prdId: string): Promise<Prd>;
  exportMarkdown(prdId: string): Promise<string>;
  /** Oldest first: every page (one request per 100), or with `limit` (1–100) the first `limit`. */
  listVersions(prdId: string, query?: { limit?: number }): Promise<Version[]>;
  /** One page of `GET /api/prds/{id}/versions`; pass `nextAfter` as `after` for the next one. */
  listVersionsPage(prdId: string, query?: { limit?: number; after?: string | null }):
    Promise<VersionsPage>;
  getVersionText(prdId: string, version: string): Promise<string>;
  diff(prdId: string, from: string, to: string): Promise<string>;
  listComments(prdId: string): Promise<Comment[]>;
  activity(query: { organizationId: string; limit?: number; before?: string | null }): Promise<ActivityPage>;
}
