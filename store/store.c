/*  store/store.c — the coordinator's durable state in LMDB (store.h).

    One environment in the data directory (data.mdb and lock.mdb), five
    named databases opened once at store_open in one write transaction that
    also checks, creates or migrates the meta records. Records are encoded
    and decoded by store/record.c; keys are a job id as 8 bytes big-endian
    (so LMDB's byte order is creation order) or a worker id / role name as
    its bytes. Without a map size the map is 64 GiB of address space (the
    file grows only as used), or less where the process may not map that.

    Rules it keeps:
    - Durability. With opts->sync the environment is opened with
      MDB_NOMETASYNC only: mdb_txn_commit flushes the data pages before it
      writes the meta page, and store_commit then calls mdb_env_sync(env, 1)
      to flush the meta page, so a commit is on the disk when store_commit
      returns and the pages always reach the disk before the meta page that
      points at them (an OS crash cannot corrupt the store). Without
      opts->sync it is also opened MDB_NOSYNC: commits survive a crash of the
      process, but an OS crash or power loss may lose recent commits and, as
      LMDB documents for MDB_NOSYNC, may corrupt the store.
    - One opener. LMDB must not be opened twice in one process (closing one
      handle drops the other's locks and reader slots), and two coordinators
      on one directory would both write. store_open takes an exclusive
      flock on DIR/popebot.lock and refuses when it is held, whoever holds it.
    - A failed write aborts the whole open transaction: after MDB_MAP_FULL or
      any other LMDB error LMDB cannot go on with it. The caller learns it
      from the -1 ("store full: ..." for a full map) and store_in_txn().
      Checks that fail before LMDB is called (no open transaction, a record
      that cannot be encoded) leave the transaction open.
    - Reads use their own read transaction (MDB_NOTLS, so any thread, and
      also the writer's thread while its write transaction is open). A read
      sees the last commit, not the writer's uncommitted changes. A read
      callback may call the write functions.
    - Decoding is strict; a bad record makes the read return -1 with a reason
      naming the record ("job 0000018f2a3b0001: job record: ..."), never a
      crash.
*/
#include "store/store.h"
#include "store/record.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define S_MAXDBS        12
#define S_ID_BYTES      16              /* random bytes of a cluster id */
#define S_ID_LEN        (2 * S_ID_BYTES)
#define S_LOCK_FILE     "popebot.lock"

/* Map sizes tried in turn when none is given: address space only, the file
   grows as it is used. */
static const uint64_t s_default_maps[] = { 64ULL << 30, 16ULL << 30, 4ULL << 30, 1ULL << 30 };

struct store {
    MDB_env *env;                /* the environment; NULL until created */
    MDB_dbi meta;                /* "schema", "cluster_id", store_put_meta_u64 values */
    MDB_dbi jobs;                /* job id -> job record */
    MDB_dbi active;              /* job id -> empty, for jobs not yet finished */
    MDB_dbi workers;             /* worker id -> worker record */
    MDB_dbi roles;               /* role name -> role record */
    MDB_dbi idem;                /* idempotency key -> job id, created ms (16 bytes BE) */
    MDB_dbi logs;                /* job id (8 BE) + seq (4 BE) -> a chunk of output */
    MDB_dbi by_state;            /* state (1) + job id (8 BE) -> empty */
    MDB_dbi by_role;             /* role name + NUL + job id (8 BE) -> empty */
    uint8_t idem_next[256];      /* where the next idempotency-key sweep resumes */
    size_t idem_next_len;        /* 0 = from the first key */
    MDB_txn *txn;                /* the open write transaction, or NULL */
    bool sync;                   /* flush to the disk in store_commit */
    int lock_fd;                 /* DIR/popebot.lock, flock'd while open; -1 if not */
    char cluster_id[S_ID_LEN + 1];
    rec_buf_t buf;               /* the writer's scratch: one encoded record */
};

/* ---- small helpers ------------------------------------------------------- */

/* err = "[store full: ]what: LMDB's reason". Always -1. */
static int s_mdb_fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s%s: %s", rc == MDB_MAP_FULL ? "store full: " : "", what,
             mdb_strerror(rc));
    return -1;
}

static MDB_val s_job_key(uint64_t id, uint8_t kb[8])
{
    for (int i = 7; i >= 0; i--, id >>= 8)
        kb[i] = (uint8_t) id;
    MDB_val k = { 8, kb };
    return k;
}

static uint64_t s_be(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | b[i];
    return v;
}

static MDB_val s_str_key(const char *s)
{
    MDB_val k = { strlen(s), (void *) s };
    return k;
}

/* A key as text for a reason: printable bytes, at most 64 of them. */
static const char *s_key_text(const MDB_val *k, char out[68])
{
    size_t n = k->mv_size < 64 ? k->mv_size : 64;
    const unsigned char *p = k->mv_data;
    for (size_t i = 0; i < n; i++)
        out[i] = p[i] > ' ' && p[i] < 0x7f ? (char) p[i] : '?';
    strcpy(out + n, k->mv_size > 64 ? "..." : "");
    return out;
}

/* ---- open: directory, lock, environment ---------------------------------- */

static int s_make_dir(const char *dir, char *err, size_t errlen)
{
    if (!dir || !*dir) {
        snprintf(err, errlen, "no data directory given");
        return -1;
    }
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return 0;
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return -1;
}

static int s_lock(store_t *s, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, S_LOCK_FILE) >= sizeof path) {
        snprintf(err, errlen, "data directory path too long");
        return -1;
    }
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno == EWOULDBLOCK)
        snprintf(err, errlen, "%s is in use: another popebot-node holds %s "
                 "(or this process opened it already)", dir, path);
    else
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
    return -1;
}

