/* i18n.h: marks pic-celld's messages for translation, in the project's one catalogue.
 *
 * _() looks its text up in GETTEXT_PACKAGE by name rather than in the
 * process's default domain, so that the library translates the same way in
 * the daemon, in the app that links it and in tests; main() binds the
 * catalogue's directory. Without setlocale() (the unit tests) the text stays
 * English. N_() only marks a text whose lookup comes later. */
#pragma once

#include "config.h"

#include <glib/gi18n-lib.h>
