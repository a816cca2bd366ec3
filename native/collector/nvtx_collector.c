/*
 * gil-nvtx collector: an NVTX v3 injection library. NVTX loads it through NVTX_INJECTION64_PATH and
 * calls InitializeInjectionNvtx2 once per shared object that carries the NVTX headers (the patched
 * libpython, the Node addon, ...); each call hands us that object's callback tables to fill.
 * Only InitializeInjectionNvtx2 is exported (-fvisibility=hidden).
 */
#define _GNU_SOURCE
#define NVTX_NO_IMPL /* types and callback ids only: this library is the tool, not a client */
#include <nvtx3/nvToolsExt.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "recorder.h"

#define GIL_DOMAIN_NAME "CPython GIL"
#define GIL_HOLDING_MESSAGE "Holding GIL"
#define GIL_WAITING_MESSAGE "Waiting for GIL"
#define GIL_DROP_MESSAGE "GIL drop request"
#define GIL_IDS 4 /* registrations of the hold message per domain (a fork child registers again) */

struct domain {
  uint32_t index; /* 1-based, per process, in creation order (nsys numbers them the same way) */
  int is_gil;
  char *name;
  /* Registered ids of "Holding GIL" in this domain: ranges with it are holds for the watchdog. */
  uint64_t hold_ids[GIL_IDS];
  uint64_t wait_ids[GIL_IDS]; /* and of "Waiting for GIL": waits */
  uint64_t drop_ids[GIL_IDS]; /* and of "GIL drop request": marks counted in the metrics table */
  struct domain *next;
};

static pthread_mutex_t g_domains_lock = PTHREAD_MUTEX_INITIALIZER;
static struct domain *g_domains;
static uint32_t g_domain_count;
static uint64_t g_string_count;
static uint64_t g_resource_count;

static inline uint32_t domain_index(nvtxDomainHandle_t h) { return h ? ((struct domain *)h)->index : 0; }

/* A template's head word: domain | attribute flags << 32 | HEAD_HOLD for a GIL hold, HEAD_WAIT a wait,
 * HEAD_DROP a drop request. */
#define HEAD_HOLD (1ull << 48)
#define HEAD_WAIT (1ull << 49)
#define HEAD_DROP (1ull << 50)

static uint64_t hold_role(nvtxDomainHandle_t h, uint64_t string_id) {
  const struct domain *d = (const struct domain *)h;
  if (!d || !d->is_gil || !string_id) return 0;
  for (int i = 0; i < GIL_IDS; i++) {
    if (__atomic_load_n(&d->hold_ids[i], __ATOMIC_ACQUIRE) == string_id) return HEAD_HOLD;
    if (__atomic_load_n(&d->wait_ids[i], __ATOMIC_ACQUIRE) == string_id) return HEAD_WAIT;
    if (__atomic_load_n(&d->drop_ids[i], __ATOMIC_ACQUIRE) == string_id) return HEAD_DROP;
  }
  return 0;
}

/* UTF-32 (wchar_t on Linux) to UTF-8, without the C locale's help. Caller frees. */
static char *utf8_from_wide(const wchar_t *w) {
  if (!w) return NULL;
  size_t n = wcslen(w);
  if (n > REC_MAX_STRING) n = REC_MAX_STRING;
  char *out = malloc(n * 4 + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = (uint32_t)w[i];
    if (c < 0x80) {
      *o++ = (char)c;
    } else if (c < 0x800) {
      *o++ = (char)(0xc0 | (c >> 6));
      *o++ = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      *o++ = (char)(0xe0 | (c >> 12));
      *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
      *o++ = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x110000) {
      *o++ = (char)(0xf0 | (c >> 18));
      *o++ = (char)(0x80 | ((c >> 12) & 0x3f));
      *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
      *o++ = (char)(0x80 | (c & 0x3f));
    }
  }
  *o = 0;
  return out;
}

/* ---- events ------------------------------------------------------------------------------------ */

/* A template record: header, timestamp, index, then the attribute words its flags say. */
#define TEMPLATE_MAX_WORDS 6u

