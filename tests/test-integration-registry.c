/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The integration registry over a SQLite store and the file secret store,
 * behind a secret store that counts its lookups: a listing or a use whose
 * settings did not change sets nothing up again and asks the secret store
 * nothing; a write through the hub's registry, or through another registry
 * on the same data (the command line), is read again with its secrets.
 */
#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-file-secret-store.h"
#include "prd-integration-registry.h"
#include "prd-jira.h"
#include "prd-sqlite-store.h"

#include "prd-test-harness.h"

/* ---- a secret store that counts lookups ---- */

#define TEST_TYPE_COUNTING_SECRETS (test_counting_secrets_get_type ())
G_DECLARE_FINAL_TYPE (TestCountingSecrets, test_counting_secrets, TEST, COUNTING_SECRETS, GObject)

struct _TestCountingSecrets
{
  GObject parent_instance;
  PrdSecretStore *inner; /* (owned) */
  guint lookups;
};

static void test_counting_secrets_iface_init (PrdSecretStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestCountingSecrets,
                               test_counting_secrets,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PRD_TYPE_SECRET_STORE,
                                                      test_counting_secrets_iface_init))

static void
test_counting_secrets_dispose (GObject *object)
{
  TestCountingSecrets *self = TEST_COUNTING_SECRETS (object);

  g_clear_object (&self->inner);
  G_OBJECT_CLASS (test_counting_secrets_parent_class)->dispose (object);
}

static void
test_counting_secrets_class_init (TestCountingSecretsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = test_counting_secrets_dispose;
}

static void
test_counting_secrets_init (TestCountingSecrets *self)
{
}

static const char *
counting_get_description (PrdSecretStore *store)
{
  return "counting";
}

/* Each call goes to the inner store, which is also the source of its
 * result: the finish functions hand it back there. */
static void
counting_lookup_async (PrdSecretStore *store,
                       const char *name,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  TestCountingSecrets *self = TEST_COUNTING_SECRETS (store);

  self->lookups++;
  prd_secret_store_lookup_async (self->inner, name, cancellable, callback, user_data);
}

static char *
counting_lookup_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return prd_secret_store_lookup_finish (TEST_COUNTING_SECRETS (store)->inner, result, error);
}

static void
counting_store_async (PrdSecretStore *store,
                      const char *name,
                      const char *value,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  prd_secret_store_store_async (TEST_COUNTING_SECRETS (store)->inner, name, value, cancellable,
                                callback, user_data);
}

static gboolean
counting_store_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return prd_secret_store_store_finish (TEST_COUNTING_SECRETS (store)->inner, result, error);
}

static void
counting_delete_async (PrdSecretStore *store,
                       const char *name,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  prd_secret_store_delete_async (TEST_COUNTING_SECRETS (store)->inner, name, cancellable, callback,
                                 user_data);
}

static gboolean
counting_delete_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return prd_secret_store_delete_finish (TEST_COUNTING_SECRETS (store)->inner, result, error);
}

static void
test_counting_secrets_iface_init (PrdSecretStoreInterface *iface)
{
  iface->get_description = counting_get_description;
  iface->lookup_async = counting_lookup_async;
  iface->lookup_finish = counting_lookup_finish;
  iface->store_async = counting_store_async;
  iface->store_finish = counting_store_finish;
  iface->delete_async = counting_delete_async;
  iface->delete_finish = counting_delete_finish;
}

/* ---- helpers ---- */

static PrdIntegrationRegistry *
registry_new (PrdStore *store, PrdSecretStore *secrets)
{
  PrdIntegrationRegistry *registry =
      prd_integration_registry_new (PRD_INTEGRATION_STORE (store), secrets);

  prd_integration_registry_add_service (registry, PRD_TYPE_JIRA);
  return registry;
}