/* Create and open the environment with one map size; on failure none is left. */
static int s_env_try(store_t *s, const char *dir, unsigned flags, uint64_t map)
{
    int rc = mdb_env_create(&s->env);
    if (rc != 0) {
        s->env = NULL;
        return rc;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, S_MAXDBS)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, (size_t) map)) != 0 ||
        (rc = mdb_env_open(s->env, dir, flags, 0600)) != 0) {
        mdb_env_close(s->env);
        s->env = NULL;
    }
    return rc;
}

/* Without a map size given, take the largest default the process may map
   (an address-space limit such as ulimit -v or valgrind refuses 64 GiB). */
static int s_env_open(store_t *s, const store_opts_t *opts, char *err, size_t errlen)
{
    unsigned flags = MDB_NOTLS | MDB_NOMETASYNC | (opts->sync ? 0 : MDB_NOSYNC);
    size_t tries = opts->map_size ? 1 : sizeof s_default_maps / sizeof s_default_maps[0];
    int rc = 0;
    for (size_t i = 0; i < tries; i++) {
        rc = s_env_try(s, opts->dir, flags, opts->map_size ? opts->map_size : s_default_maps[i]);
        if (rc != EINVAL && rc != ENOMEM)
            break;
    }
    return rc ? s_mdb_fail(err, errlen, "opening the environment", rc) : 0;
}

/* ---- open: databases and meta ---------------------------------------------- */

static int s_open_dbs(store_t *s, MDB_txn *txn, char *err, size_t errlen)
{
    struct { const char *name; MDB_dbi *dbi; } dbs[] = {
        { "meta", &s->meta }, { "jobs", &s->jobs }, { "active", &s->active },
        { "workers", &s->workers }, { "roles", &s->roles }, { "idem", &s->idem },
        { "logs", &s->logs }, { "by_state", &s->by_state }, { "by_role", &s->by_role }
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi);
        if (rc != 0) {
            char what[64];
            snprintf(what, sizeof what, "opening database %s", dbs[i].name);
            return s_mdb_fail(err, errlen, what, rc);
        }
    }
    return 0;
}

static int s_put_schema(store_t *s, MDB_txn *txn, uint32_t version, char *err, size_t errlen)
{
    uint8_t b[4] = { (uint8_t) (version >> 24), (uint8_t) (version >> 16),
                     (uint8_t) (version >> 8), (uint8_t) version };
    MDB_val k = s_str_key("schema"), v = { 4, b };
    int rc = mdb_put(txn, s->meta, &k, &v, 0);
    return rc ? s_mdb_fail(err, errlen, "writing the schema version", rc) : 0;
}

static int s_new_cluster_id(char out[S_ID_LEN + 1], char *err, size_t errlen)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[S_ID_BYTES];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "getrandom: %s", strerror(errno));
            return -1;
        }
        got += n > 0 ? (size_t) n : 0;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[S_ID_LEN] = '\0';
    return 0;
}

/* A new store: a cluster id and the current schema version. */
static int s_meta_create(store_t *s, MDB_txn *txn, char *err, size_t errlen)
{
    if (s_new_cluster_id(s->cluster_id, err, errlen) != 0)
        return -1;
    MDB_val k = s_str_key("cluster_id"), v = { S_ID_LEN, s->cluster_id };
    int rc = mdb_put(txn, s->meta, &k, &v, 0);
    if (rc != 0)
        return s_mdb_fail(err, errlen, "writing the cluster id", rc);
    return s_put_schema(s, txn, STORE_SCHEMA_VERSION, err, errlen);
}

static int s_load_cluster_id(store_t *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_val k = s_str_key("cluster_id"), v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc != 0)
        return s_mdb_fail(err, errlen, "reading the cluster id", rc);
    const char *p = v.mv_data;
    bool ok = v.mv_size == S_ID_LEN;
    for (size_t i = 0; ok && i < S_ID_LEN; i++)
        ok = (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f');
    if (!ok) {
        snprintf(err, errlen, "meta: the cluster id is not 32 hex digits (corrupt store?)");
        return -1;
    }
    memcpy(s->cluster_id, p, S_ID_LEN);
    s->cluster_id[S_ID_LEN] = '\0';
    return 0;
}

/* One migration: turns a store of schema k into schema k + 1, inside the
   open transaction. */
typedef int (s_migrate_fn)(store_t *s, MDB_txn *txn, char *err, size_t errlen);

static int s_index_job(MDB_txn *txn, store_t *s, const char *role, uint64_t id,
                       job_state_t old, job_state_t now);

/* Schema 1 -> 2: build the state and role indexes from the jobs. */
static int s_migrate_1(store_t *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->jobs, &cur);
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rec_job_t rec;
        char why[200];
        if (rec_dec_job(v.mv_data, v.mv_size, &rec, why, sizeof why) != 0)
            continue;                   /* a bad record stays unindexed */
        rc = s_index_job(txn, s, rec.role, rec.job->id, JOB_STATE_COUNT, rec.job->state);
        job_destroy(&rec.job);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return s_mdb_fail(err, errlen, "migrating to schema 2 (indexes)", rc);
}

/* s_migrations[k] migrates schema k to k + 1 (index 0 is never used: no
   store has schema 0). A new schema version adds its step at the end. */
static s_migrate_fn *const s_migrations[STORE_SCHEMA_VERSION] = { NULL, s_migrate_1 };

static int s_migrate(store_t *s, MDB_txn *txn, uint32_t from, char *err, size_t errlen)
{
    for (uint32_t k = from; k < STORE_SCHEMA_VERSION; k++) {
        if (!s_migrations[k]) {
            snprintf(err, errlen, "store schema version %u cannot be migrated (corrupt store?)",
                     (unsigned) k);
            return -1;
        }
        if (s_migrations[k](s, txn, err, errlen) != 0)
            return -1;
    }
    return s_put_schema(s, txn, STORE_SCHEMA_VERSION, err, errlen);
}