/* The attributes of one event, as a template would hold them. */
struct attrs {
  struct rec_template key;
  const char *text; /* inline message: such events are never compact */
  char *converted;  /* UTF-8 copy of a wide message, freed by the caller */
};

static void read_attrs(struct attrs *x, nvtxDomainHandle_t domain, const nvtxEventAttributes_t *a, const char *ascii) {
  unsigned flags = 0;
  uint64_t color = 0, payload = 0, string_id = 0;
  x->text = ascii;
  x->converted = NULL;
  if (a) {
    if (a->colorType == NVTX_COLOR_ARGB) flags |= RAW_F_COLOR;
    if (a->category) flags |= RAW_F_CATEGORY;
    if (flags) color = (uint64_t)a->category | ((uint64_t)a->color << 32);
    if (a->payloadType >= NVTX_PAYLOAD_TYPE_UNSIGNED_INT64 && a->payloadType <= NVTX_PAYLOAD_TYPE_FLOAT) {
      flags |= (unsigned)a->payloadType << RAW_F_PAYLOAD_SHIFT;
      payload = a->payload.ullValue;
    }
    if (a->messageType == NVTX_MESSAGE_TYPE_REGISTERED && a->message.registered) {
      string_id = (uint64_t)(uintptr_t)a->message.registered;
      x->text = NULL;
    } else if (a->messageType == NVTX_MESSAGE_TYPE_ASCII) {
      x->text = a->message.ascii;
    } else if (a->messageType == NVTX_MESSAGE_TYPE_UNICODE) {
      x->text = x->converted = utf8_from_wide(a->message.unicode);
    }
  }
  if (string_id) flags |= RAW_F_REGISTERED;
  else if (x->text) flags |= RAW_F_INLINE;
  x->key.head = (uint64_t)domain_index(domain) | ((uint64_t)flags << 32) | hold_role(domain, string_id);
  x->key.color = color;
  x->key.payload = payload;
  x->key.string_id = string_id;
}

static inline int find_template(struct rec_thread *t, const struct rec_template *k) {
  unsigned n = t->templates;
  for (unsigned step = 0, i = t->hint; step < n; step++, i = i + 1 == n ? 0 : i + 1) {
    const struct rec_template *x = &t->template[i];
    if (x->head == k->head && x->string_id == k->string_id && x->color == k->color && x->payload == k->payload) {
      t->hint = i;
      return (int)i;
    }
  }
  return -1;
}

/* Attribute blocks of the size this collector was built for can be matched as raw words. */
#define RAW_ATTR_WORDS 6
_Static_assert(sizeof(nvtxEventAttributes_t) == RAW_ATTR_WORDS * 8, "nvtxEventAttributes_t is 48 bytes");

/* Word 4 is messageType and 4 bytes of padding: a struct copy need not copy padding, so it is masked. */
#define RAW_ATTR_W4_MASK 0xffffffffull

static inline void raw_words(uint64_t w[RAW_ATTR_WORDS], const nvtxEventAttributes_t *a) {
  memcpy(w, a, RAW_ATTR_WORDS * 8);
  w[4] &= RAW_ATTR_W4_MASK;
}

/* Word k of an attribute block, loaded straight into a register (the caller's block may be unaligned). */
static inline uint64_t attr_word(const nvtxEventAttributes_t *a, unsigned k) {
  uint64_t v;
  memcpy(&v, (const char *)a + 8 * k, 8);
  return v;
}

static inline int same_raw(const struct rec_template *x, const void *domain, const nvtxEventAttributes_t *a) {
  /* Word 5, the message, tells most templates apart (a GIL wait from a hold): test it on its own first. */
  if (attr_word(a, 5) != x->raw[5] || x->domain != domain) return 0;
  return ((attr_word(a, 0) ^ x->raw[0]) | (attr_word(a, 1) ^ x->raw[1]) | (attr_word(a, 2) ^ x->raw[2]) |
          (attr_word(a, 3) ^ x->raw[3]) | ((attr_word(a, 4) & RAW_ATTR_W4_MASK) ^ x->raw[4])) == 0;
}

