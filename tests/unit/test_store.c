/*  tests/unit/test_store.c — the LMDB store and its record codec.

    Each test gets a fresh directory from mkdtemp, removed afterwards. Raw
    LMDB calls (a newer schema, garbage records) are made only while the
    store is closed: LMDB must not be opened twice in one process.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>
#include <dirent.h>
#include <lmdb.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/record.h"
#include "store/store.h"

typedef struct {
    char dir[64];
    store_t *s;
    char err[256];
} fx_t;

static void s_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    strcpy(fx->dir, "/tmp/test_store.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    strcat(fx->dir, "/data");       /* store_open creates it */
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    store_close(&fx->s);
    s_rmdir(fx->dir);
    *strrchr(fx->dir, '/') = '\0';
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static store_t *s_open_opts(fx_t *fx, bool sync, uint64_t map_size)
{
    store_opts_t o = { fx->dir, sync, map_size };
    return store_open(&o, fx->err, sizeof fx->err);
}

static void s_open(fx_t *fx)
{
    store_close(&fx->s);
    fx->s = s_open_opts(fx, false, 0);
    if (!fx->s)
        fail_msg("store_open: %s", fx->err);
}

static void s_commit(fx_t *fx)
{
    if (store_commit(fx->s, fx->err, sizeof fx->err) != 0)
        fail_msg("store_commit: %s", fx->err);
}

/* Raw LMDB: put key/value into a named database of the (closed) store. */
static void s_raw_put(const char *dir, const char *db, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 1 << 30), 0);   /* valgrind cannot map 64 GiB */
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = { klen, (void *) key }, v = { vlen, (void *) val };
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void s_key8(uint64_t id, uint8_t kb[8])
{
    for (int i = 7; i >= 0; i--, id >>= 8)
        kb[i] = (uint8_t) id;
}

/* ---- jobs to store ----------------------------------------------------------- */

static role_t s_role = { .name = "build", .max_attempts = 3 };

static job_t *s_job(uint64_t id, job_state_t state)
{
    job_t *j = job_new(id, &s_role, "{\"n\":1}", 7, 0, NULL, 1000);
    assert_non_null(j);
    j->state = state;
    return j;
}

static void s_put(fx_t *fx, uint64_t id, job_state_t state)
{
    job_t *j = s_job(id, state);
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    if (store_put_job(fx->s, j, fx->err, sizeof fx->err) != 0)
        fail_msg("store_put_job: %s", fx->err);
    job_destroy(&j);
}

/* Collects what a walk hands over. */
typedef struct {
    uint64_t ids[2000];
    size_t n;
    size_t stop_after;          /* 0 = never stop */
    job_t *keep;                /* the first job, kept for inspection */
    char role[64], worker[64];
} s_seen_t;

static int s_collect(job_t *job, const char *role, const char *worker, void *arg)
{
    s_seen_t *seen = arg;
    assert_true(seen->n < 2000);
    assert_null(job->role);
    seen->ids[seen->n++] = job->id;
    if (!seen->keep) {
        seen->keep = job;
        snprintf(seen->role, sizeof seen->role, "%s", role);
        snprintf(seen->worker, sizeof seen->worker, "%s", worker ? worker : "(nil)");
    } else
        job_destroy(&job);
    return seen->stop_after && seen->n == seen->stop_after ? 7 : 0;
}

static void s_seen_free(s_seen_t *seen)
{
    job_destroy(&seen->keep);
    seen->n = 0;
}

/* ---- open, meta ---------------------------------------------------------------- */

/* Byte ranges across chunk boundaries, and after the oldest chunks were trimmed. */
static void test_log_ranges(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    const char *chunks[] = { "abc", "defgh", "ij", "klmnop" };
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(store_put_log(fx->s, 7, i, chunks[i], strlen(chunks[i]), fx->err,
                                       sizeof fx->err), 0);
    assert_int_equal(store_put_log(fx->s, 8, 0, "other", 5, fx->err, sizeof fx->err), 0);
    s_commit(fx);
    static const struct { uint64_t skip; size_t max; const char *want; } cases[] = {
        { 0, 100, "abcdefghijklmnop" }, { 0, 3, "abc" }, { 2, 4, "cdef" }, { 3, 5, "defgh" },
        { 7, 6, "hijklm" }, { 15, 10, "p" }, { 16, 10, "" }, { 99, 10, "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        size_t len = 99;
        assert_int_equal(store_read_log_range(fx->s, 7, cases[i].skip, cases[i].max, &out, &len,
                                              fx->err, sizeof fx->err), 0);
        assert_int_equal(len, strlen(cases[i].want));
        assert_string_equal(out, cases[i].want);
        free(out);
    }
    size_t freed;
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_trim_log(fx->s, 7, 4, &freed, fx->err, sizeof fx->err), 0);
    assert_int_equal(freed, 8);                         /* "abc" and "defgh" */
    char *out = NULL;
    size_t len;
    assert_int_equal(store_read_log_range(fx->s, 7, 1, 4, &out, &len, fx->err, sizeof fx->err), 0);
    assert_string_equal(out, "jklm");                   /* through the open write txn */
    free(out);
    s_commit(fx);
}