static void
put_jira (PrdIntegrationRegistry *registry, const char *org, const char *token)
{
  g_autoptr (JsonObject) input = json_object_new ();
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (PrdIntegrationEntry) entry = NULL;
  g_autoptr (GError) error = NULL;

  json_object_set_string_member (input, "baseUrl", "http://127.0.0.1:9/");
  json_object_set_string_member (input, "email", "a@example.com");
  json_object_set_string_member (input, "projectKey", "PRD");
  json_object_set_string_member (input, "token", token);
  res = PRD_TEST_WAIT_FOR (prd_integration_registry_put_async, registry, org, "jira", input, FALSE,
                           NULL);
  entry = prd_integration_registry_put_finish (registry, res, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (entry->integration);
}

/* The integrations of every organization, in the listing's order. */
static GPtrArray *
list_integrations (PrdIntegrationRegistry *registry)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_integration_registry_list_async, registry, NULL, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = prd_integration_registry_list_finish (registry, res, &error);
  GPtrArray *integrations = g_ptr_array_new_with_free_func (g_object_unref);

  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    {
      PrdIntegrationEntry *entry = g_ptr_array_index (entries, i);

      g_assert_nonnull (entry->integration);
      g_assert_true (g_strv_contains ((const char *const *) entry->secrets_set, "token"));
      g_ptr_array_add (integrations, g_object_ref (entry->integration));
    }
  return integrations;
}

/* ---- the test ---- */

static void
test_lookups (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-registry-XXXXXX");
  g_autofree char *db = g_build_filename (dir, "hub.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStore) store = prd_test_store_open (db, &error);
  g_autoptr (TestCountingSecrets) secrets = g_object_new (TEST_TYPE_COUNTING_SECRETS, NULL);
  g_autoptr (PrdIntegrationRegistry) hub = NULL;
  g_autoptr (PrdIntegrationRegistry) cli = NULL;
  g_autoptr (GPtrArray) first = NULL;
  g_autoptr (GPtrArray) after_cli = NULL;
  g_autoptr (GPtrArray) after_put = NULL;
  guint lookups;

  g_assert_no_error (error);
  secrets->inner = prd_file_secret_store_new (dir);
  hub = registry_new (store, PRD_SECRET_STORE (secrets));
  cli = registry_new (store, PRD_SECRET_STORE (secrets));

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *org = g_strdup_printf ("org_%u", i);

      put_jira (hub, org, "token-1");
    }
  first = list_integrations (hub);
  g_assert_cmpuint (first->len, ==, 3);

  /* Listings and uses with unchanged settings ask the secret store nothing
   * and keep their integrations. */
  lookups = secrets->lookups;
  for (guint round = 0; round < 5; round++)
    {
      g_autoptr (GPtrArray) again = list_integrations (hub);

      g_assert_cmpuint (again->len, ==, 3);
      for (guint i = 0; i < 3; i++)
        g_assert_true (g_ptr_array_index (again, i) == g_ptr_array_index (first, i));
    }
  {
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_integration_registry_get_async, hub, "org_1", "jira", NULL);
    g_autoptr (PrdIntegrationEntry) entry = prd_integration_registry_get_finish (hub, res, &error);

    g_assert_no_error (error);
    g_assert_true (entry->integration == g_ptr_array_index (first, 1));
  }
  g_assert_cmpuint (secrets->lookups, ==, lookups);

  /* Another registry on the same data (the command line) gives org_0 a new
   * token: the hub's next listing reads org_0's secrets again and sets up
   * a new integration for it, and only for it. */
  put_jira (cli, "org_0", "token-2");
  lookups = secrets->lookups;
  after_cli = list_integrations (hub);
  g_assert_cmpuint (secrets->lookups, >, lookups);
  g_assert_true (g_ptr_array_index (after_cli, 0) != g_ptr_array_index (first, 0));
  g_assert_true (g_ptr_array_index (after_cli, 1) == g_ptr_array_index (first, 1));
  g_assert_true (g_ptr_array_index (after_cli, 2) == g_ptr_array_index (first, 2));
  lookups = secrets->lookups;
  g_clear_pointer (&after_cli, g_ptr_array_unref);
  after_cli = list_integrations (hub);
  g_assert_cmpuint (secrets->lookups, ==, lookups);

  /* The hub's own write of a secret is read again too. */
  put_jira (hub, "org_2", "token-3");
  after_put = list_integrations (hub);
  g_assert_true (g_ptr_array_index (after_put, 2) != g_ptr_array_index (first, 2));
  g_assert_true (g_ptr_array_index (after_put, 1) == g_ptr_array_index (first, 1));

  prd_integration_registry_shutdown (hub);
  prd_integration_registry_shutdown (cli);
  g_clear_object (&hub);
  g_clear_object (&cli);
  prd_test_store_close (store);
  prd_test_remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/integrations/registry/lookups", test_lookups);
  return g_test_run ();
}