/* The template of a repeated call: the one used last or the next one (a GIL wait is followed by a
 * hold, a hold by the next wait). -1 sends the event down the decoding path. */
static inline int fast_template(struct rec_thread *t, nvtxDomainHandle_t domain, const nvtxEventAttributes_t *a) {
  unsigned n = t->templates, i = t->hint;
  if (!a || a->size != NVTX_EVENT_ATTRIB_STRUCT_SIZE || n == 0) return -1;
  if (same_raw(&t->template[i], domain, a)) return (int)i;
  i = i + 1 == n ? 0 : i + 1;
  if (same_raw(&t->template[i], domain, a)) {
    t->hint = i;
    return (int)i;
  }
  return -1;
}

static void remember_raw(struct rec_template *x, nvtxDomainHandle_t domain, const nvtxEventAttributes_t *a) {
  x->domain = domain;
  if (a && a->size == NVTX_EVENT_ATTRIB_STRUCT_SIZE) raw_words(x->raw, a);
  else memset(x->raw, 0xff, sizeof x->raw); /* matches no attribute block: size would be 0xffff */
}

/* Body words after the fixed ones: [category|color] [payload] [string id | inline string]. */
static uint64_t *put_attrs(uint64_t *w, const struct attrs *x, size_t len) {
  unsigned flags = (unsigned)(x->key.head >> 32) & 0xff;
  if (flags & (RAW_F_COLOR | RAW_F_CATEGORY)) *w++ = x->key.color;
  if (flags & RAW_F_PAYLOAD_MASK) *w++ = x->key.payload;
  if (flags & RAW_F_REGISTERED) *w++ = x->key.string_id;
  else if (flags & RAW_F_INLINE) w = rec_put_string(w, x->text, len);
  return w;
}

static unsigned attr_words(const struct attrs *x, size_t *len) {
  unsigned flags = (unsigned)(x->key.head >> 32) & 0xff;
  unsigned words = 0;
  *len = 0;
  if (flags & (RAW_F_COLOR | RAW_F_CATEGORY)) words++;
  if (flags & RAW_F_PAYLOAD_MASK) words++;
  if (flags & RAW_F_REGISTERED) words++;
  else if (flags & RAW_F_INLINE) words += rec_string_words(*len = rec_clamp_string(x->text));
  return words;
}

/*
 * The one-word form of push, start, mark and pop: 1 when written, 0 when the event needs a full record
 * (inline text, a full template table, a gap longer than the 32-bit delta), -1 when recording is off.
 * A template the thread has not used in this chunk is written first, in the same reservation, so that
 * it always sits in the same chunk as the events that refer to it.
 */
static int record_compact(struct rec_thread *t, unsigned op, const struct attrs *x, uint64_t *now_, nvtxDomainHandle_t domain,
                          const nvtxEventAttributes_t *a) {
  if (x->text) return 0;
  if (__builtin_expect(!t->pos || (size_t)(t->end - t->pos) < TEMPLATE_MAX_WORDS + 1, 0)) {
    if (!rec_reserve_slow(t, 0)) return -1;
    if (*now_ < t->last_ts) *now_ = t->last_ts; /* the new chunk's time base was read after `now` */
  }
  uint64_t now = *now_;
  int index = find_template(t, &x->key);
  if (index < 0) {
    if (t->templates == RAW_COMPACT_ARGS || !t->template) return 0;
    index = (int)t->templates++;
    t->template[index] = x->key;
    t->hint = (unsigned)index;
    remember_raw(&t->template[index], domain, a);
    size_t len;
    unsigned words = 3 + attr_words(x, &len);
    uint64_t *r = rec_reserve(t, words);
    rec_stamp(t, r, now);
    r[2] = (uint64_t)index;
    put_attrs(r + 3, x, len);
    rec_commit(r, RAW_TEMPLATE, (unsigned)(x->key.head >> 32) & 0xff, words, (uint32_t)x->key.head);
  } else {
    remember_raw(&t->template[index], domain, a);
  }
  uint64_t *e = rec_reserve(t, 1);
  if (rec_put_compact(t, e, op, (unsigned)index, now)) return 1;
  t->pos = e; /* give the word back: a full record follows */
  return 0;
}

