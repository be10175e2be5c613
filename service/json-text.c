/* json-text.c: a strict, non-recursive syntax check of JSON text (RFC 8259). */
#include <stdint.h>
#include <string.h>
#include <glib.h>

#include "json-text.h"

typedef struct {
        const char *start, *p, *end;
        const char *where;      /* where it went wrong */
        const char *problem;
        bool too_deep;
} Scan;

static bool fail(Scan *s, const char *where, const char *problem) {
        s->where = where;
        s->problem = problem;
        return false;
}

static void skip_space(Scan *s) {
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
                s->p++;
}

/* The value of the four hex digits at @p, or -1. */
static int hex4(const char *p, const char *end) {
        int value = 0;

        if (end - p < 4)
                return -1;
        for (int i = 0; i < 4; i++) {
                int digit = g_ascii_xdigit_value(p[i]);

                if (digit < 0)
                        return -1;
                value = value * 16 + digit;
        }
        return value;
}

/* The escape whose backslash is at s->p. */
static bool scan_escape(Scan *s) {
        static const char half[] = "a string holds half a UTF-16 surrogate pair";
        static const char invalid[] = "a string holds an invalid escape";
        const char *at = s->p;
        int unit, low;

        if (s->end - at < 2)
                return fail(s, at, "a string ends inside an escape");
        switch (at[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                s->p = at + 2;
                return true;
        case 'u':
                break;
        default:
                return fail(s, at, invalid);
        }

        unit = hex4(at + 2, s->end);
        if (unit < 0)
                return fail(s, at, invalid);
        if (unit == 0)
                return fail(s, at, "a string holds \\u0000");
        if (unit >= 0xdc00 && unit <= 0xdfff)
                return fail(s, at, half);
        if (unit < 0xd800 || unit > 0xdbff) {
                s->p = at + 6;
                return true;
        }
        /* A high surrogate needs its low half right after it. */
        if (s->end - at < 8 || at[6] != '\\' || at[7] != 'u')
                return fail(s, at, half);
        low = hex4(at + 8, s->end);
        if (low < 0)
                return fail(s, at + 6, invalid);
        if (low < 0xdc00 || low > 0xdfff)
                return fail(s, at, half);
        s->p = at + 12;
        return true;
}

static bool scan_string(Scan *s) {
        const char *open = s->p++;

        while (s->p < s->end) {
                unsigned char c = (unsigned char) *s->p;
                gunichar u;

                if (c == '"') {
                        s->p++;
                        return true;
                }
                if (c == '\\') {
                        if (!scan_escape(s))
                                return false;
                        continue;
                }
                if (c < 0x20)
                        return fail(s, s->p, "a string holds a control character");
                if (c < 0x80) {
                        s->p++;
                        continue;
                }
                u = g_utf8_get_char_validated(s->p, s->end - s->p);
                if (u == (gunichar) -1 || u == (gunichar) -2)
                        return fail(s, s->p, "a string is not UTF-8");
                s->p = g_utf8_next_char(s->p);
        }
        return fail(s, open, "a string is not closed");
}

static bool scan_digits(Scan *s) {
        const char *from = s->p;

        while (s->p < s->end && g_ascii_isdigit(*s->p))
                s->p++;
        return s->p > from;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(Scan *s) {
        static const char malformed[] = "a number is malformed";
        const char *at = s->p;

        if (*s->p == '-')
                s->p++;
        if (s->p < s->end && *s->p == '0')
                s->p++;
        else if (!scan_digits(s))
                return fail(s, at, malformed);
        if (s->p < s->end && *s->p == '.') {
                s->p++;
                if (!scan_digits(s))
                        return fail(s, at, malformed);
        }
        if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
                s->p++;
                if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
                        s->p++;
                if (!scan_digits(s))
                        return fail(s, at, malformed);
        }
        return true;
}

static bool scan_literal(Scan *s) {
        static const char *const literals[] = { "true", "false", "null" };

        for (size_t i = 0; i < G_N_ELEMENTS(literals); i++) {
                size_t n = strlen(literals[i]);

                if ((size_t) (s->end - s->p) >= n && memcmp(s->p, literals[i], n) == 0) {
                        s->p += n;
                        return true;
                }
        }
        return fail(s, s->p, "a value is expected");
}

static bool scan_document(Scan *s, unsigned max_depth) {
        enum { WANT_VALUE, WANT_KEY, AFTER_VALUE } state = WANT_VALUE;
        uint64_t objects = 0;   /* bit i: nesting level i + 1 is an object */
        unsigned depth = 0;

        for (;;) {
                bool in_object;
                char c;

                skip_space(s);
                if (s->p == s->end)
                        break;
                c = *s->p;

                switch (state) {
                case WANT_VALUE:
                        if (c == '{' || c == '[') {
                                if (depth == max_depth) {
                                        s->too_deep = true;
                                        return fail(s, s->p, "nested too deeply");
                                }
                                if (c == '{')
                                        objects |= UINT64_C(1) << depth;
                                else
                                        objects &= ~(UINT64_C(1) << depth);
                                depth++;
                                s->p++;
                                skip_space(s);
                                if (s->p < s->end && *s->p == (c == '{' ? '}' : ']')) {
                                        s->p++;
                                        depth--;
                                        state = AFTER_VALUE;
                                } else
                                        state = c == '{' ? WANT_KEY : WANT_VALUE;
                                continue;
                        }
                        if (c == '"' ? !scan_string(s) :
                            c == '-' || g_ascii_isdigit(c) ? !scan_number(s) : !scan_literal(s))
                                return false;
                        state = AFTER_VALUE;
                        break;

                case WANT_KEY:
                        if (c != '"')
                                return fail(s, s->p, "a member name (a string) is expected");
                        if (!scan_string(s))
                                return false;
                        skip_space(s);
                        if (s->p == s->end || *s->p != ':')
                                return fail(s, s->p, "':' is expected after a member name");
                        s->p++;
                        state = WANT_VALUE;
                        break;

                case AFTER_VALUE:
                        if (depth == 0)
                                return fail(s, s->p, "text follows the value");
                        in_object = objects & (UINT64_C(1) << (depth - 1));
                        if (c == ',') {
                                s->p++;
                                state = in_object ? WANT_KEY : WANT_VALUE;
                        } else if (c == (in_object ? '}' : ']')) {
                                s->p++;
                                depth--;
                        } else
                                return fail(s, s->p, in_object ? "',' or '}' is expected" : "',' or ']' is expected");
                        break;
                }
        }

        if (state != AFTER_VALUE || depth > 0)
                return fail(s, s->end, state == WANT_VALUE && depth == 0 ? "there is no value" : "the text ends early");
        return true;
}

JsonTextStatus json_text_check(const char *text, size_t len, unsigned max_depth, size_t *ret_offset,
                               const char **ret_problem) {
        Scan s = { .start = text, .p = text, .end = text + len };

        g_return_val_if_fail(text || len == 0, JSON_TEXT_INVALID);
        g_return_val_if_fail(max_depth <= JSON_TEXT_MAX_DEPTH, JSON_TEXT_INVALID);

        if (!text)
                s.start = s.p = s.end = "";
        if (scan_document(&s, max_depth))
                return JSON_TEXT_OK;
        if (ret_offset)
                *ret_offset = (size_t) (s.where - s.start);
        if (ret_problem)
                *ret_problem = s.problem;
        return s.too_deep ? JSON_TEXT_TOO_DEEP : JSON_TEXT_INVALID;
}
