/*
 * worker.c: a minimal BATON-W/1 worker in C99 on libzmq alone, written from
 * Protocol/spec.md only (sections 3, 6.3, 7, 9, 10, 13). See README.md beside it.
 *
 *   cc -std=c99 -O2 worker.c -lzmq -o worker
 *   worker ENDPOINT NAME TYPE [CAPACITY]
 *
 * It declares one job type, TYPE. A JOB of that type answers, after `args.sleep_ms`
 * milliseconds (default 0), RESULT {"ok": true, "output": {"echoed": <args>}} with the
 * args object copied byte for byte from the JOB. While it sleeps it sends PROGRESS
 * every third of the JOB's `heartbeat_timeout_ms` (when set). Up to CAPACITY (default
 * 1) jobs run at once; a job is a timer, so running several at once in one thread is
 * real concurrency, not a pretence. Extra JOBs (the broker frees a slot at a CANCEL,
 * spec 9.6) wait in a FIFO queue.
 *
 * Protocol behaviour (spec section in brackets):
 *  - READY on every new socket [9.2, 9.4 step 1]; capacity 0 while draining [9.5].
 *  - adopts `interval_ms` (> 0) and `max_output_bytes` (> 0) from every HEARTBEAT [9.3].
 *  - sends HEARTBEAT {} whenever `interval_ms` has passed since its last send [9.2].
 *  - counts the broker dead after 3 x interval with nothing received (any message,
 *    even a dropped one, counts [9.6]): closes the socket, abandons its jobs, opens a
 *    new socket and sends READY again [9.4 step 4].
 *  - DISCONNECT (any code): abandons its jobs, new socket, READY again; after
 *    `bad_ready` / `unsupported_version` it waits 1 s doubling to 30 s first [9.3].
 *  - CANCEL: drops the attempt, sends no RESULT; unknown attempts are ignored [9.6].
 *  - JOB of another type: RESULT ok:false, retryable:true [9.6]. JOB without a usable
 *    job_id/attempt: dropped and logged [9.6].
 *  - gives up (no RESULT) on a job whose `timeout_ms` passed since it arrived [9.3].
 *  - a RESULT body over `max_output_bytes` is replaced by ok:false, retryable:false,
 *    "output too large: ..." [9.2].
 *  - SIGTERM/SIGINT: drain [9.5]: READY capacity 0 with the same worker/types, keep
 *    running what it holds, and once the HEARTBEAT answering that READY (the one with
 *    `max_output_bytes`) has come and every JOB it holds has ended, DISCONNECT {},
 *    close with linger 500 ms, exit 0. The drain is bounded (DRAIN_TIMEOUT_MS); a
 *    second signal leaves at once [9.4 step 5]. Leaving with jobs abandoned exits 1.
 *
 * JSON: a purpose-built scanner, not a general parser. Limits:
 *  - it checks that a body is one syntactically valid JSON value (strings, escapes,
 *    numbers, literals, nesting up to 128) and that it is an object; it does NOT check
 *    that strings are valid UTF-8 and does not detect duplicate keys (the first
 *    occurrence of a key wins);
 *  - it reads only top-level members (and `args.sleep_ms` one level down); keys are
 *    decoded (escapes included) before comparison;
 *  - integers: optional '-', digits, optionally ".0..." (so 3.0 is 3, spec 3.2); an
 *    exponent (3e0) is refused as "not an integer"; range is int64;
 *  - strings it keeps (job_id, codes) are decoded to UTF-8; one holding \u0000 is
 *    refused;
 *  - `args` is never decoded: its raw text is copied into the output.
 * The writer emits compact JSON and escapes '"', '\\' and control characters.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define PROTO "BATON-W/1"
#define DEFAULT_INTERVAL_MS 1000   /* before the first HEARTBEAT (9.4 step 2) */
#define DRAIN_TIMEOUT_MS 30000     /* bound on a drain (9.5: SHOULD bound) */
#define LEAVE_LINGER_MS 500        /* so that the DISCONNECT goes out (9.4 step 5) */
#define MAX_SLEEP_MS 604800000LL   /* 7 days, like a job's timeout_ms */
#define MAX_DEPTH 128

/* ------------------------------------------------------------------ utilities */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *g_name = "?";