static void test_open_keeps_cluster_id(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    char id[40];
    snprintf(id, sizeof id, "%s", store_cluster_id(fx->s));
    assert_int_equal(strlen(id), 32);
    assert_int_equal(strspn(id, "0123456789abcdef"), 32);
    struct stat st;
    assert_int_equal(stat(fx->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    store_close(&fx->s);
    assert_null(fx->s);
    s_open(fx);
    assert_string_equal(store_cluster_id(fx->s), id);
}

static void s_write_schema(fx_t *fx, uint32_t version)
{
    uint8_t v[4] = { (uint8_t) (version >> 24), (uint8_t) (version >> 16),
                     (uint8_t) (version >> 8), (uint8_t) version };
    s_raw_put(fx->dir, "meta", "schema", 6, v, 4);
}

static void test_newer_schema_refused(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    store_close(&fx->s);
    s_write_schema(fx, 99);
    fx->s = s_open_opts(fx, false, 0);
    assert_null(fx->s);
    assert_non_null(strstr(fx->err, "99"));
    assert_non_null(strstr(fx->err, "(2)"));
    assert_non_null(strstr(fx->err, "newer"));
    s_write_schema(fx, 0);            /* no store has schema 0 */
    fx->s = s_open_opts(fx, false, 0);
    assert_null(fx->s);
    assert_non_null(strstr(fx->err, "schema version 0"));
    s_write_schema(fx, STORE_SCHEMA_VERSION);
    s_open(fx);                       /* and the refusals changed nothing */
}

static int s_collect_where(job_t *job, const char *role, const char *worker, void *arg)
{
    (void) role;
    (void) worker;
    uint64_t *ids = arg;
    ids[ids[0]++ + 1] = job->id;
    job_destroy(&job);
    return 0;
}

/* The state and role indexes answer listings newest first, follow state
   changes, and are rebuilt when a schema-1 store (without them) is opened. */
static void test_indexes_and_migration(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    role_t other = { .name = "other", .max_attempts = 1 };
    for (uint64_t i = 1; i <= 6; i++)
        s_put(fx, i, i % 2 ? JOB_SUCCEEDED : JOB_QUEUED);
    job_t *j = job_new(7, &other, "{}", 2, 0, NULL, 1);
    assert_int_equal(store_put_job(fx->s, j, fx->err, sizeof fx->err), 0);
    job_finish(j, JOB_SUCCEEDED, false, 0, "1", 1, NULL, 2);   /* queued -> succeeded */
    assert_int_equal(store_put_job(fx->s, j, fx->err, sizeof fx->err), 0);
    job_destroy(&j);
    s_commit(fx);
    uint64_t ids[16] = { 0 };
    assert_int_equal(store_each_job_where(fx->s, JOB_SUCCEEDED, NULL, s_collect_where, ids,
                                          fx->err, sizeof fx->err), 0);
    assert_true(ids[0] == 4 && ids[1] == 7 && ids[2] == 5 && ids[3] == 3 && ids[4] == 1);
    memset(ids, 0, sizeof ids);
    assert_int_equal(store_each_job_where(fx->s, JOB_QUEUED, NULL, s_collect_where, ids,
                                          fx->err, sizeof fx->err), 0);
    assert_true(ids[0] == 0);                  /* unfinished jobs are not in it */
    memset(ids, 0, sizeof ids);
    assert_int_equal(store_each_job_where(fx->s, JOB_SUCCEEDED, "build", s_collect_where, ids,
                                          fx->err, sizeof fx->err), 0);
    assert_true(ids[0] == 3 && ids[1] == 5);
    memset(ids, 0, sizeof ids);
    assert_int_equal(store_each_job_where(fx->s, JOB_STATE_COUNT, "other", s_collect_where, ids,
                                          fx->err, sizeof fx->err), 0);
    assert_true(ids[0] == 1 && ids[1] == 7);
    /* a schema-1 store: no indexes; opening it builds them */
    store_close(&fx->s);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 12), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 1 << 30), 0);
    assert_int_equal(mdb_env_open(env, fx->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    const char *idx[] = { "by_state", "by_role" };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mdb_dbi_open(txn, idx[i], 0, &dbi), 0);
        assert_int_equal(mdb_drop(txn, dbi, 0), 0);            /* empty it */
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    s_write_schema(fx, 1);
    s_open(fx);
    memset(ids, 0, sizeof ids);
    assert_int_equal(store_each_job_where(fx->s, JOB_SUCCEEDED, NULL, s_collect_where, ids,
                                          fx->err, sizeof fx->err), 0);
    assert_true(ids[0] == 4 && ids[1] == 7);
}