static int s_meta(store_t *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_val k = s_str_key("schema"), v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return s_meta_create(s, txn, err, errlen);
    if (rc != 0)
        return s_mdb_fail(err, errlen, "reading the schema version", rc);
    if (v.mv_size != 4) {
        snprintf(err, errlen, "meta: the schema version is not 4 bytes (corrupt store?)");
        return -1;
    }
    uint32_t version = (uint32_t) s_be(v.mv_data, 4);
    if (version > STORE_SCHEMA_VERSION) {
        snprintf(err, errlen, "store schema version %u is newer than this build supports (%d); "
                 "use a newer popebot-node", (unsigned) version, STORE_SCHEMA_VERSION);
        return -1;
    }
    if (version < STORE_SCHEMA_VERSION && s_migrate(s, txn, version, err, errlen) != 0)
        return -1;
    return s_load_cluster_id(s, txn, err, errlen);
}

static int s_init(store_t *s, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return s_mdb_fail(err, errlen, "starting the first transaction", rc);
    if (s_open_dbs(s, txn, err, errlen) != 0 || s_meta(s, txn, err, errlen) != 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    rc = mdb_txn_commit(txn);
    if (rc == 0 && s->sync)
        rc = mdb_env_sync(s->env, 1);
    return rc ? s_mdb_fail(err, errlen, "committing the meta records", rc) : 0;
}

store_t *store_open(const store_opts_t *opts, char *err, size_t errlen)
{
    store_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->lock_fd = -1;
    s->sync = opts->sync;
    rec_buf_init(&s->buf);
    if (s_make_dir(opts->dir, err, errlen) != 0 || s_lock(s, opts->dir, err, errlen) != 0 ||
        s_env_open(s, opts, err, errlen) != 0 || s_init(s, err, errlen) != 0)
        store_close(&s);
    return s;
}

void store_close(store_t **self_p)
{
    store_t *s = *self_p;
    if (!s)
        return;
    store_abort(s);
    if (s->env)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd);      /* after the environment: the lock guards it */
    rec_buf_free(&s->buf);
    free(s);
    *self_p = NULL;
}

const char *store_cluster_id(const store_t *s)
{
    return s->cluster_id;
}

/* ---- writes ------------------------------------------------------------------ */

int store_begin(store_t *s, char *err, size_t errlen)
{
    if (s->txn)
        return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return s_mdb_fail(err, errlen, "starting a write transaction", rc);
    s->txn = txn;
    return 0;
}

bool store_in_txn(const store_t *s)
{
    return s->txn != NULL;
}

int store_commit(store_t *s, char *err, size_t errlen)
{
    if (!s->txn)
        return 0;
    MDB_txn *txn = s->txn;
    s->txn = NULL;                  /* commit frees it, whatever it returns */
    int rc = mdb_txn_commit(txn);
    if (rc != 0)
        return s_mdb_fail(err, errlen, "committing", rc);
    if (s->sync && (rc = mdb_env_sync(s->env, 1)) != 0)
        return s_mdb_fail(err, errlen, "flushing the commit to the disk", rc);
    return 0;
}

void store_abort(store_t *s)
{
    if (!s->txn)
        return;
    mdb_txn_abort(s->txn);
    s->txn = NULL;
}

static int s_need_txn(const store_t *s, char *err, size_t errlen)
{
    if (s->txn)
        return 0;
    snprintf(err, errlen, "no open transaction");
    return -1;
}

/* An LMDB write failed: LMDB cannot go on with the transaction. Always -1. */
static int s_write_fail(store_t *s, const char *what, int rc, char *err, size_t errlen)
{
    store_abort(s);
    snprintf(err, errlen, "%s%s: %s (the transaction was aborted)",
             rc == MDB_MAP_FULL ? "store full: " : "", what, mdb_strerror(rc));
    return -1;
}

static MDB_val s_buf_val(rec_buf_t *b)
{
    MDB_val v = { b->sbuf.size, b->sbuf.data };
    return v;
}

static MDB_val s_state_key(job_state_t state, uint64_t id, uint8_t kb[9])
{
    kb[0] = (uint8_t) state;
    for (int i = 8; i >= 1; i--, id >>= 8)
        kb[i] = (uint8_t) id;
    MDB_val k = { 9, kb };
    return k;
}

/* role + NUL + id; kb has REC_NAME_MAX + 10 bytes. */
static MDB_val s_role_key(const char *role, uint64_t id, uint8_t *kb)
{
    size_t n = strlen(role);
    memcpy(kb, role, n);
    kb[n] = 0;
    for (int i = 8; i >= 1; i--, id >>= 8)
        kb[n + i] = (uint8_t) id;
    MDB_val k = { n + 9, kb };
    return k;
}

/* Index a job's role when it is new, and its state while it is finished
   (unfinished jobs are all in the coordinator's memory, and in `active`):
   one put per job at creation and one when it ends keeps the hot path
   short. */
