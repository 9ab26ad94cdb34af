/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The versions repository: one bare git repository written through libgit2
 * (but for packed-refs, see "Compaction" below). Every version is a commit
 * on PRD_GIT_BRANCH whose tree holds the latest committed version of every
 * PRD as `<prdId>.md` (so a clone checks out all PRDs), and an annotated
 * tag `<prdId>/v<version>` on that commit.
 *
 * libgit2 blocks on disk, so every call runs in a GTask thread; a mutex
 * keeps one operation at a time on the repository, which also keeps the
 * branch linear (a compaction packs objects beside them: see
 * "Compaction"). libgit2's errors are turned into PRD_ERROR_STORAGE here.
 *
 * Durability: libgit2 fsyncs what it writes into the repository
 * (GIT_OPT_ENABLE_FSYNC_GITDIR), so a version acknowledged after its
 * commit, tag and database record survives a power loss like the record.
 * A version's tag is written before the branch moves onto its commit, and
 * an existing tag is never moved: a crash between the commit and the
 * database record leaves a tag no record names, and the next version of
 * that PRD takes the next free number (prd_git_repo_commit_async() fails
 * with PRD_ERROR_ALREADY_EXISTS). A process killed while writing leaves
 * `*.lock` files behind; prd_git_repo_init_async(), called by the hub that
 * holds the data folder's lock, removes them, and the unfinished pack of a
 * killed compaction.
 */
#define G_LOG_DOMAIN "prd-git"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <git2.h>

#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-private-file.h"
#include "prd-store.h"

#include "prd-git-repo.h"
#include "prd-git-repo-private.h"

struct _PrdGitRepo
{
  GObject parent_instance;

  char *path;
  GMutex lock;            /* guards repo and purged; held for a whole operation */
  git_repository *repo;   /* (nullable) opened on first use */
  gboolean locks_removed; /* stale lock files were looked for (prd_git_repo_init_async()) */
  guint loose_objects;    /* objects written loose since they were last counted or packed */
  gboolean compacting;    /* a compaction was started and has not finished */
  GCond compacted;        /* signalled with lock when a compaction finishes */
  GMutex compact_lock;    /* held by the one compaction running (taken before lock) */
  PrdGitRepoCompactHook compact_hook; /* (nullable) tests only */
  gpointer compact_hook_data;
  /* PRDs whose versions were purged, with when (monotonic µs): a commit for
   * one that was asked for before the purge, and runs after it, would bring
   * the text back. Kept for PURGED_KEEP_USEC. */
  GHashTable *purged;
};

#define PURGED_KEEP_USEC (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)

G_DEFINE_FINAL_TYPE (PrdGitRepo, prd_git_repo, G_TYPE_OBJECT)

typedef struct
{
  char *prd_id;
  char *version;
  char *to_version;
  char *content;
  char *message;
  char *author_name;
  char *author_email;
  gint64 time_usec;
} Op;

static void
op_free (Op *op)
{
  g_free (op->prd_id);
  g_free (op->version);
  g_free (op->to_version);
  g_free (op->content);
  g_free (op->message);
  g_free (op->author_name);
  g_free (op->author_email);
  g_free (op);
}

/* libgit2 keeps its last error per thread until the next one, and some of
 * its failures set none (a write that fails in its file buffer, such as on
 * a full disk): every expected failure (a lookup that finds nothing) is
 * cleared where it is handled, so that what is reported here is this
 * failure's, and without one the system's last error is the best clue. */
static gboolean
set_git_error (int rc, const char *what, GError **error)
{
  int saved_errno = errno;
  const git_error *last = git_error_last ();

  if (last != NULL && last->message != NULL)
    g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "%s: %s (libgit2 error %d)", what,
                 last->message, rc);
  else if (saved_errno != 0)
    g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                 "%s: unknown libgit2 error (libgit2 error %d; last system error: %s)", what, rc,
                 g_strerror (saved_errno));
  else
    g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                 "%s: unknown libgit2 error (libgit2 error %d)", what, rc);
  git_error_clear ();
  return FALSE;
}

/**
 * prd_git_validate_version:
 *
 * Accepts MAJOR.MINOR.PATCH with decimal parts without leading zeros, the
 * only shape that ever reaches a ref name.
 */
gboolean
prd_git_validate_version (const char *version, GError **error)
{
  guint parts = 0;
  const char *p = version;

  if (version == NULL || strlen (version) > PRD_STORE_VERSION_MAX_BYTES)
    goto bad;
  while (TRUE)
    {
      const char *start = p;

      while (g_ascii_isdigit (*p))
        p++;
      if (p == start || p - start > 9 || (*start == '0' && p - start > 1))
        goto bad;
      parts++;
      if (*p == '\0')
        break;
      if (*p != '.')
        goto bad;
      p++;
    }
  if (parts == 3)
    return TRUE;
bad:
  g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
               "\"%s\" is not a version (MAJOR.MINOR.PATCH)", version != NULL ? version : "");
  return FALSE;
}

char *
prd_git_tag_name (const char *prd_id, const char *version)
{
  return g_strdup_printf ("%s/v%s", prd_id, version);
}

/* What libgit2's git_signature_new() trims from both ends of a name or an
 * address (libgit2 1.x, signature.c: is_crud()). */
static gboolean
is_signature_crud (guchar c)
{
  return c <= 32 || strchr (".,:;<>\"\\'", c) != NULL;
}

/* Angle brackets and line breaks would corrupt the commit header; a value
 * libgit2 would trim to nothing ("." or "'" as a name) makes
 * git_signature_new() fail, so @fallback (or "unknown") stands for it. */
static char *
signature_part (const char *value, const char *fallback)
{
  const char *candidates[] = { value, fallback, "unknown" };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autofree char *copy = NULL;

      if (candidates[i] == NULL)
        continue;
      copy = g_strdup (candidates[i]);
      for (char *p = copy; *p != '\0'; p++)
        if (*p == '<' || *p == '>' || *p == '\n' || *p == '\r')
          *p = '-';
      g_strstrip (copy);
      for (const char *p = copy; *p != '\0'; p++)
        if (!is_signature_crud ((guchar) *p))
          return g_steal_pointer (&copy);
    }
  g_assert_not_reached ();
}

/* The version's author and committer: a name libgit2 would trim to
 * nothing stands in as the author's address up to its last '@' (the user
 * id in the hub's `<userId>@<org>`). */
static int
new_signature (git_signature **out, const char *author_name, const char *author_email, gint64 usec)
{
  const char *at = author_email != NULL ? strrchr (author_email, '@') : NULL;
  g_autofree char *user =
      at != NULL ? g_strndup (author_email, at - author_email) : g_strdup (author_email);
  g_autofree char *name = signature_part (author_name, user);
  g_autofree char *email = signature_part (author_email, NULL);

  return git_signature_new (out, name, email, usec / G_USEC_PER_SEC, 0);
}

static gpointer
init_libgit2 (gpointer data)
{
  git_libgit2_init ();
  /* Objects, refs and packs are fsynced before they are renamed into
   * place, as SQLite's synchronous=FULL does for the version's record. */
  git_libgit2_opts (GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
  return NULL;
}

static void
remove_lock_file (const char *path)
{
  if (g_unlink (path) == 0)
    g_message ("Removed %s, a lock file a stopped process left in the versions repository", path);
  else if (errno != ENOENT)
    g_warning ("Cannot remove the stale lock file %s: %s", path, g_strerror (errno));
}

static void
remove_lock_files_under (const char *dir, guint depth)
{
  g_autoptr (GDir) listing = NULL;
  const char *name;

  /* Ref names have a bounded number of components: a deeper tree is not
   * the hub's. */
  if (depth > 16 || (listing = g_dir_open (dir, 0, NULL)) == NULL)
    return;
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_lock_files_under (path, depth + 1);
      else if (g_str_has_suffix (name, ".lock"))
        remove_lock_file (path);
    }
}

/* The lock files libgit2 writes next to a ref, packed-refs, HEAD, the
 * config or the index, and renames into place once written: one that is
 * still there was left by a process killed in between, and blocks every
 * later write of that file. Only the process holding the data folder's
 * lock writes the repository, so none is in use. Lock held. */
