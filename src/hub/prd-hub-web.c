/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The built-in web editor's routes (on the router of prd-hub-rest.c). The
 * pages and their bundle are built from web/ by esbuild when the hub is
 * built (web/meson.build) and compiled into the program as a GResource, so
 * the hub needs no Node at run time:
 *
 *   GET, HEAD /                 the page (PRD list); Cache-Control: no-cache
 *   GET, HEAD /prds/{id}        the same page (a PRD's editor)
 *   GET, HEAD /assets/{file}    the hashed bundle files; immutable for a year
 *
 * None needs a token: the page asks for one (or reads `#token=…`) and sends
 * it with its REST and Socket.IO requests. Every answer carries a strict
 * Content-Security-Policy (nothing but the hub's own origin; no inline
 * scripts or styles) and `X-Content-Type-Options: nosniff`. A hub built
 * without the web editor (-Dweb=disabled, or no web/node_modules) answers
 * these paths 404 with a line saying so.
 */
#define G_LOG_DOMAIN "prd-hub-web"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "prd-error.h"

#include "prd-hub-web.h"

#if PRD_HAVE_WEB
#include "prd-web-resources.h"
#endif

#define RESOURCE_ROOT "/org/prdtool/Hub/web/"

/* Only the hub itself: scripts and styles from /assets, REST and Socket.IO
 * (ws:// included) to the same origin, images from data: URLs only (the
 * page's own icons): an image in a PRD's preview is not fetched, from the
 * hub or anywhere else, so a PRD cannot make its readers' browsers send
 * requests. The page also allows the <style> elements that carry
 * its nonce (CodeMirror mounts its styles that way). */
#define CSP_COMMON                                                                 \
  "default-src 'none'; script-src 'self'; img-src data:; font-src 'self'; "        \
  "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; " \
  "frame-ancestors 'none'"
#define CONTENT_SECURITY_POLICY CSP_COMMON "; style-src 'self'"

/* Where index.html takes the page's nonce. */
#define NONCE_PLACEHOLDER "{{CSP_NONCE}}"

#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CACHE_NO_CACHE  "no-cache"

/**
 * prd_hub_web_is_built:
 *
 * Returns: whether this hub carries the web editor
 */
gboolean
prd_hub_web_is_built (void)
{
  return PRD_HAVE_WEB;
}

/**
 * prd_hub_web_validate_asset_name:
 * @name: the `{file}` of `/assets/{file}`
 *
 * Checks that @name can only name a file of the bundle: 1 to
 * %PRD_HUB_WEB_MAX_ASSET_NAME ASCII letters, digits, `.`, `_` and `-`, not
 * starting with `.`.
 *
 * Returns: %TRUE if it is of that form, else %FALSE with %PRD_ERROR_INVALID_ID
 */
gboolean
prd_hub_web_validate_asset_name (const char *name, GError **error)
{
  gsize len;

  g_return_val_if_fail (name != NULL, FALSE);

  len = strlen (name);
  if (len == 0 || len > PRD_HUB_WEB_MAX_ASSET_NAME || name[0] == '.')
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID,
                   "An asset name is 1 to %d characters and does not start with '.'",
                   PRD_HUB_WEB_MAX_ASSET_NAME);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '.' && name[i] != '_' && name[i] != '-')
      {
        g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_ID,
                             "An asset name holds only letters, digits, '.', '_' and '-'");
        return FALSE;
      }
  return TRUE;
}

static void
set_common_headers (SoupServerMessage *msg, const char *cache_control, const char *policy)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Content-Security-Policy", policy);
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (headers, "X-Frame-Options", "DENY");
  soup_message_headers_replace (headers, "Cache-Control", cache_control);
}

static const char *
content_type_for (const char *name)
{
  if (g_str_has_suffix (name, ".js"))
    return "text/javascript; charset=utf-8";
  if (g_str_has_suffix (name, ".css"))
    return "text/css; charset=utf-8";
  if (g_str_has_suffix (name, ".svg"))
    return "image/svg+xml";
  if (g_str_has_suffix (name, ".html"))
    return "text/html; charset=utf-8";
  return "application/octet-stream";
}