static int s_index_job(MDB_txn *txn, store_t *s, const char *role, uint64_t id,
                       job_state_t old, job_state_t now)
{
    uint8_t sk[9], rk[REC_NAME_MAX + 10];
    MDB_val k, none = { 0, NULL };
    int rc = 0;
    if (old == now)
        return 0;
    if (old == JOB_STATE_COUNT) {
        k = s_role_key(role, id, rk);
        rc = mdb_put(txn, s->by_role, &k, &none, 0);
    } else if (job_state_terminal(old)) {  /* retried by hand */
        k = s_state_key(old, id, sk);
        rc = mdb_del(txn, s->by_state, &k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (rc == 0 && job_state_terminal(now)) {
        k = s_state_key(now, id, sk);
        rc = mdb_put(txn, s->by_state, &k, &none, 0);
    }
    return rc;
}

/* Drop both index entries of a job (it is being pruned). */
static int s_unindex_job(MDB_txn *txn, store_t *s, const char *role, uint64_t id,
                         job_state_t state)
{
    uint8_t sk[9], rk[REC_NAME_MAX + 10];
    MDB_val k = s_state_key(state, id, sk);
    int rc = mdb_del(txn, s->by_state, &k, NULL);
    k = s_role_key(role, id, rk);
    int rc2 = mdb_del(txn, s->by_role, &k, NULL);
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    return rc ? rc : rc2 == MDB_NOTFOUND ? 0 : rc2;
}

int store_put_job(store_t *s, job_t *job, char *err, size_t errlen)
{
    if (s_need_txn(s, err, errlen) != 0 || rec_enc_job(&s->buf, job, err, errlen) != 0)
        return -1;
    uint8_t kb[8];
    MDB_val k = s_job_key(job->id, kb), v = s_buf_val(&s->buf), none = { 0, NULL };
    int rc = mdb_put(s->txn, s->jobs, &k, &v, 0);
    if (rc == 0 && job_state_terminal(job->state)) {
        rc = mdb_del(s->txn, s->active, &k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    } else if (rc == 0)
        rc = mdb_put(s->txn, s->active, &k, &none, 0);
    if (rc == 0)
        rc = s_index_job(s->txn, s, job->role->name, job->id, job->stored_state, job->state);
    if (rc == 0) {
        job->stored_state = job->state;
        return 0;
    }
    char what[64], idstr[JOBID_LEN + 1];
    jobid_format(job->id, idstr);
    snprintf(what, sizeof what, "putting job %s", idstr);
    return s_write_fail(s, what, rc, err, errlen);
}

/* Put the record in s->buf under a name key. */
static int s_put_named(store_t *s, MDB_dbi dbi, const char *kind, const char *name,
                       char *err, size_t errlen)
{
    MDB_val k = s_str_key(name), v = s_buf_val(&s->buf);
    int rc = mdb_put(s->txn, dbi, &k, &v, 0);
    if (rc == 0)
        return 0;
    char what[320];
    snprintf(what, sizeof what, "putting %s %s", kind, name);
    return s_write_fail(s, what, rc, err, errlen);
}

int store_put_worker(store_t *s, const peer_t *p, char *err, size_t errlen)
{
    if (s_need_txn(s, err, errlen) != 0 || rec_enc_peer(&s->buf, p, err, errlen) != 0)
        return -1;
    return s_put_named(s, s->workers, "worker", p->id, err, errlen);
}

int store_put_role(store_t *s, const role_t *r, char *err, size_t errlen)
{
    if (s_need_txn(s, err, errlen) != 0 || rec_enc_role(&s->buf, r, err, errlen) != 0)
        return -1;
    return s_put_named(s, s->roles, "role", r->name, err, errlen);
}

int store_del_role(store_t *s, const char *name, char *err, size_t errlen)
{
    if (s_need_txn(s, err, errlen) != 0)
        return -1;
    MDB_val k = s_str_key(name);
    int rc = mdb_del(s->txn, s->roles, &k, NULL);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    char what[320];
    snprintf(what, sizeof what, "deleting role %s", name);
    return s_write_fail(s, what, rc, err, errlen);
}

/* ---- idempotency keys -------------------------------------------------------- */

static void s_put_be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

int store_idem_put(store_t *s, const char *key, size_t len, uint64_t id, int64_t created_ms,
                   char *err, size_t errlen)
{
    if (s_need_txn(s, err, errlen) != 0)
        return -1;
    uint8_t vb[16];
    s_put_be(vb, id);
    s_put_be(vb + 8, (uint64_t) created_ms);
    MDB_val k = { len, (void *) key }, v = { sizeof vb, vb };
    int rc = mdb_put(s->txn, s->idem, &k, &v, 0);
    return rc == 0 ? 0 : s_write_fail(s, "putting an idempotency key", rc, err, errlen);
}

int store_idem_get(store_t *s, const char *key, size_t len, uint64_t *id, int64_t *created_ms,
                   char *err, size_t errlen)
{
    MDB_txn *txn = s->txn;   /* the writer sees this turn's keys too */
    int rc = txn ? 0 : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    MDB_val k = { len, (void *) key }, v;
    if (rc == 0)
        rc = mdb_get(txn, s->idem, &k, &v);
    int found = rc == 0 && v.mv_size == 16;
    if (found) {
        *id = s_be(v.mv_data, 8);
        *created_ms = (int64_t) s_be((const uint8_t *) v.mv_data + 8, 8);
    }
    if (txn != s->txn)
        mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        snprintf(err, errlen, "reading an idempotency key: %s", mdb_strerror(rc));
        return -1;
    }
    return found;
}

/* ---- meta values ------------------------------------------------------------- */

int store_put_meta_u64(store_t *s, const char *key, uint64_t val, char *err, size_t errlen)
{
    if (s_need_txn(s, err, errlen) != 0)
        return -1;
    uint8_t vb[8];
    s_put_be(vb, val);
    MDB_val k = s_str_key(key), v = { 8, vb };
    int rc = mdb_put(s->txn, s->meta, &k, &v, 0);
    if (rc == 0)
        return 0;
    char what[96];
    snprintf(what, sizeof what, "writing meta %.40s", key);
    return s_write_fail(s, what, rc, err, errlen);
}

int store_get_meta_u64(store_t *s, const char *key, uint64_t *val, char *err, size_t errlen)
{
    MDB_txn *txn = s->txn;
    int rc = txn ? 0 : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    MDB_val k = s_str_key(key), v;
    if (rc == 0)
        rc = mdb_get(txn, s->meta, &k, &v);
    int found = rc == 0 && v.mv_size == 8;
    if (found)
        *val = s_be(v.mv_data, 8);
    if (txn != s->txn)
        mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        snprintf(err, errlen, "reading meta %.40s: %s", key, mdb_strerror(rc));
        return -1;
    }
    return found;
}

/* ---- job output -------------------------------------------------------------- */

static MDB_val s_log_key(uint64_t id, uint32_t seq, uint8_t kb[12])
{
    s_put_be(kb, id);
    for (int i = 3; i >= 0; i--, seq >>= 8)
        kb[8 + i] = (uint8_t) seq;
    MDB_val k = { 12, kb };
    return k;
}

int store_put_log(store_t *s, uint64_t id, uint32_t seq, const void *data, size_t len,
                  char *err, size_t errlen)
{
    if (s_need_txn(s, err, errlen) != 0)
        return -1;
    uint8_t kb[12];
    MDB_val k = s_log_key(id, seq, kb), v = { len, (void *) data };
    int rc = mdb_put(s->txn, s->logs, &k, &v, 0);
    return rc == 0 ? 0 : s_write_fail(s, "putting job output", rc, err, errlen);
}

/* Delete the job's oldest chunks until at least `need` bytes are gone;
   *freed gets what was deleted. */
int store_trim_log(store_t *s, uint64_t id, size_t need, size_t *freed, char *err, size_t errlen)
{
    *freed = 0;
    if (s_need_txn(s, err, errlen) != 0)
        return -1;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(s->txn, s->logs, &cur);
    uint8_t kb[12];
    MDB_val k = s_log_key(id, 0, kb), v;
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && *freed < need && k.mv_size == 12 && s_be(k.mv_data, 8) == id) {
        *freed += v.mv_size;
        rc = mdb_cursor_del(cur, 0);
        if (rc == 0 && mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT) != 0)
            break;                         /* deleted the last one */
        if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != 12 || s_be(k.mv_data, 8) != id)))
            break;
    }
    if (cur)
        mdb_cursor_close(cur);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return s_write_fail(s, "trimming job output", rc, err, errlen);
}