static void
remove_stale_locks (PrdGitRepo *self)
{
  static const char *const top[] = { "HEAD.lock", "packed-refs.lock", "config.lock", "index.lock" };
  g_autofree char *refs = g_build_filename (self->path, "refs", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (top); i++)
    {
      g_autofree char *path = g_build_filename (self->path, top[i], NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        remove_lock_file (path);
    }
  remove_lock_files_under (refs, 0);
}

/* Called with the lock held, on a worker thread. */
static gboolean
ensure_open (PrdGitRepo *self, gboolean create, GError **error)
{
  git_repository_init_options options = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  int rc;

  /* what an earlier operation of this thread left is not this one's */
  git_error_clear ();
  if (self->repo != NULL)
    return TRUE;
  rc = git_repository_open_bare (&self->repo, self->path);
  if (rc == 0)
    goto opened;
  if (rc != GIT_ENOTFOUND)
    return set_git_error (rc, "Cannot open the versions repository", error);
  git_error_clear ();
  if (!create)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "No version has been created");
      return FALSE;
    }
  /* Made the owner's only from the start (libgit2 would follow the umask,
   * and the folder be restricted below, with a message meant for an older
   * hub's repository). */
  if (g_mkdir_with_parents (self->path, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                   "Cannot create the versions repository %s: %s", self->path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  options.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
  options.initial_head = "main";
  options.description = "prdhub: versions of the PRDs";
  rc = git_repository_init_ext (&self->repo, self->path, &options);
  if (rc != 0)
    return set_git_error (rc, "Cannot create the versions repository", error);

opened:
  /* Every organization's PRDs are in it: the folder is the owner's only
   * (what is inside cannot be reached through it). */
  if (!prd_private_file_restrict (self->path, error))
    {
      g_clear_pointer (&self->repo, git_repository_free);
      return FALSE;
    }
  return TRUE;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_packbuilder, git_packbuilder_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_odb, git_odb_free)

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Compaction.
 *
 * libgit2 writes every object as a file of its own (objects/xx/…) and
 * every ref as a file under refs/, and has no `git gc`: four objects and
 * two ref writes a version, mostly file-system blocks. Once
 * PRD_GIT_REPO_PACK_LOOSE_OBJECTS objects were written loose (counted by
 * the commits and purges of this process, and once when the repository is
 * opened, since the git integration's thread writes into it too), a
 * compaction starts on a worker thread of its own (start_compaction(); at
 * init, before init answers), one at a time (compact_lock, and the
 * `compacting` flag so that no second one is queued). It packs every loose
 * object into one new pack (libgit2 fsyncs the pack, its index and their
 * folder, and renames them into place), and only then removes the loose
 * files it packed: a crash in between leaves objects in both places, which
 * readers accept. Every object is packed, reachable or not (compaction
 * deletes nothing: the git integration may have written objects no ref
 * names yet). With PRD_GIT_REPO_PACK_MAX_PACKS packs already there, the
 * new pack holds every object of the repository and the older packs are
 * removed after it is in place.
 *
 * The objects are packed WITHOUT the repository's lock, through a libgit2
 * handle of the compaction's own (versions are created and read
 * meanwhile), because objects never change and nothing is changed in place
 * (libgit2 1.5.1 sources, src/libgit2/):
 * - The listing of loose objects names complete files only: libgit2 writes
 *   an object as objects/tmp_object_git2_* and renames it to its name
 *   (odb_loose.c, git_filebuf_commit_at()). One written after the listing
 *   is not in it, so it is neither packed nor removed.
 * - The new pack is used only once complete: git_packbuilder_write()
 *   writes both files under temporary names and renames the .idx and then
 *   the .pack into place (indexer.c), and a scan of the pack folder skips
 *   an .idx whose .pack is not there (git_packfile_alloc(), pack.c).
 * - A reader that misses an object (a loose file removed after the pack
 *   went into place, or a removed pack whose file it had not opened, which
 *   git_pack_entry_find() in pack.c reports as not found) looks again:
 *   git_odb_read(), git_odb__read_header_or_object() and git_odb_exists()
 *   call git_odb_refresh() on GIT_ENOTFOUND (odb.c), which rescans the pack
 *   folder and finds the new pack. A pack it has open stays readable after
 *   its files are removed.
 * - A writer first asks git_odb__freshen() (odb.c) whether the object is
 *   there, refreshing on a miss as readers do; found, nothing is written;
 *   not found (a race with a removal), it is written loose again: a
 *   duplicate of a packed object, which the next compaction packs.
 * Only what is ordered with commits and purges then runs under the lock:
 * the refs moved into packed-refs (which purges rewrite too) and, after a
 * full repack, reopening the repository's own handle (it keeps the packs
 * it read open, and so their disk space).
 *
 * The full repack is kept (not a merge of the small packs only): it no
 * longer holds up versions, runs once every PRD_GIT_REPO_PACK_MAX_PACKS
 * compactions (about 2,000 versions), and is the only step that gets the
 * repository back to one pack.
 *
 * The loose refs under refs/heads/ and refs/tags/, which only this object
 * writes, move into packed-refs: written as packed-refs.lock, fsynced,
 * renamed into place, the folder fsynced, and only then each loose file
 * that still names what was packed is removed (write_packed_refs(), which
 * a purge uses too: libgit2's git_tag_delete() rewrites and fsyncs the
 * whole file once per packed tag). Whoever reads the loose refs first and
 * packed-refs next (libgit2's lookup, git, list_ref_names()) finds every
 * ref at any moment. The git integration's refs (refs/prdhub/) stay loose:
 * its thread deletes them through its own handle, and libgit2 deletes a
 * packed ref by rewriting packed-refs from what it read before taking the
 * lock, so two handles rewriting the file could each drop what the other
 * just wrote (git_refdb_compress() packs every ref, so it is not used). */

/* Whether @s begins with @n lowercase hexadecimal digits. */
static gboolean
is_hex (const char *s, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  return TRUE;
}

/* The ids of the loose objects (objects/<2 hex>/<38 hex>; a writer's
 * temporary file is not one), added to @oids. */
static gboolean
list_loose_objects (const char *objects_dir, GArray *oids, GError **error)
{
  for (guint fan = 0; fan < 256; fan++)
    {
      char prefix[3];
      g_autofree char *dir = NULL;
      g_autoptr (GDir) listing = NULL;
      g_autoptr (GError) local_error = NULL;
      const char *name;

      g_snprintf (prefix, sizeof prefix, "%02x", fan);
      dir = g_build_filename (objects_dir, prefix, NULL);
      if ((listing = g_dir_open (dir, 0, &local_error)) == NULL)
        {
          if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            continue;
          g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot list the objects in %s: %s",
                       dir, local_error->message);
          return FALSE;
        }
      while ((name = g_dir_read_name (listing)) != NULL)
        {
          char hex[GIT_OID_HEXSZ + 1];
          git_oid oid;

          if (strlen (name) != GIT_OID_HEXSZ - 2 || !is_hex (name, GIT_OID_HEXSZ - 2))
            continue;
          g_snprintf (hex, sizeof hex, "%s%s", prefix, name);
          if (git_oid_fromstr (&oid, hex) == 0)
            g_array_append_val (oids, oid);
        }
    }
  return TRUE;
}

/* The names (pack-<hex>) of the packs in @pack_dir. */
static GPtrArray *
list_packs (const char *pack_dir, GError **error)
{
  g_autoptr (GPtrArray) packs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) listing = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *name;

  if ((listing = g_dir_open (pack_dir, 0, &local_error)) == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&packs);
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot list the packs in %s: %s", pack_dir,
                   local_error->message);
      return NULL;
    }
  while ((name = g_dir_read_name (listing)) != NULL)
    if (g_str_has_prefix (name, "pack-") && g_str_has_suffix (name, ".pack"))
      g_ptr_array_add (packs, g_strndup (name, strlen (name) - strlen (".pack")));
  return g_steal_pointer (&packs);
}

/* The temporary files of a pack being written (libgit2 names them
 * pack_git2_*) that a killed compaction left. Lock held, at init. */
static void
remove_stale_pack_files (PrdGitRepo *self)
{
  g_autofree char *pack_dir = g_build_filename (self->path, "objects", "pack", NULL);
  g_autoptr (GDir) listing = g_dir_open (pack_dir, 0, NULL);
  const char *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    if (g_str_has_prefix (name, "pack_git2_"))
      {
        g_autofree char *path = g_build_filename (pack_dir, name, NULL);

        if (g_unlink (path) == 0)
          g_message ("Removed %s, a pack a stopped process was writing", path);
        else if (errno != ENOENT)
          g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
      }
}