/*
 * Push, start and mark. The full form: header, timestamp, [range id], [category|color], [payload],
 * [message]. `ascii` overrides the attributes' message (for the *A / *W calls).
 */
/* A start's range id, and the watch entry when it is a GIL hold or wait (its payload is the GIL's
 * interpreter id). */
static inline uint64_t started(struct rec_thread *t, const struct rec_template *k, uint64_t now) {
  uint64_t id = ((uint64_t)t->slot << RAW_RANGE_SLOT_SHIFT) | ++t->range_count;
  if (k->head & (HEAD_HOLD | HEAD_WAIT)) {
    if (k->head & HEAD_HOLD) {
      rec_watch_hold_begin(t, now);
      id |= RAW_RANGE_HOLD_BIT;
    } else {
      rec_watch_wait_begin(t, now, k->payload);
      id |= RAW_RANGE_WAIT_BIT;
    }
  }
  return id;
}

/* What a recorded event does beyond its record: a start's range id, a drop request's count. */
static inline uint64_t recorded(struct rec_thread *t, unsigned kind, const struct rec_template *k, uint64_t now) {
  if (kind == RAW_START) return started(t, k, now);
  if (__builtin_expect((k->head & HEAD_DROP) != 0, 0)) {
    unsigned char *m = rec_metrics_for(t, k->payload);
    if (m) rec_metrics_add(m, RAW_METRICS_OFF_DROPS, 1);
  }
  return 0;
}

static inline unsigned op_of(unsigned kind) { return kind == RAW_START ? RAW_OP_START : kind == RAW_PUSH ? RAW_OP_PUSH : RAW_OP_MARK; }

/* Every event that is not a repeat of a template the thread used last or next: decoded, then compact
 * (a template of this chunk) or full. Out of line, so that the repeated call, every GIL transition,
 * saves and restores only the few registers its own path uses. */
static __attribute__((noinline)) uint64_t record_decoded(struct rec_thread *t, unsigned kind, nvtxDomainHandle_t domain,
                                                         const nvtxEventAttributes_t *a, const char *ascii, uint64_t now) {
  unsigned op = op_of(kind);
  struct attrs x;
  read_attrs(&x, domain, a, ascii);
  int done = record_compact(t, op, &x, &now, domain, a);
  if (done == 0) {
    size_t len;
    unsigned words = 2 + (kind == RAW_START) + attr_words(&x, &len);
    uint64_t *r = rec_reserve(t, words);
    if (r) {
      /* A reservation that took a new chunk (or, in a fork child, created the file) set a later base. */
      if (now < t->last_ts) now = t->last_ts;
      rec_stamp(t, r, now);
      uint64_t *w = r + 2;
      if (kind == RAW_START) *w++ = ((uint64_t)t->slot << RAW_RANGE_SLOT_SHIFT) | (t->range_count + 1);
      put_attrs(w, &x, len);
      rec_commit(r, kind, (unsigned)(x.key.head >> 32) & 0xff, words, domain_index(domain));
      done = 1;
    }
  }
  free(x.converted);
  if (done != 1) return kind == RAW_START ? 1 : 0;
  return recorded(t, kind, &x.key, now);
}

static inline uint64_t record_event(unsigned kind, nvtxDomainHandle_t domain, const nvtxEventAttributes_t *a,
                                    const char *ascii) {
  struct rec_thread *t = rec_self();
  uint64_t now = rec_now();
  if (!ascii && t->pos && t->pos < t->end) {
    int i = fast_template(t, domain, a);
    if (i >= 0 && rec_put_compact(t, t->pos, op_of(kind), (unsigned)i, now)) {
      t->pos++;
      return recorded(t, kind, &t->template[i], now);
    }
  }
  return record_decoded(t, kind, domain, a, ascii, now);
}