static void logf_(const char *fmt, ...) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    time_t t = ts.tv_sec;
    gmtime_r(&t, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ldZ c-worker %s: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, g_name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

/* A growable byte buffer for the bodies we write. */
typedef struct { char *b; size_t n, cap; } buf_t;

static void buf_put(buf_t *s, const char *p, size_t n) {
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (s->n + n + 1 > cap) cap *= 2;
        char *nb = realloc(s->b, cap);
        if (!nb) { fprintf(stderr, "out of memory\n"); exit(2); }
        s->b = nb;
        s->cap = cap;
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
    s->b[s->n] = 0;
}
static void buf_puts(buf_t *s, const char *p) { buf_put(s, p, strlen(p)); }
static void buf_int(buf_t *s, int64_t v) {
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    buf_puts(s, t);
}
/* A JSON string literal for the UTF-8 text `p`. */
static void buf_jstr(buf_t *s, const char *p) {
    buf_put(s, "\"", 1);
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') { char t[2] = {'\\', (char)c}; buf_put(s, t, 2); }
        else if (c < 0x20) { char t[8]; snprintf(t, sizeof t, "\\u%04x", c); buf_puts(s, t); }
        else buf_put(s, (const char *)&c, 1);
    }
    buf_put(s, "\"", 1);
}

/* ------------------------------------------------------------- JSON scanning */

typedef struct { const char *s, *e; } span_t;   /* [s, e): one JSON value's text */

static const char *jws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}
static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
static const char *jskip_string(const char *p, const char *e) {  /* p at '"' */
    for (p++; p < e;) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c != '\\') { p++; continue; }
        if (++p >= e) return NULL;
        if (*p == 'u') {
            if (e - p < 5) return NULL;
            for (int i = 1; i <= 4; i++) if (hexv(p[i]) < 0) return NULL;
            p += 5;
        } else if (strchr("\"\\/bfnrt", *p) && *p) p++;
        else return NULL;
    }
    return NULL;
}
static const char *jskip_digits(const char *p, const char *e) {
    const char *q = p;
    while (q < e && *q >= '0' && *q <= '9') q++;
    return q > p ? q : NULL;
}
static const char *jskip_number(const char *p, const char *e) {
    if (p < e && *p == '-') p++;
    if (p < e && *p == '0') p++;
    else if (!(p = jskip_digits(p, e))) return NULL;
    if (p < e && *p == '.' && !(p = jskip_digits(p + 1, e))) return NULL;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (!(p = jskip_digits(p, e))) return NULL;
    }
    return p;
}
static const char *jskip_lit(const char *p, const char *e, const char *lit) {
    size_t n = strlen(lit);
    return ((size_t)(e - p) >= n && memcmp(p, lit, n) == 0) ? p + n : NULL;
}
/* Skips one value (p at its first byte, no leading whitespace); returns its end. */
static const char *jskip_value(const char *p, const char *e, int depth) {
    if (p >= e) return NULL;
    switch (*p) {
    case '{': case '[': {
        char close = *p == '{' ? '}' : ']';
        int obj = *p == '{';
        if (depth >= MAX_DEPTH) return NULL;
        p = jws(p + 1, e);
        if (p < e && *p == close) return p + 1;
        for (;;) {
            if (obj) {
                if (p >= e || *p != '"' || !(p = jskip_string(p, e))) return NULL;
                p = jws(p, e);
                if (p >= e || *p != ':') return NULL;
                p = jws(p + 1, e);
            }
            if (!(p = jskip_value(p, e, depth + 1))) return NULL;
            p = jws(p, e);
            if (p < e && *p == ',') { p = jws(p + 1, e); continue; }
            if (p < e && *p == close) return p + 1;
            return NULL;
        }
    }
    case '"': return jskip_string(p, e);
    case 't': return jskip_lit(p, e, "true");
    case 'f': return jskip_lit(p, e, "false");
    case 'n': return jskip_lit(p, e, "null");
    default: return jskip_number(p, e);
    }
}
/* The body as a span if it is exactly one JSON object (whitespace around allowed). */
static int jbody(const char *p, size_t n, span_t *out) {
    const char *e = p + n, *s = jws(p, e), *v;
    if (s >= e || *s != '{' || !(v = jskip_value(s, e, 0)) || jws(v, e) != e) return 0;
    out->s = s;
    out->e = v;
    return 1;
}
static void put_utf8(buf_t *b, uint32_t cp) {
    char t[4];
    size_t n;
    if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | cp >> 6); t[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) { t[0] = (char)(0xE0 | cp >> 12); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[2] = (char)(0x80 | (cp & 0x3F)); n = 3; }
    else { t[0] = (char)(0xF0 | cp >> 18); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F)); t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F)); n = 4; }
    buf_put(b, t, n);
}
static uint32_t hex4(const char *p) { return (uint32_t)(hexv(p[0]) << 12 | hexv(p[1]) << 8 | hexv(p[2]) << 4 | hexv(p[3])); }
/* A validated string value, decoded to malloc'd UTF-8; NULL if not a string, if it
 * holds \u0000 or a lone surrogate. */
