/* main.c: pic-cell, the GTK app that manages a PIC cell through pic-celld's D-Bus API. */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "pic-application.h"

int main(int argc, char *argv[]) {
        g_autoptr(PicApplication) application = NULL;

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);

        application = pic_application_new();
        return g_application_run(G_APPLICATION(application), argc, argv);
}
