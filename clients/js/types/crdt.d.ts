// SPDX-License-Identifier: GPL-3.0-or-later
//
// Types of @prdhub/client/crdt: the hub's text CRDT (docs/crdt.md).

/** A CRDT operation as it travels in content-update and sync-response. */
export interface WireOperation {
  type: 'insert' | 'delete';
  /** UTF-16 position in the sender's base version (or, relayed, in the hub's text). */
  position: number;
  /** Inserted text (insert). */
  content?: string;
  /** Deleted UTF-16 units (delete). */
  length?: number;
  /** Milliseconds since the epoch, as Date.now(). */
  timestamp?: number;
  /** `[site, clock]` of the first character (relayed by the hub). */
  id?: [number, number];
  clock?: number;
  origin?: [number, number] | null;
  rightOrigin?: [number, number] | null;
  /** Deleted ranges `[site, clock, length]` (delete, relayed by the hub). */
  targets?: Array<[number, number, number]>;
}

/** A text change to apply to an editor view, in order. */
export type Delta =
  | { type: 'insert'; position: number; text: string }
  | { type: 'delete'; position: number; length: number };

/** An operation in CRDT form (internal representation; opaque to most callers). */
export interface CrdtOp {
  type: 'insert' | 'delete';
  site: number;
  seq: number;
  clock: number;
  timestamp: number;
  content?: string;
  length?: number;
  position?: number;
  [key: string]: unknown;
}

export declare const NONE: -1;
export declare const MAX_SITES: number;
export declare const MAX_PENDING: number;
export declare const MAX_INSERT_UNITS: number;
export declare const FORMAT_VERSION: number;
/** Version of the encoded document state the hub writes (version 1 is still read). */
export declare const STATE_VERSION: number;

export declare class CrdtError extends Error {
  constructor(code: string, message: string);
  /** `INVALID_OPERATION`, `CORRUPT_DATA`, `UNSUPPORTED_VERSION`, … */
  code: string;
}

/** Whether @s has no lone surrogate. */
export declare function isWellFormed(s: string): boolean;
export declare function opFromJson(json: WireOperation): CrdtOp;
export declare function opToJson(op: CrdtOp): WireOperation;
export declare function base64ToBytes(b64: string): Uint8Array;

/** A place in the text tied to a character id. */
export interface CrdtAnchor {
  id?: [number, number];
  assoc: 'before' | 'after';
}

export interface LocalEditOptions {
  /** State vector the position is read in (default: the current one). */
  base?: number[];
  timestamp?: number;
}

export declare class CrdtDoc {
  constructor();
  /** Decodes the hub's encoded state (base64 of `prd_crdt_doc_encode_state`). */
  static decodeState(data: string | Uint8Array): CrdtDoc;
  readonly length: number;
  readonly nPending: number;
  siteOps(site: number): number;
  siteClock(site: number): number;
  stateVector(): number[];
  getText(): string;
  getTextAt(vector: number[]): string;
  hasSameOp(op: CrdtOp): boolean;
  localInsert(site: number, position: number, text: string, options?: LocalEditOptions): { op: CrdtOp; deltas: Delta[] };
  /** Inserts @text right after the character @origin (deleted or not); null when @site deleted it. */
  insertAfter(site: number, origin: [number, number] | null, text: string, options?: { timestamp?: number }):
    { op: CrdtOp; deltas: Delta[]; base: number[]; basePosition: number } | null;
  extendLastInsert(site: number, text: string): Delta[] | null;
  localDelete(site: number, position: number, length: number, options?: LocalEditOptions): { op: CrdtOp; deltas: Delta[] };
  applyRemote(json: WireOperation): { deltas: Delta[] };
  anchorAt(position: number, assoc?: 'before' | 'after'): CrdtAnchor;
  resolveAnchor(anchor: CrdtAnchor): number;
  /**
   * Where offsets of the current text are in the older version @vector:
   * each before the character at it ('after') or after the one before it
   * ('before'), where that character would be when @vector lacks it.
   */
  positionsAt(places: Array<[number, 'before' | 'after']>, vector: number[]): number[];
  /**
   * The inverse of positionsAt(): where offsets of the older version
   * @vector are in the current text, each tied to the character after it
   * ('after') or before it ('before') in that version; where that
   * character would be when it was deleted since.
   */
  positionsFrom(places: Array<[number, 'before' | 'after']>, vector: number[]): number[];
  /** positionsFrom(), and whether each place's character was deleted since. */
  placesFrom(places: Array<[number, 'before' | 'after']>, vector: number[]): { positions: number[]; deleted: boolean[] };
}
