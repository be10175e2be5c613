/* model-check.c: the checked builds' proof of the model's sharing rule (see
 * model-check.h). */
#include "config.h"
#include "model-check.h"

struct ModelCheck {
        GHashTable *seen; /* Link* or Peer* of the adopted model -> its JSON then */
};

ModelCheck *model_check_new(void) {
        ModelCheck *check = g_new0(ModelCheck, 1);

        check->seen = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        return check;
}

void model_check_free(ModelCheck *check) {
        if (!check)
                return;
        g_hash_table_unref(check->seen);
        g_free(check);
}

#if PIC_MODEL_CHECKS
static void check_entries(ModelCheck *check, const GPtrArray *before, const GPtrArray *after,
                          char *(*to_json)(const void *item), const char *what, GHashTable *seen) {
        g_autoptr(GHashTable) old = g_hash_table_new(g_direct_hash, g_direct_equal);

        for (guint i = 0; before && i < before->len; i++)
                g_hash_table_add(old, before->pdata[i]);
        for (guint i = 0; i < after->len; i++) {
                void *item = after->pdata[i];
                g_autofree char *now = to_json(item);
                const char *then = g_hash_table_lookup(check->seen, item);

                if (g_hash_table_contains(old, item) && then && !g_str_equal(then, now))
                        g_error("A %s shared by the model before and after a change was changed in place "
                                "(use cell_state_edit_*()):\nbefore: %s\nnow: %s",
                                what, then, now);
                g_hash_table_insert(seen, item, g_steal_pointer(&now));
        }
}

static char *link_json(const void *item) {
        return cell_state_link_to_json(item);
}

static char *peer_json(const void *item) {
        return cell_state_peer_to_json(item);
}

void model_check_adopt(ModelCheck *check, const CellState *before, const CellState *after) {
        GHashTable *seen = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);

        check_entries(check, before ? before->links : NULL, after->links, link_json, "link", seen);
        check_entries(check, before ? before->peers : NULL, after->peers, peer_json, "peer", seen);
        g_hash_table_unref(check->seen);
        check->seen = seen;
}
#else
void model_check_adopt(ModelCheck *check, const CellState *before, const CellState *after) {
}
#endif