/* The job's chunks from the last one back while they fit in max: their
   values stay valid until the transaction ends. Returns how many (<= cap). */
static size_t s_tail_chunks(MDB_cursor *cur, uint64_t id, size_t max, MDB_val *vals, size_t cap,
                            size_t *total)
{
    uint8_t kb[12];
    MDB_val k = s_log_key(id, UINT32_MAX, kb), v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    size_t n = 0;
    *total = 0;
    while (rc == 0 && n < cap && k.mv_size == 12 && s_be(k.mv_data, 8) == id &&
           *total + v.mv_size <= max) {
        vals[n++] = v;
        *total += v.mv_size;
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    return n;
}

int store_read_log(store_t *s, uint64_t id, size_t max, char **out, size_t *len,
                   char *err, size_t errlen)
{
    enum { CAP = 1024 };
    MDB_txn *txn = s->txn;
    MDB_cursor *cur = NULL;
    MDB_val *vals = calloc(CAP, sizeof *vals);
    int rc = !vals ? ENOMEM : txn ? 0 : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->logs, &cur);
    size_t total = 0, n = rc == 0 ? s_tail_chunks(cur, id, max, vals, CAP, &total) : 0;
    char *buf = rc == 0 ? malloc(total + 1) : NULL;
    for (size_t i = n, at = 0; buf && i-- > 0; at += vals[i].mv_size)
        memcpy(buf + at, vals[i].mv_data, vals[i].mv_size);
    if (cur)
        mdb_cursor_close(cur);
    if (txn && txn != s->txn)
        mdb_txn_abort(txn);
    free(vals);
    if (!buf) {
        snprintf(err, errlen, "reading job output: %s", rc ? mdb_strerror(rc) : "out of memory");
        return -1;
    }
    buf[total] = '\0';
    *out = buf;
    *len = total;
    return 0;
}

/* The bytes [skip, skip + max) of the job's stored output, counting from
   its first stored chunk: walk the chunks forward, copying the overlap. */
static int s_copy_range(MDB_cursor *cur, uint64_t id, uint64_t skip, char *buf, size_t max,
                        size_t *len)
{
    uint8_t kb[12];
    MDB_val k = s_log_key(id, 0, kb), v;
    uint64_t pos = 0;
    *len = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && *len < max && k.mv_size == 12 && s_be(k.mv_data, 8) == id;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t end = pos + v.mv_size;
        if (end > skip) {
            uint64_t from = skip > pos ? skip - pos : 0;
            size_t n = (size_t) (v.mv_size - from);
            n = n > max - *len ? max - *len : n;
            memcpy(buf + *len, (const char *) v.mv_data + from, n);
            *len += n;
        }
        pos = end;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_read_log_range(store_t *s, uint64_t id, uint64_t skip, size_t max, char **out,
                         size_t *len, char *err, size_t errlen)
{
    MDB_txn *txn = s->txn;
    MDB_cursor *cur = NULL;
    char *buf = malloc(max + 1);
    int rc = !buf ? ENOMEM : txn ? 0 : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->logs, &cur);
    if (rc == 0)
        rc = s_copy_range(cur, id, skip, buf, max, len);
    if (cur)
        mdb_cursor_close(cur);
    if (txn && txn != s->txn)
        mdb_txn_abort(txn);
    if (rc != 0) {
        snprintf(err, errlen, "reading job output: %s", buf ? mdb_strerror(rc) : "out of memory");
        free(buf);
        return -1;
    }
    buf[*len] = '\0';
    *out = buf;
    return 0;
}

/* ---- how full ---------------------------------------------------------------- */

/* Pages on LMDB's freelist (database 0): each record is a page list whose
   first word is its length, as mdb_stat -f counts them. */
static uint64_t s_free_pages(store_t *s)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t pages = 0;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (mdb_cursor_open(txn, 0, &cur) == 0) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            if (v.mv_size >= sizeof(size_t))
                pages += *(const size_t *) v.mv_data;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return pages;
}

