/* SPDX-License-Identifier: MIT */
/* cache/session/idx_sessions.c: sessions found by target through the target index, a
 * store written before the index (sessions without entries) found by a scan until its
 * first write indexes them, and deleting a session leaving a newer holder's entry. */
#include "tests/unit/helpers/ec_test.h"

#include <string.h>

#include "cache/session/session_int.h"
#include "store/util/mem.h"

static const ec_table sessions_tbl = {"sessions", 0};

struct fx {
    char *home;
    ec_cache *c;
};

static int setup(void **state)
{
    struct fx *f = ec_xcalloc(1, sizeof *f);
    f->home = ect_tmpdir();
    *state = f;
    return ec_cache_open(&f->c, f->home, NULL);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ec_cache_close(f->c);
    ect_rmdir(f->home);
    free(f);
    return 0;
}

static json_t *rec(const char *id, const char *target)
{
    return json_pack("{s:s, s:s, s:s}", "id", id, "target", target, "workspace", "default");
}

static ec_txn *begin(struct fx *f, unsigned flags)
{
    ec_txn *txn = NULL;
    assert_int_equal(ec_txn_begin(&txn, ec_cache_store(f->c), flags, NULL), EC_OK);
    return txn;
}

static void commit(ec_txn *txn)
{
    assert_int_equal(ec_txn_commit(txn, NULL), EC_OK);
}

/* The id the index gives for @target, or NULL; *@indexed as by_target says. */
static char *holder(struct fx *f, const char *target, bool *indexed)
{
    ec_txn *txn = begin(f, EC_TXN_READ);
    char *id = NULL;
    int r = ec_session__by_target(&id, indexed, txn, target, NULL);
    assert_true(r == EC_OK || r == EC_ENOTFOUND);
    assert_true((r == EC_OK) == (id != NULL));
    ec_txn_abort(txn);
    return id;
}

static void put(struct fx *f, const char *id, const char *target)
{
    ec_txn *txn = begin(f, 0);
    json_t *s = rec(id, target);
    assert_int_equal(ec_session__put(txn, id, s, EC_KV_NOOVERWRITE, NULL), EC_OK);
    json_decref(s);
    commit(txn);
}

static void del(struct fx *f, const char *id)
{
    ec_txn *txn = begin(f, 0);
    assert_int_equal(ec_session__del(txn, id, NULL), EC_OK);
    commit(txn);
}

static void session_index__finds_by_target_and_forgets_on_delete(void **state)
{
    struct fx *f = *state;
    bool indexed;
    put(f, "s1", "/mnt/one");
    put(f, "s2", "/mnt/two");
    char *id = holder(f, "/mnt/two", &indexed);
    assert_true(indexed);
    assert_non_null(id);
    assert_string_equal(id, "s2");
    free(id);
    assert_null(holder(f, "/mnt/three", &indexed));
    assert_true(indexed);
    del(f, "s2");
    assert_null(holder(f, "/mnt/two", &indexed));
    assert_true(indexed);
    id = holder(f, "/mnt/one", &indexed);
    assert_string_equal(id, "s1");
    free(id);
}

/* A session written the way an older envcache did: the record alone. */
static void put_unindexed(struct fx *f, const char *id, const char *target)
{
    ec_txn *txn = begin(f, 0);
    json_t *s = rec(id, target);
    char *text = json_dumps(s, JSON_COMPACT);
    assert_int_equal(ec_kv_put(txn, &sessions_tbl, id, strlen(id), text, strlen(text), 0,
                               NULL),
                     EC_OK);
    free(text);
    json_decref(s);
    commit(txn);
}

static void session_index__older_store_is_indexed_on_first_write(void **state)
{
    struct fx *f = *state;
    bool indexed = true;
    put_unindexed(f, "old1", "/mnt/old1");
    put_unindexed(f, "old2", "/mnt/old2");
    /* not indexed yet: the caller must scan rather than take "none" */
    assert_null(holder(f, "/mnt/old1", &indexed));
    assert_false(indexed);
    put(f, "new", "/mnt/new");
    char *id = holder(f, "/mnt/old1", &indexed);
    assert_true(indexed);
    assert_non_null(id);
    assert_string_equal(id, "old1");
    free(id);
    id = holder(f, "/mnt/old2", &indexed);
    assert_string_equal(id, "old2");
    free(id);
}

/* A record whose target another session took (the old one's mount was reaped): deleting
 * the old record must not drop the new holder's entry. */
static void session_index__delete_keeps_a_newer_holder(void **state)
{
    struct fx *f = *state;
    bool indexed;
    put(f, "first", "/mnt/shared");
    ec_txn *txn = begin(f, 0);
    json_t *s = rec("second", "/mnt/shared");
    assert_int_equal(ec_session__put(txn, "second", s, EC_KV_NOOVERWRITE, NULL), EC_OK);
    json_decref(s);
    commit(txn);
    del(f, "first");
    char *id = holder(f, "/mnt/shared", &indexed);
    assert_non_null(id);
    assert_string_equal(id, "second");
    free(id);
}

/* A record that is not JSON (a damaged index) can still be deleted. */
static void session_index__damaged_record_is_deleted(void **state)
{
    struct fx *f = *state;
    put(f, "ok", "/mnt/ok");
    ec_txn *txn = begin(f, 0);
    assert_int_equal(ec_kv_put(txn, &sessions_tbl, "bad", 3, "{not json", 9, 0, NULL), EC_OK);
    commit(txn);
    del(f, "bad");
    txn = begin(f, EC_TXN_READ);
    const void *v;
    assert_int_equal(ec_session__get_raw(txn, "bad", &v, NULL), EC_ENOTFOUND);
    ec_txn_abort(txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(session_index__finds_by_target_and_forgets_on_delete,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(session_index__older_store_is_indexed_on_first_write,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(session_index__delete_keeps_a_newer_holder, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(session_index__damaged_record_is_deleted, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