static int
insert_object (const git_oid *oid, void *payload)
{
  return git_packbuilder_insert (payload, oid, NULL);
}

static gboolean
add_loose_ref_names (const char *dir, const char *prefix, GHashTable *names, GError **error);

typedef struct
{
  char *oid;    /* (owned) 40 hex digits */
  char *peeled; /* (owned) (nullable) what an annotated tag names */
} PackedRef;

static void
packed_ref_free (PackedRef *ref)
{
  g_free (ref->oid);
  g_free (ref->peeled);
  g_free (ref);
}

/* The refs of packed-refs into @refs (name → PackedRef); a line that is
 * not one of git's fails. */
static gboolean
read_packed_refs (const char *path, GHashTable *refs, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  PackedRef *last = NULL;

  if (!g_file_get_contents (path, &text, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot read %s: %s", path,
                   local_error->message);
      return FALSE;
    }
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      if (line[0] == '\0' || line[0] == '#')
        continue;
      if (line[0] == '^' && last != NULL && strlen (line) == GIT_OID_HEXSZ + 1 &&
          is_hex (line + 1, GIT_OID_HEXSZ))
        {
          g_free (last->peeled);
          last->peeled = g_strdup (line + 1);
          continue;
        }
      if (strlen (line) > GIT_OID_HEXSZ + 1 && is_hex (line, GIT_OID_HEXSZ) &&
          line[GIT_OID_HEXSZ] == ' ')
        {
          last = g_new0 (PackedRef, 1);
          last->oid = g_strndup (line, GIT_OID_HEXSZ);
          g_hash_table_replace (refs, g_strdup (line + GIT_OID_HEXSZ + 1), last);
          continue;
        }
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "%s has a line git does not write: %s",
                   path, line);
      return FALSE;
    }
  return TRUE;
}

/* Writes @text to @path (created, not there before: a lock) and fsyncs it. */
static gboolean
write_new_file (const char *path, const char *text, GError **error)
{
  gsize left = strlen (text);
  int fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  if (fd < 0)
    return prd_private_file_set_errno_error (error, errno, "Cannot create", path);
  while (left > 0)
    {
      gssize n = write (fd, text, left);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved_errno = n < 0 ? errno : ENOSPC;

          close (fd);
          g_unlink (path);
          return prd_private_file_set_errno_error (error, saved_errno, "Cannot write", path);
        }
      text += n;
      left -= (gsize) n;
    }
  if (fsync (fd) != 0)
    {
      int saved_errno = errno;

      close (fd);
      g_unlink (path);
      return prd_private_file_set_errno_error (error, saved_errno, "Cannot flush to disk", path);
    }
  close (fd);
  return TRUE;
}

/* Replaces packed-refs with @packed (name → PackedRef): written as
 * packed-refs.lock (the lock libgit2 and git take to write it), fsynced,
 * renamed into place, and the folder fsynced. Lock held. */
static gboolean
write_packed_refs (PrdGitRepo *self, GHashTable *packed, GError **error)
{
  g_autofree char *packed_path = g_build_filename (self->path, "packed-refs", NULL);
  g_autofree char *lock_path = g_build_filename (self->path, "packed-refs.lock", NULL);
  g_autoptr (GString) text = g_string_new ("# pack-refs with: peeled fully-peeled sorted \n");
  g_autofree const char **names = NULL;
  guint n_names = 0;

  names = (const char **) g_hash_table_get_keys_as_array (packed, &n_names);
  qsort (names, n_names, sizeof (char *), compare_names);
  for (guint i = 0; i < n_names; i++)
    {
      PackedRef *entry = g_hash_table_lookup (packed, names[i]);

      g_string_append_printf (text, "%s %s\n", entry->oid, names[i]);
      if (entry->peeled != NULL)
        g_string_append_printf (text, "^%s\n", entry->peeled);
    }
  if (!write_new_file (lock_path, text->str, error))
    return FALSE;
  if (g_rename (lock_path, packed_path) != 0)
    {
      int saved_errno = errno;

      g_unlink (lock_path);
      return prd_private_file_set_errno_error (error, saved_errno, "Cannot rename", lock_path);
    }
  return prd_private_file_sync_dir (self->path, FALSE, error);
}

/* Moves the loose refs under refs/heads/ and refs/tags/ into packed-refs
 * (see "Compaction" above). Lock held. */
static gboolean
pack_refs (PrdGitRepo *self, GError **error)
{
  static const char *const owned[] = { "heads", "tags" };
  g_autoptr (GHashTable) loose = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) packed =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) packed_ref_free);
  g_autoptr (GPtrArray) moved = g_ptr_array_new ();
  g_autofree char *packed_path = g_build_filename (self->path, "packed-refs", NULL);
  GHashTableIter iter;
  gpointer name;

  for (guint i = 0; i < G_N_ELEMENTS (owned); i++)
    {
      g_autofree char *dir = g_build_filename (self->path, "refs", owned[i], NULL);
      g_autofree char *prefix = g_strconcat ("refs/", owned[i], NULL);

      if (!add_loose_ref_names (dir, prefix, loose, error))
        return FALSE;
    }
  if (g_hash_table_size (loose) == 0)
    return TRUE;
  if (!read_packed_refs (packed_path, packed, error))
    return FALSE;
  g_hash_table_iter_init (&iter, loose);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    {
      g_autoptr (git_reference) ref = NULL;
      g_autoptr (git_object) peeled = NULL;
      PackedRef *entry;
      char hex[GIT_OID_HEXSZ + 1];

      /* One that cannot be read stays as it is (and fails a backup, which
       * names it). */
      if (git_reference_lookup (&ref, self->repo, name) != 0 ||
          git_reference_type (ref) != GIT_REFERENCE_DIRECT ||
          git_reference_peel (&peeled, ref, GIT_OBJECT_ANY) != 0)
        {
          git_error_clear ();
          continue;
        }
      entry = g_new0 (PackedRef, 1);
      git_oid_tostr (hex, sizeof hex, git_reference_target (ref));
      entry->oid = g_strdup (hex);
      if (!git_oid_equal (git_object_id (peeled), git_reference_target (ref)))
        {
          git_oid_tostr (hex, sizeof hex, git_object_id (peeled));
          entry->peeled = g_strdup (hex);
        }
      g_hash_table_replace (packed, g_strdup (name), entry);
      g_ptr_array_add (moved, name);
    }
  if (moved->len == 0)
    return TRUE;
  if (!write_packed_refs (self, packed, error))
    return FALSE;

  for (guint i = 0; i < moved->len; i++)
    {
      const char *ref_name = moved->pdata[i];
      g_autofree char *path = g_build_filename (self->path, ref_name, NULL);
      g_autofree char *ref_lock = g_strconcat (path, ".lock", NULL);
      g_autofree char *content = NULL;
      g_autofree char *expected = NULL;
      g_autofree char *dir = NULL;
      PackedRef *entry = g_hash_table_lookup (packed, ref_name);

      expected = g_strconcat (entry->oid, "\n", NULL);
      if (g_file_test (ref_lock, G_FILE_TEST_EXISTS) ||
          !g_file_get_contents (path, &content, NULL, NULL) || g_strcmp0 (content, expected) != 0)
        continue;
      if (g_unlink (path) != 0 && errno != ENOENT)
        g_warning ("Cannot remove the loose ref %s: %s", path, g_strerror (errno));
      /* a tag's folder refs/tags/<prdId>, empty once its tags are packed */
      dir = g_path_get_dirname (path);
      if (g_str_has_prefix (ref_name, "refs/tags/") && strchr (ref_name + 10, '/') != NULL)
        g_rmdir (dir);
    }
  return TRUE;
}

/* Packs the loose objects (and with PRD_GIT_REPO_PACK_MAX_PACKS packs
 * there, every object) through a handle of its own, then removes what the
 * new pack holds; sets @reopen when older packs were removed. Runs with
 * compact_lock held and NOT the repository's lock (see "Compaction"). */