int store_usage(store_t *s, store_usage_t *u, char *err, size_t errlen)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(s->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(s->env, &st);
    if (rc != 0) {
        snprintf(err, errlen, "reading store usage: %s", mdb_strerror(rc));
        return -1;
    }
    u->map_bytes = info.me_mapsize;
    uint64_t pages = (uint64_t) info.me_last_pgno + 1, free_pages = s_free_pages(s);
    u->used_bytes = (pages > free_pages ? pages - free_pages : 0) * st.ms_psize;
    struct statvfs fs;
    const char *path;
    u->disk_free_bytes = mdb_env_get_path(s->env, &path) == 0 && statvfs(path, &fs) == 0
                             ? (uint64_t) fs.f_bavail * fs.f_frsize : UINT64_MAX;
    return 0;
}

/* ---- retention ------------------------------------------------------------------ */

/* Delete one finished job's record and output under the cursor. */
static int s_prune_one(store_t *s, MDB_cursor *cur, uint64_t id, const char *role,
                       job_state_t state, char *err, size_t errlen)
{
    size_t freed;
    if (store_trim_log(s, id, SIZE_MAX, &freed, err, errlen) != 0)
        return -1;
    int rc = s_unindex_job(s->txn, s, role, id, state);
    if (rc == 0)
        rc = mdb_cursor_del(cur, 0);
    return rc == 0 ? 0 : s_write_fail(s, "pruning a job", rc, err, errlen);
}

int store_prune(store_t *s, int64_t cutoff_ms, uint64_t max_finished, size_t batch,
                store_pruned_fn *fn, void *arg, size_t *pruned, char *err, size_t errlen)
{
    *pruned = 0;
    if (s_need_txn(s, err, errlen) != 0)
        return -1;
    MDB_stat js, as;
    MDB_cursor *cur = NULL;
    int rc = mdb_stat(s->txn, s->jobs, &js);
    if (rc == 0)
        rc = mdb_stat(s->txn, s->active, &as);
    if (rc == 0)
        rc = mdb_cursor_open(s->txn, s->jobs, &cur);
    uint64_t finished = rc == 0 ? js.ms_entries - as.ms_entries : 0;
    MDB_val k, v, none;
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && *pruned < batch) {
        if (mdb_get(s->txn, s->active, &k, &none) == 0) {   /* not finished: never pruned */
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        rec_job_t rec;
        char why[200];
        if (rec_dec_job(v.mv_data, v.mv_size, &rec, why, sizeof why) != 0) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);     /* leave a bad record be */
            continue;
        }
        bool over = finished > max_finished, old = rec.job->finished_ms < cutoff_ms;
        bool newer = rec.job->created_ms >= cutoff_ms;      /* so is all that follows */
        uint64_t id = rec.job->id;
        job_state_t state = rec.job->state;
        job_destroy(&rec.job);
        if (!over && newer)
            break;
        if (!over && !old) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        if (s_prune_one(s, cur, id, rec.role, state, err, errlen) != 0)
            return -1;  /* the transaction is gone, and with it the cursor */
        finished--;
        (*pruned)++;
        if (fn)
            fn(id, arg);
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        rc = rc == 0 ? 0 : MDB_NOTFOUND;   /* deleted the last one */
    }
    if (cur)
        mdb_cursor_close(cur);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    snprintf(err, errlen, "pruning: %s", mdb_strerror(rc));
    return -1;
}

/* ---- idempotency keys past their window ----------------------------------------- */

int store_prune_idem(store_t *s, int64_t cutoff_ms, size_t batch, size_t *pruned,
                     char *err, size_t errlen)
{
    *pruned = 0;
    if (s_need_txn(s, err, errlen) != 0)
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, s->idem, &cur);
    MDB_val k = { s->idem_next_len, s->idem_next }, v;
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, s->idem_next_len ? MDB_SET_RANGE : MDB_FIRST);
    for (size_t seen = 0; rc == 0 && seen < batch; seen++) {
        bool old = v.mv_size == 16 && (int64_t) s_be((const uint8_t *) v.mv_data + 8, 8) < cutoff_ms;
        if (old) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            (*pruned)++;
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            rc = rc == 0 ? 0 : MDB_NOTFOUND;
            continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    /* resume after the last key looked at; from the start once at the end */
    s->idem_next_len = rc == 0 && k.mv_size <= sizeof s->idem_next ? k.mv_size : 0;
    if (s->idem_next_len)
        memcpy(s->idem_next, k.mv_data, k.mv_size);
    mdb_cursor_close(cur);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return s_write_fail(s, "pruning idempotency keys", rc, err, errlen);
}

/* ---- decoding what the store holds -------------------------------------------- */

/* The job record v under key k; checks the key and that the record agrees. */
static int s_decode_job(const MDB_val *k, const MDB_val *v, rec_job_t *rec,
                        char *err, size_t errlen)
{
    char idstr[JOBID_LEN + 1], why[200];
    if (k->mv_size != 8) {
        snprintf(err, errlen, "jobs: a key of %zu bytes, not 8 (corrupt store?)", k->mv_size);
        return -1;
    }
    uint64_t id = s_be(k->mv_data, 8);
    jobid_format(id, idstr);
    if (rec_dec_job(v->mv_data, v->mv_size, rec, why, sizeof why) != 0) {
        snprintf(err, errlen, "job %s: %s", idstr, why);
        return -1;
    }
    if (rec->job->id != id) {
        snprintf(err, errlen, "job %s: the record holds job %s", idstr, rec->job->idstr);
        job_destroy(&rec->job);
        return -1;
    }
    return 0;
}

