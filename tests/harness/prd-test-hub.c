/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tokens and the in-process hub of the hub tests. */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include "prd-test-harness.h"

char *
prd_test_mint (PrdAuth *auth, PrdIdentity *identity)
{
  g_autoptr (GError) error = NULL;
  char *token = prd_auth_mint (auth, identity, &error);

  g_assert_no_error (error);
  g_assert_nonnull (token);
  return token;
}

char *
prd_test_mint_token (PrdAuth *auth, const char *user, const char *org, PrdRole role)
{
  g_autoptr (PrdIdentity) identity =
      prd_identity_new (user, user, NULL, org, role, g_get_real_time () / G_USEC_PER_SEC + 3600);

  return prd_test_mint (auth, identity);
}

void
prd_test_start_hub (PrdHub *hub, PrdStore *store)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gboolean started;

  prd_hub_set_store_async (hub, store, NULL, prd_test_result_cb, &result);
  started = prd_hub_set_store_finish (hub, prd_test_wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_true (started);
}

/* A hub with a SQLite store in a fresh folder named after @prefix, listening
 * on 127.0.0.1:0; @config_data (nullable) is key-file text for its config. */
void
prd_test_hub_setup (PrdTestHub *f,
                    const char *prefix,
                    const char *secret_text,
                    const char *config_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) secret = g_bytes_new_static (secret_text, strlen (secret_text));
  g_autofree char *db = NULL;

  f->tmp_dir = prd_test_make_tmp_dir (prefix);
  f->config = prd_hub_config_new ();
  g_assert_true (prd_hub_config_set (f->config, "server", "listen", "127.0.0.1:0", &error));
  g_assert_true (prd_hub_config_set (f->config, "server", "data-dir", f->tmp_dir, &error));
  g_assert_true (
      prd_hub_config_load_data (f->config, config_data != NULL ? config_data : "", -1, &error));
  g_assert_true (prd_hub_config_validate (f->config, &error));
  f->auth = prd_auth_new_hmac (secret, &error);
  g_assert_no_error (error);

  db = g_build_filename (f->tmp_dir, "prdhub.db", NULL);
  f->store = prd_test_store_open (db, &error);
  g_assert_no_error (error);

  f->hub = prd_hub_new (f->config, f->auth);
  prd_test_start_hub (f->hub, f->store);
  g_assert_true (prd_hub_listen (f->hub, &error));
  f->url = prd_hub_get_url (f->hub);
}

void
prd_test_hub_teardown (PrdTestHub *f)
{
  GObject *engine = G_OBJECT (prd_hub_get_engine (f->hub));
  GObject *rooms = G_OBJECT (prd_hub_get_rooms (f->hub));

  /* Nothing the hub built outlives it (a reference cycle would keep its
   * engine's I/O threads from flushing at exit). */
  g_object_add_weak_pointer (engine, (gpointer *) &engine);
  g_object_add_weak_pointer (rooms, (gpointer *) &rooms);
  g_clear_object (&f->hub);
  g_assert_null (engine);
  g_assert_null (rooms);
  prd_test_store_close (f->store);
  g_clear_object (&f->store);
  g_clear_object (&f->auth);
  g_clear_pointer (&f->config, prd_hub_config_unref);
  prd_test_remove_tree (f->tmp_dir);
  g_free (f->tmp_dir);
  g_free (f->url);
}
