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

struct domain {
  uint32_t index; /* 1-based, per process, in creation order (nsys numbers them the same way) */
  int is_gil;
  char *name;
  struct domain *next;
};

static pthread_mutex_t g_domains_lock = PTHREAD_MUTEX_INITIALIZER;
static struct domain *g_domains;
static uint32_t g_domain_count;
static uint64_t g_string_count;
static uint64_t g_resource_count;

static inline uint32_t domain_index(nvtxDomainHandle_t h) { return h ? ((struct domain *)h)->index : 0; }
static inline int domain_is_gil(nvtxDomainHandle_t h) { return h && ((struct domain *)h)->is_gil; }

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

/*
 * Push, start and mark share one layout: header, timestamp, [range id], [category|color], [payload],
 * [message], [thread CPU time]. `ascii` overrides the attributes' message (for the *A / *W calls).
 */
static uint64_t record_event(unsigned kind, nvtxDomainHandle_t domain, const nvtxEventAttributes_t *a,
                             const char *ascii) {
  struct rec_thread *t = &rec_tls;
  unsigned flags = 0, words = 2;
  int gil = domain_is_gil(domain) && kind != RAW_MARK;
  const char *text = ascii;
  char *converted = NULL;
  uint64_t string_id = 0;
  if (kind == RAW_START) words++;
  if (a) {
    if (a->colorType == NVTX_COLOR_ARGB) flags |= RAW_F_COLOR;
    if (a->category) flags |= RAW_F_CATEGORY;
    if (flags) words++;
    if (a->payloadType >= NVTX_PAYLOAD_TYPE_UNSIGNED_INT64 && a->payloadType <= NVTX_PAYLOAD_TYPE_FLOAT) {
      flags |= (unsigned)a->payloadType << RAW_F_PAYLOAD_SHIFT;
      words++;
    }
    if (a->messageType == NVTX_MESSAGE_TYPE_REGISTERED && a->message.registered) {
      string_id = (uint64_t)(uintptr_t)a->message.registered;
    } else if (a->messageType == NVTX_MESSAGE_TYPE_ASCII) {
      text = a->message.ascii;
    } else if (a->messageType == NVTX_MESSAGE_TYPE_UNICODE) {
      text = converted = utf8_from_wide(a->message.unicode);
    }
  }
  size_t len = 0;
  if (string_id) {
    flags |= RAW_F_REGISTERED;
    words++;
  } else if (text) {
    flags |= RAW_F_INLINE;
    len = rec_clamp_string(text);
    words += rec_string_words(len);
  }
  if (gil) {
    flags |= RAW_F_CPU;
    words++;
  }
  uint64_t range_id = 0;
  uint64_t *r = rec_reserve(t, words);
  if (!r) {
    free(converted);
    return kind == RAW_START ? 1 : 0;
  }
  uint64_t *w = r + 2;
  if (kind == RAW_START) {
    range_id = ((uint64_t)t->slot << 40) | ++t->range_count | (gil ? RAW_RANGE_GIL_BIT : 0);
    *w++ = range_id;
  }
  if (flags & (RAW_F_COLOR | RAW_F_CATEGORY)) *w++ = (uint64_t)a->category | ((uint64_t)a->color << 32);
  if (flags & RAW_F_PAYLOAD_MASK) *w++ = a->payload.ullValue;
  if (string_id) {
    *w++ = string_id;
  } else if (text) {
    w = rec_put_string(w, text, len);
  }
  /* Begin: wall clock, then CPU clock; close: the reverse. The CPU interval then lies inside the
   * wall interval, so cpuNs <= end - start always holds. */
  r[1] = rec_now();
  if (gil) *w++ = rec_clock_ns(CLOCK_THREAD_CPUTIME_ID);
  rec_commit(r, kind, flags, words, domain_index(domain));
  free(converted);
  return range_id;
}

/* Pop and end: header, timestamp, [range id], [thread CPU time]. */
static void record_close(unsigned kind, nvtxDomainHandle_t domain, uint64_t range_id, int gil) {
  struct rec_thread *t = &rec_tls;
  uint64_t cpu = gil ? rec_clock_ns(CLOCK_THREAD_CPUTIME_ID) : 0;
  uint64_t now = rec_now();
  unsigned words = 2 + (kind == RAW_END) + (gil ? 1 : 0);
  uint64_t *r = rec_reserve(t, words);
  if (!r) return;
  r[1] = now;
  uint64_t *w = r + 2;
  if (kind == RAW_END) *w++ = range_id;
  if (gil) *w = cpu;
  rec_commit(r, kind, gil ? RAW_F_CPU : 0, words, domain_index(domain));
}

static void record_named(unsigned kind, uint32_t domain, uint64_t value, const char *name) {
  struct rec_thread *t = &rec_tls;
  size_t len = rec_clamp_string(name);
  unsigned words = 3 + rec_string_words(len);
  uint64_t *r = rec_reserve(t, words);
  if (!r) return;
  r[1] = rec_now();
  r[2] = value;
  rec_put_string(r + 3, name ? name : "", len);
  rec_commit(r, kind, 0, words, domain);
}

static int push(nvtxDomainHandle_t d, const nvtxEventAttributes_t *a, const char *ascii) {
  record_event(RAW_PUSH, d, a, ascii);
  return rec_tls.depth++;
}

static int pop(nvtxDomainHandle_t d) {
  record_close(RAW_POP, d, 0, domain_is_gil(d));
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
static void cb_RangeEnd(nvtxRangeId_t id) { record_close(RAW_END, NULL, id, (id & RAW_RANGE_GIL_BIT) != 0); }
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
static void cb_DomainRangeEnd(nvtxDomainHandle_t d, nvtxRangeId_t id) {
  record_close(RAW_END, d, id, (id & RAW_RANGE_GIL_BIT) != 0);
}
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
    r[1] = rec_now();
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
  r[1] = rec_now();
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
  r[1] = rec_now();
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
static void init_once(void) { g_ready = rec_init(); }

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