/* Whether a worker or role record decoded from under key k names k. */
static int s_check_name(const MDB_val *k, const char *kind, const char *name,
                        char *err, size_t errlen)
{
    if (k->mv_size == strlen(name) && memcmp(k->mv_data, name, k->mv_size) == 0)
        return 0;
    char kt[68];
    snprintf(err, errlen, "%s '%s': the record holds %s '%.64s'", kind, s_key_text(k, kt),
             kind, name);
    return -1;
}

static peer_t *s_decode_peer(const MDB_val *k, const MDB_val *v, char *err, size_t errlen)
{
    char why[200], kt[68];
    peer_t *p = rec_dec_peer(v->mv_data, v->mv_size, why, sizeof why);
    if (!p)
        snprintf(err, errlen, "worker '%s': %s", s_key_text(k, kt), why);
    else if (s_check_name(k, "worker", p->id, err, errlen) != 0)
        peer_destroy(&p);
    return p;
}

static role_t *s_decode_role(const MDB_val *k, const MDB_val *v, char *err, size_t errlen)
{
    char why[200], kt[68];
    role_t *r = rec_dec_role(v->mv_data, v->mv_size, why, sizeof why);
    if (!r)
        snprintf(err, errlen, "role '%s': %s", s_key_text(k, kt), why);
    else if (s_check_name(k, "role", r->name, err, errlen) != 0)
        role_destroy(&r);
    return r;
}

/* ---- reads: a cursor walk in a read transaction --------------------------------- */

typedef struct s_walk s_walk_t;
/* Handle one key/value; 0 goes on, anything else stops the walk and is returned. */
typedef int (s_visit_fn)(s_walk_t *w, const MDB_val *k, const MDB_val *v);

struct s_walk {
    store_t *s;
    MDB_txn *txn;                /* the walk's read transaction */
    MDB_dbi dbi;                 /* the database walked */
    MDB_cursor_op step;          /* MDB_NEXT (from the first) or MDB_PREV (from the last) */
    uint64_t before;             /* MDB_PREV: start below this job id; 0 = at the last */
    s_visit_fn *visit;
    store_job_fn *job_fn;        /* the caller's callback, by kind */
    store_worker_fn *worker_fn;
    store_role_fn *role_fn;
    void *arg;                   /* the caller's argument */
    char *err;
    size_t errlen;
};

static int s_first(s_walk_t *w, MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
    if (w->step == MDB_NEXT)
        return mdb_cursor_get(cur, k, v, MDB_FIRST);
    if (w->before == 0)
        return mdb_cursor_get(cur, k, v, MDB_LAST);
    uint8_t kb[8];
    *k = s_job_key(w->before, kb);
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);     /* first key >= before */
    if (rc == 0)
        return mdb_cursor_get(cur, k, v, MDB_PREV);
    return rc == MDB_NOTFOUND ? mdb_cursor_get(cur, k, v, MDB_LAST) : rc;
}

static int s_walk_items(s_walk_t *w, MDB_cursor *cur)
{
    MDB_val k, v;
    int rc = s_first(w, cur, &k, &v);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, w->step)) {
        int out = w->visit(w, &k, &v);
        if (out != 0)
            return out;
    }
    return rc == MDB_NOTFOUND ? 0 : s_mdb_fail(w->err, w->errlen, "reading the store", rc);
}