/* The full form of an end, and the compact one after a reservation that took a new chunk. */
static __attribute__((noinline)) void record_end_slow(struct rec_thread *t, nvtxDomainHandle_t domain, uint64_t id, int mine,
                                                      uint64_t now) {
  uint64_t counter = id & RAW_RANGE_COUNTER_MASK;
  uint64_t *r = rec_reserve(t, 1);
  if (!r) return;
  if (now < t->last_ts) now = t->last_ts;
  if (mine && counter <= t->range_count && t->range_count - counter < RAW_COMPACT_ARGS &&
      rec_put_compact(t, r, RAW_OP_END, (unsigned)(t->range_count - counter), now)) {
    return;
  }
  t->pos = r;
  r = rec_reserve(t, 3);
  if (!r) return;
  if (now < t->last_ts) now = t->last_ts;
  rec_stamp(t, r, now);
  r[2] = id;
  rec_commit(r, RAW_END, 0, 3, domain_index(domain));
}

static inline void record_end(nvtxDomainHandle_t domain, uint64_t id) {
  struct rec_thread *t = rec_self();
  uint64_t now = rec_now();
  uint64_t counter = id & RAW_RANGE_COUNTER_MASK;
  int mine = t->slot != 0 && ((id & ~(RAW_RANGE_HOLD_BIT | RAW_RANGE_WAIT_BIT | (1ull << 63))) >> RAW_RANGE_SLOT_SHIFT) == t->slot;
  if ((id & (RAW_RANGE_HOLD_BIT | RAW_RANGE_WAIT_BIT)) && mine) {
    if (id & RAW_RANGE_HOLD_BIT) rec_watch_hold_end(t, now);
    else rec_watch_wait_end(t, now);
  }
  /* The compact end of a range this thread began recently, in the current chunk. */
  if (mine && t->pos && t->pos < t->end && counter <= t->range_count &&
      t->range_count - counter < RAW_COMPACT_ARGS && rec_put_compact(t, t->pos, RAW_OP_END, (unsigned)(t->range_count - counter), now)) {
    t->pos++;
    return;
  }
  record_end_slow(t, domain, id, mine, now);
}

static void record_pop(nvtxDomainHandle_t domain) {
  struct rec_thread *t = rec_self();
  uint64_t head = (uint64_t)domain_index(domain);
  uint64_t now = rec_now();
  /* A pop's template is its domain alone: the one the last pop used, if the current chunk has it. */
  unsigned i = t->pop_hint;
  if (t->pos && t->pos < t->end && i < t->templates) {
    const struct rec_template *k = &t->template[i];
    if (k->head == head && k->string_id == 0 && k->color == 0 && k->payload == 0) {
      uint64_t *e = t->pos++;
      if (rec_put_compact(t, e, RAW_OP_POP, i, now)) return;
      t->pos = e;
    }
  }
  struct attrs x = {{head, 0, 0, 0, NULL, {0}}, NULL, NULL};
  int done = record_compact(t, RAW_OP_POP, &x, &now, domain, NULL);
  if (done > 0) t->pop_hint = t->hint; /* record_compact leaves the template it used there */
  if (done != 0) return;
  uint64_t *r = rec_reserve(t, 2);
  if (!r) return;
  if (now < t->last_ts) now = t->last_ts;
  rec_stamp(t, r, now);
  rec_commit(r, RAW_POP, 0, 2, domain_index(domain));
}

static void record_named(unsigned kind, uint32_t domain, uint64_t value, const char *name) {
  struct rec_thread *t = rec_self();
  size_t len = rec_clamp_string(name);
  unsigned words = 3 + rec_string_words(len);
  uint64_t *r = rec_reserve(t, words);
  if (!r) return;
  rec_stamp(t, r, rec_now());
  r[2] = value;
  rec_put_string(r + 3, name ? name : "", len);
  rec_commit(r, kind, 0, words, domain);
}

static int push(nvtxDomainHandle_t d, const nvtxEventAttributes_t *a, const char *ascii) {
  record_event(RAW_PUSH, d, a, ascii);
  return rec_tls.depth++;
}

static int pop(nvtxDomainHandle_t d) {
  record_pop(d);
  return rec_tls.depth > 0 ? --rec_tls.depth : -1;
}

