-- A prdhub database at schema version 8, made by the store of commit 732c3dc
-- (two PRDs: one with a snapshot after update 3 and updates 4-5, one with
-- updates 1-5 and no snapshot). test-store opens it to check the migrations
-- that come after version 8.
PRAGMA user_version = 8;
PRAGMA application_id = 1347568712;
CREATE TABLE ai_jobs (  id TEXT PRIMARY KEY NOT NULL,  prd_id TEXT NOT NULL,  user_id TEXT NOT NULL,  prompt TEXT NOT NULL,  section TEXT,  state TEXT NOT NULL,  tokens INTEGER NOT NULL DEFAULT 0,  duration INTEGER NOT NULL DEFAULT 0,  error_code TEXT,  error_message TEXT,  created_at INTEGER NOT NULL,  updated_at INTEGER NOT NULL);
CREATE TABLE conflicts (  id TEXT PRIMARY KEY NOT NULL,  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,  position INTEGER NOT NULL,  created_at INTEGER NOT NULL,  parties TEXT NOT NULL);
CREATE TABLE integration_deliveries (  org TEXT NOT NULL,  service TEXT NOT NULL,  delivery_id TEXT NOT NULL,  received_at INTEGER NOT NULL,  PRIMARY KEY (org, service, delivery_id));
CREATE TABLE integration_links (  org TEXT NOT NULL,  service TEXT NOT NULL,  prd_id TEXT NOT NULL,  remote_key TEXT NOT NULL,  remote_id TEXT,  url TEXT,  title TEXT NOT NULL,  digest TEXT NOT NULL,  position INTEGER NOT NULL,  status TEXT,  updated_at INTEGER NOT NULL,  PRIMARY KEY (org, service, remote_key));
CREATE TABLE integration_settings (  org TEXT NOT NULL,  service TEXT NOT NULL,  settings TEXT NOT NULL,  updated_at INTEGER NOT NULL,  PRIMARY KEY (org, service));
CREATE TABLE prd_sites (  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,  site INTEGER NOT NULL,  user_id TEXT NOT NULL,  clock INTEGER NOT NULL DEFAULT 0,  created_at INTEGER NOT NULL,  PRIMARY KEY (prd_id, site)) WITHOUT ROWID;
INSERT INTO "prd_sites" VALUES('prd_with_snapshot',0,'alice',5,1796587810068759);
INSERT INTO "prd_sites" VALUES('prd_without_snapshot',0,'alice',5,1796587810071392);
CREATE TABLE prd_updates (  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,  seq INTEGER NOT NULL,  site INTEGER NOT NULL,  clock INTEGER NOT NULL,  user_id TEXT NOT NULL,  payload BLOB NOT NULL,  created_at INTEGER NOT NULL,  PRIMARY KEY (prd_id, seq)) WITHOUT ROWID;
INSERT INTO "prd_updates" VALUES('prd_with_snapshot',4,0,4,'alice',X'7570646174652D342D6F662D7072645F776974685F736E617073686F74',1796587810070525);
INSERT INTO "prd_updates" VALUES('prd_with_snapshot',5,0,5,'alice',X'7570646174652D352D6F662D7072645F776974685F736E617073686F74',1796587810070838);
INSERT INTO "prd_updates" VALUES('prd_without_snapshot',1,0,1,'alice',X'7570646174652D312D6F662D7072645F776974686F75745F736E617073686F',1796587810071632);
INSERT INTO "prd_updates" VALUES('prd_without_snapshot',2,0,2,'alice',X'7570646174652D322D6F662D7072645F776974686F75745F736E617073686F',1796587810071897);
INSERT INTO "prd_updates" VALUES('prd_without_snapshot',3,0,3,'alice',X'7570646174652D332D6F662D7072645F776974686F75745F736E617073686F',1796587810072155);
INSERT INTO "prd_updates" VALUES('prd_without_snapshot',4,0,4,'alice',X'7570646174652D342D6F662D7072645F776974686F75745F736E617073686F',1796587810072415);
INSERT INTO "prd_updates" VALUES('prd_without_snapshot',5,0,5,'alice',X'7570646174652D352D6F662D7072645F776974686F75745F736E617073686F',1796587810072682);
CREATE TABLE prds (  id TEXT PRIMARY KEY NOT NULL,  org TEXT NOT NULL,  title TEXT NOT NULL,  version TEXT NOT NULL DEFAULT '0.1.0',  owner TEXT NOT NULL,  created_at INTEGER NOT NULL,  updated_at INTEGER NOT NULL,  snapshot BLOB,  snapshot_seq INTEGER NOT NULL DEFAULT 0,  last_seq INTEGER NOT NULL DEFAULT 0, archived_at INTEGER NOT NULL DEFAULT 0);
INSERT INTO "prds" VALUES('prd_with_snapshot','acme','Snapshot','0.1.0','alice',1796587810068367,1796587810070838,X'73746174652D61667465722D33',3,5,0);
INSERT INTO "prds" VALUES('prd_without_snapshot','acme','No snapshot','0.1.0','alice',1796587810071123,1796587810072682,NULL,0,5,0);
CREATE TABLE social_activity (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  id TEXT UNIQUE NOT NULL,  org TEXT NOT NULL,  payload TEXT NOT NULL);
CREATE TABLE social_approvals (  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,  approver_id TEXT NOT NULL,  approver_name TEXT NOT NULL,  comment TEXT,  created_at INTEGER NOT NULL);
CREATE TABLE social_comments (  id TEXT PRIMARY KEY NOT NULL,  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,  org TEXT NOT NULL,  author_id TEXT NOT NULL,  author_name TEXT NOT NULL,  author_avatar TEXT,  content TEXT NOT NULL,  anchor TEXT NOT NULL,  created_at INTEGER NOT NULL,  resolved_by_id TEXT,  resolved_by_name TEXT,  resolved_at INTEGER);
CREATE TABLE social_notifications (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  id TEXT UNIQUE NOT NULL,  user_id TEXT NOT NULL,  org TEXT NOT NULL,  payload TEXT NOT NULL,  read INTEGER NOT NULL DEFAULT 0);
CREATE TABLE social_replies (  id TEXT PRIMARY KEY NOT NULL,  comment_id TEXT NOT NULL REFERENCES social_comments (id) ON DELETE CASCADE,  author_id TEXT NOT NULL,  author_name TEXT NOT NULL,  content TEXT NOT NULL,  created_at INTEGER NOT NULL);
CREATE TABLE token_revocations (  org TEXT NOT NULL,  user_id TEXT NOT NULL,  revoked_at INTEGER NOT NULL,  PRIMARY KEY (org, user_id));
CREATE TABLE versions (  id TEXT PRIMARY KEY NOT NULL,  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,  version TEXT NOT NULL,  commit_hash TEXT NOT NULL,  changelog TEXT NOT NULL,  created_by_id TEXT NOT NULL,  created_by_name TEXT NOT NULL,  created_at INTEGER NOT NULL,  UNIQUE (prd_id, version));
CREATE INDEX prds_by_org ON prds (org, created_at, id);
CREATE UNIQUE INDEX prd_updates_by_id ON prd_updates (prd_id, site, clock);
CREATE INDEX prd_sites_by_user ON prd_sites (prd_id, user_id, site);
CREATE INDEX social_comments_by_prd ON social_comments (prd_id, created_at);
CREATE INDEX social_replies_by_comment ON social_replies (comment_id, created_at);
CREATE INDEX social_notifications_unread ON social_notifications (user_id, org, read, seq);
CREATE INDEX social_activity_by_org ON social_activity (org, seq);
CREATE INDEX ai_jobs_by_state ON ai_jobs (state);
CREATE INDEX conflicts_by_prd ON conflicts (prd_id);
CREATE INDEX integration_links_by_prd ON integration_links (org, service, prd_id);
DELETE FROM "sqlite_sequence";