static gboolean
pack_objects (PrdGitRepo *self, gboolean *reopen, GError **error)
{
  g_autofree char *objects_dir = g_build_filename (self->path, "objects", NULL);
  g_autofree char *pack_dir = g_build_filename (objects_dir, "pack", NULL);
  g_autoptr (GArray) loose = g_array_new (FALSE, FALSE, sizeof (git_oid));
  g_autoptr (GPtrArray) packs = NULL;
  g_autoptr (git_repository) own = NULL;
  g_autoptr (git_packbuilder) builder = NULL;
  g_autoptr (git_odb) odb = NULL;
  gboolean all;
  const char *written;
  int rc;

  git_error_clear ();
  if (!list_loose_objects (objects_dir, loose, error) ||
      (packs = list_packs (pack_dir, error)) == NULL)
    return FALSE;
  all = packs->len + 1 > PRD_GIT_REPO_PACK_MAX_PACKS;
  if (loose->len == 0 && !all)
    return TRUE;
  if ((rc = git_repository_open_bare (&own, self->path)) != 0 ||
      (rc = git_repository_odb (&odb, own)) != 0 || (rc = git_packbuilder_new (&builder, own)) != 0)
    return set_git_error (rc, "Cannot pack the versions repository", error);
  for (guint i = 0; i < loose->len; i++)
    if ((rc = git_packbuilder_insert (builder, &g_array_index (loose, git_oid, i), NULL)) != 0)
      return set_git_error (rc, "Cannot pack a loose object", error);
  if (all && (rc = git_odb_foreach (odb, insert_object, builder)) != 0)
    return set_git_error (rc, "Cannot pack the versions repository", error);
  if (git_packbuilder_object_count (builder) == 0)
    return TRUE;
  /* fsynced (GIT_OPT_ENABLE_FSYNC_GITDIR), then renamed into place */
  if ((rc = git_packbuilder_write (builder, pack_dir, 0, NULL, NULL)) != 0)
    return set_git_error (rc, "Cannot write a pack", error);
  written = git_packbuilder_name (builder);
  if (self->compact_hook != NULL)
    self->compact_hook (self, self->compact_hook_data);

  for (guint i = 0; i < loose->len; i++)
    {
      char hex[GIT_OID_HEXSZ + 1];
      char prefix[3];
      g_autofree char *path = NULL;

      git_oid_tostr (hex, sizeof hex, &g_array_index (loose, git_oid, i));
      g_strlcpy (prefix, hex, sizeof prefix);
      path = g_build_filename (objects_dir, prefix, hex + 2, NULL);
      if (g_unlink (path) != 0 && errno != ENOENT)
        g_warning ("Cannot remove the packed object %s: %s", path, g_strerror (errno));
    }
  for (guint i = 0; all && i < packs->len; i++)
    {
      const char *name = packs->pdata[i];
      g_autofree char *keep = g_strdup_printf ("%s/%s.keep", pack_dir, name);

      if (written == NULL || strcmp (name + strlen ("pack-"), written) == 0 ||
          g_file_test (keep, G_FILE_TEST_EXISTS))
        continue;
      /* the pack first: a pack folder is read from its .idx files, and
       * one whose pack is gone is skipped */
      for (guint e = 0; e < 2; e++)
        {
          g_autofree char *path =
              g_strdup_printf ("%s/%s.%s", pack_dir, name, e == 0 ? "pack" : "idx");

          if (g_unlink (path) != 0 && errno != ENOENT)
            g_warning ("Cannot remove the packed %s: %s", path, g_strerror (errno));
        }
    }
  g_debug ("Packed %u loose objects of %s%s", loose->len, self->path,
           all ? " with every other pack" : "");
  *reopen = all;
  return TRUE;
}

/* Compaction (see above), without the repository's lock: the objects are
 * packed, then the lock is taken for what is ordered with commits and
 * purges (packed-refs, the handle). */
static void
compact (PrdGitRepo *self)
{
  g_autoptr (GMutexLocker) compacting = g_mutex_locker_new (&self->compact_lock);
  g_autoptr (GMutexLocker) locker = NULL;
  g_autoptr (GError) error = NULL;
  gboolean reopen = FALSE;

  if (!pack_objects (self, &reopen, &error))
    {
      g_warning ("Cannot compact the versions repository %s: %s", self->path, error->message);
      g_clear_error (&error);
    }
  locker = g_mutex_locker_new (&self->lock);
  /* The handle keeps the packs it read open, and so their disk space. */
  if (reopen)
    g_clear_pointer (&self->repo, git_repository_free);
  if (!ensure_open (self, FALSE, &error) || !pack_refs (self, &error))
    g_warning ("Cannot pack the refs of the versions repository %s: %s", self->path,
               error->message);
  self->compacting = FALSE;
  g_cond_broadcast (&self->compacted);
}

static void
do_compact (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  compact (source);
  g_task_return_boolean (task, TRUE);
}

/* Runs compact() on a worker thread of its own: a task's answer is only
 * delivered once its thread function returns, so the operation that asked
 * for the compaction does not run it. */
static void
start_compaction (PrdGitRepo *self)
{
  g_autoptr (GTask) task = g_task_new (self, NULL, NULL, NULL);

  g_task_set_source_tag (task, start_compaction);
  g_task_run_in_thread (task, do_compact);
}

/* Counts @n more loose objects written; once there are
 * PRD_GIT_REPO_PACK_LOOSE_OBJECTS and no compaction is running, returns
 * TRUE: the caller starts one (start_compaction() or, with the lock let
 * go, compact()). A failure leaves the repository as it was (loose), and
 * is tried again after as many objects more. Lock held. */
static gboolean
maybe_compact (PrdGitRepo *self, guint n)
{
  self->loose_objects += n;
  if (self->loose_objects < PRD_GIT_REPO_PACK_LOOSE_OBJECTS || self->compacting)
    return FALSE;
  self->loose_objects = 0;
  self->compacting = TRUE;
  return TRUE;
}

/**
 * prd_git_repo_set_compact_hook: (skip)
 *
 * Private, for tests: @hook is called by a compaction once its pack is in
 * place, before it removes what the pack holds, without the repository's
 * lock (it may block).
 */
void
prd_git_repo_set_compact_hook (PrdGitRepo *self, PrdGitRepoCompactHook hook, gpointer user_data)
{
  g_return_if_fail (PRD_IS_GIT_REPO (self));

  self->compact_hook = hook;
  self->compact_hook_data = user_data;
}

/**
 * prd_git_repo_wait_compaction: (skip)
 *
 * Private, for tests: blocks until no compaction is running.
 */
void
prd_git_repo_wait_compaction (PrdGitRepo *self)
{
  g_autoptr (GMutexLocker) locker = NULL;

  g_return_if_fail (PRD_IS_GIT_REPO (self));

  locker = g_mutex_locker_new (&self->lock);
  while (self->compacting)
    g_cond_wait (&self->compacted, &self->lock);
}