/* ---- core (default domain) ---------------------------------------------------------------------- */

static void cb_MarkEx(const nvtxEventAttributes_t *a) { record_event(RAW_MARK, NULL, a, NULL); }
static void cb_MarkA(const char *m) { record_event(RAW_MARK, NULL, NULL, m ? m : ""); }
static void cb_MarkW(const wchar_t *m) {
  char *s = utf8_from_wide(m);
  record_event(RAW_MARK, NULL, NULL, s ? s : "");
  free(s);
}
static nvtxRangeId_t cb_RangeStartEx(const nvtxEventAttributes_t *a) { return record_event(RAW_START, NULL, a, NULL); }
static nvtxRangeId_t cb_RangeStartA(const char *m) { return record_event(RAW_START, NULL, NULL, m ? m : ""); }
static nvtxRangeId_t cb_RangeStartW(const wchar_t *m) {
  char *s = utf8_from_wide(m);
  nvtxRangeId_t id = record_event(RAW_START, NULL, NULL, s ? s : "");
  free(s);
  return id;
}
static void cb_RangeEnd(nvtxRangeId_t id) { record_end(NULL, id); }
static int cb_RangePushEx(const nvtxEventAttributes_t *a) { return push(NULL, a, NULL); }
static int cb_RangePushA(const char *m) { return push(NULL, NULL, m ? m : ""); }
static int cb_RangePushW(const wchar_t *m) {
  char *s = utf8_from_wide(m);
  int level = push(NULL, NULL, s ? s : "");
  free(s);
  return level;
}
static int cb_RangePop(void) { return pop(NULL); }
static void cb_NameCategoryA(uint32_t category, const char *name) { rec_define(RAW_CATEGORY, 0, category, name); }
static void cb_NameCategoryW(uint32_t category, const wchar_t *name) {
  char *s = utf8_from_wide(name);
  rec_define(RAW_CATEGORY, 0, category, s);
  free(s);
}
static void cb_NameOsThreadA(uint32_t tid, const char *name) { record_named(RAW_THREAD_NAME, 0, tid, name); }
static void cb_NameOsThreadW(uint32_t tid, const wchar_t *name) {
  char *s = utf8_from_wide(name);
  record_named(RAW_THREAD_NAME, 0, tid, s);
  free(s);
}

/* ---- core2 (domains) ----------------------------------------------------------------------------- */

static void cb_DomainMarkEx(nvtxDomainHandle_t d, const nvtxEventAttributes_t *a) { record_event(RAW_MARK, d, a, NULL); }
static nvtxRangeId_t cb_DomainRangeStartEx(nvtxDomainHandle_t d, const nvtxEventAttributes_t *a) {
  return record_event(RAW_START, d, a, NULL);
}
static void cb_DomainRangeEnd(nvtxDomainHandle_t d, nvtxRangeId_t id) { record_end(d, id); }
static int cb_DomainRangePushEx(nvtxDomainHandle_t d, const nvtxEventAttributes_t *a) { return push(d, a, NULL); }
static int cb_DomainRangePop(nvtxDomainHandle_t d) { return pop(d); }