static int s_walk(s_walk_t *w)
{
    int rc = mdb_txn_begin(w->s->env, NULL, MDB_RDONLY, &w->txn);
    if (rc != 0)
        return s_mdb_fail(w->err, w->errlen, "starting a read transaction", rc);
    MDB_cursor *cur;
    int out;
    if ((rc = mdb_cursor_open(w->txn, w->dbi, &cur)) != 0)
        out = s_mdb_fail(w->err, w->errlen, "opening a cursor", rc);
    else {
        out = s_walk_items(w, cur);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(w->txn);
    return out;
}

/* Hand a decoded job to the caller with a copy of its worker id (the
   callback may destroy the job). */
static int s_emit_job(s_walk_t *w, rec_job_t *rec)
{
    char worker[REC_NAME_MAX + 1];
    const char *wid = NULL;
    if (rec->job->last_worker) {
        snprintf(worker, sizeof worker, "%s", rec->job->last_worker);
        wid = worker;
    }
    return w->job_fn(rec->job, rec->role, wid, w->arg);
}

static int s_visit_job(s_walk_t *w, const MDB_val *k, const MDB_val *v)
{
    rec_job_t rec;
    if (s_decode_job(k, v, &rec, w->err, w->errlen) != 0)
        return -1;
    return s_emit_job(w, &rec);
}

/* An active index entry: fetch the job it names. */
static int s_visit_active(s_walk_t *w, const MDB_val *k, const MDB_val *unused)
{
    (void) unused;
    MDB_val v;
    int rc = mdb_get(w->txn, w->s->jobs, (MDB_val *) k, &v);
    if (rc == 0)
        return s_visit_job(w, k, &v);
    if (rc != MDB_NOTFOUND)
        return s_mdb_fail(w->err, w->errlen, "reading an active job", rc);
    char kt[68];
    if (k->mv_size == 8)
        jobid_format(s_be(k->mv_data, 8), kt);
    snprintf(w->err, w->errlen, "active: job %s has no record (corrupt store?)",
             k->mv_size == 8 ? kt : s_key_text(k, kt));
    return -1;
}

static int s_visit_worker(s_walk_t *w, const MDB_val *k, const MDB_val *v)
{
    peer_t *p = s_decode_peer(k, v, w->err, w->errlen);
    return p ? w->worker_fn(p, w->arg) : -1;
}

static int s_visit_role(s_walk_t *w, const MDB_val *k, const MDB_val *v)
{
    role_t *r = s_decode_role(k, v, w->err, w->errlen);
    return r ? w->role_fn(r, w->arg) : -1;
}

int store_each_active_job(store_t *s, store_job_fn *fn, void *arg, char *err, size_t errlen)
{
    s_walk_t w = { .s = s, .dbi = s->active, .step = MDB_NEXT, .visit = s_visit_active,
                   .job_fn = fn, .arg = arg, .err = err, .errlen = errlen };
    return s_walk(&w);
}

int store_each_job_desc(store_t *s, uint64_t before, store_job_fn *fn, void *arg,
                        char *err, size_t errlen)
{
    s_walk_t w = { .s = s, .dbi = s->jobs, .step = MDB_PREV, .before = before,
                   .visit = s_visit_job, .job_fn = fn, .arg = arg, .err = err, .errlen = errlen };
    return s_walk(&w);
}

/* Fetch and hand over the job an index entry names: 0 go on, else stop. */
static int s_where_one(store_t *s, MDB_txn *txn, uint64_t id, const char *role,
                       store_job_fn *fn, void *arg, char *err, size_t errlen)
{
    uint8_t kb[8];
    MDB_val k = s_job_key(id, kb), v;
    if (mdb_get(txn, s->jobs, &k, &v) != 0)
        return 0;                       /* an index entry without its job: skip it */
    rec_job_t rec;
    if (s_decode_job(&k, &v, &rec, err, errlen) != 0)
        return -1;
    if (role && strcmp(rec.role, role) != 0) {
        job_destroy(&rec.job);
        return 0;
    }
    char worker[REC_NAME_MAX + 1];
    const char *wid = NULL;
    if (rec.job->last_worker) {
        snprintf(worker, sizeof worker, "%s", rec.job->last_worker);
        wid = worker;
    }
    return fn(rec.job, rec.role, wid, arg);
}

int store_each_job_where(store_t *s, job_state_t state, const char *role, store_job_fn *fn,
                         void *arg, char *err, size_t errlen)
{
    return store_each_job_below(s, state, role, 0, fn, arg, err, errlen);
}

int store_each_job_below(store_t *s, job_state_t state, const char *role, uint64_t before,
                         store_job_fn *fn, void *arg, char *err, size_t errlen)
{
    bool by_state = state < JOB_STATE_COUNT;
    if (!by_state && !role)
        return store_each_job_desc(s, before, fn, arg, err, errlen);
    if (!by_state && strlen(role) > REC_NAME_MAX)
        return 0;                       /* no role has such a name */
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return s_mdb_fail(err, errlen, "starting a read transaction", rc);
    uint8_t kb[REC_NAME_MAX + 10];
    uint64_t from = before ? before : UINT64_MAX;   /* entries below it (MDB_PREV from it) */
    MDB_val k = by_state ? s_state_key(state, from, kb) : s_role_key(role, from, kb), v;
    size_t plen = k.mv_size - 8;        /* the prefix every entry of this set shares */
    int out = 0;
    if ((rc = mdb_cursor_open(txn, by_state ? s->by_state : s->by_role, &cur)) != 0) {
        mdb_txn_abort(txn);
        return s_mdb_fail(err, errlen, "opening a cursor", rc);
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    while (rc == 0 && out == 0 && k.mv_size == plen + 8 && memcmp(k.mv_data, kb, plen) == 0) {
        out = s_where_one(s, txn, s_be((const uint8_t *) k.mv_data + plen, 8),
                          by_state ? role : NULL, fn, arg, err, errlen);
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return out;
}

int store_each_worker(store_t *s, store_worker_fn *fn, void *arg, char *err, size_t errlen)
{
    s_walk_t w = { .s = s, .dbi = s->workers, .step = MDB_NEXT, .visit = s_visit_worker,
                   .worker_fn = fn, .arg = arg, .err = err, .errlen = errlen };
    return s_walk(&w);
}

int store_each_role(store_t *s, store_role_fn *fn, void *arg, char *err, size_t errlen)
{
    s_walk_t w = { .s = s, .dbi = s->roles, .step = MDB_NEXT, .visit = s_visit_role,
                   .role_fn = fn, .arg = arg, .err = err, .errlen = errlen };
    return s_walk(&w);
}

/* Copy src into a caller's buffer (skipped when buf is NULL). */
static int s_copy_out(char *buf, size_t len, const char *src, const char *what,
                      char *err, size_t errlen)
{
    if (!buf)
        return 0;
    if (strlen(src) < len) {
        strcpy(buf, src);
        return 0;
    }
    snprintf(err, errlen, "%s '%.64s' does not fit the buffer of %zu bytes", what, src, len);
    return -1;
}

/* Look the job up in a read transaction: 1 (rec set), 0 not found, -1. */
static int s_get_job(store_t *s, uint64_t id, rec_job_t *rec, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return s_mdb_fail(err, errlen, "starting a read transaction", rc);
    uint8_t kb[8];
    MDB_val k = s_job_key(id, kb), v;
    rc = mdb_get(txn, s->jobs, &k, &v);
    int out;
    if (rc == MDB_NOTFOUND)
        out = 0;
    else if (rc != 0)
        out = s_mdb_fail(err, errlen, "reading a job", rc);
    else
        out = s_decode_job(&k, &v, rec, err, errlen) == 0 ? 1 : -1;
    mdb_txn_abort(txn);
    return out;
}

int store_get_job(store_t *s, uint64_t id, job_t **out, char *role_name, size_t role_len,
                  char *worker_id, size_t worker_len, char *err, size_t errlen)
{
    rec_job_t rec;
    *out = NULL;
    int rc = s_get_job(s, id, &rec, err, errlen);
    if (rc != 1)
        return rc;
    const char *wid = rec.job->last_worker ? rec.job->last_worker : "";
    if (s_copy_out(role_name, role_len, rec.role, "role name", err, errlen) != 0 ||
        s_copy_out(worker_id, worker_len, wid, "worker id", err, errlen) != 0) {
        job_destroy(&rec.job);
        return -1;
    }
    *out = rec.job;
    return 1;
}