static char *jstring(span_t v) {
    if (v.s >= v.e || *v.s != '"') return NULL;
    buf_t b = {0};
    buf_put(&b, "", 0);
    for (const char *p = v.s + 1; p < v.e - 1;) {
        if (*p != '\\') { buf_put(&b, p, 1); p++; continue; }
        p++;
        char c = *p++;
        switch (c) {
        case 'b': buf_put(&b, "\b", 1); break;
        case 'f': buf_put(&b, "\f", 1); break;
        case 'n': buf_put(&b, "\n", 1); break;
        case 'r': buf_put(&b, "\r", 1); break;
        case 't': buf_put(&b, "\t", 1); break;
        case 'u': {
            uint32_t cp = hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (v.e - 1 - p < 6 || p[0] != '\\' || p[1] != 'u') goto bad;
                uint32_t lo = hex4(p + 2);
                if (lo < 0xDC00 || lo > 0xDFFF) goto bad;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) goto bad;
            put_utf8(&b, cp);
            break;
        }
        default: buf_put(&b, &c, 1); break;   /* " \ / */
        }
    }
    return b.b;
bad:
    free(b.b);
    return NULL;
}
/* Member `key` of the object `obj` (top level only). 1 if found. */
static int jget(span_t obj, const char *key, span_t *out) {
    const char *p = jws(obj.s + 1, obj.e), *e = obj.e;
    if (p < e && *p == '}') return 0;
    while (p < e && *p == '"') {
        span_t k = {p, jskip_string(p, e)};
        p = jws(jws(k.e, e) + 1, e);                 /* past ':' (validated) */
        span_t v = {p, jskip_value(p, e, 0)};
        char *ks = jstring(k);
        int hit = ks && strcmp(ks, key) == 0;
        free(ks);
        if (hit) { *out = v; return 1; }
        p = jws(v.e, e);
        if (p < e && *p == ',') p = jws(p + 1, e);
        else break;
    }
    return 0;
}
static int jis_null(span_t v) { return v.e - v.s == 4 && memcmp(v.s, "null", 4) == 0; }
/* An integer (3 or 3.0; no exponent). 1 if it is one. */
static int jint(span_t v, int64_t *out) {
    const char *p = v.s;
    int neg = 0;
    uint64_t acc = 0;
    if (p < v.e && *p == '-') { neg = 1; p++; }
    if (p >= v.e || *p < '0' || *p > '9') return 0;
    for (; p < v.e && *p >= '0' && *p <= '9'; p++) {
        if (acc > (UINT64_MAX - 9) / 10) return 0;
        acc = acc * 10 + (uint64_t)(*p - '0');
    }
    if (p < v.e && *p == '.') for (p++; p < v.e && *p == '0'; p++) {}
    if (p != v.e) return 0;
    if (acc > (uint64_t)INT64_MAX + (uint64_t)neg) return 0;
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 1;
}
/* The string member `key`, decoded; NULL if absent or not a string. */
static char *jget_string(span_t obj, const char *key) {
    span_t v;
    return jget(obj, key, &v) ? jstring(v) : NULL;
}
/* 1 if the array `arr` holds the string `want`. */
static int jarray_has(span_t arr, const char *want) {
    if (*arr.s != '[') return 0;
    const char *p = jws(arr.s + 1, arr.e), *e = arr.e;
    while (p < e && *p != ']') {
        span_t v = {p, jskip_value(p, e, 0)};
        char *s = jstring(v);
        int hit = s && strcmp(s, want) == 0;
        free(s);
        if (hit) return 1;
        p = jws(v.e, e);
        if (p < e && *p == ',') p = jws(p + 1, e);
    }
    return 0;
}

/* --------------------------------------------------------------------- state */