static GBytes *
lookup (const char *path)
{
#if PRD_HAVE_WEB
  g_autofree char *full = g_strconcat (RESOURCE_ROOT, path, NULL);

  return g_resource_lookup_data (prd_web_get_resource (), full, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
#else
  return NULL;
#endif
}

static void
respond_not_built (SoupServerMessage *msg)
{
  static const char text[] =
      "This hub was built without its web editor: install npm, run 'npm ci' in web/ and build "
      "again (meson -Dweb=enabled), or use build-aux/bootstrap run.\n";

  set_common_headers (msg, CACHE_NO_CACHE, CONTENT_SECURITY_POLICY);
  soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC, text,
                                    sizeof text - 1);
}

static void
respond_bytes (SoupServerMessage *msg, GBytes *bytes, const char *content_type)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Type",
                                content_type);
  /* A reference, not a copy (the resource's data is compiled in). */
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), bytes);
}

/* A fresh nonce for one page: 16 random bytes, base64. */
static char *
new_nonce (void)
{
  guint8 bytes[16];
  gsize got = 0;

  while (got < sizeof bytes)
    {
      gssize n = getrandom (bytes + got, sizeof bytes - got, 0);

      if (n > 0)
        got += (gsize) n;
      else if (n < 0 && errno != EINTR)
        {
          /* No getrandom() (a kernel older than 3.17): the nonce only
           * narrows what an injected <style> could do, GLib's generator
           * (seeded from /dev/urandom) does for it. */
          for (; got < sizeof bytes; got++)
            bytes[got] = (guint8) g_random_int_range (0, 256);
        }
    }
  return g_base64_encode (bytes, sizeof bytes);
}

static void
handle_page (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  g_autoptr (GBytes) page = lookup ("index.html");
  g_autofree char *nonce = NULL;
  g_autofree char *policy = NULL;
  g_autoptr (GString) html = NULL;
  gsize size;
  gconstpointer data;

  if (page == NULL)
    {
      respond_not_built (msg);
      return;
    }
  nonce = new_nonce ();
  policy = g_strdup_printf ("%s; style-src 'self' 'nonce-%s'", CSP_COMMON, nonce);
  data = g_bytes_get_data (page, &size);
  html = g_string_new_len (data, (gssize) size);
  g_string_replace (html, NONCE_PLACEHOLDER, nonce, 0);
  set_common_headers (msg, CACHE_NO_CACHE, policy);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  size = html->len;
  soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_TAKE,
                                    g_string_free (g_steal_pointer (&html), FALSE), size);
}

static void
handle_asset (SoupServerMessage *msg,
              const PrdIdentity *identity,
              const char *const *params,
              GHashTable *query,
              gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *path = NULL;

  if (!prd_hub_web_validate_asset_name (params[0], &error))
    {
      prd_hub_rest_respond_error (msg, error);
      return;
    }
  if (!prd_hub_web_is_built ())
    {
      respond_not_built (msg);
      return;
    }
  path = g_strconcat ("assets/", params[0], NULL);
  bytes = lookup (path);
  if (bytes == NULL)
    {
      set_common_headers (msg, CACHE_NO_CACHE, CONTENT_SECURITY_POLICY);
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_NOT_FOUND, "No such asset");
      return;
    }
  set_common_headers (msg, CACHE_IMMUTABLE, CONTENT_SECURITY_POLICY);
  respond_bytes (msg, bytes, content_type_for (params[0]));
}

static const PrdHubRouteEntry web_routes[] = {
  { "GET", "/", handle_page },
  { "HEAD", "/", handle_page },
  { "GET", "/prds/{id}", handle_page },
  { "HEAD", "/prds/{id}", handle_page },
  { "GET", "/assets/{file}", handle_asset },
  { "HEAD", "/assets/{file}", handle_asset },
};

/**
 * prd_hub_web_add:
 *
 * Adds the web editor's routes to @rest.
 */
void
prd_hub_web_add (PrdHubRest *rest)
{
  g_return_if_fail (PRD_IS_HUB_REST (rest));

  prd_hub_rest_add_routes (rest, web_routes, G_N_ELEMENTS (web_routes), NULL, NULL);
}
