/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prdhub-admin: the GTK admin app of a running prdhub, over D-Bus.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "prd-admin-application.h"

int
main (int argc, char *argv[])
{
  g_autoptr (PrdAdminApplication) application = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  application = prd_admin_application_new ();
  return g_application_run (G_APPLICATION (application), argc, argv);
}