typedef struct job {
    char *job_id;          /* decoded */
    int64_t attempt;
    char *args;            /* raw JSON text of the args object, NUL-terminated */
    int64_t sleep_ms, hb_ms;
    int64_t received_at, started_at;   /* started_at < 0: queued (9.6) */
    int64_t due_at, give_up_at;        /* give_up_at 0: no timeout_ms */
    int64_t next_progress_at;
    struct job *next;
} job_t;

static struct {
    const char *endpoint, *name, *type;
    int capacity;
    void *ctx, *sock;                 /* sock NULL: between connections */
    int64_t interval_ms, max_output_bytes;
    int64_t last_send, last_recv, reconnect_at;
    int64_t refuse_backoff_ms;        /* after bad_ready / unsupported_version */
    int answers_pending;              /* READYs sent on this socket not yet answered */
    int feat_known, feat_drain;
    job_t *jobs;                      /* arrival order */
    int draining, drain_ready_sent;
    int64_t drain_deadline;
} W;

static volatile sig_atomic_t g_signals = 0;
static void on_signal(int sig) { (void)sig; g_signals++; }

static void job_free(job_t *j) { free(j->job_id); free(j->args); free(j); }
static int running_count(void) {
    int n = 0;
    for (job_t *j = W.jobs; j; j = j->next) n += j->started_at >= 0;
    return n;
}
static int job_count(void) {
    int n = 0;
    for (job_t *j = W.jobs; j; j = j->next) n++;
    return n;
}
static void job_remove(job_t *t) {
    for (job_t **pp = &W.jobs; *pp; pp = &(*pp)->next)
        if (*pp == t) { *pp = t->next; job_free(t); return; }
}
static job_t *job_find(const char *id, int64_t attempt) {
    for (job_t *j = W.jobs; j; j = j->next)
        if (strcmp(j->job_id, id) == 0 && (attempt < 0 || j->attempt == attempt)) return j;
    return NULL;
}
static int abandon_all(const char *why) {
    int n = 0;
    while (W.jobs) {
        job_t *j = W.jobs;
        logf_("abandoning %s attempt %lld (%s): its RESULT could not be applied", j->job_id, (long long)j->attempt, why);
        W.jobs = j->next;
        job_free(j);
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------ sending */

static int send_msg(const char *command, const char *body, size_t len) {
    if (!W.sock) return -1;
    if (zmq_send(W.sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(W.sock, PROTO, strlen(PROTO), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(W.sock, command, strlen(command), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(W.sock, body, len, ZMQ_DONTWAIT) < 0) {
        logf_("could not send %s: %s", command, zmq_strerror(zmq_errno()));
        return -1;
    }
    W.last_send = now_ms();
    return 0;
}

static void send_ready(void) {
    int cap = W.draining ? 0 : W.capacity;
    buf_t b = {0};
    buf_puts(&b, "{\"capacity\":");
    buf_int(&b, cap);
    buf_puts(&b, ",\"types\":[");
    buf_jstr(&b, W.type);
    buf_puts(&b, "],\"worker\":");
    buf_jstr(&b, W.name);
    buf_puts(&b, "}");
    if (send_msg("READY", b.b, b.n) == 0) {
        W.answers_pending++;
        if (W.draining) W.drain_ready_sent = 1;
        logf_("READY capacity %d sent", cap);
    }
    free(b.b);
}

static void send_result_ok(job_t *j) {
    buf_t b = {0};
    buf_puts(&b, "{\"attempt\":");
    buf_int(&b, j->attempt);
    buf_puts(&b, ",\"job_id\":");
    buf_jstr(&b, j->job_id);
    buf_puts(&b, ",\"ok\":true,\"output\":{\"echoed\":");
    buf_puts(&b, j->args);
    buf_puts(&b, "}}");
    if (W.max_output_bytes > 0 && (int64_t)b.n > W.max_output_bytes) {
        /* 9.2: say why ourselves rather than let the broker cut it off. */
        char err[160];
        snprintf(err, sizeof err, "output too large: %zu bytes, max_output_bytes %lld", b.n,
                 (long long)W.max_output_bytes);
        b.n = 0;
        buf_puts(&b, "{\"attempt\":");
        buf_int(&b, j->attempt);
        buf_puts(&b, ",\"error\":");
        buf_jstr(&b, err);
        buf_puts(&b, ",\"job_id\":");
        buf_jstr(&b, j->job_id);
        buf_puts(&b, ",\"ok\":false,\"retryable\":false}");
    }
    if (send_msg("RESULT", b.b, b.n) == 0)
        logf_("RESULT %s attempt %lld ok", j->job_id, (long long)j->attempt);
    free(b.b);
}

static void send_result_fail(const char *job_id, int64_t attempt, const char *error, int retryable) {
    buf_t b = {0};
    buf_puts(&b, "{\"attempt\":");
    buf_int(&b, attempt);
    buf_puts(&b, ",\"error\":");
    buf_jstr(&b, error);
    buf_puts(&b, ",\"job_id\":");
    buf_jstr(&b, job_id);
    buf_puts(&b, ",\"ok\":false,\"retryable\":");
    buf_puts(&b, retryable ? "true}" : "false}");
    if (send_msg("RESULT", b.b, b.n) == 0)
        logf_("RESULT %s attempt %lld failed: %s", job_id, (long long)attempt, error);
    free(b.b);
}

static void send_progress(job_t *j, int64_t now) {
    buf_t b = {0};
    int64_t slept = now - j->started_at;
    if (slept > j->sleep_ms) slept = j->sleep_ms;
    buf_puts(&b, "{\"attempt\":");
    buf_int(&b, j->attempt);
    buf_puts(&b, ",\"details\":{\"of_ms\":");
    buf_int(&b, j->sleep_ms);
    buf_puts(&b, ",\"slept_ms\":");
    buf_int(&b, slept);
    buf_puts(&b, "},\"job_id\":");
    buf_jstr(&b, j->job_id);
    buf_puts(&b, "}");
    send_msg("PROGRESS", b.b, b.n);
    free(b.b);
}

/* --------------------------------------------------------------- connection */

static void close_socket(int linger_ms) {
    if (!W.sock) return;
    zmq_setsockopt(W.sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_close(W.sock);
    W.sock = NULL;
}

static int open_socket(void) {
    W.sock = zmq_socket(W.ctx, ZMQ_DEALER);
    if (!W.sock) { logf_("zmq_socket: %s", zmq_strerror(zmq_errno())); return -1; }
    int linger = 0, ivl = 100, ivl_max = 2000;
    zmq_setsockopt(W.sock, ZMQ_LINGER, &linger, sizeof linger);             /* 3.1 */
    zmq_setsockopt(W.sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);            /* 9.4 */
    zmq_setsockopt(W.sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (zmq_connect(W.sock, W.endpoint) != 0) {
        logf_("zmq_connect %s: %s", W.endpoint, zmq_strerror(zmq_errno()));
        close_socket(0);
        return -1;
    }
    int64_t now = now_ms();
    W.answers_pending = 0;
    W.drain_ready_sent = 0;
    W.feat_known = 0;
    W.last_recv = now;         /* the 3-interval silence clock starts at connect */
    send_ready();
    return 0;
}

/* Drop this connection and its jobs; reconnect after `delay_ms`. */
static void reconnect(const char *why, int64_t delay_ms) {
    abandon_all(why);
    close_socket(0);
    W.reconnect_at = now_ms() + delay_ms;
    if (delay_ms > 0) logf_("reconnecting in %lld ms (%s)", (long long)delay_ms, why);
    else logf_("reconnecting (%s)", why);
}

/* ------------------------------------------------------------- receiving */

static void handle_heartbeat(span_t body) {
    span_t v;
    int64_t n;
    if (jget(body, "interval_ms", &v) && jint(v, &n) && n > 0 && n != W.interval_ms) {
        logf_("interval_ms %lld adopted", (long long)n);
        W.interval_ms = n;
    }
    if (!jget(body, "max_output_bytes", &v)) return;   /* a timer beat */
    /* The answer to a READY (9.3): only it carries max_output_bytes and features. */
    if (jint(v, &n) && n > 0) W.max_output_bytes = n;
    if (W.answers_pending > 0) W.answers_pending--;
    W.refuse_backoff_ms = 0;                            /* a READY was accepted */
    W.feat_known = 1;
    W.feat_drain = jget(body, "features", &v) && jarray_has(v, "drain");
    logf_("READY answered (interval %lld ms, max_output_bytes %lld%s)", (long long)W.interval_ms,
          (long long)W.max_output_bytes, W.feat_drain ? "" : ", no drain feature");
    if (W.draining && W.drain_ready_sent && W.answers_pending == 0)
        logf_("drain acknowledged: no new JOB will come; %d job(s) still held", job_count());
}

static void handle_job(span_t body, int64_t now) {
    span_t v, args;
    int64_t attempt = 0, n;
    char *job_id = jget_string(body, "job_id");
    if (!job_id || !*job_id || !jget(body, "attempt", &v) || !jint(v, &attempt) || attempt < 1) {
        logf_("dropped a JOB without a usable job_id and attempt");       /* 9.6 */
        free(job_id);
        return;
    }
    if (job_find(job_id, attempt)) {
        logf_("dropped a second JOB for %s attempt %lld", job_id, (long long)attempt);
        free(job_id);
        return;
    }
    job_t *old = job_find(job_id, -1);
    if (old) {   /* a newer attempt means the broker ended the old one */
        logf_("JOB %s attempt %lld replaces attempt %lld", job_id, (long long)attempt, (long long)old->attempt);
        job_remove(old);
    }
    char *type = jget_string(body, "type");
    char err[400];
    if (!type || strcmp(type, W.type) != 0) {
        snprintf(err, sizeof err, "worker %s has no handler for type %.200s", W.name, type ? type : "(none)");
        send_result_fail(job_id, attempt, err, 1);                          /* 9.6 */
        free(type);
        free(job_id);
        return;
    }
    free(type);
    int has_args = jget(body, "args", &args);
    if (has_args && jis_null(args)) has_args = 0;
    if (has_args && *args.s != '{') {
        send_result_fail(job_id, attempt, "malformed JOB: args: must be an object", 1);
        free(job_id);
        return;
    }
    int64_t sleep_ms = 0;
    if (has_args && jget(args, "sleep_ms", &v) && !jis_null(v)) {
        if (!jint(v, &sleep_ms) || sleep_ms < 0 || sleep_ms > MAX_SLEEP_MS) {
            send_result_fail(job_id, attempt, "args.sleep_ms: must be an integer between 0 and 604800000", 0);
            free(job_id);
            return;
        }
    }
    job_t *j = xmalloc(sizeof *j);
    memset(j, 0, sizeof *j);
    j->job_id = job_id;
    j->attempt = attempt;
    size_t alen = has_args ? (size_t)(args.e - args.s) : 2;
    j->args = xmalloc(alen + 1);
    memcpy(j->args, has_args ? args.s : "{}", alen);
    j->args[alen] = 0;
    j->sleep_ms = sleep_ms;
    j->hb_ms = (jget(body, "heartbeat_timeout_ms", &v) && jint(v, &n) && n > 0) ? n : 0;
    j->give_up_at = (jget(body, "timeout_ms", &v) && jint(v, &n) && n > 0) ? now + n : 0;
    j->received_at = now;
    j->started_at = -1;
    /* PROGRESS every third of heartbeat_timeout_ms, counted from receipt (the broker
     * counts from dispatch), so a job that waited in the queue beats as soon as it starts. */
    j->next_progress_at = j->hb_ms ? now + (j->hb_ms / 3 > 0 ? j->hb_ms / 3 : 1) : 0;
    job_t **pp = &W.jobs;
    while (*pp) pp = &(*pp)->next;
    *pp = j;
    logf_("JOB %s attempt %lld: sleep %lld ms%s", job_id, (long long)attempt, (long long)sleep_ms,
          j->hb_ms ? ", with PROGRESS" : "");
}

static void handle_cancel(span_t body) {
    span_t v;
    int64_t attempt;
    char *job_id = jget_string(body, "job_id");
    char *code = jget_string(body, "code");
    if (job_id && jget(body, "attempt", &v) && jint(v, &attempt)) {
        job_t *j = job_find(job_id, attempt);
        if (j) {
            logf_("CANCEL %s attempt %lld (%s): dropped, no RESULT", job_id, (long long)attempt, code ? code : "?");
            job_remove(j);
        } else {
            logf_("CANCEL for %s attempt %lld, which this worker does not hold: ignored", job_id, (long long)attempt);
        }
    } else {
        logf_("dropped a CANCEL without a usable job_id and attempt");
    }
    free(job_id);
    free(code);
}

static void handle_disconnect(span_t body) {
    char *code = jget_string(body, "code");
    char *reason = jget_string(body, "reason");
    logf_("DISCONNECT %s: %s", code ? code : "(no code)", reason ? reason : "");
    int64_t delay = 0;
    if (code && (strcmp(code, "bad_ready") == 0 || strcmp(code, "unsupported_version") == 0)) {
        /* 9.3: the same READY will be refused again; back off 1 s doubling to 30 s. */
        W.refuse_backoff_ms = W.refuse_backoff_ms ? W.refuse_backoff_ms * 2 : 1000;
        if (W.refuse_backoff_ms > 30000) W.refuse_backoff_ms = 30000;
        delay = W.refuse_backoff_ms;
    }
    reconnect("DISCONNECT", delay);
    free(code);
    free(reason);
}

/* Reads every message waiting on the socket. */
static void receive_all(void) {
    while (W.sock) {
        zmq_msg_t f[5];
        int nf = 0, more = 1, total = 0;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, W.sock, nf == 0 && total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(&m);
                if (total == 0) return;          /* nothing more waiting */
                break;
            }
            more = zmq_msg_more(&m);
            total++;
            if (nf < 5) f[nf++] = m; else zmq_msg_close(&m);
        }
        int64_t now = now_ms();
        W.last_recv = now;                       /* any message is a sign of life (9.6) */
        const char *cmd = nf > 2 ? zmq_msg_data(&f[2]) : "";
        size_t cmdlen = nf > 2 ? zmq_msg_size(&f[2]) : 0;
        span_t body;
        if (total != 4 || zmq_msg_size(&f[0]) != 0 || zmq_msg_size(&f[1]) != strlen(PROTO) ||
            memcmp(zmq_msg_data(&f[1]), PROTO, strlen(PROTO)) != 0) {
            logf_("dropped a malformed message (%d frames)", total);
        } else if (!jbody(zmq_msg_data(&f[3]), zmq_msg_size(&f[3]), &body)) {
            logf_("dropped %.*s: body is not a JSON object", (int)cmdlen, cmd);
        } else if (cmdlen == 9 && memcmp(cmd, "HEARTBEAT", 9) == 0) {
            handle_heartbeat(body);
        } else if (cmdlen == 3 && memcmp(cmd, "JOB", 3) == 0) {
            handle_job(body, now);
        } else if (cmdlen == 6 && memcmp(cmd, "CANCEL", 6) == 0) {
            handle_cancel(body);
        } else if (cmdlen == 10 && memcmp(cmd, "DISCONNECT", 10) == 0) {
            handle_disconnect(body);             /* closes the socket */
        } else {
            logf_("ignored %.*s", (int)(cmdlen > 40 ? 40 : cmdlen), cmd);
        }
        for (int i = 0; i < nf; i++) zmq_msg_close(&f[i]);
    }
}

/* ---------------------------------------------------------------------- main */

static void leave(const char *why) {
    int abandoned = job_count();
    if (W.sock) {
        send_msg("DISCONNECT", "{}", 2);
        close_socket(LEAVE_LINGER_MS);
    }
    abandon_all("leaving");
    logf_("%s; leaving (DISCONNECT sent)", why);
    zmq_ctx_term(W.ctx);
    exit(abandoned ? 1 : 0);
}

static int valid_type(const char *t) {
    size_t n = strlen(t);
    if (n == 0 || n > 100) return 0;
    for (; *t; t++)
        if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
              *t == '.' || *t == '_' || *t == '-')) return 0;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s ENDPOINT NAME TYPE [CAPACITY]\n", argv[0]);
        return 64;
    }
    W.endpoint = argv[1];
    W.name = g_name = argv[2];
    W.type = argv[3];
    W.capacity = 1;
    if (argc == 5) {
        char *end;
        long c = strtol(argv[4], &end, 10);
        if (*end || c < 1 || c > 10000) { fprintf(stderr, "CAPACITY must be 1..10000\n"); return 64; }
        W.capacity = (int)c;
    }
    if (strlen(W.name) < 1 || strlen(W.name) > 256) { fprintf(stderr, "NAME must be 1..256 bytes\n"); return 64; }
    if (!valid_type(W.type)) { fprintf(stderr, "TYPE must be 1..100 of A-Z a-z 0-9 . _ -\n"); return 64; }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;            /* no SA_RESTART: zmq_poll returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    W.ctx = zmq_ctx_new();
    W.interval_ms = DEFAULT_INTERVAL_MS;
    logf_("worker for type %s, capacity %d, broker %s", W.type, W.capacity, W.endpoint);
    if (open_socket() != 0) return 2;

    int seen_signals = 0;
    for (;;) {
        int64_t now = now_ms();

        /* Signals: the first drains (9.5), the second leaves at once (9.4 step 5). */
        if (g_signals != seen_signals) {
            seen_signals = g_signals;
            if (seen_signals >= 2) leave("second signal");
            if (!W.draining) {
                W.draining = 1;
                W.drain_deadline = now + DRAIN_TIMEOUT_MS;
                if (W.sock && W.feat_known && !W.feat_drain) leave("stop signal, and this broker cannot drain");
                logf_("draining: READY capacity 0; %d job(s) held", job_count());
                if (W.sock) send_ready();
            }
        }
        if (!W.sock && now >= W.reconnect_at && open_socket() != 0) W.reconnect_at = now + 1000;

        /* Run the jobs: start queued ones while a slot is free (FIFO, 9.6); finish, give
         * up on, or beat for each. Repeat while a finish frees a slot. */
        for (int freed = 1; freed;) {
            freed = 0;
            for (job_t *j = W.jobs; j && running_count() < W.capacity; j = j->next)
                if (j->started_at < 0) {
                    j->started_at = now;
                    j->due_at = now + j->sleep_ms;
                }
            for (job_t *j = W.jobs, *next; j; j = next) {
                next = j->next;
                if (j->give_up_at && now >= j->give_up_at) {
                    logf_("giving up %s attempt %lld: its timeout_ms passed (no RESULT)", j->job_id,
                          (long long)j->attempt);
                    freed |= j->started_at >= 0;
                    job_remove(j);
                } else if (j->started_at >= 0 && now >= j->due_at) {
                    send_result_ok(j);
                    job_remove(j);
                    freed = 1;
                } else if (j->started_at >= 0 && j->hb_ms && now >= j->next_progress_at) {
                    send_progress(j, now);
                    int64_t step = j->hb_ms / 3 > 0 ? j->hb_ms / 3 : 1;
                    while (j->next_progress_at <= now) j->next_progress_at += step;
                }
            }
        }

        /* The drain is over once the READY capacity 0 was answered and nothing is held. */
        if (W.draining) {
            if (!W.sock && !W.jobs) leave("drained (not connected, nothing held)");
            if (W.sock && W.drain_ready_sent && W.answers_pending == 0 && !W.jobs)
                leave("drained: every job it held has ended");
            if (now >= W.drain_deadline) leave("drain timeout");
        }

        /* Our own beat: a message at least every interval (9.2). */
        if (W.sock && now - W.last_send >= W.interval_ms) send_msg("HEARTBEAT", "{}", 2);
        /* The broker's silence: 3 intervals with nothing received (9.4 step 4). */
        if (W.sock && now - W.last_recv > 3 * W.interval_ms) reconnect("broker silent for 3 intervals", 0);

        /* Sleep until the next thing is due. */
        int64_t due = now + 250;   /* also bounds how late a signal is noticed */
        if (W.sock) {
            if (W.last_send + W.interval_ms < due) due = W.last_send + W.interval_ms;
            if (W.last_recv + 3 * W.interval_ms + 1 < due) due = W.last_recv + 3 * W.interval_ms + 1;
        } else if (W.reconnect_at < due) due = W.reconnect_at;
        for (job_t *j = W.jobs; j; j = j->next) {
            if (j->give_up_at && j->give_up_at < due) due = j->give_up_at;
            if (j->started_at < 0) continue;
            if (j->due_at < due) due = j->due_at;
            if (j->hb_ms && j->next_progress_at < due) due = j->next_progress_at;
        }
        long timeout = due > now ? (long)(due - now) : 0;
        if (W.sock) {
            zmq_pollitem_t item = {W.sock, 0, ZMQ_POLLIN, 0};
            int rc = zmq_poll(&item, 1, timeout);
            if (rc > 0) receive_all();
            else if (rc < 0 && zmq_errno() != EINTR) logf_("zmq_poll: %s", zmq_strerror(zmq_errno()));
        } else if (timeout > 0) {
            struct timespec ts = {timeout / 1000, (timeout % 1000) * 1000000L};
            nanosleep(&ts, NULL);                 /* EINTR on a signal is fine */
        }
    }
}