static void
do_commit (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PrdGitRepo *self = source;
  Op *op = task_data;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autoptr (GError) error = NULL;
  g_autoptr (git_commit) parent = NULL;
  g_autoptr (git_tree) parent_tree = NULL;
  g_autoptr (git_treebuilder) builder = NULL;
  g_autoptr (git_tree) tree = NULL;
  g_autoptr (git_signature) signature = NULL;
  g_autoptr (git_object) commit = NULL;
  g_autofree char *file = g_strconcat (op->prd_id, ".md", NULL);
  g_autofree char *tag = prd_git_tag_name (op->prd_id, op->version);
  g_autofree char *tag_ref = g_strconcat ("refs/tags/", tag, NULL);
  g_autoptr (git_reference) existing = NULL;
  g_autoptr (git_reference) branch = NULL;
  g_autofree char *message = g_str_has_suffix (op->message, "\n")
                                 ? g_strdup (op->message)
                                 : g_strconcat (op->message, "\n", NULL);
  const git_commit *parents[1];
  git_oid blob_oid, parent_oid, tree_oid, commit_oid, tag_oid;
  char hex[GIT_OID_HEXSZ + 1];
  int rc;

  if (g_hash_table_contains (self->purged, op->prd_id))
    {
      error = prd_error_new_prd_not_found (op->prd_id);
      goto fail;
    }
  if (!ensure_open (self, TRUE, &error))
    goto fail;
  /* A tag is never moved: one no record names was left by a crash between
   * the commit and the record (and may have been pushed already). */
  rc = git_reference_lookup (&existing, self->repo, tag_ref);
  if (rc == 0)
    {
      g_set_error (&error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS,
                   "The versions repository already has the tag %s", tag);
      goto fail;
    }
  if (rc != GIT_ENOTFOUND)
    {
      set_git_error (rc, "Cannot read the tag", &error);
      goto fail;
    }
  git_error_clear (); /* expected: no such tag */
  errno = 0;
  rc = git_blob_create_from_buffer (&blob_oid, self->repo, op->content, strlen (op->content));
  if (rc != 0)
    {
      set_git_error (rc, "Cannot write the blob", &error);
      goto fail;
    }
  rc = git_reference_name_to_id (&parent_oid, self->repo, PRD_GIT_BRANCH);
  if (rc == 0)
    {
      if ((rc = git_commit_lookup (&parent, self->repo, &parent_oid)) != 0 ||
          (rc = git_commit_tree (&parent_tree, parent)) != 0)
        {
          set_git_error (rc, "Cannot read the last commit", &error);
          goto fail;
        }
    }
  else if (rc != GIT_ENOTFOUND)
    {
      set_git_error (rc, "Cannot read " PRD_GIT_BRANCH, &error);
      goto fail;
    }
  else
    git_error_clear (); /* the first version: no branch yet */
  if ((rc = git_treebuilder_new (&builder, self->repo, parent_tree)) != 0 ||
      (rc = git_treebuilder_insert (NULL, builder, file, &blob_oid, GIT_FILEMODE_BLOB)) != 0 ||
      (rc = git_treebuilder_write (&tree_oid, builder)) != 0 ||
      (rc = git_tree_lookup (&tree, self->repo, &tree_oid)) != 0)
    {
      set_git_error (rc, "Cannot write the tree", &error);
      goto fail;
    }
  rc = new_signature (&signature, op->author_name, op->author_email, op->time_usec);
  if (rc != 0)
    {
      set_git_error (rc, "Cannot build the author", &error);
      goto fail;
    }
  parents[0] = parent;
  rc = git_commit_create (&commit_oid, self->repo, NULL, signature, signature, NULL, message, tree,
                          parent != NULL ? 1 : 0, parents);
  if (rc != 0)
    {
      set_git_error (rc, "Cannot commit", &error);
      goto fail;
    }
  /* The tag first, then the branch: whoever reads the branch (a push's
   * export) finds the tag of every version commit on it. */
  if ((rc = git_object_lookup (&commit, self->repo, &commit_oid, GIT_OBJECT_COMMIT)) != 0 ||
      (rc = git_tag_create (&tag_oid, self->repo, tag, commit, signature, message, 0)) != 0)
    {
      if (rc == GIT_EEXISTS)
        {
          git_error_clear ();
          g_set_error (&error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS,
                       "The versions repository already has the tag %s", tag);
        }
      else
        set_git_error (rc, "Cannot tag the commit", &error);
      goto fail;
    }
  if (parent != NULL)
    rc = git_reference_create_matching (&branch, self->repo, PRD_GIT_BRANCH, &commit_oid, 1,
                                        &parent_oid, "prdhub: version");
  else
    rc = git_reference_create (&branch, self->repo, PRD_GIT_BRANCH, &commit_oid, 0,
                               "prdhub: version");
  if (rc != 0)
    {
      set_git_error (rc, "Cannot move " PRD_GIT_BRANCH, &error);
      goto fail;
    }
  git_oid_tostr (hex, sizeof hex, &commit_oid);
  g_task_return_pointer (task, g_strdup (hex), g_free);
  /* blob, tree, commit and tag */
  if (maybe_compact (self, 4))
    start_compaction (self);
  return;

fail:
  g_task_return_error (task, g_steal_pointer (&error));
}

/* The blob of `<prdId>.md` at tag `<prdId>/v<version>`; lock held. */
static git_blob *
lookup_blob (PrdGitRepo *self, const char *prd_id, const char *version, GError **error)
{
  g_autofree char *ref = g_strdup_printf ("refs/tags/%s/v%s", prd_id, version);
  g_autofree char *file = g_strconcat (prd_id, ".md", NULL);
  g_autoptr (git_reference) reference = NULL;
  g_autoptr (git_object) commit = NULL;
  g_autoptr (git_tree) tree = NULL;
  g_autoptr (git_tree_entry) entry = NULL;
  git_blob *blob = NULL;
  int rc;

  rc = git_reference_lookup (&reference, self->repo, ref);
  if (rc == GIT_ENOTFOUND)
    {
      git_error_clear ();
      g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "%s has no version %s", prd_id, version);
      return NULL;
    }
  if (rc != 0 || (rc = git_reference_peel (&commit, reference, GIT_OBJECT_COMMIT)) != 0 ||
      (rc = git_commit_tree (&tree, (git_commit *) commit)) != 0 ||
      (rc = git_tree_entry_bypath (&entry, tree, file)) != 0 ||
      (rc = git_blob_lookup (&blob, self->repo, git_tree_entry_id (entry))) != 0)
    {
      set_git_error (rc, "Cannot read the version", error);
      return NULL;
    }
  return blob;
}