static void test_second_open_refused(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    s_put(fx, 1, JOB_QUEUED);
    s_commit(fx);
    char err[256];
    store_opts_t o = { fx->dir, false, 0 };
    store_t *second = store_open(&o, err, sizeof err);
    assert_null(second);
    assert_non_null(strstr(err, "in use"));
    s_put(fx, 2, JOB_QUEUED);        /* the first one still works */
    s_commit(fx);
    s_seen_t seen = { 0 };
    assert_int_equal(store_each_active_job(fx->s, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(seen.n, 2);
    s_seen_free(&seen);
    store_close(&fx->s);
    s_open(fx);                       /* free again once closed */
}

static void test_open_errors(void **state)
{
    fx_t *fx = *state;
    char err[256];
    store_opts_t o = { "/nonexistent/dir/x", false, 0 };
    assert_null(store_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/dir/x"));
    o.dir = "";
    assert_null(store_open(&o, err, sizeof err));
    s_open(fx);                       /* a file where the dir should be */
    store_close(&fx->s);
    char file[128];
    snprintf(file, sizeof file, "%s/data.mdb", fx->dir);
    o.dir = file;
    assert_null(store_open(&o, err, sizeof err));
}

/* ---- jobs ------------------------------------------------------------------------ */

static job_t *s_full_job(void)
{
    kvlist_t where = { 0 };
    assert_int_equal(kv_set(&where, "region", "eu"), 0);
    assert_int_equal(kv_set(&where, "gpu", "1"), 0);
    job_t *j = job_new(0x0123456789abcdefULL, &s_role, "{\"x\":\"\xc3\xa9\"}", 10, -7, &where,
                       1700000000123LL);
    kv_free(&where);
    assert_non_null(j);
    j->state = JOB_FAILED;
    j->attempts = 3;
    j->last_worker = strdup("w-1.example");
    j->has_exit_code = true;
    j->exit_code = -2;
    j->result = strdup("{\"out\":[1,2]}");
    j->error = strdup("exit status 254");
    j->started_ms = 1700000000200LL;
    j->finished_ms = -1;             /* any int64 survives */
    j->run_at_ms = 1700000009000;
    j->revoking = true;
    j->attempt_base = 2;
    j->log_seq = 7;
    j->log_stored = 1ULL << 33;
    j->log_dropped = 5;
    return j;
}

static void s_same_job(const job_t *a, const job_t *b)
{
    assert_int_equal(a->id, b->id);
    assert_string_equal(a->idstr, b->idstr);
    assert_string_equal(a->payload, b->payload);
    assert_int_equal(a->priority, b->priority);
    assert_int_equal(a->where.n, b->where.n);
    for (size_t i = 0; i < a->where.n; i++) {
        assert_string_equal(a->where.items[i].key, b->where.items[i].key);
        assert_string_equal(a->where.items[i].val, b->where.items[i].val);
    }
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->attempts, b->attempts);
    if (a->last_worker)
        assert_string_equal(a->last_worker, b->last_worker);
    else
        assert_null(b->last_worker);
    assert_int_equal(a->has_exit_code, b->has_exit_code);
    assert_int_equal(a->exit_code, b->exit_code);
    if (a->result)
        assert_string_equal(a->result, b->result);
    else
        assert_null(b->result);
    if (a->error)
        assert_string_equal(a->error, b->error);
    else
        assert_null(b->error);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->started_ms, b->started_ms);
    assert_int_equal(a->finished_ms, b->finished_ms);
    assert_true(a->run_at_ms == b->run_at_ms);
    assert_true(a->revoking == b->revoking);
    assert_int_equal(a->attempt_base, b->attempt_base);
    assert_int_equal(a->log_seq, b->log_seq);
    assert_true(a->log_stored == b->log_stored && a->log_dropped == b->log_dropped);
    assert_null(b->role);
    assert_null(b->worker);
}

static void test_job_round_trip(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    job_t *full = s_full_job();
    job_t *bare = job_new(5, &s_role, "", 0, 0, NULL, 0);    /* nils, zeros, empty */
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_put_job(fx->s, full, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_put_job(fx->s, bare, fx->err, sizeof fx->err), 0);
    s_commit(fx);
    s_open(fx);                       /* and it survives a reopen */
    job_t *got;
    char role[64], worker[64];
    assert_int_equal(store_get_job(fx->s, full->id, &got, role, sizeof role, worker,
                                   sizeof worker, fx->err, sizeof fx->err), 1);
    s_same_job(full, got);
    assert_string_equal(role, "build");
    assert_string_equal(worker, "w-1.example");
    job_destroy(&got);
    assert_int_equal(store_get_job(fx->s, 5, &got, role, sizeof role, worker, sizeof worker,
                                   fx->err, sizeof fx->err), 1);
    s_same_job(bare, got);
    assert_string_equal(worker, "");
    job_destroy(&got);
    assert_int_equal(store_get_job(fx->s, 6, &got, NULL, 0, NULL, 0, fx->err, sizeof fx->err), 0);
    assert_null(got);
    assert_int_equal(store_get_job(fx->s, full->id, &got, role, 4, NULL, 0,
                                   fx->err, sizeof fx->err), -1);   /* "build" does not fit */
    assert_null(got);
    s_seen_t seen = { 0 };           /* the walk hands over the same fields */
    assert_int_equal(store_each_job_desc(fx->s, 0, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(seen.n, 2);
    s_same_job(full, seen.keep);
    assert_string_equal(seen.role, "build");
    assert_string_equal(seen.worker, "w-1.example");
    s_seen_free(&seen);
    job_destroy(&full);
    job_destroy(&bare);
}

static bool s_active_has(fx_t *fx, uint64_t id)
{
    s_seen_t seen = { 0 };
    assert_int_equal(store_each_active_job(fx->s, s_collect, &seen, fx->err, sizeof fx->err), 0);
    bool found = false;
    for (size_t i = 0; i < seen.n; i++)
        found |= seen.ids[i] == id;
    s_seen_free(&seen);
    return found;
}

static void test_active_follows_state(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    job_state_t path[] = { JOB_SCHEDULED, JOB_QUEUED, JOB_RUNNING, JOB_QUEUED, JOB_RUNNING,
                           JOB_SUCCEEDED };
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
        s_put(fx, 42, path[i]);
        s_commit(fx);
        assert_int_equal(s_active_has(fx, 42), !job_state_terminal(path[i]));
    }
    for (job_state_t st = JOB_SUCCEEDED; st < JOB_STATE_COUNT; st++) {
        s_put(fx, 43, JOB_QUEUED);
        s_put(fx, 43, st);           /* in the same transaction */
        s_put(fx, 44, st);           /* terminal from the start: nothing to delete */
        s_commit(fx);
        assert_false(s_active_has(fx, 43));
        assert_false(s_active_has(fx, 44));
    }
    job_t *got;
    assert_int_equal(store_get_job(fx->s, 42, &got, NULL, 0, NULL, 0, fx->err, sizeof fx->err), 1);
    assert_int_equal(got->state, JOB_SUCCEEDED);
    job_destroy(&got);
}

static void test_each_active_oldest_first(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    uint64_t order[] = { 0x500, 0x100, 0x10000, 0x300, 0x200, 0x1, 0xffffffffffffULL << 16 };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        s_put(fx, order[i], order[i] == 0x300 ? JOB_DEAD : JOB_QUEUED);
    s_commit(fx);
    s_seen_t seen = { 0 };
    assert_int_equal(store_each_active_job(fx->s, s_collect, &seen, fx->err, sizeof fx->err), 0);
    uint64_t want[] = { 0x1, 0x100, 0x200, 0x500, 0x10000, 0xffffffffffffULL << 16 };
    assert_int_equal(seen.n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(seen.ids[i], want[i]);
    s_seen_free(&seen);
    seen.stop_after = 2;              /* a callback's non-zero stops the walk and is returned */
    assert_int_equal(store_each_active_job(fx->s, s_collect, &seen, fx->err, sizeof fx->err), 7);
    assert_int_equal(seen.n, 2);
    s_seen_free(&seen);
}

static void test_each_job_desc_paging(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    jobid_gen_t gen = { 0 };
    static uint64_t ids[1000];
    for (size_t i = 0; i < 1000; i++) {
        ids[i] = jobid_next(&gen, 1700000000000LL + (int64_t) (i / 7));
        s_put(fx, ids[i], i % 3 ? JOB_SUCCEEDED : JOB_QUEUED);
    }
    s_commit(fx);
    uint64_t before = 0;
    size_t at = 1000;                 /* ids[at - 1] comes next */
    for (int page = 0; page < 10; page++) {
        s_seen_t seen = { .stop_after = 100 };
        assert_int_equal(store_each_job_desc(fx->s, before, s_collect, &seen,
                                             fx->err, sizeof fx->err), 7);
        assert_int_equal(seen.n, 100);
        for (size_t i = 0; i < 100; i++)
            assert_int_equal(seen.ids[i], ids[--at]);
        before = seen.ids[99];
        s_seen_free(&seen);
    }
    s_seen_t seen = { 0 };
    assert_int_equal(store_each_job_desc(fx->s, before, s_collect, &seen, fx->err,
                                         sizeof fx->err), 0);
    assert_int_equal(seen.n, 0);      /* below the oldest: nothing */
    assert_int_equal(store_each_job_desc(fx->s, ids[999] + 1000, s_collect, &seen, fx->err,
                                         sizeof fx->err), 0);
    assert_int_equal(seen.n, 1000);   /* above the newest: everything */
    assert_int_equal(seen.ids[0], ids[999]);
    s_seen_free(&seen);
    assert_int_equal(store_each_job_desc(fx->s, ids[500] + 1, s_collect, &seen, fx->err,
                                         sizeof fx->err), 0);
    assert_int_equal(seen.n, 501);    /* between two keys */
    assert_int_equal(seen.ids[0], ids[500]);
    s_seen_free(&seen);
}

static void test_empty_store_walks(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    s_seen_t seen = { 0 };
    assert_int_equal(store_each_job_desc(fx->s, 0, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_each_job_desc(fx->s, 77, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_each_active_job(fx->s, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(seen.n, 0);
}

/* ---- workers and roles -------------------------------------------------------------- */

typedef struct {
    peer_t *items[8];
    size_t n;
} s_peers_t;

static int s_take_peer(peer_t *p, void *arg)
{
    s_peers_t *ps = arg;
    assert_true(ps->n < 8);
    ps->items[ps->n++] = p;
    return 0;
}

static peer_t *s_full_peer(void)
{
    peer_t *p = peer_new("w-1");
    free(p->name);
    p->name = strdup("builder one");
    free(p->version);
    p->version = strdup("0.1.0");
    free(p->address);
    p->address = strdup("tcp://10.0.0.1:5555");
    p->roles = calloc(2, sizeof(char *));
    p->roles[0] = strdup("build");
    p->roles[1] = strdup("echo");
    p->nroles = 2;
    p->slots = 8;
    kv_set(&p->labels, "zone", "b");
    kv_set(&p->labels, "gpu", "");
    p->heartbeat_ms = 1000;
    p->liveness = 3;
    p->state = PEER_DRAINING;
    p->first_seen_ms = 1700000000000LL;
    p->last_seen_ms = 12345;
    p->seen_wall_ms = 1700000009999LL;
    return p;
}

static void test_worker_round_trip(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    peer_t *p = s_full_peer(), *bare = peer_new("w-2");
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_put_worker(fx->s, bare, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_put_worker(fx->s, p, fx->err, sizeof fx->err), 0);
    s_commit(fx);
    s_open(fx);
    s_peers_t ps = { 0 };
    assert_int_equal(store_each_worker(fx->s, s_take_peer, &ps, fx->err, sizeof fx->err), 0);
    assert_int_equal(ps.n, 2);
    peer_t *got = ps.items[0];
    assert_string_equal(got->id, "w-1");
    assert_string_equal(got->name, "builder one");
    assert_string_equal(got->version, "0.1.0");
    assert_string_equal(got->address, "tcp://10.0.0.1:5555");
    assert_int_equal(got->nroles, 2);
    assert_string_equal(got->roles[0], "build");
    assert_string_equal(got->roles[1], "echo");
    assert_int_equal(got->slots, 8);
    assert_int_equal(got->labels.n, 2);
    assert_string_equal(kv_get(&got->labels, "zone"), "b");
    assert_string_equal(kv_get(&got->labels, "gpu"), "");
    assert_int_equal(got->heartbeat_ms, 1000);
    assert_int_equal(got->liveness, 3);
    assert_int_equal(got->first_seen_ms, 1700000000000LL);
    assert_int_equal(got->seen_wall_ms, 1700000009999LL);
    assert_int_equal(got->last_seen_ms, 0);
    assert_int_equal(got->state, PEER_OFFLINE);
    assert_null(got->routing_id);
    assert_int_equal(got->nleases, 0);
    got = ps.items[1];
    assert_string_equal(got->id, "w-2");
    assert_string_equal(got->name, "w-2");
    assert_string_equal(got->address, "");
    assert_int_equal(got->nroles, 0);
    assert_int_equal(got->labels.n, 0);
    for (size_t i = 0; i < ps.n; i++)
        peer_destroy(&ps.items[i]);
    peer_destroy(&p);
    peer_destroy(&bare);
}

typedef struct {
    role_t *items[8];
    size_t n;
} s_roles_t;

static int s_take_role(role_t *r, void *arg)
{
    s_roles_t *rs = arg;
    assert_true(rs->n < 8);
    rs->items[rs->n++] = r;
    return 0;
}

static role_t *s_mk_role(const char *name, bool shell, size_t ncommand, ...)
{
    role_t *r = calloc(1, sizeof *r);
    r->name = strdup(name);
    r->shell = shell;
    r->max_attempts = 3;
    r->enabled = true;
    r->command = calloc(ncommand ? ncommand : 1, sizeof(char *));
    va_list ap;
    va_start(ap, ncommand);
    for (size_t i = 0; i < ncommand; i++)
        r->command[i] = strdup(va_arg(ap, const char *));
    va_end(ap);
    r->ncommand = ncommand;
    return r;
}

static void test_role_round_trip(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    role_t *argv = s_mk_role("build", false, 3, "make", "-C", "{payload.dir}");
    argv->timeout_ms = 60000;
    argv->max_attempts = 5;
    argv->max_concurrency = 2;
    argv->backoff_base_ms = 250;
    argv->backoff_max_ms = 9000;
    kv_set(&argv->env, "CC", "gcc");
    kv_set(&argv->env, "LANG", "C.UTF-8");
    argv->enabled = false;
    argv->permissions = calloc(2, sizeof(char *));
    argv->permissions[0] = strdup("submit:build");
    argv->permissions[1] = strdup("worker:w1");
    argv->npermissions = 2;
    role_t *sh = s_mk_role("report", true, 1, "echo {payload} | wc -c");
    role_t *echo = s_mk_role("echo", false, 0);
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_put_role(fx->s, argv, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_put_role(fx->s, sh, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_put_role(fx->s, echo, fx->err, sizeof fx->err), 0);
    s_commit(fx);
    s_open(fx);
    s_roles_t rs = { 0 };
    assert_int_equal(store_each_role(fx->s, s_take_role, &rs, fx->err, sizeof fx->err), 0);
    assert_int_equal(rs.n, 3);        /* key order: build, echo, report */
    role_t *b = rs.items[0], *e = rs.items[1], *s = rs.items[2];
    assert_string_equal(b->name, "build");
    assert_int_equal(b->ncommand, 3);
    assert_string_equal(b->command[2], "{payload.dir}");
    assert_false(b->shell);
    assert_false(b->builtin);
    assert_int_equal(b->timeout_ms, 60000);
    assert_int_equal(b->max_attempts, 5);
    assert_int_equal(b->max_concurrency, 2);
    assert_int_equal(b->backoff_base_ms, 250);
    assert_int_equal(b->backoff_max_ms, 9000);
    assert_int_equal(b->env.n, 2);
    assert_string_equal(kv_get(&b->env, "LANG"), "C.UTF-8");
    assert_false(b->enabled);
    assert_int_equal(b->npermissions, 2);
    assert_string_equal(b->permissions[1], "worker:w1");
    assert_true(e->enabled);
    assert_string_equal(e->name, "echo");
    assert_true(e->builtin);
    assert_int_equal(e->ncommand, 0);
    assert_string_equal(s->name, "report");
    assert_true(s->shell);
    assert_int_equal(s->ncommand, 1);
    assert_string_equal(s->command[0], "echo {payload} | wc -c");
    assert_true(s->enabled);
    assert_int_equal(s->npermissions, 0);
    for (size_t i = 0; i < rs.n; i++)
        role_destroy(&rs.items[i]);
    /* a deleted role is gone after a reopen */
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_del_role(fx->s, "report", fx->err, sizeof fx->err), 0);
    assert_int_equal(store_del_role(fx->s, "never", fx->err, sizeof fx->err), 0);
    s_commit(fx);
    s_open(fx);
    s_roles_t rs2 = { 0 };
    assert_int_equal(store_each_role(fx->s, s_take_role, &rs2, fx->err, sizeof fx->err), 0);
    assert_int_equal(rs2.n, 2);
    for (size_t i = 0; i < rs2.n; i++)
        role_destroy(&rs2.items[i]);
    role_destroy(&argv);
    role_destroy(&sh);
    role_destroy(&echo);
}

/* ---- transactions ---------------------------------------------------------------------- */

static void test_put_needs_begin(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    job_t *j = s_job(1, JOB_QUEUED);
    assert_false(store_in_txn(fx->s));
    assert_int_equal(store_put_job(fx->s, j, fx->err, sizeof fx->err), -1);
    assert_string_equal(fx->err, "no open transaction");
    peer_t *p = peer_new("w");
    assert_int_equal(store_put_worker(fx->s, p, fx->err, sizeof fx->err), -1);
    assert_int_equal(store_put_role(fx->s, &s_role, fx->err, sizeof fx->err), -1);
    assert_int_equal(store_commit(fx->s, fx->err, sizeof fx->err), 0);   /* no-op */
    store_abort(fx->s);                                                  /* no-op */
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);    /* already open */
    assert_true(store_in_txn(fx->s));
    j->role = NULL;                   /* a job without a role cannot be stored */
    assert_int_equal(store_put_job(fx->s, j, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "role"));
    assert_true(store_in_txn(fx->s)); /* such a refusal keeps the transaction */
    j->role = &s_role;
    assert_int_equal(store_put_job(fx->s, j, fx->err, sizeof fx->err), 0);
    store_abort(fx->s);
    assert_false(store_in_txn(fx->s));
    job_t *got;
    assert_int_equal(store_get_job(fx->s, 1, &got, NULL, 0, NULL, 0, fx->err, sizeof fx->err),
                     0);              /* aborted: not there */
    job_destroy(&j);
    peer_destroy(&p);
}

static void test_reads_do_not_see_open_txn(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    s_put(fx, 9, JOB_QUEUED);         /* write transaction open in this thread */
    s_seen_t seen = { 0 };
    assert_int_equal(store_each_job_desc(fx->s, 0, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(seen.n, 0);
    s_commit(fx);
    assert_int_equal(store_each_job_desc(fx->s, 0, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(seen.n, 1);
    s_seen_free(&seen);
}

static void test_commit_sync_modes(void **state)
{
    fx_t *fx = *state;
    for (int sync = 0; sync <= 1; sync++) {
        store_close(&fx->s);
        fx->s = s_open_opts(fx, sync, 0);
        assert_non_null(fx->s);
        for (uint64_t id = 1; id <= 50; id++) {
            s_put(fx, (uint64_t) sync * 1000 + id, JOB_QUEUED);
            s_commit(fx);
        }
    }
    s_open(fx);
    s_seen_t seen = { 0 };
    assert_int_equal(store_each_active_job(fx->s, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(seen.n, 100);
    s_seen_free(&seen);
}

static void test_map_full(void **state)
{
    fx_t *fx = *state;
    fx->s = s_open_opts(fx, false, 1 << 20);      /* 1 MiB */
    assert_non_null(fx->s);
    static char payload[8192];
    memset(payload, 'x', sizeof payload - 1);
    uint64_t committed = 0;
    int rc = 0;
    for (uint64_t id = 1; rc == 0 && id < 10000; id++) {
        job_t *j = job_new(id, &s_role, payload, sizeof payload - 1, 0, NULL, 0);
        rc = store_begin(fx->s, fx->err, sizeof fx->err);
        if (rc == 0)
            rc = store_put_job(fx->s, j, fx->err, sizeof fx->err);
        if (rc == 0)
            rc = store_commit(fx->s, fx->err, sizeof fx->err);
        if (rc == 0)
            committed = id;
        job_destroy(&j);
    }
    assert_int_equal(rc, -1);
    assert_non_null(strstr(fx->err, "store full"));
    assert_false(store_in_txn(fx->s));
    assert_true(committed > 10);
    s_seen_t seen = { 0 };            /* still readable; nothing committed is lost */
    assert_int_equal(store_each_active_job(fx->s, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(seen.n, committed);
    s_seen_free(&seen);
    s_open(fx);                       /* a bigger map takes more */
    s_put(fx, 20000, JOB_QUEUED);
    s_commit(fx);
    assert_int_equal(store_each_active_job(fx->s, s_collect, &seen, fx->err, sizeof fx->err), 0);
    assert_int_equal(seen.n, committed + 1);
    s_seen_free(&seen);
}

/* ---- bad records ------------------------------------------------------------------------ */

static void s_expect_bad_job(fx_t *fx, const void *rec, size_t len, const char *want)
{
    uint8_t kb[8];
    s_key8(0x77, kb);
    store_close(&fx->s);
    s_raw_put(fx->dir, "jobs", kb, 8, rec, len);
    s_open(fx);
    s_seen_t seen = { 0 };
    assert_int_equal(store_each_job_desc(fx->s, 0, s_collect, &seen, fx->err, sizeof fx->err), -1);
    if (!strstr(fx->err, want))
        fail_msg("err '%s' lacks '%s'", fx->err, want);
    assert_non_null(strstr(fx->err, "job 0000000000000077"));
    s_seen_free(&seen);
    job_t *j;
    assert_int_equal(store_get_job(fx->s, 0x77, &j, NULL, 0, NULL, 0, fx->err, sizeof fx->err), -1);
    assert_null(j);
}

static void test_corrupt_job_records(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    s_put(fx, 0x10, JOB_QUEUED);
    s_commit(fx);
    s_expect_bad_job(fx, "garbage!", 8, "job record");
    s_expect_bad_job(fx, "", 0, "truncated");
    s_expect_bad_job(fx, "\xdd\xff\xff\xff\xff\x01", 6, "more elements than bytes");
    s_expect_bad_job(fx, "\x92\x02\x00", 3, "record version 2 not supported");
    s_expect_bad_job(fx, "\x92\x01\x00", 3, "has 2 elements, needs 15");
    s_expect_bad_job(fx, "\xc1", 1, "reserved");
    /* a valid record for another id under this key */
    rec_buf_t b;
    rec_buf_init(&b);
    job_t *j = s_job(0x78, JOB_QUEUED);
    assert_int_equal(rec_enc_job(&b, j, fx->err, sizeof fx->err), 0);
    s_expect_bad_job(fx, b.sbuf.data, b.sbuf.size, "holds job 0000000000000078");
    job_destroy(&j);
    rec_buf_free(&b);
    /* an active entry without its job record */
    uint8_t kb[8];
    s_key8(0x99, kb);
    store_close(&fx->s);
    s_raw_put(fx->dir, "active", kb, 8, "", 0);
    s_open(fx);
    s_seen_t seen = { 0 };
    assert_int_equal(store_each_active_job(fx->s, s_collect, &seen, fx->err, sizeof fx->err), -1);
    s_seen_free(&seen);
    assert_non_null(strstr(fx->err, "0000000000000099 has no record"));
}

static void test_corrupt_worker_and_role(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    store_close(&fx->s);
    s_raw_put(fx->dir, "workers", "w\x01", 2, "\x91\x01", 2);
    s_raw_put(fx->dir, "roles", "r", 1, "\x93\x01\xa1r\x90", 5);
    s_open(fx);
    peer_t *p = NULL;
    assert_int_equal(store_each_worker(fx->s, s_take_peer, &p, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "worker 'w?': worker record: has 1 elements"));
    s_roles_t rs = { 0 };
    assert_int_equal(store_each_role(fx->s, s_take_role, &rs, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "role 'r': role record: has 3 elements, needs 8"));
    assert_int_equal(rs.n, 0);
}

/* ---- the codec alone -------------------------------------------------------------------- */

static void test_record_truncated_and_flipped(void **state)
{
    (void) state;
    char err[200];
    rec_buf_t b;
    rec_buf_init(&b);
    job_t *j = s_full_job();
    assert_int_equal(rec_enc_job(&b, j, err, sizeof err), 0);
    size_t size = b.sbuf.size;
    uint8_t *copy = malloc(size);
    rec_job_t rec;
    for (size_t n = 0; n < size; n++) {          /* every prefix is refused */
        memcpy(copy, b.sbuf.data, n);
        assert_int_equal(rec_dec_job(copy, n, &rec, err, sizeof err), -1);
        assert_null(rec.job);
    }
    srand(7);
    for (int round = 0; round < 20000; round++) {  /* flipped bytes: refused or decoded */
        memcpy(copy, b.sbuf.data, size);
        for (int k = 0; k < 1 + round % 3; k++)
            copy[(size_t) rand() % size] ^= (uint8_t) (1 + rand() % 255);
        if (rec_dec_job(copy, size, &rec, err, sizeof err) == 0)
            job_destroy(&rec.job);
        peer_t *p = rec_dec_peer(copy, size, err, sizeof err);
        peer_destroy(&p);
        role_t *r = rec_dec_role(copy, size, err, sizeof err);
        role_destroy(&r);
    }
    free(copy);
    job_destroy(&j);
    rec_buf_free(&b);
}

/* A role record written before enabled and permissions existed. */
static void test_record_old_role(void **state)
{
    (void) state;
    char err[200];
    static const uint8_t old[] = { 0x98, 0x01, 0xa1, 'r', 0x91, 0xa1, 'x', 0xc2, 0x00, 0x01,
                                   0x00, 0x80 };
    role_t *r = rec_dec_role(old, sizeof old, err, sizeof err);
    assert_non_null(r);
    assert_true(r->enabled);
    assert_int_equal(r->npermissions, 0);
    assert_int_equal(r->backoff_base_ms, ROLE_DEFAULT_BACKOFF_BASE_MS);
    assert_int_equal(r->where.n, 0);
    role_destroy(&r);
    static const uint8_t bad[] = { 0x9c, 0x01, 0xa1, 'r', 0x91, 0xa1, 'x', 0xc2, 0x00, 0x01,
                                   0x00, 0x80, 0x00, 0x00, 0xc3, 0x91, 0xa4, 'r', 'o', 'o', 't' };
    assert_null(rec_dec_role(bad, sizeof bad, err, sizeof err));
    assert_non_null(strstr(err, "'root' is not a scope"));
}

/* A role's label constraint survives its record. */
static void test_record_role_where(void **state)
{
    (void) state;
    char err[200];
    rec_buf_t b;
    rec_buf_init(&b);
    roleset_t set;
    assert_int_equal(roleset_init(&set), 0);
    assert_int_equal(roleset_load_json(&set, "{\"roles\":[{\"name\":\"gpu\",\"command\":[\"x\"],"
                                         "\"where\":{\"gpu\":\"1\",\"zone\":\"b\"},"
                                         "\"triggers\":[{\"type\":\"cron\",\"schedule\":\"0 9 * * *\","
                                         "\"timezone\":\"America/New_York\"},{\"type\":\"watch\","
                                         "\"paths\":[\"/srv\"],\"payload\":{\"k\":\"v\"}}]}]}",
                                   err, sizeof err), 0);
    role_t *in = roleset_find(&set, "gpu");
    assert_non_null(in);
    assert_int_equal(rec_enc_role(&b, in, err, sizeof err), 0);
    role_t *out = rec_dec_role(b.sbuf.data, b.sbuf.size, err, sizeof err);
    assert_non_null(out);
    assert_int_equal(out->where.n, 2);
    assert_string_equal(kv_get(&out->where, "zone"), "b");
    json_t *a = role_triggers_json(in), *z = role_triggers_json(out);   /* triggers too */
    assert_int_equal(json_array_size(z), 2);
    assert_true(json_equal(a, z));
    json_decref(a);
    json_decref(z);
    role_destroy(&out);
    /* a triggers field that does not parse by the role rules is refused: the
       record's last field is the triggers text, a str8 (0xd9, length, ASCII) */
    const char *tail = "[{\"type\":\"cron\",\"schedule\":\"99 * * * *\"}]";
    size_t at = b.sbuf.size, tl = strlen(tail);
    while (at > 0 && (uint8_t) b.sbuf.data[at - 1] != 0xd9)
        at--;
    assert_true(at > 0);
    uint8_t *bytes = malloc(at + 1 + tl);
    assert_non_null(bytes);
    memcpy(bytes, b.sbuf.data, at);                 /* up to and with the 0xd9 */
    bytes[at] = (uint8_t) tl;
    memcpy(bytes + at + 1, tail, tl);
    assert_null(rec_dec_role(bytes, at + 1 + tl, err, sizeof err));
    assert_non_null(strstr(err, "triggers"));
    free(bytes);
    roleset_free(&set);
    rec_buf_free(&b);
}

static void test_record_extra_fields(void **state)
{
    (void) state;
    char err[200];
    rec_buf_t b;
    rec_buf_init(&b);
    job_t *j = s_full_job();
    assert_int_equal(rec_enc_job(&b, j, err, sizeof err), 0);
    assert_int_equal((uint8_t) b.sbuf.data[0], 0xdc);   /* array16 ... */
    assert_int_equal((uint8_t) b.sbuf.data[2], 21);     /* ... of 21 */
    /* the same record as an array16 of 23: a newer writer's two extra fields */
    uint8_t rec_bytes[1024];
    size_t n = 0;
    rec_bytes[n++] = 0xdc;
    rec_bytes[n++] = 0;
    rec_bytes[n++] = 23;
    memcpy(rec_bytes + n, b.sbuf.data + 3, b.sbuf.size - 3);
    n += b.sbuf.size - 3;
    static const uint8_t extra[] = { 0x81, 0xa1, 'x', 0x92, 0x01, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0xc4, 0x02, 0xde, 0xad };
    memcpy(rec_bytes + n, extra, sizeof extra);
    n += sizeof extra;
    rec_job_t rec;
    assert_int_equal(rec_dec_job(rec_bytes, n, &rec, err, sizeof err), 0);
    s_same_job(j, rec.job);
    job_destroy(&rec.job);
    rec_bytes[n++] = 0xc0;             /* bytes after the array are not */
    assert_int_equal(rec_dec_job(rec_bytes, n, &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "trailing bytes"));
    job_destroy(&j);
    rec_buf_free(&b);
}

/* A HELLO's offer and an admin's settings: what dispatch uses, and the
   worker record keeps both; a 13-field record (before admin settings)
   reads as a worker that offered exactly its fields. */
static void test_record_worker_sources(void **state)
{
    (void) state;
    char err[200];
    rec_buf_t b;
    rec_buf_init(&b);
    peer_t *p = peer_new("w-9");
    pb_str_t roles[] = { pb_s("build"), pb_s("echo"), pb_s("sleep") };
    pb_kv_t labels[] = { { pb_s("gpu"), pb_s("") }, { pb_s("zone"), pb_s("a") } };
    pb_hello_t h = { .worker_id = pb_s("w-9"), .name = pb_s("box"), .roles = { roles, 3 },
                     .slots = 8, .labels = { labels, 2 }, .version = pb_s("0.1.0"),
                     .heartbeat_ms = 1000, .liveness = 3 };
    assert_int_equal(peer_update(p, &h), 0);
    assert_string_equal(peer_kind(p), "zmq");
    p->admin.has_roles = true;
    p->admin.nroles = 2;
    p->admin.roles = calloc(2, sizeof(char *));
    p->admin.roles[0] = strdup("sleep");
    p->admin.roles[1] = strdup("other");
    p->admin.slots = 2;
    p->admin.has_labels = true;
    kv_set(&p->admin.labels, "zone", "b");
    p->admin.name = strdup("named");
    p->admin.drain = true;
    assert_int_equal(peer_apply(p), 0);
    assert_string_equal(p->name, "named");
    assert_int_equal(p->nroles, 1);
    assert_string_equal(p->roles[0], "sleep");
    assert_int_equal(p->slots, 2);
    assert_string_equal(kv_get(&p->labels, "zone"), "b");
    assert_string_equal(kv_get(&p->labels, "gpu"), "");
    p->self_drain = false;
    peer_set_live(p);
    assert_int_equal(p->state, PEER_DRAINING);

    assert_int_equal(rec_enc_peer(&b, p, err, sizeof err), 0);
    peer_t *got = rec_dec_peer(b.sbuf.data, b.sbuf.size, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got->name, "named");
    assert_int_equal(got->nroles, 1);
    assert_int_equal(got->offer.nroles, 3);
    assert_string_equal(got->offer.name, "box");
    assert_int_equal(got->offer.slots, 8);
    assert_true(got->admin.has_roles && got->admin.nroles == 2 && got->admin.slots == 2);
    assert_true(got->admin.has_labels && got->admin.drain && !got->deleted);
    assert_string_equal(got->admin.name, "named");
    /* the worker's next HELLO offers more: the admin's limits still hold */
    h.slots = 16;
    assert_int_equal(peer_update(got, &h), 0);
    assert_int_equal(got->slots, 2);
    assert_int_equal(got->nroles, 1);
    peer_destroy(&got);

    /* no offer (an HTTP-only registration): the admin's settings alone */
    peer_t *http = peer_new("w-h");
    http->admin.has_roles = true;
    http->admin.nroles = 1;
    http->admin.roles = calloc(1, sizeof(char *));
    http->admin.roles[0] = strdup("ext");
    assert_int_equal(peer_apply(http), 0);
    assert_string_equal(peer_kind(http), "http");
    assert_int_equal(http->slots, 1);
    assert_int_equal(http->nroles, 1);
    http->deleted = true;
    assert_int_equal(rec_enc_peer(&b, http, err, sizeof err), 0);
    got = rec_dec_peer(b.sbuf.data, b.sbuf.size, err, sizeof err);
    assert_non_null(got);
    assert_true(got->deleted);
    assert_int_equal(got->offer.nroles, 0);
    peer_destroy(&got);
    peer_destroy(&http);

    /* an old record: the first 13 fields only */
    assert_int_equal(rec_enc_peer(&b, p, err, sizeof err), 0);
    uint8_t old[1024];
    size_t n = 0;
    assert_int_equal((uint8_t) b.sbuf.data[0], 0xdc);   /* array16 of 23 */
    old[n++] = 0x9d;                                    /* fixarray of 13 */
    /* the first 13 elements end where offer_name (a str "box") starts */
    const char *start = b.sbuf.data + 3, *end = b.sbuf.data + b.sbuf.size;
    const char *cut = NULL;
    for (const char *q = start; q + 4 <= end; q++)
        if (memcmp(q, "\xa3" "box", 4) == 0)
            cut = q;
    assert_non_null(cut);
    memcpy(old + n, start, (size_t) (cut - start));
    n += (size_t) (cut - start);
    got = rec_dec_peer(old, n, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got->offer.name, "named");      /* what the record said */
    assert_int_equal(got->offer.nroles, 1);
    assert_int_equal(got->offer.slots, 2);
    assert_false(got->admin.has_roles);
    peer_destroy(&got);
    /* 14 to 22 fields is neither */
    old[0] = 0x9e;
    old[n++] = 0xc0;
    assert_null(rec_dec_peer(old, n, err, sizeof err));
    peer_destroy(&p);
    rec_buf_free(&b);
}

static void test_record_field_errors(void **state)
{
    (void) state;
    char err[200];
    rec_job_t rec;
    /* state "bogus" in an otherwise fine job record */
    static const uint8_t bad_state[] = {
        0x9f, 0x01, 0x05, 0xa1, 'r', 0xa0, 0x00, 0x80, 0xa5, 'b', 'o', 'g', 'u', 's',
        0x00, 0xc0, 0xc0, 0xc0, 0xc0, 0x00, 0x00, 0x00 };
    assert_int_equal(rec_dec_job(bad_state, sizeof bad_state, &rec, err, sizeof err), -1);
    assert_string_equal(err, "job record: state 'bogus' is not a job state");
    static const uint8_t bad_prio[] = {
        0x9f, 0x01, 0x05, 0xa1, 'r', 0xa0, 0xa1, 'x', 0x80, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0,
        0xc0, 0xc0, 0xc0, 0xc0 };
    assert_int_equal(rec_dec_job(bad_prio, sizeof bad_prio, &rec, err, sizeof err), -1);
    assert_string_equal(err, "job record: element 4 (priority) must be int32");
    static const uint8_t nul_payload[] = {
        0x9f, 0x01, 0x05, 0xa1, 'r', 0xa2, 'a', 0x00, 0x00, 0x80, 0xc0, 0xc0, 0xc0, 0xc0,
        0xc0, 0xc0, 0xc0, 0xc0 };
    assert_int_equal(rec_dec_job(nul_payload, sizeof nul_payload, &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "without NUL"));
    static const uint8_t dup_where[] = {
        0x9f, 0x01, 0x05, 0xa1, 'r', 0xa0, 0x00, 0x82, 0xa1, 'k', 0xa0, 0xa1, 'k', 0xa0,
        0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0 };
    assert_int_equal(rec_dec_job(dup_where, sizeof dup_where, &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "duplicate"));
    uint8_t deep[80];                  /* a 22nd field nested 41 deep: too deep to skip */
    size_t n = 0;
    deep[n++] = 0xdc;
    deep[n++] = 0;
    deep[n++] = 22;
    memcpy(deep + n, bad_state + 1, 7);                    /* up to where */
    n += 7;
    static const uint8_t tail[] = { 0xa6, 'q', 'u', 'e', 'u', 'e', 'd', 0x00, 0xc0, 0xc0, 0xc0,
                                    0xc0, 0x00, 0x00, 0x00 };
    memcpy(deep + n, tail, sizeof tail);
    n += sizeof tail;
    size_t good = n;
    deep[n++] = 0x00;                  /* run_at_ms */
    deep[n++] = 0xc2;                  /* revoking */
    deep[n++] = 0x00;                  /* attempt_base */
    deep[n++] = 0x00;                  /* log_seq */
    deep[n++] = 0x00;                  /* log_stored */
    deep[n++] = 0x00;                  /* log_dropped */
    for (int i = 0; i < 40; i++)
        deep[n++] = 0x91;
    deep[n++] = 0xc0;
    assert_int_equal(rec_dec_job(deep, n, &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested deeper"));
    deep[2] = 15;                      /* an older record without run_at_ms decodes */
    assert_int_equal(rec_dec_job(deep, good, &rec, err, sizeof err), 0);
    assert_string_equal(rec.role, "r");
    assert_int_equal(rec.job->state, JOB_QUEUED);
    job_destroy(&rec.job);
}


/* Job output: chunks in order, the tail that fits, trimming the oldest, and
   two jobs' chunks never mixed. */
static void test_logs(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    const char *chunks[] = { "one\n", "two\n", "three\n", "four\n" };
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(store_put_log(fx->s, 7, i, chunks[i], strlen(chunks[i]), fx->err,
                                       sizeof fx->err), 0);
        assert_int_equal(store_put_log(fx->s, 8, i, "x", 1, fx->err, sizeof fx->err), 0);
    }
    assert_int_equal(store_put_log(fx->s, 6, 0, "older", 5, fx->err, sizeof fx->err), 0);
    char *out;
    size_t len;
    /* read through the open transaction: this turn's chunks are there */
    assert_int_equal(store_read_log(fx->s, 7, 1000, &out, &len, fx->err, sizeof fx->err), 0);
    assert_string_equal(out, "one\ntwo\nthree\nfour\n");
    free(out);
    s_commit(fx);
    assert_int_equal(store_read_log(fx->s, 7, 12, &out, &len, fx->err, sizeof fx->err), 0);
    assert_string_equal(out, "three\nfour\n");   /* whole chunks that fit */
    assert_int_equal(len, 11);
    free(out);
    size_t freed;
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_trim_log(fx->s, 7, 5, &freed, fx->err, sizeof fx->err), 0);
    assert_int_equal(freed, 8);                     /* "one\n" and "two\n" */
    s_commit(fx);
    assert_int_equal(store_read_log(fx->s, 7, 1000, &out, &len, fx->err, sizeof fx->err), 0);
    assert_string_equal(out, "three\nfour\n");
    free(out);
    assert_int_equal(store_read_log(fx->s, 8, 1000, &out, &len, fx->err, sizeof fx->err), 0);
    assert_string_equal(out, "xxxx");               /* job 8 untouched */
    free(out);
    assert_int_equal(store_read_log(fx->s, 9, 1000, &out, &len, fx->err, sizeof fx->err), 0);
    assert_int_equal(len, 0);                       /* none: empty, not an error */
    free(out);
    assert_int_equal(store_read_log(fx->s, 6, 1000, &out, &len, fx->err, sizeof fx->err), 0);
    assert_string_equal(out, "older");
    free(out);
}


static void s_note_pruned(uint64_t id, void *arg)
{
    uint64_t *ids = arg;
    ids[ids[0]++ + 1] = id;
}

/* Retention: oldest finished jobs go (records and output), by age or over a
   count; unfinished ones never do. */
static void test_prune(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    role_t echo = { .name = "echo", .max_attempts = 1 };
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    for (uint64_t i = 1; i <= 12; i++) {
        job_t *j = job_new(i, &echo, "{}", 2, 0, NULL, (int64_t) i * 1000);
        if (i != 3 && i != 8)          /* 3 and 8 stay queued */
            job_finish(j, JOB_SUCCEEDED, false, 0, "1", 1, NULL, (int64_t) i * 1000 + 500);
        assert_int_equal(store_put_job(fx->s, j, fx->err, sizeof fx->err), 0);
        assert_int_equal(store_put_log(fx->s, i, 0, "out", 3, fx->err, sizeof fx->err), 0);
        job_destroy(&j);
    }
    uint64_t ids[32] = { 0 };
    size_t pruned;
    /* by age: finished before 6000 -> 1, 2, 4, 5 (3 is queued) */
    assert_int_equal(store_prune(fx->s, 6000, 100, 100, s_note_pruned, ids, &pruned, fx->err,
                                 sizeof fx->err), 0);
    assert_int_equal(pruned, 4);
    assert_true(ids[1] == 1 && ids[2] == 2 && ids[3] == 4 && ids[4] == 5);
    /* by count: 6 finished left (6,7,9,10,11,12); keep 2, in batches of 3 */
    assert_int_equal(store_prune(fx->s, 0, 2, 3, s_note_pruned, ids, &pruned, fx->err,
                                 sizeof fx->err), 0);
    assert_int_equal(pruned, 3);
    assert_int_equal(store_prune(fx->s, 0, 2, 3, s_note_pruned, ids, &pruned, fx->err,
                                 sizeof fx->err), 0);
    assert_int_equal(pruned, 1);
    assert_int_equal(store_prune(fx->s, 0, 2, 3, NULL, NULL, &pruned, fx->err, sizeof fx->err), 0);
    assert_int_equal(pruned, 0);
    s_commit(fx);
    for (uint64_t i = 1; i <= 12; i++) {
        job_t *j = NULL;
        int rc = store_get_job(fx->s, i, &j, NULL, 0, NULL, 0, fx->err, sizeof fx->err);
        bool kept = i == 3 || i == 8 || i == 11 || i == 12;
        assert_int_equal(rc, kept ? 1 : 0);
        job_destroy(&j);
        char *out;
        size_t len;
        assert_int_equal(store_read_log(fx->s, i, 100, &out, &len, fx->err, sizeof fx->err), 0);
        assert_int_equal(len, kept ? 3 : 0);   /* output goes with its job */
        free(out);
    }
}


typedef struct {
    store_t *s;
    int found;                /* store_get_job's answer for job 1 */
    int state;                /* the state it read for job 1 */
    int found2;               /* and for job 2, written but not committed */
    char err[200];
} s_reader_t;

static void *s_read_while_writing(void *arg)
{
    s_reader_t *r = arg;
    job_t *j = NULL;
    r->found = store_get_job(r->s, 1, &j, NULL, 0, NULL, 0, r->err, sizeof r->err);
    r->state = j ? (int) j->state : -1;
    job_destroy(&j);
    r->found2 = store_get_job(r->s, 2, &j, NULL, 0, NULL, 0, r->err, sizeof r->err);
    job_destroy(&j);
    return NULL;
}

/* A reader in another thread is never blocked by the open write
   transaction, and sees the last commit, not the writer's changes. */
static void test_readers_not_blocked(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    role_t echo = { .name = "echo", .max_attempts = 1 };
    job_t *j = job_new(1, &echo, "{}", 2, 0, NULL, 1);
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    assert_int_equal(store_put_job(fx->s, j, fx->err, sizeof fx->err), 0);
    s_commit(fx);
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);   /* writer holds it */
    job_finish(j, JOB_SUCCEEDED, false, 0, "1", 1, NULL, 2);
    assert_int_equal(store_put_job(fx->s, j, fx->err, sizeof fx->err), 0);
    job_t *j2 = job_new(2, &echo, "{}", 2, 0, NULL, 3);
    assert_int_equal(store_put_job(fx->s, j2, fx->err, sizeof fx->err), 0);
    s_reader_t r = { fx->s, -2, -2, -2, "" };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_read_while_writing, &r), 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;                    /* bound only a failure */
    assert_int_equal(pthread_timedjoin_np(t, NULL, &deadline), 0);
    assert_int_equal(r.found, 1);
    assert_int_equal(r.state, JOB_QUEUED);    /* the last commit, not the writer's change */
    assert_int_equal(r.found2, 0);
    job_t *seen = NULL;                       /* after the commit, the change is there */
    s_commit(fx);
    assert_int_equal(store_get_job(fx->s, 1, &seen, NULL, 0, NULL, 0, fx->err, sizeof fx->err), 1);
    assert_int_equal(seen->state, JOB_SUCCEEDED);
    job_destroy(&seen);
    job_destroy(&j);
    job_destroy(&j2);
}


/* Idempotency keys past their window go, a bounded batch at a time, the
   sweep resuming where it stopped. */
static void test_prune_idem(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    assert_int_equal(store_begin(fx->s, fx->err, sizeof fx->err), 0);
    const char *keys[] = { "a-old", "b-new", "c-old", "d-old" };
    int64_t made[] = { 100, 5000, 200, 300 };
    for (int i = 0; i < 4; i++)
        assert_int_equal(store_idem_put(fx->s, keys[i], strlen(keys[i]), (uint64_t) i + 1, made[i],
                                        fx->err, sizeof fx->err), 0);
    size_t pruned, total = 0;
    for (int pass = 0; pass < 4; pass++) {        /* one key looked at per call */
        assert_int_equal(store_prune_idem(fx->s, 1000, 1, &pruned, fx->err, sizeof fx->err), 0);
        total += pruned;
    }
    assert_int_equal(total, 3);
    s_commit(fx);
    uint64_t id;
    int64_t at;
    for (int i = 0; i < 4; i++)
        assert_int_equal(store_idem_get(fx->s, keys[i], strlen(keys[i]), &id, &at, fx->err,
                                        sizeof fx->err), i == 1 ? 1 : 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prune_idem, s_setup, s_teardown),
        cmocka_unit_test(test_record_old_role),
        cmocka_unit_test(test_record_role_where),
        cmocka_unit_test_setup_teardown(test_indexes_and_migration, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readers_not_blocked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_prune, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_logs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_log_ranges, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_keeps_cluster_id, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_second_open_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_active_follows_state, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_each_active_oldest_first, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_each_job_desc_paging, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_empty_store_walks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_worker_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_role_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_put_needs_begin, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reads_do_not_see_open_txn, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_sync_modes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_map_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_job_records, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_worker_and_role, s_setup, s_teardown),
        cmocka_unit_test(test_record_truncated_and_flipped),
        cmocka_unit_test(test_record_extra_fields),
        cmocka_unit_test(test_record_worker_sources),
        cmocka_unit_test(test_record_field_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