/* Resources: nsys 2022.4 drops them; the trace keeps them (GILNVTX_RESOURCES). */
static nvtxResourceHandle_t cb_DomainResourceCreate(nvtxDomainHandle_t d, nvtxResourceAttributes_t *a) {
  uint64_t id = __atomic_add_fetch(&g_resource_count, 1, __ATOMIC_RELAXED);
  if (!a) return (nvtxResourceHandle_t)(uintptr_t)id;
  char *converted = NULL;
  const char *text = NULL;
  uint64_t string_id = 0;
  if (a->messageType == NVTX_MESSAGE_TYPE_REGISTERED) string_id = (uint64_t)(uintptr_t)a->message.registered;
  else if (a->messageType == NVTX_MESSAGE_TYPE_ASCII) text = a->message.ascii;
  else if (a->messageType == NVTX_MESSAGE_TYPE_UNICODE) text = converted = utf8_from_wide(a->message.unicode);
  size_t len = rec_clamp_string(text);
  unsigned flags = string_id ? RAW_F_REGISTERED : text ? RAW_F_INLINE : 0;
  unsigned words = 5 + (string_id ? 1 : text ? rec_string_words(len) : 0);
  uint64_t *r = rec_reserve(&rec_tls, words);
  if (r) {
    rec_stamp(&rec_tls, r, rec_now());
    r[2] = id;
    r[3] = (uint64_t)(uint32_t)a->identifierType;
    r[4] = a->identifier.ullValue;
    if (string_id) r[5] = string_id;
    else if (text) rec_put_string(r + 5, text, len);
    rec_commit(r, RAW_RESOURCE, flags, words, domain_index(d));
  }
  free(converted);
  return (nvtxResourceHandle_t)(uintptr_t)id;
}
static void cb_DomainResourceDestroy(nvtxResourceHandle_t h) {
  uint64_t *r = rec_reserve(&rec_tls, 3);
  if (!r) return;
  rec_stamp(&rec_tls, r, rec_now());
  r[2] = (uint64_t)(uintptr_t)h;
  rec_commit(r, RAW_RESOURCE_END, 0, 3, 0);
}
static void cb_DomainNameCategoryA(nvtxDomainHandle_t d, uint32_t category, const char *name) {
  rec_define(RAW_CATEGORY, domain_index(d), category, name);
}
static void cb_DomainNameCategoryW(nvtxDomainHandle_t d, uint32_t category, const wchar_t *name) {
  char *s = utf8_from_wide(name);
  rec_define(RAW_CATEGORY, domain_index(d), category, s);
  free(s);
}
static nvtxStringHandle_t cb_DomainRegisterStringA(nvtxDomainHandle_t d, const char *s) {
  uint64_t id = __atomic_add_fetch(&g_string_count, 1, __ATOMIC_RELAXED);
  rec_define(RAW_STRING, domain_index(d), id, s);
  struct domain *dom = (struct domain *)d;
  int gil = dom && dom->is_gil && s;
  uint64_t *ids = !gil                                   ? NULL
                  : strcmp(s, GIL_HOLDING_MESSAGE) == 0 ? dom->hold_ids
                  : strcmp(s, GIL_WAITING_MESSAGE) == 0 ? dom->wait_ids
                  : strcmp(s, GIL_DROP_MESSAGE) == 0    ? dom->drop_ids
                                                         : NULL;
  if (ids) {
    for (int i = 0; i < GIL_IDS; i++) {
      uint64_t free_ = 0;
      if (__atomic_compare_exchange_n(&ids[i], &free_, id, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) break;
    }
  }
  return (nvtxStringHandle_t)(uintptr_t)id;
}
static nvtxStringHandle_t cb_DomainRegisterStringW(nvtxDomainHandle_t d, const wchar_t *s) {
  char *u = utf8_from_wide(s);
  nvtxStringHandle_t h = cb_DomainRegisterStringA(d, u ? u : "");
  free(u);
  return h;
}
/* One handle per name: the addon and libpython may both create "CPython GIL". */
static nvtxDomainHandle_t cb_DomainCreateA(const char *name) {
  if (!name) name = "";
  pthread_mutex_lock(&g_domains_lock);
  struct domain *d = g_domains;
  while (d && strcmp(d->name, name) != 0) d = d->next;
  if (!d && (d = calloc(1, sizeof *d)) != NULL && (d->name = strdup(name)) != NULL) {
    d->index = ++g_domain_count;
    d->is_gil = strcmp(name, GIL_DOMAIN_NAME) == 0;
    d->next = g_domains;
    g_domains = d;
    rec_define(RAW_DOMAIN, d->index, 0, name);
  }
  pthread_mutex_unlock(&g_domains_lock);
  return (nvtxDomainHandle_t)d;
}
static nvtxDomainHandle_t cb_DomainCreateW(const wchar_t *name) {
  char *s = utf8_from_wide(name);
  nvtxDomainHandle_t d = cb_DomainCreateA(s ? s : "");
  free(s);
  return d;
}
static void cb_DomainDestroy(nvtxDomainHandle_t d) {
  uint64_t *r = rec_reserve(&rec_tls, 2);
  if (!r) return;
  rec_stamp(&rec_tls, r, rec_now());
  rec_commit(r, RAW_DOMAIN_END, 0, 2, domain_index(d));
}
static void cb_Initialize(const void *reserved) { (void)reserved; }

/* ---- injection entry point --------------------------------------------------------------------- */

struct slot {
  unsigned id;
  NvtxFunctionPointer fn;
};
#define SLOT(module, name) {NVTX_CBID_##module##_##name, (NvtxFunctionPointer)cb_##name}

static const struct slot core_slots[] = {
    SLOT(CORE, MarkEx),      SLOT(CORE, MarkA),         SLOT(CORE, MarkW),          SLOT(CORE, RangeStartEx),
    SLOT(CORE, RangeStartA), SLOT(CORE, RangeStartW),   SLOT(CORE, RangeEnd),       SLOT(CORE, RangePushEx),
    SLOT(CORE, RangePushA),  SLOT(CORE, RangePushW),    SLOT(CORE, RangePop),       SLOT(CORE, NameCategoryA),
    SLOT(CORE, NameCategoryW), SLOT(CORE, NameOsThreadA), SLOT(CORE, NameOsThreadW),
};
static const struct slot core2_slots[] = {
    SLOT(CORE2, DomainMarkEx),          SLOT(CORE2, DomainRangeStartEx),     SLOT(CORE2, DomainRangeEnd),
    SLOT(CORE2, DomainRangePushEx),     SLOT(CORE2, DomainRangePop),         SLOT(CORE2, DomainResourceCreate),
    SLOT(CORE2, DomainResourceDestroy), SLOT(CORE2, DomainNameCategoryA),    SLOT(CORE2, DomainNameCategoryW),
    SLOT(CORE2, DomainRegisterStringA), SLOT(CORE2, DomainRegisterStringW),  SLOT(CORE2, DomainCreateA),
    SLOT(CORE2, DomainCreateW),         SLOT(CORE2, DomainDestroy),          SLOT(CORE2, Initialize),
};

static int fill_module(const NvtxExportTableCallbacks *etc, NvtxCallbackModule module, const struct slot *slots,
                       size_t count) {
  NvtxFunctionTable table = NULL;
  unsigned int size = 0;
  if (!etc->GetModuleFunctionTable(module, &table, &size) || !table) return 0;
  for (size_t i = 0; i < count; i++) {
    if (slots[i].id < size && table[slots[i].id]) *table[slots[i].id] = slots[i].fn;
  }
  return 1;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_ready;
/* A child forked while another thread held g_domains_lock would inherit it locked, and its first
 * domain creation would wait forever. Registered after the recorder's handlers, so its prepare runs
 * first: g_domains_lock is taken before the recorder's locks, the order cb_DomainCreateA takes them. */
static void domains_prepare(void) { pthread_mutex_lock(&g_domains_lock); }
static void domains_parent(void) { pthread_mutex_unlock(&g_domains_lock); }
static void domains_child(void) { pthread_mutex_init(&g_domains_lock, NULL); }

static void init_once(void) {
  g_ready = rec_init();
  if (g_ready) pthread_atfork(domains_prepare, domains_parent, domains_child);
}

__attribute__((visibility("default"))) int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t getExportTable) {
  pthread_once(&g_once, init_once);
  /* 0 makes NVTX unload us and turn every call into a no-op: the program runs on untraced. */
  if (!g_ready || !getExportTable) return 0;
  const NvtxExportTableCallbacks *etc = getExportTable(NVTX_ETID_CALLBACKS);
  if (!etc || !etc->GetModuleFunctionTable) return 0;
  if (!fill_module(etc, NVTX_CB_MODULE_CORE, core_slots, sizeof core_slots / sizeof *core_slots)) return 0;
  if (!fill_module(etc, NVTX_CB_MODULE_CORE2, core2_slots, sizeof core2_slots / sizeof *core2_slots)) return 0;
  return 1;
}