static void
do_read (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PrdGitRepo *self = source;
  Op *op = task_data;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autoptr (GError) error = NULL;
  g_autoptr (git_blob) blob = NULL;

  if (!ensure_open (self, FALSE, &error) ||
      (blob = lookup_blob (self, op->prd_id, op->version, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (
      task, g_strndup (git_blob_rawcontent (blob), (gsize) git_blob_rawsize (blob)), g_free);
}

static void
do_init (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PrdGitRepo *self = source;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autoptr (GError) error = NULL;

  g_autofree char *objects_dir = g_build_filename (self->path, "objects", NULL);
  g_autoptr (GArray) loose = g_array_new (FALSE, FALSE, sizeof (git_oid));

  if (!self->locks_removed)
    {
      remove_stale_locks (self);
      remove_stale_pack_files (self);
      self->locks_removed = TRUE;
    }
  if (!ensure_open (self, TRUE, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Counted once: the git integration writes objects too. A repository
   * that cannot be compacted still works. */
  if (!list_loose_objects (objects_dir, loose, &error))
    g_warning ("Cannot compact the versions repository: %s", error->message);
  else
    {
      self->loose_objects = 0;
      /* before the answer: the hub starts on a compacted repository */
      if (maybe_compact (self, loose->len))
        {
          g_clear_pointer (&locker, g_mutex_locker_free);
          compact (self);
        }
    }
  g_task_return_boolean (task, TRUE);
}

/* Whether @blob, version @version of @prd_id, is small enough to diff. */
static gboolean
check_diffable (git_blob *blob, const char *prd_id, const char *version, GError **error)
{
  const char *data = git_blob_rawcontent (blob);
  gsize size = (gsize) git_blob_rawsize (blob);
  gsize lines = 0;

  if (size > PRD_GIT_REPO_DIFF_MAX_BYTES)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "Version %s of %s has %" G_GSIZE_FORMAT " bytes; versions of at most %d bytes "
                   "and %d lines are compared",
                   version, prd_id, size, PRD_GIT_REPO_DIFF_MAX_BYTES, PRD_GIT_REPO_DIFF_MAX_LINES);
      return FALSE;
    }
  for (const char *p = data, *end = data + size; p != NULL && p < end;)
    {
      p = memchr (p, '\n', (gsize) (end - p));
      if (p != NULL)
        p++;
      lines++;
    }
  if (lines > PRD_GIT_REPO_DIFF_MAX_LINES)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "Version %s of %s has %" G_GSIZE_FORMAT " lines; versions of at most %d lines "
                   "and %d bytes are compared",
                   version, prd_id, lines, PRD_GIT_REPO_DIFF_MAX_LINES,
                   PRD_GIT_REPO_DIFF_MAX_BYTES);
      return FALSE;
    }
  return TRUE;
}

static void
do_diff (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PrdGitRepo *self = source;
  Op *op = task_data;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autoptr (GError) error = NULL;
  g_autoptr (git_blob) from = NULL;
  g_autoptr (git_blob) to = NULL;
  g_autoptr (git_patch) patch = NULL;
  g_autofree char *file = g_strconcat (op->prd_id, ".md", NULL);
  git_diff_options options = GIT_DIFF_OPTIONS_INIT;
  git_buf buf = { 0 };
  char *text;
  int rc;

  if (!ensure_open (self, FALSE, &error) ||
      (from = lookup_blob (self, op->prd_id, op->version, &error)) == NULL ||
      (to = lookup_blob (self, op->prd_id, op->to_version, &error)) == NULL ||
      !check_diffable (from, op->prd_id, op->version, &error) ||
      !check_diffable (to, op->prd_id, op->to_version, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if ((rc = git_patch_from_blobs (&patch, from, file, to, file, &options)) != 0 ||
      (rc = git_patch_to_buf (&buf, patch)) != 0)
    {
      set_git_error (rc, "Cannot diff", &error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  text = g_strndup (buf.ptr != NULL ? buf.ptr : "", buf.size);
  git_buf_dispose (&buf);
  g_task_return_pointer (task, text, g_free);
}

static void
prd_git_repo_finalize (GObject *object)
{
  PrdGitRepo *self = PRD_GIT_REPO (object);

  g_clear_pointer (&self->repo, git_repository_free);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->compact_lock);
  g_cond_clear (&self->compacted);
  g_hash_table_unref (self->purged);
  g_free (self->path);

  G_OBJECT_CLASS (prd_git_repo_parent_class)->finalize (object);
}

static void
prd_git_repo_class_init (PrdGitRepoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = prd_git_repo_finalize;
}

static void
prd_git_repo_init (PrdGitRepo *self)
{
  g_mutex_init (&self->lock);
  g_mutex_init (&self->compact_lock);
  g_cond_init (&self->compacted);
  self->purged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * prd_git_repo_new:
 * @path: the bare repository's folder; created on the first commit
 */
PrdGitRepo *
prd_git_repo_new (const char *path)
{
  static GOnce once = G_ONCE_INIT;
  PrdGitRepo *self;

  g_return_val_if_fail (path != NULL, NULL);
  g_once (&once, init_libgit2, NULL);
  self = g_object_new (PRD_TYPE_GIT_REPO, NULL);
  self->path = g_strdup (path);
  return self;
}

const char *
prd_git_repo_get_path (PrdGitRepo *self)
{
  g_return_val_if_fail (PRD_IS_GIT_REPO (self), NULL);
  return self->path;
}

static gboolean
check_ids (GTask *task, const char *prd_id, const char *version, const char *to_version)
{
  g_autoptr (GError) error = NULL;

  if (!prd_store_validate_prd_id (prd_id, &error) || !prd_git_validate_version (version, &error) ||
      (to_version != NULL && !prd_git_validate_version (to_version, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_git_repo_commit_async:
 * @author_email: the author's address (`<userId>@<org>` in the hub)
 * @time_usec: the author time, microseconds since the Unix epoch (UTC)
 *
 * Commits @content as `<prd_id>.md` on %PRD_GIT_BRANCH with @message and
 * tags it `<prd_id>/v<version>` (the tag is written before the branch
 * moves). Finishes with the commit id (40 hex digits). When the tag exists
 * already (a version whose record a crash lost), nothing is written and it
 * fails with %PRD_ERROR_ALREADY_EXISTS: a tag is never moved. An
 * @author_name libgit2 would trim to nothing (only spaces and `.,:;"'\`)
 * is replaced by @author_email up to its last `@`, or by `unknown`.
 */
void
prd_git_repo_commit_async (PrdGitRepo *self,
                           const char *prd_id,
                           const char *version,
                           const char *content,
                           const char *message,
                           const char *author_name,
                           const char *author_email,
                           gint64 time_usec,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  Op *op = g_new0 (Op, 1);

  g_task_set_source_tag (task, prd_git_repo_commit_async);
  op->prd_id = g_strdup (prd_id);
  op->version = g_strdup (version);
  op->content = g_strdup (content != NULL ? content : "");
  op->message = g_strdup (message != NULL ? message : "");
  op->author_name = g_strdup (author_name);
  op->author_email = g_strdup (author_email);
  op->time_usec = time_usec;
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  if (!check_ids (task, prd_id, version, NULL))
    return;
  g_task_run_in_thread (task, do_commit);
}

char *
prd_git_repo_commit_finish (PrdGitRepo *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_git_repo_init_async:
 *
 * Opens the repository, creating it (bare, empty, HEAD on the `main`
 * branch) when it does not exist, so that git finds it before the first
 * version. Called by the repository's only writer, the process that holds
 * the data folder's lock, before any other operation: the first call
 * removes the `*.lock` files a killed process left under `refs/` and
 * `HEAD.lock`, `packed-refs.lock`, `config.lock`, `index.lock` (each one
 * logged), which would otherwise fail every later version, and the
 * unfinished pack a killed compaction left (`objects/pack/pack_git2_*`).
 * Every call counts the loose objects and compacts the repository when
 * there are %PRD_GIT_REPO_PACK_LOOSE_OBJECTS or more (a compaction that
 * fails is logged: the repository works as it is).
 */
void
prd_git_repo_init_async (PrdGitRepo *self,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PRD_IS_GIT_REPO (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_git_repo_init_async);
  g_task_run_in_thread (task, do_init);
}

gboolean
prd_git_repo_init_finish (PrdGitRepo *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * prd_git_repo_read_async:
 *
 * Reads `<prd_id>.md` at tag `<prd_id>/v<version>`; NOT_FOUND if there is
 * no such version.
 */
void
prd_git_repo_read_async (PrdGitRepo *self,
                         const char *prd_id,
                         const char *version,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  Op *op = g_new0 (Op, 1);

  g_task_set_source_tag (task, prd_git_repo_read_async);
  op->prd_id = g_strdup (prd_id);
  op->version = g_strdup (version);
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  if (!check_ids (task, prd_id, version, NULL))
    return;
  g_task_run_in_thread (task, do_read);
}

char *
prd_git_repo_read_finish (PrdGitRepo *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_git_repo_diff_async:
 *
 * The unified diff of `<prd_id>.md` from one version to another, as
 * libgit2 formats it (`diff --git a/<id>.md b/<id>.md` …); empty when the
 * two texts are equal. A version of more than %PRD_GIT_REPO_DIFF_MAX_LINES
 * lines or %PRD_GIT_REPO_DIFF_MAX_BYTES bytes fails with
 * %PRD_ERROR_LIMIT_REACHED.
 */
void
prd_git_repo_diff_async (PrdGitRepo *self,
                         const char *prd_id,
                         const char *from_version,
                         const char *to_version,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  Op *op = g_new0 (Op, 1);

  g_task_set_source_tag (task, prd_git_repo_diff_async);
  op->prd_id = g_strdup (prd_id);
  op->version = g_strdup (from_version);
  op->to_version = g_strdup (to_version);
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  if (!check_ids (task, prd_id, from_version, to_version))
    return;
  g_task_run_in_thread (task, do_diff);
}

char *
prd_git_repo_diff_finish (PrdGitRepo *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Deletes the tags `<prdId>/v*` of @prd_id, packed and loose, into
 * @removed: the packed ones with one rewrite of packed-refs (libgit2's
 * git_tag_delete() rewrites and fsyncs all of it for each packed tag),
 * then the loose files, as compaction moves refs: whoever reads the loose
 * refs and then packed-refs sees each tag until its last copy goes. Lock
 * held, repository open. */
static gboolean
delete_tags (PrdGitRepo *self, const char *prd_id, guint *removed, GError **error)
{
  g_autofree char *prefix = g_strconcat ("refs/tags/", prd_id, NULL);
  g_autofree char *tag_prefix = g_strconcat (prefix, "/v", NULL);
  g_autofree char *dir = g_build_filename (self->path, "refs", "tags", prd_id, NULL);
  g_autofree char *packed_path = g_build_filename (self->path, "packed-refs", NULL);
  g_autoptr (GHashTable) loose = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) packed =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) packed_ref_free);
  g_autoptr (GHashTable) deleted = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer name;

  /* The id is validated ([A-Za-z0-9_-] after `prd_`): a folder of its own. */
  if (!add_loose_ref_names (dir, prefix, loose, error) ||
      !read_packed_refs (packed_path, packed, error))
    return FALSE;
  g_hash_table_iter_init (&iter, packed);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    if (g_str_has_prefix (name, tag_prefix))
      g_hash_table_add (deleted, name);
  if (g_hash_table_size (deleted) > 0)
    {
      g_autoptr (GHashTable) kept = g_hash_table_new (g_str_hash, g_str_equal);

      g_hash_table_iter_init (&iter, packed);
      while (g_hash_table_iter_next (&iter, &name, NULL))
        if (!g_hash_table_contains (deleted, name))
          g_hash_table_insert (kept, name, g_hash_table_lookup (packed, name));
      if (!write_packed_refs (self, kept, error))
        return FALSE;
    }
  g_hash_table_iter_init (&iter, loose);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    {
      g_autofree char *path = NULL;

      if (!g_str_has_prefix (name, tag_prefix))
        continue;
      path = g_build_filename (self->path, name, NULL);
      if (g_unlink (path) != 0 && errno != ENOENT)
        return prd_private_file_set_errno_error (error, errno, "Cannot delete the tag", path);
      g_hash_table_add (deleted, name);
    }
  g_rmdir (dir); /* once empty */
  *removed = g_hash_table_size (deleted);
  return TRUE;
}

static void
do_purge (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PrdGitRepo *self = source;
  Op *op = task_data;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autoptr (GError) error = NULL;
  g_autoptr (git_commit) parent = NULL;
  g_autoptr (git_tree) parent_tree = NULL;
  g_autoptr (git_treebuilder) builder = NULL;
  g_autoptr (git_tree) tree = NULL;
  g_autoptr (git_signature) signature = NULL;
  g_autofree char *file = g_strconcat (op->prd_id, ".md", NULL);
  g_autofree char *message = g_str_has_suffix (op->message, "\n")
                                 ? g_strdup (op->message)
                                 : g_strconcat (op->message, "\n", NULL);
  const git_commit *parents[1];
  git_oid parent_oid, tree_oid, commit_oid;
  guint *removed = g_new0 (guint, 1);
  int rc;

  /* No repository: no version was ever created, nothing to purge. */
  if (!ensure_open (self, FALSE, &error))
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        g_task_return_pointer (task, removed, g_free);
      else
        {
          g_free (removed);
          g_task_return_error (task, g_steal_pointer (&error));
        }
      return;
    }
  if (!delete_tags (self, op->prd_id, removed, &error))
    goto fail;

  /* The branch's latest tree no longer holds the file; older commits do. */
  rc = git_reference_name_to_id (&parent_oid, self->repo, PRD_GIT_BRANCH);
  if (rc == GIT_ENOTFOUND)
    {
      git_error_clear ();
      g_task_return_pointer (task, removed, g_free);
      return;
    }
  if (rc != 0 || (rc = git_commit_lookup (&parent, self->repo, &parent_oid)) != 0 ||
      (rc = git_commit_tree (&parent_tree, parent)) != 0)
    {
      set_git_error (rc, "Cannot read the last commit", &error);
      goto fail;
    }
  if (git_tree_entry_byname (parent_tree, file) == NULL)
    {
      g_task_return_pointer (task, removed, g_free);
      return;
    }
  if ((rc = git_treebuilder_new (&builder, self->repo, parent_tree)) != 0 ||
      (rc = git_treebuilder_remove (builder, file)) != 0 ||
      (rc = git_treebuilder_write (&tree_oid, builder)) != 0 ||
      (rc = git_tree_lookup (&tree, self->repo, &tree_oid)) != 0)
    {
      set_git_error (rc, "Cannot write the tree", &error);
      goto fail;
    }
  rc = new_signature (&signature, op->author_name, op->author_email, op->time_usec);
  if (rc != 0)
    {
      set_git_error (rc, "Cannot build the author", &error);
      goto fail;
    }
  parents[0] = parent;
  rc = git_commit_create (&commit_oid, self->repo, PRD_GIT_BRANCH, signature, signature, NULL,
                          message, tree, 1, parents);
  if (rc != 0)
    {
      set_git_error (rc, "Cannot commit", &error);
      goto fail;
    }
  g_task_return_pointer (task, removed, g_free);
  if (maybe_compact (self, 2)) /* tree and commit */
    start_compaction (self);
  return;

fail:
  g_free (removed);
  g_task_return_error (task, g_steal_pointer (&error));
}

/**
 * prd_git_repo_purge_async:
 * @prd_id: a validated PRD id
 * @message: the message of the commit that removes `<prdId>.md`
 *
 * Forgets a deleted PRD's versions: deletes its tags `<prdId>/v*` and, when
 * the branch's latest tree holds `<prdId>.md`, commits that tree without
 * it. A commit of the PRD that has not run yet, or is asked for within the
 * next hour, fails with %PRD_ERROR_PRD_NOT_FOUND instead of bringing the
 * text back. History is not rewritten: older commits still hold the file
 * until the repository is rewritten by hand. A repository that does not
 * exist yet has nothing to purge.
 */
void
prd_git_repo_purge_async (PrdGitRepo *self,
                          const char *prd_id,
                          const char *message,
                          const char *author_name,
                          const char *author_email,
                          gint64 time_usec,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  GError *error = NULL;
  Op *op;

  g_return_if_fail (PRD_IS_GIT_REPO (self));
  g_return_if_fail (message != NULL);

  if (!prd_store_validate_prd_id (prd_id, &error))
    {
      g_task_report_error (self, callback, user_data, prd_git_repo_purge_async, error);
      return;
    }
  /* From now on no commit of the PRD is made, even one asked for before. */
  {
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
    gint64 now = g_get_monotonic_time ();
    GHashTableIter iter;
    gpointer at;

    g_hash_table_iter_init (&iter, self->purged);
    while (g_hash_table_iter_next (&iter, NULL, &at))
      if (now - *(gint64 *) at > PURGED_KEEP_USEC)
        g_hash_table_iter_remove (&iter);
    g_hash_table_replace (self->purged, g_strdup (prd_id), g_memdup2 (&now, sizeof now));
  }
  op = g_new0 (Op, 1);
  op->prd_id = g_strdup (prd_id);
  op->message = g_strdup (message);
  op->author_name = g_strdup (author_name);
  op->author_email = g_strdup (author_email);
  op->time_usec = time_usec;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_git_repo_purge_async);
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  g_task_run_in_thread (task, do_purge);
}

/**
 * prd_git_repo_purge_finish:
 * @out_tags: (out) (optional): how many tags were deleted
 *
 * Returns: %TRUE on success
 */
gboolean
prd_git_repo_purge_finish (PrdGitRepo *self, GAsyncResult *result, guint *out_tags, GError **error)
{
  g_autofree guint *removed = NULL;

  g_return_val_if_fail (PRD_IS_GIT_REPO (self), FALSE);

  removed = g_task_propagate_pointer (G_TASK (result), error);
  if (removed == NULL)
    return FALSE;
  if (out_tags != NULL)
    *out_tags = *removed;
  return TRUE;
}

static void
do_drop_tag (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PrdGitRepo *self = source;
  Op *op = task_data;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autoptr (GError) error = NULL;
  g_autofree char *tag = prd_git_tag_name (op->prd_id, op->version);
  int rc;

  if (!ensure_open (self, FALSE, &error))
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  rc = git_tag_delete (self->repo, tag);
  if (rc != 0 && rc != GIT_ENOTFOUND)
    {
      set_git_error (rc, "Cannot delete a tag", &error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  git_error_clear (); /* a tag that is not there is no error */
  g_task_return_boolean (task, TRUE);
}

/**
 * prd_git_repo_drop_tag_async:
 * @prd_id: a validated PRD id
 * @version: a validated version
 *
 * Deletes the tag of a version just committed whose record could not be
 * written (its PRD was deleted meanwhile, the database refused the write):
 * nobody was told of that version, so no tag of it stays for a push to send,
 * and its number is free again (a tag that is not there already is no
 * error). The commit stays in the branch's history.
 */
void
prd_git_repo_drop_tag_async (PrdGitRepo *self,
                             const char *prd_id,
                             const char *version,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  GError *error = NULL;
  Op *op;

  g_return_if_fail (PRD_IS_GIT_REPO (self));

  if (!prd_store_validate_prd_id (prd_id, &error) || !prd_git_validate_version (version, &error))
    {
      g_task_report_error (self, callback, user_data, prd_git_repo_drop_tag_async, error);
      return;
    }
  op = g_new0 (Op, 1);
  op->prd_id = g_strdup (prd_id);
  op->version = g_strdup (version);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_git_repo_drop_tag_async);
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  g_task_run_in_thread (task, do_drop_tag);
}

gboolean
prd_git_repo_drop_tag_finish (PrdGitRepo *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_GIT_REPO (self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_revwalk, git_revwalk_free)

typedef struct
{
  char *name;
  git_oid oid;
} RefCopy;

static void
ref_copy_free (RefCopy *ref)
{
  g_free (ref->name);
  g_free (ref);
}

/* Adds the names of the loose refs under @dir (a folder of @git_dir, named
 * @prefix in refs) to @names. Lock files are not refs. */
static gboolean
add_loose_ref_names (const char *dir, const char *prefix, GHashTable *names, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GDir) folder = g_dir_open (dir, 0, &local_error);
  const char *entry;

  if (folder == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot list the refs in %s: %s", dir,
                   local_error->message);
      return FALSE;
    }
  while ((entry = g_dir_read_name (folder)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      g_autofree char *name = g_strconcat (prefix, "/", entry, NULL);
      GStatBuf st;

      if (g_lstat (path, &st) != 0)
        {
          if (errno == ENOENT) /* deleted meanwhile (a dropped tag) */
            continue;
          return prd_private_file_set_errno_error (error, errno, "Cannot read", path);
        }
      if (S_ISDIR (st.st_mode))
        {
          if (!add_loose_ref_names (path, name, names, error))
            return FALSE;
        }
      else if (!g_str_has_suffix (entry, ".lock"))
        g_hash_table_add (names, g_steal_pointer (&name));
    }
  return TRUE;
}

/* The names of every ref of the bare repository @git_dir as its files hold
 * them, loose ones (refs/…) and packed ones (packed-refs), whether or not
 * libgit2 can read them: git_reference_list() leaves out a loose ref whose
 * file it cannot parse. The loose ones first: a running hub's compaction
 * renames packed-refs into place before it removes the loose files it
 * holds, so a ref moving meanwhile is found in one or the other. */
static GHashTable *
list_ref_names (const char *git_dir, GError **error)
{
  g_autoptr (GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *refs = g_build_filename (git_dir, "refs", NULL);
  g_autofree char *packed_path = g_build_filename (git_dir, "packed-refs", NULL);
  g_autofree char *packed = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!add_loose_ref_names (refs, "refs", names, error))
    return NULL;
  if (!g_file_get_contents (packed_path, &packed, NULL, &local_error))
    {
      if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot read %s: %s", packed_path,
                       local_error->message);
          return NULL;
        }
    }
  else
    {
      g_auto (GStrv) lines = g_strsplit (packed, "\n", -1);

      /* "<oid> <name>" per ref; "#" a header, "^" the peeled line of a tag */
      for (guint i = 0; lines[i] != NULL; i++)
        {
          const char *space = strchr (lines[i], ' ');

          if (lines[i][0] == '#' || lines[i][0] == '^' || space == NULL)
            continue;
          g_hash_table_add (names, g_strchomp (g_strdup (space + 1)));
        }
    }
  return g_steal_pointer (&names);
}

/**
 * prd_git_repo_has_refs:
 * @path: where a bare repository may be
 *
 * Whether @path holds any ref (loose or packed, readable or not): a
 * versions repository that has recorded a version. %FALSE if there is
 * nothing at @path.
 *
 * Returns: %FALSE with @error if the folder cannot be read
 */
gboolean
prd_git_repo_has_refs (const char *path, gboolean *has_refs, GError **error)
{
  g_autoptr (GHashTable) names = NULL;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (has_refs != NULL, FALSE);

  *has_refs = FALSE;
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return TRUE;
  names = list_ref_names (path, error);
  if (names == NULL)
    return FALSE;
  *has_refs = g_hash_table_size (names) > 0;
  return TRUE;
}

/**
 * prd_git_repo_copy:
 * @source: a bare repository (a running hub may be committing to it)
 * @dest: a folder that does not exist yet; becomes a bare repository
 *
 * Copies every branch and tag of @source, with the objects they reach, into
 * a new bare repository (a ref that is there but cannot be read, such as a
 * damaged loose ref file, fails the copy with an error naming it): the refs are read once first,
 * then one pack of everything they reach is written into @dest, then the refs. The copy is a
 * consistent state of @source even while versions are being created (a commit and its tag are
 * written before the refs that name them). HEAD names the same branch as in @source. Blocks.
 */
gboolean
prd_git_repo_copy (const char *source, const char *dest, GError **error)
{
  static GOnce once = G_ONCE_INIT;
  git_repository_init_options options = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  g_autoptr (git_repository) from = NULL;
  g_autoptr (git_repository) to = NULL;
  g_autoptr (git_reference) head = NULL;
  g_autoptr (git_packbuilder) pack = NULL;
  g_autoptr (git_revwalk) walk = NULL;
  g_autoptr (GPtrArray) refs = g_ptr_array_new_with_free_func ((GDestroyNotify) ref_copy_free);
  g_autofree char *head_target = g_strdup (PRD_GIT_BRANCH);
  g_autofree char *pack_dir = NULL;
  git_strarray names = { NULL, 0 };
  g_autoptr (GHashTable) files = NULL;
  g_autofree char **sorted = NULL;
  guint n_sorted = 0;
  int rc;

  g_return_val_if_fail (source != NULL, FALSE);
  g_return_val_if_fail (dest != NULL, FALSE);

  g_once (&once, init_libgit2, NULL);
  if ((rc = git_repository_open_bare (&from, source)) != 0)
    return set_git_error (rc, "Cannot open the versions repository", error);
  if ((rc = git_reference_lookup (&head, from, "HEAD")) != 0)
    {
      g_autofree char *what = g_strdup_printf ("Cannot read HEAD of %s", source);

      return set_git_error (rc, what, error);
    }
  if (git_reference_type (head) == GIT_REFERENCE_SYMBOLIC)
    {
      g_free (head_target);
      head_target = g_strdup (git_reference_symbolic_target (head));
    }

  /* The refs, once: what they name is already written. Those libgit2
   * lists and those the files hold: a loose ref it cannot parse is left
   * out of its list, and a copy without it would pass for complete. */
  if ((rc = git_reference_list (&names, from)) != 0)
    return set_git_error (rc, "Cannot list the versions repository's refs", error);
  files = list_ref_names (source, error);
  if (files == NULL)
    {
      git_strarray_dispose (&names);
      return FALSE;
    }
  for (gsize i = 0; i < names.count; i++)
    g_hash_table_add (files, g_strdup (names.strings[i]));
  git_strarray_dispose (&names);
  sorted = (char **) g_hash_table_get_keys_as_array (files, &n_sorted);
  qsort (sorted, n_sorted, sizeof (char *), compare_names);

  if ((rc = git_packbuilder_new (&pack, from)) != 0 || (rc = git_revwalk_new (&walk, from)) != 0)
    return set_git_error (rc, "Cannot copy the versions repository", error);
  for (guint i = 0; i < n_sorted; i++)
    {
      g_autoptr (git_reference) ref = NULL;
      g_autoptr (git_object) commit = NULL;
      RefCopy *copy;

      rc = git_reference_lookup (&ref, from, sorted[i]);
      if (rc == GIT_ENOTFOUND) /* deleted since it was listed (a dropped tag) */
        {
          git_error_clear ();
          continue;
        }
      if (rc == 0 && git_reference_type (ref) != GIT_REFERENCE_DIRECT)
        continue;
      /* An annotated tag itself, then the history of what it names. */
      if (rc == 0)
        {
          copy = g_new0 (RefCopy, 1);
          copy->name = g_strdup (sorted[i]);
          git_oid_cpy (&copy->oid, git_reference_target (ref));
          g_ptr_array_add (refs, copy);
          if ((rc = git_packbuilder_insert (pack, &copy->oid, NULL)) == 0 &&
              (rc = git_reference_peel (&commit, ref, GIT_OBJECT_COMMIT)) == 0)
            rc = git_revwalk_push (walk, git_object_id (commit));
        }
      if (rc != 0)
        {
          g_autofree char *what =
              g_strdup_printf ("Cannot read the ref %s of %s", sorted[i], source);

          return set_git_error (rc, what, error);
        }
    }
  if (refs->len > 0 && (rc = git_packbuilder_insert_walk (pack, walk)) != 0)
    return set_git_error (rc, "Cannot read the versions repository", error);

  options.flags =
      GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
  options.description = "prdhub: versions of the PRDs";
  if ((rc = git_repository_init_ext (&to, dest, &options)) != 0)
    return set_git_error (rc, "Cannot create the copy of the versions repository", error);
  pack_dir = g_build_filename (git_repository_path (to), "objects", "pack", NULL);
  if (refs->len > 0 && (rc = git_packbuilder_write (pack, pack_dir, 0, NULL, NULL)) != 0)
    return set_git_error (rc, "Cannot write the copy of the versions repository", error);
  for (guint i = 0; i < refs->len; i++)
    {
      RefCopy *copy = g_ptr_array_index (refs, i);
      g_autoptr (git_reference) created = NULL;

      if ((rc = git_reference_create (&created, to, copy->name, &copy->oid, 0, "prdhub backup")) !=
          0)
        return set_git_error (rc, "Cannot write a ref of the copy", error);
    }
  if ((rc = git_repository_set_head (to, head_target)) != 0)
    return set_git_error (rc, "Cannot set HEAD of the copy", error);
  return TRUE;
}
